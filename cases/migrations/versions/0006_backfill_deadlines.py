"""fill the stored deadlines of existing cases (data only)

Cases created before the deadlines were stored get them here, on the same working-day calendar
the server uses, so that "concluded on time" is ``concluded_on <= conclusion_due_on`` in SQL:
``acceptance_due_on`` from ``received_on``, ``conclusion_due_on`` from ``accepted_on``.

The calendar: the Alembic config attributes ``office_calendar`` (a ``WorkingCalendar``) and
``deadline_rules`` (``DeadlineRules``) when the caller passes them; else the office
configuration file named by ``MEDIATION_ROOM_OFFICE_CONFIG`` (the same file and keys as
``serve --office-config``); else weekends only, 7 and 45 working days.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 12:00:00
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

from cases.calendar import WorkingCalendar
from cases.deadlines import DeadlineRules

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 5000

cases = sa.table(
    "cases",
    sa.column("id", sa.Integer()),
    sa.column("received_on", sa.Date()),
    sa.column("accepted_on", sa.Date()),
    sa.column("acceptance_due_on", sa.Date()),
    sa.column("conclusion_due_on", sa.Date()),
)


def _office_rules() -> tuple[WorkingCalendar, DeadlineRules]:
    attributes = context.config.attributes
    calendar = attributes.get("office_calendar")
    rules = attributes.get("deadline_rules")
    if isinstance(calendar, WorkingCalendar) and isinstance(rules, DeadlineRules):
        return calendar, rules
    path = os.environ.get("MEDIATION_ROOM_OFFICE_CONFIG")
    if not path:
        return WorkingCalendar(), DeadlineRules()
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    calendar = WorkingCalendar.of(
        (dt.date.fromisoformat(d) for d in data.get("holidays", [])),
        (dt.date.fromisoformat(d) for d in data.get("makeup_days", [])),
    )
    defaults = DeadlineRules()
    rules = DeadlineRules(
        acceptance_days=int(data.get("acceptance_days", defaults.acceptance_days)),
        mediation_days=int(data.get("mediation_days", defaults.mediation_days)),
        warn_days=int(data.get("warn_days", defaults.warn_days)),
    )
    return calendar, rules


def _as_date(value: object) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def upgrade() -> None:
    calendar, rules = _office_rules()
    connection = op.get_bind()
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(cases.c.id, cases.c.received_on, cases.c.accepted_on)
            .where(
                cases.c.id > last_id,
                sa.or_(
                    cases.c.acceptance_due_on.is_(None),
                    sa.and_(cases.c.conclusion_due_on.is_(None), cases.c.accepted_on.is_not(None)),
                ),
            )
            .order_by(cases.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for case_id, received_on, accepted_on in rows:
            received, accepted = _as_date(received_on), _as_date(accepted_on)
            values: dict[str, dt.date] = {}
            if received is not None:
                values["acceptance_due_on"] = calendar.add_working_days(
                    received, rules.acceptance_days
                )
            if accepted is not None:
                values["conclusion_due_on"] = calendar.add_working_days(
                    accepted, rules.mediation_days
                )
            # Only fill what is missing: a stored deadline was counted when it happened.
            connection.execute(
                sa.update(cases)
                .where(cases.c.id == case_id, cases.c.acceptance_due_on.is_(None))
                .values(acceptance_due_on=values.get("acceptance_due_on"))
            )
            if "conclusion_due_on" in values:
                connection.execute(
                    sa.update(cases)
                    .where(cases.c.id == case_id, cases.c.conclusion_due_on.is_(None))
                    .values(conclusion_due_on=values["conclusion_due_on"])
                )
        last_id = rows[-1][0]


def downgrade() -> None:
    # Data only: the columns belong to 0005, and deadlines stored since are facts to keep.
    pass
