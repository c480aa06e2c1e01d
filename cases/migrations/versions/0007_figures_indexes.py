"""the office's figures: a sitting's stored start, and indexes on the days counted

``sittings.started_at`` is when the first participant entered the sitting (the earliest
attendance row; the transcript writer keeps it from now on), filled here from the attendance
rows so the figures no longer group every attendance. The indexes serve the figures of a period:
cases of an office by the day received, accepted, concluded; sittings by their start;
satisfaction answers by their time.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_cases_office_received", "cases", ["office_id", "received_on"]),
    ("ix_cases_office_accepted", "cases", ["office_id", "accepted_on"]),
    ("ix_cases_office_concluded", "cases", ["office_id", "concluded_on"]),
    ("ix_sittings_started_at", "sittings", ["started_at"]),
    ("ix_satisfaction_at", "satisfaction", ["at"]),
]


def upgrade() -> None:
    op.add_column("sittings", sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
    # The same statement on SQLite and PostgreSQL: the earliest join of each sitting (the
    # values are copied as stored, so SQLite's text timestamps keep their form).
    op.execute(
        "UPDATE sittings SET started_at = "
        "(SELECT min(a.joined_at) FROM attendances a WHERE a.sitting_id = sittings.id) "
        "WHERE started_at IS NULL"
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    # ALTER TABLE … DROP COLUMN on both (SQLite ≥ 3.35, the index gone first): a batch copy of
    # the table would have to drop ``sittings``, which other tables' foreign keys refuse.
    op.drop_column("sittings", "started_at")
