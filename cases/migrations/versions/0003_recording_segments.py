"""recording segments: duration, sealed after a crash

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 23:55:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("duration", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("sealed_after_crash", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("sealed_after_crash")
        batch.drop_column("duration")
