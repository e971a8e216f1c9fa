"""Initial schema: reference data, published results, runs, results, batches, API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Frozen: it does not import the models, so later model edits cannot change what it does.
Reference rows (datasets, protocols, the 15,625 architectures) are written by
``service.storage.reference.sync_reference_data`` after the migrations, not here: they
come from the science core, which may gain fields without a schema change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
STATUSES = "('queued', 'running', 'succeeded', 'failed', 'cancelled')"


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=f"pk_{table}")


def _fk(table: str, column: str, target: str, **kw: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [target], name=f"fk_{table}_{column}", **kw)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("last_used_at", TS, nullable=True),
        _pk("api_keys", "id"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_table(
        "architectures",
        sa.Column("index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("arch_str", sa.String(120), nullable=False),
        sa.Column("unique_key", sa.String(200), nullable=False),
        sa.Column("relabel_key", sa.String(120), nullable=False),
        sa.Column("num_paths", sa.Integer(), nullable=False),
        sa.Column("sum_l3", sa.Integer(), nullable=False),
        sa.Column("degenerate", sa.Boolean(), nullable=False),
        sa.Column("ops_mask", sa.Integer(), nullable=False),
        _pk("architectures", "index"),
        sa.UniqueConstraint("arch_str", name="uq_architectures_arch_str"),
    )
    op.create_index("ix_architectures_relabel_key", "architectures", ["relabel_key"])
    op.create_index("ix_architectures_unique_key", "architectures", ["unique_key"])
    op.create_table(
        "datasets",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("num_classes", sa.Integer(), nullable=False),
        sa.Column("resolution", sa.Integer(), nullable=False),
        sa.Column("train_size", sa.Integer(), nullable=False),
        sa.Column("eval_splits", sa.JSON(), nullable=False),
        sa.Column("original_valid", sa.String(16), nullable=True),
        sa.Column("original_test", sa.String(16), nullable=True),
        _pk("datasets", "name"),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        _pk("meta", "key"),
    )
    op.create_table(
        "protocols",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("benchmark", sa.Boolean(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _pk("protocols", "id"),
        sa.UniqueConstraint("fingerprint", name="uq_protocols_fingerprint"),
        sa.UniqueConstraint("name", "version", name="uq_protocols_name"),
    )
    op.create_table(
        "result_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("importer", sa.String(32), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("provenance", sa.Text(), nullable=False),
        sa.Column("imported_at", TS, nullable=False),
        _pk("result_imports", "id"),
    )
    op.create_table(
        "arch_settings",
        sa.Column("arch_index", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(32), nullable=False),
        sa.Column("lr", sa.Double(), nullable=True),
        sa.Column("base_lr", sa.Double(), nullable=True),
        sa.Column("params", sa.Integer(), nullable=False),
        sa.Column("flops", sa.BigInteger(), nullable=False),
        _fk("arch_settings", "arch_index", "architectures.index"),
        _fk("arch_settings", "dataset", "datasets.name"),
        _pk("arch_settings", "arch_index", "dataset"),
    )
    op.create_table(
        "batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("n_items", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _fk("batches", "api_key_id", "api_keys.id"),
        _pk("batches", "id"),
    )
    op.create_table(
        "original_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("arch_index", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(32), nullable=False),
        sa.Column("split", sa.String(16), nullable=False),
        sa.Column("metric", sa.String(16), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("aggregation", sa.String(16), nullable=False),
        sa.Column("epochs", sa.Integer(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        _fk("original_results", "arch_index", "architectures.index"),
        _fk("original_results", "dataset", "datasets.name"),
        _fk("original_results", "import_id", "result_imports.id", ondelete="CASCADE"),
        _pk("original_results", "id"),
    )
    key = ["source", "arch_index", "dataset", "split", "metric", "epochs"]
    op.create_index("ix_original_results_view", "original_results", ["dataset", "source", "split", "metric"])
    op.create_index("uq_original_results_mean", "original_results", [*key, "aggregation"], unique=True,
                    postgresql_where=sa.text("seed IS NULL"), sqlite_where=sa.text("seed IS NULL"))
    op.create_index("uq_original_results_seed", "original_results", [*key, "seed"], unique=True,
                    postgresql_where=sa.text("seed IS NOT NULL"), sqlite_where=sa.text("seed IS NOT NULL"))
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("precision", sa.String(8), nullable=False),
        sa.Column("arch_index", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(32), nullable=False),
        sa.Column("scaling", sa.String(32), nullable=False),
        sa.Column("protocol_id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress_epoch", sa.Integer(), nullable=False),
        sa.Column("total_epochs", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", TS, nullable=True),
        sa.Column("worker_id", sa.String(128), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("traceback_id", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("served_from_run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(f"status IN {STATUSES}", name="ck_runs_status"),
        _fk("runs", "arch_index", "architectures.index"),
        _fk("runs", "dataset", "datasets.name"),
        _fk("runs", "protocol_id", "protocols.id"),
        _fk("runs", "served_from_run_id", "runs.id"),
        _pk("runs", "id"),
        sa.UniqueConstraint("key", "precision", name="uq_runs_key_precision"),
    )
    op.create_index("ix_runs_arch_dataset", "runs", ["arch_index", "dataset"])
    op.create_index("ix_runs_status_heartbeat", "runs", ["status", "heartbeat_at"])
    op.create_table(
        "batch_runs",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.Integer(), nullable=False),
        _fk("batch_runs", "batch_id", "batches.id", ondelete="CASCADE"),
        _fk("batch_runs", "run_id", "runs.id", ondelete="CASCADE"),
        _pk("batch_runs", "batch_id", "run_id"),
    )
    op.create_table(
        "epoch_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("train_loss", sa.Double(), nullable=True),
        sa.Column("train_acc", sa.Double(), nullable=True),
        sa.Column("lr", sa.Double(), nullable=True),
        sa.Column("seconds", sa.Double(), nullable=True),
        sa.Column("evals", sa.JSON(), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        _fk("epoch_metrics", "run_id", "runs.id", ondelete="CASCADE"),
        _pk("epoch_metrics", "id"),
        sa.UniqueConstraint("run_id", "epoch", name="uq_epoch_metrics_run_epoch"),
    )
    op.create_table(
        "final_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("code_version", sa.String(64), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _fk("final_results", "run_id", "runs.id", ondelete="CASCADE"),
        _pk("final_results", "id"),
        sa.UniqueConstraint("run_id", name="uq_final_results_run_id"),
    )
    op.create_table(
        "final_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("split", sa.String(16), nullable=False),
        sa.Column("metric", sa.String(16), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        # the run's identity, copied: the read model scans this table alone
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("arch_index", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(32), nullable=False),
        sa.Column("scaling", sa.String(32), nullable=False),
        sa.Column("protocol_id", sa.Integer(), nullable=False),
        sa.Column("precision", sa.String(8), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        _fk("final_metrics", "result_id", "final_results.id", ondelete="CASCADE"),
        _fk("final_metrics", "run_id", "runs.id", ondelete="CASCADE"),
        _pk("final_metrics", "id"),
        sa.UniqueConstraint("result_id", "split", "metric", name="uq_final_metrics_key"),
    )
    op.create_index("ix_final_metrics_series", "final_metrics",
                    ["dataset", "scaling", "protocol_id", "precision", "split", "metric"])


def downgrade() -> None:
    for table in ("final_metrics", "final_results", "epoch_metrics", "batch_runs", "runs", "original_results",
                  "batches", "arch_settings", "result_imports", "protocols", "meta", "datasets",
                  "architectures", "api_keys"):
        op.drop_table(table)
