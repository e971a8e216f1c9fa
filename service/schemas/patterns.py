"""What the server enforces on strings, written as JSON Schema so that a schema-driven client
never sends a request the server refuses (the server's own parsers still do the checking and
word the errors; ``tests/service/test_patterns.py`` holds the two to the same language).

- an arch: an index 0..15624 (a JSON integer, or ASCII digits in a string) or a cell string
  ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` in the canonical edge order (the parser also accepts
  the edges of a vertex in another order; those strings are outside the published pattern);
- a protocol: a name, optionally with the version this code trains (``smoke@v2``);
- a split: a split name of some setting or the aliases ``valid`` / ``test``; a pair of a
  dataset and a split it does not report is a 404 (no such numbers), not a schema error;
- a result source (Kendall a/b): ``<origin>[:<split>]``, see ``service.api.sources``;
- under ``arch-aware`` scaling the 341 degenerate cells (S = 0, no input->output path through
  non-zero edges) are refused: the LR rule is undefined for them. ``DEGENERATE`` lists them
  (indices and canonical strings) for an ``if scaling == arch-aware then arch not in ...``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from archscale.datasets import DATASETS
from archscale.protocols import PRECISIONS, PROTOCOLS, SCALINGS
from archscale.space import NUM_CELLS, OPS

__all__ = ["ARCH_PATTERN", "INDEX_PATTERN", "ARCH_REF_PATTERN", "PROTOCOL_PATTERN", "SPLIT_NAMES", "SOURCE_PATTERN",
           "ORIGIN_PATTERN", "degenerate_archs", "degenerate_component", "arch_ref_schema", "not_degenerate_if_arch_aware"]



def _names(names) -> str:  # type: ignore[no-untyped-def]
    """Alternatives of plain names (no escaping: a '\\-' is no valid ECMA-262 escape in a pattern)."""
    names = list(names)
    assert all(re.fullmatch("[A-Za-z0-9_-]+", n) for n in names), names
    return "(?:" + "|".join(names) + ")"


_OP = _names(OPS)
ARCH_PATTERN = (rf"\|{_OP}~0\|\+\|{_OP}~0\|{_OP}~1\|\+\|{_OP}~0\|{_OP}~1\|{_OP}~2\|")
#: 0..15624 in ASCII digits (the server also reads leading zeros; the pattern leaves them out)
INDEX_PATTERN = "(?:1562[0-4]|156[01][0-9]|15[0-5][0-9]{2}|1[0-4][0-9]{3}|[1-9][0-9]{0,3}|0)"
assert NUM_CELLS == 15625  # INDEX_PATTERN spells this range out
ARCH_REF_PATTERN = f"^(?:{INDEX_PATTERN}|{ARCH_PATTERN})$"
PROTOCOL_PATTERN = "^(?:" + "|".join(f"{p.name}(?:@v{p.version})?" for p in PROTOCOLS.values()) + ")$"
SPLIT_NAMES = sorted({"valid", "test", *(s for d in DATASETS.values() for s in d.eval_splits)})
_ANY_PROTOCOL = _names(PROTOCOLS) + "(?:@v[0-9]+)?"
ORIGIN_PATTERN = f"(?:nb201|nats-tss|{_names(SCALINGS)}(?:@{_ANY_PROTOCOL})?(?:/{_names(PRECISIONS)})?)"
SOURCE_PATTERN = f"^{ORIGIN_PATTERN}(?::{_names(SPLIT_NAMES)})?$"


@functools.lru_cache(maxsize=1)
def degenerate_archs() -> tuple[list[int], list[str]]:
    """(indices, canonical strings) of the cells whose arch-aware LR is undefined (S = 0)."""
    from archscale.scaling import nb201_lr
    from archscale.space import cell_at, format_arch

    indices = [i for i in range(NUM_CELLS) if nb201_lr(i, base_lr=1.0).degenerate]
    return indices, [format_arch(cell_at(i)) for i in indices]


def arch_ref_schema(description: str) -> dict[str, Any]:
    return {"anyOf": [{"type": "integer", "minimum": 0, "maximum": NUM_CELLS - 1},
                      {"type": "string", "pattern": ARCH_REF_PATTERN, "maxLength": 200}],
            "description": description}


def not_degenerate_if_arch_aware(field: str, many: bool) -> dict[str, Any]:
    """``if scaling is arch-aware (the default) then field (or each item) is no degenerate cell``."""
    ref = {"$ref": "#/components/schemas/DegenerateArch"}
    forbidden = {"not": ref}
    return {"if": {"properties": {"scaling": {"const": "arch-aware"}}},
            "then": {"properties": {field: {"items": forbidden} if many else forbidden}}}


def degenerate_component() -> dict[str, Any]:
    indices, strings = degenerate_archs()
    # the canonical strings with an index written as digits in a string: every form a client would send
    return {"description": "cells with S = 0 (no input->output path through non-zero edges): the arch-aware LR "
                           "rule is undefined for them, so arch-aware runs of them are refused (422)",
            "enum": [*indices, *strings, *(str(i) for i in indices)]}
