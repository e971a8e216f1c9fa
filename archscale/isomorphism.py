"""Equivalence classes of NB201 cells.

Two keys, two promises:

``nb201_unique_key`` (NB201's own rule, zero- and skip-aware; 6,466 classes)
    Edges are folded into an expression per vertex: ``none`` and anything fed by an
    all-zero expression become ``#``, ``skip_connect`` passes its input expression
    through, a conv/pool wraps it as ``(x)@op``; a vertex is the sorted ``+`` of its
    inputs. Cells with the same key compute the same *function family*: the same
    operations applied to the same inputs in the same order, up to the order of sums.
    It does not promise identical training. A conv fed by an all-zero vertex still
    outputs BN's bias (not zero) and its parameters still receive weight decay; a
    folded skip changes in-degrees and therefore the architecture-aware init and
    S = sum of L^3. Serving one class member's trained result for another is an
    approximation; the service marks such results as such.

``relabel_key`` (pure relabelling; 14,125 classes)
    Cells that are the same labelled DAG after renaming the hidden vertices 1 and 2
    (only possible when the edge 1->2 is ``none``). Such cells are exactly the same
    network with its modules listed in another order: same parameters, same init
    distribution, same S and LR; only the RNG draw order differs. This is the key
    the service may safely deduplicate on.

The two are not nested: NB201's key is text in which a hidden vertex with a zero
input keeps a ``#`` term, so swapping vertices 1 and 2 usually changes it (1,436 of
the 1,500 relabelling pairs get two NB201 keys). We keep NB201's rule unchanged
because the field's "6,466 unique architectures" is defined by it.
"""

from __future__ import annotations

from .space import EDGES, NUM_VERTICES, Cell, format_arch, resolve_arch

__all__ = ["nb201_unique_key", "relabel_key", "ZERO_EXPR"]

ZERO_EXPR = "#"


def nb201_unique_key(arch: Cell | str | int) -> str:
    """NB201's isomorphism key (``to_unique_str(consider_zero=True)`` semantics)."""
    cell = resolve_arch(arch)
    expr = {0: "0"}
    for dst in range(1, NUM_VERTICES):
        terms = []
        for src in range(dst):
            op, source = cell.op(src, dst), expr[src]
            if op == "none" or source == ZERO_EXPR:
                terms.append(ZERO_EXPR)
            elif op == "skip_connect":
                terms.append(source)
            else:
                terms.append(f"({source})@{op}")
        # NB201 compares the joined text with "#" only, so a vertex whose inputs are
        # all zero is "#+#", not "#": keeping that quirk keeps NB201's 6,466 classes.
        expr[dst] = "+".join(sorted(terms))
    return expr[NUM_VERTICES - 1]


def _swap_hidden(cell: Cell) -> Cell | None:
    """The cell with vertices 1 and 2 renamed, or None when that breaks src < dst."""
    if cell.op(1, 2) != "none":
        return None
    rename = {0: 0, 1: 2, 2: 1, 3: 3}
    ops = {(rename[s], rename[d]): op for s, d, op in cell.edges() if (s, d) != (1, 2)}
    ops[(1, 2)] = "none"
    return Cell(tuple(ops[e] for e in EDGES))


def relabel_key(arch: Cell | str | int) -> str:
    """Canonical string among the cells equal to this one up to renaming vertices 1, 2."""
    cell = resolve_arch(arch)
    swapped = _swap_hidden(cell)
    candidates = [format_arch(cell)] + ([format_arch(swapped)] if swapped else [])
    return min(candidates)
