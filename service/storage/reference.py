"""Reference rows from the science core: datasets, protocols and all 15,625 architectures.

Written by ``rebench db upgrade`` (and the importers) after the migrations, not by a
migration: they are facts computed by ``archscale``, which can change without a schema
change. A digest of the science core's sources is kept in ``meta`` so the sync is a
no-op (~ms) when nothing changed and a full upsert (~3 s) when it did.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files

import sqlalchemy as sa

from archscale.datasets import DATASETS
from archscale.protocols import PROTOCOLS
from archscale.protocols import Protocol as ProtocolSpec
from archscale.costs import network_cost
from archscale.report import summary_row
from archscale.scaling import NB201_RULE, UnknownBaseLR, scaled_lr
from archscale.space import NUM_CELLS, OPS, all_cells

from .base_lrs import sync_base_lrs
from .bulk import copy_rows, dialect_insert, upsert_rows
from .models import Architecture, ArchSetting, Dataset, Meta, Protocol, utcnow

__all__ = ["sync_reference_data", "ensure_protocol", "ops_mask", "REFERENCE_DIGEST"]

REFERENCE_DIGEST = "reference_digest"
_CORE_MODULES = ("space", "isomorphism", "dag", "scaling", "costs", "datasets", "report", "protocols", "base_lrs",
                 "data/base_lrs.json")


def ops_mask(ops: tuple[str, ...]) -> int:
    mask = 0
    for op in ops:
        mask |= 1 << OPS.index(op)
    return mask


def _core_digest() -> int:
    digest = hashlib.sha256()
    for name in _CORE_MODULES:
        digest.update(files("archscale").joinpath(name if "." in name else f"{name}.py").read_bytes())
    return int(digest.hexdigest()[:15], 16)  # fits a BIGINT


def ensure_protocol(conn: sa.Connection, spec: ProtocolSpec) -> int:
    """The id of ``spec``'s row (by fingerprint), inserting it first if needed; race-safe."""
    table = Protocol.__table__
    row = {"name": spec.name, "version": spec.version, "fingerprint": spec.fingerprint,
           "benchmark": spec.benchmark, "spec": spec.as_dict(),
           "created_at": utcnow()}
    found = conn.execute(sa.select(table.c.id).where(table.c.fingerprint == spec.fingerprint)).scalar()
    if found is not None:
        return int(found)
    conn.execute(dialect_insert(conn, table).values(row).on_conflict_do_nothing(index_elements=["fingerprint"]))
    found = conn.execute(sa.select(table.c.id).where(table.c.fingerprint == spec.fingerprint)).scalar()
    if found is None:
        # Same (name, version) stored with another fingerprint: archscale changed a protocol
        # without bumping its version, and results would be silently mixed.
        raise RuntimeError(f"protocol {spec.key} is stored with a different fingerprint: bump its version "
                           "in archscale/protocols.py when any field changes")
    return int(found)


def sync_reference_data(conn: sa.Connection, force: bool = False) -> bool:
    """Make datasets, protocols and architectures match the science core; True if it wrote."""
    sync_base_lrs(conn)  # a few rows, cheap: checked on every start (archscale/data/base_lrs.json)
    digest = _core_digest()
    stored = conn.execute(sa.select(Meta.value).where(Meta.key == REFERENCE_DIGEST)).scalar()
    n_archs = conn.execute(sa.select(sa.func.count()).select_from(Architecture)).scalar_one()
    if not force and stored == digest and n_archs == NUM_CELLS:
        return False
    upsert_rows(conn, Dataset.__table__, [
        {"name": s.name, "num_classes": s.num_classes, "resolution": s.resolution, "train_size": s.train_size,
         "eval_splits": dict(s.eval_splits), "original_valid": s.original_valid, "original_test": s.original_test}
        for s in DATASETS.values()], keys=["name"])
    for spec in PROTOCOLS.values():
        ensure_protocol(conn, spec)
    arch_rows, setting_rows = [], []
    first, others = next(iter(DATASETS)), [(d, s, _base_lr(d)) for d, s in list(DATASETS.items())[1:]]
    for cell in all_cells():
        # summary_row once per cell (paths, S, keys: ~40 us); the per-setting facts (LR, params,
        # FLOPs) from the same science-core calls summary_row makes, without redoing the rest.
        row = summary_row(cell, first)
        arch_rows.append({"index": row["index"], "arch_str": row["arch_str"], "unique_key": row["unique_key"],
                          "relabel_key": row["relabel_key"], "num_paths": row["num_paths"],
                          "sum_l3": row["sum_l3"], "degenerate": row["degenerate"], "ops_mask": ops_mask(cell.ops)})
        setting_rows.append({"arch_index": row["index"], "dataset": first, "lr": row["lr"],
                             "base_lr": _base_lr(first), "params": row["params"], "flops": row["flops"]})
        for dataset, spec, base_lr in others:
            cost = network_cost(cell, spec.num_classes, spec.resolution)
            lr = None if base_lr is None or row["degenerate"] else scaled_lr(base_lr, NB201_RULE.s_base,
                                                                              row["sum_l3"])
            setting_rows.append({"arch_index": row["index"], "dataset": dataset, "lr": lr, "base_lr": base_lr,
                                 "params": cost.params, "flops": cost.flops})
    for table, rows, keys in ((Architecture.__table__, arch_rows, ["index"]),
                              (ArchSetting.__table__, setting_rows, ["arch_index", "dataset"])):
        if n_archs == 0:  # first fill: bulk COPY, ~3x faster than upserts on PostgreSQL
            columns = list(rows[0])
            copy_rows(conn, table, columns, ([row[c] for c in columns] for row in rows))
        else:
            upsert_rows(conn, table, rows, keys=keys)
    upsert_rows(conn, Meta.__table__, [{"key": REFERENCE_DIGEST, "value": digest}], keys=["key"])
    return True


def _base_lr(dataset: str) -> float | None:
    try:
        return NB201_RULE.base_lr_for(dataset)
    except UnknownBaseLR:
        return None
