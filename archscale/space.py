"""The NAS-Bench-201 cell search space: operations, cell strings, official indices.

A cell is a 4-vertex DAG (vertex 0 = cell input, vertex 3 = cell output) with one
operation on each of its 6 edges ``(src -> dst)``, written as

    |op~0|+|op~0|op~1|+|op~0|op~1|op~2|
     vertex 1   vertex 2         vertex 3        (``~i`` names the source vertex)

Everything here is pure Python: the API process imports it without torch.
"""

from __future__ import annotations

import difflib
import functools
import importlib.resources
import sys
from array import array
from dataclasses import dataclass
from typing import Iterator

__all__ = [
    "OPS",
    "CONV_OPS",
    "EDGES",
    "NUM_CELLS",
    "NUM_VERTICES",
    "ArchStringError",
    "ArchIndexError",
    "Cell",
    "parse_arch",
    "format_arch",
    "is_valid_arch",
    "cell_at",
    "index_of",
    "resolve_arch",
    "all_cells",
]

#: NB201 operations, in NB201's own order (the order of the base-5 digits of Cell.code).
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: Operations that carry weights (ReLU -> Conv -> BN); the others are parameter-free.
CONV_OPS: dict[str, int] = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}
NUM_VERTICES = 4
#: The 6 edges (src, dst) in the order they appear in a cell string.
EDGES: tuple[tuple[int, int], ...] = tuple(
    (src, dst) for dst in range(1, NUM_VERTICES) for src in range(dst)
)
NUM_CELLS = len(OPS) ** len(EDGES)  # 15,625

_EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


class ArchStringError(ValueError):
    """A cell string that is not a valid NB201 architecture.

    ``field`` names what was wrong, ``position`` is the character offset of the bad
    token (None when the whole string is at fault) and ``fix`` says what to do.
    """

    def __init__(self, message: str, *, token: str | None = None, position: int | None = None,
                 fix: str = "", field: str = "arch"):
        self.token, self.position, self.fix, self.field = token, position, fix, field
        where = f" at position {position}" if position is not None else ""
        what = f" ({token!r})" if token is not None else ""
        super().__init__(f"{message}{where}{what}. {fix}".strip())


class ArchIndexError(IndexError):
    """An architecture index outside 0..15624."""


@dataclass(frozen=True, slots=True)
class Cell:
    """One NB201 cell: the operation on each edge of :data:`EDGES`, in that order."""

    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.ops) != len(EDGES) or any(op not in OPS for op in self.ops):
            raise ArchStringError(f"a cell needs {len(EDGES)} ops from {OPS}, got {self.ops!r}")

    @property
    def code(self) -> int:
        """Base-5 number of the ops (first edge most significant): a dense id 0..15624."""
        value = 0
        for op in self.ops:
            value = value * len(OPS) + OPS.index(op)
        return value

    @classmethod
    def from_code(cls, code: int) -> Cell:
        if not 0 <= code < NUM_CELLS:
            raise ArchIndexError(f"cell code {code} is outside 0..{NUM_CELLS - 1}")
        digits = []
        for _ in EDGES:
            code, digit = divmod(code, len(OPS))
            digits.append(OPS[digit])
        return cls(tuple(reversed(digits)))

    def edges(self) -> Iterator[tuple[int, int, str]]:
        """(src, dst, op) for each of the 6 edges."""
        for (src, dst), op in zip(EDGES, self.ops):
            yield src, dst, op

    def op(self, src: int, dst: int) -> str:
        return self.ops[EDGES.index((src, dst))]

    def __str__(self) -> str:
        return format_arch(self)

    @property
    def index(self) -> int:
        """The official NB201 index of this cell."""
        return index_of(self)


def format_arch(cell: Cell) -> str:
    """The canonical NB201 string of ``cell``."""
    parts, prev_dst = [], 1
    for (src, dst), op in zip(EDGES, cell.ops):  # EDGES is grouped by target vertex
        if dst != prev_dst:
            parts.append("+")
            prev_dst = dst
        parts.append(f"|{op}~{src}")
        if src == dst - 1:
            parts.append("|")
    return "".join(parts)


def _unknown_op_fix(token: str) -> str:
    close = difflib.get_close_matches(token, OPS, n=1)
    hint = f"Did you mean {close[0]!r}? " if close else ""
    return f"{hint}Valid ops: {', '.join(OPS)}."


def parse_arch(text: object) -> Cell:
    """Parse an NB201 cell string; raise :class:`ArchStringError` saying where and how to fix.

    Within a vertex the edges may come in any order (``|skip_connect~1|none~0|``); each
    source must appear exactly once. Whitespace is rejected, not stripped, so that a
    string is either canonical-up-to-edge-order or an error.
    """
    if not isinstance(text, str):
        raise ArchStringError(f"expected a cell string, got {type(text).__name__}",
                              fix=f"Pass a string like {_EXAMPLE!r} (or use resolve_arch for an index).")
    if text == "":
        raise ArchStringError("empty architecture string", fix=f"Pass a string like {_EXAMPLE!r}.")
    for pos, ch in enumerate(text):
        if ch.isspace():
            raise ArchStringError("whitespace in architecture string", token=ch, position=pos,
                                  fix="Remove all spaces and newlines.")
    groups = text.split("+")
    if len(groups) != NUM_VERTICES - 1:
        raise ArchStringError(f"expected {NUM_VERTICES - 1} vertex groups separated by '+', found {len(groups)}",
                              fix=f"Write one |op~src|... group per vertex 1..3, e.g. {_EXAMPLE!r}.")
    ops: dict[tuple[int, int], str] = {}
    pos = 0
    for dst, group in enumerate(groups, start=1):
        if not (len(group) >= 2 and group.startswith("|") and group.endswith("|")):
            raise ArchStringError(f"vertex {dst} group must start and end with '|'", token=group, position=pos,
                                  fix=f"Write it as |op~0|...|op~{dst - 1}|.")
        tokens = group[1:-1].split("|")
        if len(tokens) != dst:
            raise ArchStringError(f"vertex {dst} needs {dst} incoming edges (sources 0..{dst - 1}), found {len(tokens)}",
                                  token=group, position=pos, fix=f"List exactly one op~src for each src in 0..{dst - 1}.")
        tpos = pos + 1
        for token in tokens:
            _parse_edge(token, dst, tpos, ops)
            tpos += len(token) + 1
        pos += len(group) + 1
    return Cell(tuple(ops[e] for e in EDGES))


def _parse_edge(token: str, dst: int, pos: int, ops: dict[tuple[int, int], str]) -> None:
    op, sep, src_text = token.partition("~")
    if not sep:
        raise ArchStringError("edge without '~source'", token=token, position=pos,
                              fix="Write each edge as op~src, e.g. nor_conv_3x3~0.")
    if op not in OPS:
        raise ArchStringError(f"unknown op {op!r}", token=token, position=pos, fix=_unknown_op_fix(op))
    # One ASCII digit: str.isdigit() also takes '０' (fullwidth) or '٠' (Arabic-Indic), which int()
    # reads as 0 although no cell string is written that way (query_index_by_arch says -1 for it).
    if not (len(src_text) == 1 and src_text in "0123456789"):
        raise ArchStringError("source vertex is not a non-negative integer written as one ASCII digit",
                              token=token, position=pos, fix=f"Use a source index 0..{dst - 1} after '~' (digits 0-9).")
    src = int(src_text)
    if src >= dst:
        raise ArchStringError(f"source {src} is not smaller than vertex {dst}", token=token, position=pos,
                              fix=f"Edges into vertex {dst} come from vertices 0..{dst - 1}.")
    if (src, dst) in ops:
        raise ArchStringError(f"vertex {dst} lists source {src} twice", token=token, position=pos,
                              fix=f"List each source 0..{dst - 1} exactly once.")
    ops[(src, dst)] = op


def is_valid_arch(text: object) -> bool:
    try:
        parse_arch(text)
    except ArchStringError:
        return False
    return True


@functools.cache
def _index_tables() -> tuple[array, dict[int, int]]:
    """Official NB201 index -> cell code, and its inverse (loaded once, ~30 kB)."""
    raw = importlib.resources.files("archscale").joinpath("data/nb201_index_order.u16").read_bytes()
    codes = array("H")
    codes.frombytes(raw)
    if codes.itemsize != 2 or len(codes) != NUM_CELLS:
        raise RuntimeError("archscale/data/nb201_index_order.u16 is corrupt: regenerate it with "
                           "scripts/build_index_order.py")
    if sys.byteorder != "little":
        codes.byteswap()
    return codes, {code: index for index, code in enumerate(codes)}


def cell_at(index: int) -> Cell:
    """The cell with official NB201 index ``index`` (0..15624)."""
    if isinstance(index, bool) or not isinstance(index, int):
        raise ArchIndexError(f"an architecture index must be an int, got {type(index).__name__}")
    if not 0 <= index < NUM_CELLS:
        raise ArchIndexError(f"architecture index {index} is outside 0..{NUM_CELLS - 1}; "
                             f"NB201 has {NUM_CELLS} cells")
    return Cell.from_code(_index_tables()[0][index])


def index_of(arch: Cell | str) -> int:
    """The official NB201 index of a cell (every valid cell has one: no -1)."""
    cell = arch if isinstance(arch, Cell) else parse_arch(arch)
    return _index_tables()[1][cell.code]


def resolve_arch(arch: Cell | str | int) -> Cell:
    """Accept a Cell, a cell string, an index, or a decimal string of an index."""
    if isinstance(arch, Cell):
        return arch
    if isinstance(arch, int) and not isinstance(arch, bool):
        return cell_at(arch)
    if isinstance(arch, str) and arch.isdigit():
        if not arch.isascii():  # '²'.isdigit() is True, but int('²') fails and it is no cell string
            raise ArchStringError(f"arch {arch!r}: write an index with ASCII digits 0-9, or a cell string")
        if len(arch) > 1 and arch.startswith("0"):  # one spelling per index, as the API schema's pattern says
            raise ArchStringError(f"arch {arch!r}: write the index without leading zeros ({int(arch)})")
        return cell_at(int(arch))
    return parse_arch(arch)


def all_cells() -> list[Cell]:
    """All 15,625 cells in official index order."""
    return [Cell.from_code(code) for code in _index_tables()[0]]
