import csv
import gzip

import pytest

from archscale.space import (
    EDGES, NUM_CELLS, OPS, ArchIndexError, ArchStringError, Cell, all_cells, cell_at, format_arch,
    index_of, is_valid_arch, parse_arch, resolve_arch,
)

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def test_ops_and_edges():
    assert OPS == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    assert EDGES == ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
    assert NUM_CELLS == 15_625


def test_every_cell_round_trips_through_its_string_and_code():
    cells = all_cells()
    assert len({c.code for c in cells}) == NUM_CELLS
    for cell in cells:
        assert parse_arch(format_arch(cell)) == cell
        assert Cell.from_code(cell.code) == cell


def test_index_order_matches_the_official_table_for_every_cell(nb201_csv):
    seen = {}
    with gzip.open(nb201_csv, "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            seen[int(row["arch_index"])] = row["arch_str"]
    assert len(seen) == NUM_CELLS
    cells = all_cells()
    for index, text in seen.items():
        assert format_arch(cell_at(index)) == text
        assert format_arch(cells[index]) == text
        assert index_of(text) == index


def test_known_indices():
    assert format_arch(cell_at(0)) == ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+"
                                       "|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
    assert index_of(BEST) == 6111
    assert cell_at(6111).index == 6111


def test_edges_may_be_listed_in_any_order_within_a_vertex():
    shuffled = "|nor_conv_3x3~0|+|nor_conv_3x3~1|nor_conv_3x3~0|+|nor_conv_1x1~2|skip_connect~0|nor_conv_3x3~1|"
    assert format_arch(parse_arch(shuffled)) == BEST


@pytest.mark.parametrize("text, fragment, position", [
    ("|nor_conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'nor_conv_5x5'", 1),
    ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "Valid ops: none, skip_connect", 1),
    ("|none~0|+|none~0|none~1|", "expected 3 vertex groups", None),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|", "found 4", None),
    ("|none~0|+|none~0|+|none~0|none~1|none~2|", "vertex 2 needs 2 incoming edges", 9),
    ("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|", "source 2 is not smaller than vertex 2", 17),
    ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "must start and end with '|'", 0),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2", "vertex 3 group", 25),
    ("|none~0|+|none~0| none~1|+|none~0|none~1|none~2|", "whitespace", 17),
    ("", "empty architecture string", None),
    ("|none|+|none~0|none~1|+|none~0|none~1|none~2|", "edge without '~source'", 1),
    ("|none~x|+|none~0|none~1|+|none~0|none~1|none~2|", "not a non-negative integer", 1),
    ("|none~0|+|none~0|none~0|+|none~0|none~1|none~2|", "lists source 0 twice", 17),
])
def test_bad_strings_name_the_problem_position_and_fix(text, fragment, position):
    with pytest.raises(ArchStringError) as info:
        parse_arch(text)
    assert fragment in str(info.value)
    assert info.value.position == position
    assert info.value.fix, "every error says how to fix it"
    assert not is_valid_arch(text)


@pytest.mark.parametrize("value", [None, 3.5, b"|none~0|", ["x"]])
def test_non_string_input_is_rejected_with_a_fix(value):
    with pytest.raises(ArchStringError, match="expected a cell string"):
        parse_arch(value)


def test_typo_gets_a_suggestion():
    with pytest.raises(ArchStringError, match="Did you mean 'skip_connect'"):
        parse_arch("|skip_conect~0|+|none~0|none~1|+|none~0|none~1|none~2|")


@pytest.mark.parametrize("bad", [-1, NUM_CELLS, 10**9])
def test_index_out_of_range(bad):
    with pytest.raises(ArchIndexError, match="outside 0..15624"):
        cell_at(bad)


def test_index_must_be_an_int():
    with pytest.raises(ArchIndexError, match="must be an int"):
        cell_at(True)  # a bool is not an index


def test_resolve_rejects_unicode_digits_with_the_parser_error():
    with pytest.raises(ArchStringError):
        resolve_arch("²")


def test_resolve_accepts_index_string_and_cell():
    cell = parse_arch(BEST)
    assert resolve_arch(6111) == resolve_arch("6111") == resolve_arch(BEST) == resolve_arch(cell) == cell
