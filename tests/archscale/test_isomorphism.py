from collections import defaultdict

from archscale.isomorphism import nb201_unique_key, relabel_key
from archscale.space import all_cells, parse_arch


def test_nb201_rule_gives_6466_classes():
    assert len({nb201_unique_key(c) for c in all_cells()}) == 6466


def test_pure_relabelling_gives_14125_classes():
    # 3,125 cells have edge 1->2 = none; 125 of them are fixed by swapping vertices 1 and 2.
    assert len({relabel_key(c) for c in all_cells()}) == 15_625 - (3125 - 125) // 2


def test_nb201_rule_misses_most_relabellings():
    # NB201's key is text: a hidden vertex with a zero input keeps a "#" term, and
    # swapping vertices 1 and 2 (needs edge 1->2 = none) moves that "#" to the other
    # vertex. So 1,436 of the 1,500 relabelling pairs get two NB201 keys. Documented
    # in docs/science.md; we keep NB201's rule as is (it defines the 6,466).
    by_relabel = defaultdict(set)
    for cell in all_cells():
        by_relabel[relabel_key(cell)].add(nb201_unique_key(cell))
    assert sum(len(keys) > 1 for keys in by_relabel.values()) == 1436
    assert all(len(keys) <= 2 for keys in by_relabel.values())


def test_swapping_hidden_vertices_is_a_relabelling():
    a = parse_arch("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|")
    b = parse_arch("|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")
    assert relabel_key(a) == relabel_key(b)
    assert nb201_unique_key(a) != nb201_unique_key(b)  # the quirk above


def test_nb201_rule_folds_skips_and_zeros_but_relabelling_does_not():
    # vertex 1 = skip of input: a conv from vertex 1 is a conv of the input
    a = parse_arch("|skip_connect~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|")
    b = parse_arch("|none~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|skip_connect~2|")
    assert nb201_unique_key(a) == nb201_unique_key(b)
    assert relabel_key(a) != relabel_key(b)


def test_edge_order_inside_a_sum_does_not_matter():
    a = parse_arch("|skip_connect~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|none~0|none~1|skip_connect~2|")
    b = parse_arch("|skip_connect~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|")
    assert nb201_unique_key(a) == nb201_unique_key(b)
