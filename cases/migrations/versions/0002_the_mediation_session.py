"""the mediation session: structured transcript events, evidence uploaders

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 23:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transcript_entries") as batch:
        batch.add_column(sa.Column("event", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("participant_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("audience", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("data", sa.JSON(), nullable=True))
    with op.batch_alter_table("evidence") as batch:
        batch.add_column(sa.Column("submitted_role", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("participant_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.drop_column("participant_id")
        batch.drop_column("submitted_role")
    with op.batch_alter_table("transcript_entries") as batch:
        batch.drop_column("data")
        batch.drop_column("audience")
        batch.drop_column("participant_id")
        batch.drop_column("event")
