"""NB201's recorded costs per cell and setting (training time, latency, params).

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-01

``original_costs`` holds what ``rebench import-nb201 nb201_tss_hp200_cost.csv.gz`` reads:
per source, cell, setting and epochs, the training time summed over epochs, the latency and
the parameter count the source recorded, and which seeds its published mean averages.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "original_costs",
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("arch_index", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(32), nullable=False),
        sa.Column("epochs", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("n_seeds", sa.Integer(), nullable=False),
        sa.Column("train_all_time", sa.Double(), nullable=True),
        sa.Column("latency", sa.Double(), nullable=True),
        sa.Column("params_mb", sa.Double(), nullable=True),
        sa.Column("mean_seeds", sa.String(32), nullable=True),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["arch_index"], ["architectures.index"], name="fk_original_costs_arch_index"),
        sa.ForeignKeyConstraint(["dataset"], ["datasets.name"], name="fk_original_costs_dataset"),
        sa.ForeignKeyConstraint(["import_id"], ["result_imports.id"], ondelete="CASCADE",
                                name="fk_original_costs_import_id"),
        sa.PrimaryKeyConstraint("source", "arch_index", "dataset", "epochs", name="pk_original_costs"),
    )


def downgrade() -> None:
    op.drop_table("original_costs")
