"""The database schema as typed SQLAlchemy 2 models (``Mapped[]``), one class per table.

Pydantic request/response models live in ``service.schemas``; these are storage only.
Every table works on PostgreSQL and SQLite: no server-side enums or arrays, JSON as
``sa.JSON``, timestamps stored in UTC by :class:`UTCDateTime`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base", "UTCDateTime", "RUN_STATUSES", "ACTIVE_STATUSES", "utcnow",
    "Dataset", "Protocol", "Architecture", "ArchSetting", "ResultImport", "OriginalResult", "OriginalCost",
    "Run", "EpochMetric", "FinalResult", "FinalMetric", "Batch", "BatchRun", "ApiKey", "Meta",
    "Campaign", "CampaignRun", "CAMPAIGN_STATUSES", "BaseLR",
]

RUN_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
ACTIVE_STATUSES = ("queued", "running")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite hands back naive ones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime (service.storage.models.utcnow())")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


# Deterministic constraint names: Alembic batch mode on SQLite needs them to alter tables.
NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
          "ck": "ck_%(table_name)s_%(constraint_name)s", "fk": "fk_%(table_name)s_%(column_0_name)s",
          "pk": "pk_%(table_name)s"}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: sa.JSON(), list[Any]: sa.JSON()}


class Dataset(Base):
    """An NB201 setting (``archscale.datasets``): what trains, what evaluates."""

    __tablename__ = "datasets"
    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    num_classes: Mapped[int]
    resolution: Mapped[int]
    train_size: Mapped[int]
    eval_splits: Mapped[dict[str, Any]]
    original_valid: Mapped[str | None] = mapped_column(sa.String(16))
    original_test: Mapped[str | None] = mapped_column(sa.String(16))


class Protocol(Base):
    """A training recipe, frozen by its fingerprint (``archscale.protocols``)."""

    __tablename__ = "protocols"
    __table_args__ = (sa.UniqueConstraint("name", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    version: Mapped[int]
    fingerprint: Mapped[str] = mapped_column(sa.String(64), unique=True)
    benchmark: Mapped[bool]
    spec: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Architecture(Base):
    """One NB201 cell under its official index; facts from ``archscale.report.summary_row``."""

    __tablename__ = "architectures"
    index: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    arch_str: Mapped[str] = mapped_column(sa.String(120), unique=True)
    unique_key: Mapped[str] = mapped_column(sa.String(200), index=True)
    relabel_key: Mapped[str] = mapped_column(sa.String(120), index=True)
    num_paths: Mapped[int]
    sum_l3: Mapped[int]
    degenerate: Mapped[bool]
    ops_mask: Mapped[int]  # bit i set when archscale.space.OPS[i] is on some edge


class ArchSetting(Base):
    """Per-dataset facts of a cell: the arch-aware LR (None when undefined), params, FLOPs."""

    __tablename__ = "arch_settings"
    arch_index: Mapped[int] = mapped_column(sa.ForeignKey("architectures.index"), primary_key=True)
    dataset: Mapped[str] = mapped_column(sa.ForeignKey("datasets.name"), primary_key=True)
    lr: Mapped[float | None]
    base_lr: Mapped[float | None]
    params: Mapped[int]
    flops: Mapped[int] = mapped_column(sa.BigInteger)


class ResultImport(Base):
    """Provenance of one import of published numbers."""

    __tablename__ = "result_imports"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(32))
    importer: Mapped[str] = mapped_column(sa.String(32))
    path: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    rows: Mapped[int]
    provenance: Mapped[str] = mapped_column(sa.Text)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class OriginalResult(Base):
    """A published number: one source, setting, split and metric; one seed or a seed aggregate."""

    __tablename__ = "original_results"
    __table_args__ = (
        # One value per key; seed-means (seed NULL) and per-seed rows need separate partial
        # indexes because NULLs are distinct in a UNIQUE index on both backends.
        sa.Index("uq_original_results_mean", "source", "arch_index", "dataset", "split", "metric", "epochs",
                 "aggregation", unique=True, postgresql_where=sa.text("seed IS NULL"),
                 sqlite_where=sa.text("seed IS NULL")),
        sa.Index("uq_original_results_seed", "source", "arch_index", "dataset", "split", "metric", "epochs",
                 "seed", unique=True, postgresql_where=sa.text("seed IS NOT NULL"),
                 sqlite_where=sa.text("seed IS NOT NULL")),
        sa.Index("ix_original_results_view", "dataset", "source", "split", "metric"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(32))
    arch_index: Mapped[int] = mapped_column(sa.ForeignKey("architectures.index"))
    dataset: Mapped[str] = mapped_column(sa.ForeignKey("datasets.name"))
    split: Mapped[str] = mapped_column(sa.String(16))
    metric: Mapped[str] = mapped_column(sa.String(16))
    seed: Mapped[int | None]
    aggregation: Mapped[str] = mapped_column(sa.String(16))  # "seed-mean" or "seed"
    epochs: Mapped[int]
    value: Mapped[float]
    import_id: Mapped[int] = mapped_column(sa.ForeignKey("result_imports.id", ondelete="CASCADE"))


class OriginalCost(Base):
    """A source's recorded cost of one cell in one setting: training time, latency, params.

    ``mean_seeds`` is the seed subset whose mean the source's published valid accuracy is
    (``777+888``; a trailing ``~`` when only the nearest subset, within 0.05 points, matches).
    """

    __tablename__ = "original_costs"
    source: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    arch_index: Mapped[int] = mapped_column(sa.ForeignKey("architectures.index"), primary_key=True)
    dataset: Mapped[str] = mapped_column(sa.ForeignKey("datasets.name"), primary_key=True)
    epochs: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    n_seeds: Mapped[int]
    train_all_time: Mapped[float | None]  # s, the sum of the per-epoch training times
    latency: Mapped[float | None]  # s per batch, as the source measured it
    params_mb: Mapped[float | None]  # millions of parameters, as the source counted them
    mean_seeds: Mapped[str | None] = mapped_column(sa.String(32))
    import_id: Mapped[int] = mapped_column(sa.ForeignKey("result_imports.id", ondelete="CASCADE"))


class Run(Base):
    """One training run: (arch, dataset, scaling, protocol fingerprint, seed, precision)."""

    __tablename__ = "runs"
    __table_args__ = (
        sa.UniqueConstraint("key", "precision", name="uq_runs_key_precision"),
        sa.CheckConstraint(f"status IN {RUN_STATUSES}", name="status"),
        sa.Index("ix_runs_status_heartbeat", "status", "heartbeat_at"),
        sa.Index("ix_runs_arch_dataset", "arch_index", "dataset"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64))  # archscale.protocols.run_key
    precision: Mapped[str] = mapped_column(sa.String(8))
    arch_index: Mapped[int] = mapped_column(sa.ForeignKey("architectures.index"))
    dataset: Mapped[str] = mapped_column(sa.ForeignKey("datasets.name"))
    scaling: Mapped[str] = mapped_column(sa.String(32))
    protocol_id: Mapped[int] = mapped_column(sa.ForeignKey("protocols.id"))
    seed: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    progress_epoch: Mapped[int] = mapped_column(default=0)
    total_epochs: Mapped[int]
    heartbeat_at: Mapped[datetime | None]
    worker_id: Mapped[str | None] = mapped_column(sa.String(128))
    error: Mapped[str | None] = mapped_column(sa.Text)
    traceback_id: Mapped[str | None] = mapped_column(sa.String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    # A served run (batch dedup) is never trained: its status and result are its representative's.
    served_from_run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("runs.id"), index=True)
    served_by: Mapped[str | None] = mapped_column(sa.String(16))  # the dedup key: "isomorphic" | "nb201"
    # The key that created the run: it (or an admin key) may cancel it. NULL: only an admin key.
    api_key_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_keys.id"))
    queue: Mapped[str | None] = mapped_column(sa.String(64))  # the broker queue it was sent to (reaper re-sends)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EpochMetric(Base):
    """One epoch of a run's curve; (run_id, epoch) is unique so a resumed run cannot duplicate."""

    __tablename__ = "epoch_metrics"
    __table_args__ = (sa.UniqueConstraint("run_id", "epoch", name="uq_epoch_metrics_run_epoch"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("runs.id", ondelete="CASCADE"))
    epoch: Mapped[int]
    train_loss: Mapped[float | None]
    train_acc: Mapped[float | None]
    lr: Mapped[float | None]
    seconds: Mapped[float | None]
    evals: Mapped[dict[str, Any]]  # split -> {"acc": %, "loss": ...}
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class FinalResult(Base):
    """The one final result of a succeeded run (UNIQUE run_id) with its fingerprint."""

    __tablename__ = "final_results"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("runs.id", ondelete="CASCADE"), unique=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    code_version: Mapped[str] = mapped_column(sa.String(64))
    seconds: Mapped[float | None]
    extra: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FinalMetric(Base):
    """One number of a final result: split ("train" or an eval split) x metric ("acc" in %, "loss").

    Carries its run's identity (copied at write time; a run's identity never changes) so the
    read model loads every re-scaled number with one scan, no join.
    """

    __tablename__ = "final_metrics"
    __table_args__ = (sa.UniqueConstraint("result_id", "split", "metric", name="uq_final_metrics_key"),
                      sa.Index("ix_final_metrics_series", "dataset", "scaling", "protocol_id", "precision", "split",
                               "metric"))
    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[int] = mapped_column(sa.ForeignKey("final_results.id", ondelete="CASCADE"))
    split: Mapped[str] = mapped_column(sa.String(16))
    metric: Mapped[str] = mapped_column(sa.String(16))
    value: Mapped[float]
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("runs.id", ondelete="CASCADE"))
    arch_index: Mapped[int]
    dataset: Mapped[str] = mapped_column(sa.String(32))
    scaling: Mapped[str] = mapped_column(sa.String(32))
    protocol_id: Mapped[int]
    precision: Mapped[str] = mapped_column(sa.String(8))
    seed: Mapped[int] = mapped_column(sa.BigInteger)


class Batch(Base):
    """A submission of many archs with common options; items that failed validation kept."""

    __tablename__ = "batches"
    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_keys.id"))
    request: Mapped[dict[str, Any]]  # the common options (dataset, scaling, protocol, seeds, precision)
    n_items: Mapped[int]
    errors: Mapped[list[Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BatchRun(Base):
    __tablename__ = "batch_runs"
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    item: Mapped[int]  # position of the arch in the request


class ApiKey(Base):
    """A write key: only its sha256 is stored; ``prefix`` identifies it in listings."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128))
    prefix: Mapped[str] = mapped_column(sa.String(16))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    admin: Mapped[bool] = mapped_column(default=False, server_default=sa.false())  # may cancel any run


class Meta(Base):
    """Counters the API watches, e.g. ``results_version`` bumped whenever results change."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger)


CAMPAIGN_STATUSES = ("active", "cancelled")


class Campaign(Base):
    """A re-benchmark of many archs (up to the whole space): runs created server-side in bulk,
    trained after interactive submissions (``service.storage.campaigns``). ``request_hash`` is
    the sha256 of the normalised request: resubmitting the same campaign returns this row."""

    __tablename__ = "campaigns"
    __table_args__ = (sa.CheckConstraint(f"status IN {CAMPAIGN_STATUSES}", name="status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    request_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    request: Mapped[dict[str, Any]]  # normalised: selector, datasets, scalings, seeds, protocol, precision, dedup
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    n_archs: Mapped[int]  # distinct archs selected (over all datasets)
    n_runs: Mapped[int]  # runs linked (trained + served)
    api_key_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]


class CampaignRun(Base):
    """A run of a campaign. A run in any campaign is bulk work: workers take it after
    interactive runs (``service.storage.campaigns.next_queued_run_id``, the ``-bulk`` queue)."""

    __tablename__ = "campaign_runs"
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True, index=True)


class BaseLR(Base):
    """A base LR with its provenance (``archscale.base_lrs``): one row per (dataset, recipe,
    protocol, origin); the one in force: ``archscale.base_lrs.precedence``."""

    __tablename__ = "base_lrs"
    __table_args__ = (sa.UniqueConstraint("dataset", "recipe", "protocol", "origin", name="uq_base_lrs_key"),
                      sa.CheckConstraint("origin IN ('searched', 'released-default', 'manual')", name="origin"),
                      sa.CheckConstraint("value > 0", name="value_positive"))
    id: Mapped[int] = mapped_column(primary_key=True)
    dataset: Mapped[str] = mapped_column(sa.String(32))
    recipe: Mapped[str] = mapped_column(sa.String(32))  # the scaling that uses it
    protocol: Mapped[str] = mapped_column(sa.String(64))  # protocol name
    protocol_key: Mapped[str] = mapped_column(sa.String(80))
    value: Mapped[float]
    origin: Mapped[str] = mapped_column(sa.String(20))
    grid: Mapped[list[Any]]
    losses: Mapped[dict[str, Any]]  # seed -> final training loss per grid LR (null: diverged)
    seeds: Mapped[list[Any]]
    criterion: Mapped[str] = mapped_column(sa.Text)
    code_version: Mapped[str] = mapped_column(sa.String(64))
    hardware: Mapped[str] = mapped_column(sa.Text)
    note: Mapped[str] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]]
    searched_at: Mapped[str] = mapped_column(sa.String(40))  # when the search ran (ISO 8601, UTC)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
