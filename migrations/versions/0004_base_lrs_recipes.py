"""Base LRs as data (``base_lrs``), and stored arch-aware runs labelled with the recipe they ran.

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-01

Until this revision ``arch-aware`` trained the appendix derivation's init (target in-degree,
reduction block C 2/1/1, classifier 2/fan_in^2); from now on ``arch-aware`` is the released
code's recipe and the derivation is ``arch-aware-derived`` (``archscale.recipes``). So every
stored ``arch-aware`` run becomes ``arch-aware-derived``, whose meaning it had: the service's
worker always trained the target-degree variant, which each result's fingerprint fields record
(``extra.init.degree``). A result that records another init (none can come from the service)
keeps its label and is reported. Run keys include the scaling, so they are recomputed
(``archscale.protocols.run_key``, copied here so the migration never changes) and
``final_metrics.scaling`` follows. Queued runs move too: they were submitted meaning that recipe.

Frozen: it does not import the models or the science core.
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
OLD, DERIVED = "arch-aware", "arch-aware-derived"
NEW_SCALINGS = ("arch-aware", "standard-tuned", "per-arch-searched")


def _run_key(arch: int, dataset: str, scaling: str, protocol_fingerprint: str, seed: int) -> str:
    payload = {"arch": arch, "dataset": dataset, "scaling": scaling, "protocol": protocol_fingerprint, "seed": seed}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _recorded_degree(extra: object) -> str | None:
    if isinstance(extra, str):
        extra = json.loads(extra)
    if not isinstance(extra, dict):
        return None
    init = extra.get("init") or {}
    return init.get("degree") if isinstance(init, dict) else None


def _relabel(conn: sa.Connection, source: str, target: str, check_degree: bool) -> list[int]:
    rows = conn.execute(sa.text(
        "SELECT r.id, r.arch_index, r.dataset, r.seed, p.fingerprint, f.extra FROM runs r "
        "JOIN protocols p ON p.id = r.protocol_id LEFT JOIN final_results f ON f.run_id = r.id "
        "WHERE r.scaling = :s"), {"s": source}).all()
    kept = []
    for run_id, arch, dataset, seed, fingerprint, extra in rows:
        degree = _recorded_degree(extra) if extra is not None else None
        if check_degree and extra is not None and degree not in (None, "target"):
            kept.append(run_id)  # trained another init than either recipe: keep what it says
            continue
        conn.execute(sa.text("UPDATE runs SET scaling = :t, key = :k WHERE id = :i"),
                     {"t": target, "k": _run_key(arch, dataset, target, fingerprint, seed), "i": run_id})
        conn.execute(sa.text("UPDATE final_metrics SET scaling = :t WHERE run_id = :i"), {"t": target, "i": run_id})
    return kept


def upgrade() -> None:
    op.create_table(
        "base_lrs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(32), nullable=False),
        sa.Column("recipe", sa.String(32), nullable=False),
        sa.Column("protocol", sa.String(64), nullable=False),
        sa.Column("protocol_key", sa.String(80), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("grid", sa.JSON(), nullable=False),
        sa.Column("losses", sa.JSON(), nullable=False),
        sa.Column("seeds", sa.JSON(), nullable=False),
        sa.Column("criterion", sa.Text(), nullable=False),
        sa.Column("code_version", sa.String(64), nullable=False),
        sa.Column("hardware", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("searched_at", sa.String(40), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_base_lrs"),
        sa.UniqueConstraint("dataset", "recipe", "protocol", "origin", name="uq_base_lrs_key"),
        sa.CheckConstraint("origin IN ('searched', 'released-default', 'manual')", name="ck_base_lrs_origin"),
        sa.CheckConstraint("value > 0", name="ck_base_lrs_value_positive"),
    )
    kept = _relabel(op.get_bind(), OLD, DERIVED, check_degree=True)
    if kept:
        print(f"0004: {len(kept)} arch-aware run(s) record an init other than the derivation's and keep their "
              f"label: ids {kept[:20]}")


def downgrade() -> None:
    conn = op.get_bind()
    newer = conn.execute(sa.text("SELECT count(*) FROM runs WHERE scaling IN ('arch-aware', 'standard-tuned', "
                                 "'per-arch-searched')")).scalar_one()
    if newer:
        raise RuntimeError(f"{newer} run(s) use scalings that only exist from revision 0004 (the released "
                           "arch-aware recipe, standard-tuned, per-arch-searched); delete them before downgrading")
    _relabel(conn, DERIVED, OLD, check_degree=False)
    op.drop_table("base_lrs")
