"""Served runs (batch dedup): which key served a run, and an index to find a representative's.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

``runs.served_from_run_id`` exists since 0001; every state change of a representative now
updates the runs it serves (``WHERE served_from_run_id = ?``), hence the index.
``runs.served_by`` says under which key (``isomorphic`` or ``nb201``) a run was served.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("served_by", sa.String(16), nullable=True))
    op.create_index("ix_runs_served_from_run_id", "runs", ["served_from_run_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_served_from_run_id", table_name="runs")
    # Batch mode: SQLite rebuilds the table (older SQLite has no DROP COLUMN).
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("served_by")
