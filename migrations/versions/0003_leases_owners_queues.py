"""Run owners, admin keys, and the queue a run was sent to.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

- ``api_keys.admin``: an admin key may cancel any run; any other key only the runs it created.
- ``runs.api_key_id``: the key that created the run (NULL for runs created before this
  revision or outside the API: only an admin key cancels those).
- ``runs.queue``: the broker queue the run was sent to, so the reaper re-sends it there.

Worker leases need no column: the attempt token is ``runs.attempts`` (``service.storage.lease``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("admin", sa.Boolean(), nullable=False, server_default=sa.false()))
    # Batch mode: SQLite rebuilds the table to add a foreign key.
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("api_key_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("queue", sa.String(64), nullable=True))
        batch.create_foreign_key("fk_runs_api_key_id", "api_keys", ["api_key_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint("fk_runs_api_key_id", type_="foreignkey")
        batch.drop_column("queue")
        batch.drop_column("api_key_id")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("admin")
