"""Campaigns: whole-space re-benchmarks created in bulk, trained after interactive runs.

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-01

``campaigns`` holds one normalised request per campaign (``request_hash`` UNIQUE: resubmitting
is idempotent); ``campaign_runs`` links its runs. A run linked to any campaign is bulk work:
the embedded runner takes it after interactive runs and Celery sends it to ``<queue>-bulk``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)  # frozen: no import of the models


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("n_archs", sa.Integer(), nullable=False),
        sa.Column("n_runs", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), sa.ForeignKey("api_keys.id", name="fk_campaigns_api_key_id"),
                  nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("cancelled_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
        sa.UniqueConstraint("request_hash", name="uq_campaigns_request_hash"),
        sa.CheckConstraint("status IN ('active', 'cancelled')", name="ck_campaigns_status"),
    )
    op.create_table(
        "campaign_runs",
        sa.Column("campaign_id", sa.Integer(),
                  sa.ForeignKey("campaigns.id", ondelete="CASCADE", name="fk_campaign_runs_campaign_id"),
                  nullable=False),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE", name="fk_campaign_runs_run_id"),
                  nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "run_id", name="pk_campaign_runs"),
    )
    op.create_index("ix_campaign_runs_run_id", "campaign_runs", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_campaign_runs_run_id", table_name="campaign_runs")
    op.drop_table("campaign_runs")
    op.drop_table("campaigns")
