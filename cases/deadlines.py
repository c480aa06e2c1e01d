"""The time rules of a case: acceptance within 7 working days of receipt, mediation ended if no
agreement within 45 working days of acceptance (SAMR interim measures on complaints, arts. 14 and
21). Both are configurable: the rules have been revised, and some offices count 60 days."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from cases.calendar import WorkingCalendar
from cases.models import CONCLUDED, Case, CaseStatus


@dataclass(frozen=True)
class DeadlineRules:
    acceptance_days: int = 7
    mediation_days: int = 45
    warn_days: int = 2
    """Working days left at which a case is flagged as due soon."""


class Flag(enum.StrEnum):
    OK = "ok"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class Deadline:
    what: str
    """``acceptance`` or ``mediation``."""
    due: dt.date
    working_days_left: int
    flag: Flag


def current_deadline(
    case: Case, calendar: WorkingCalendar, rules: DeadlineRules, today: dt.date
) -> Deadline | None:
    """The deadline a case is running against today, or ``None`` once it is concluded."""
    status = CaseStatus(case.status)
    if status in CONCLUDED or status is CaseStatus.NOT_ACCEPTED:
        return None
    if status is CaseStatus.RECEIVED:
        what, due = "acceptance", calendar.add_working_days(case.received_on, rules.acceptance_days)
    else:
        start = case.accepted_on or case.received_on
        what, due = "mediation", calendar.add_working_days(start, rules.mediation_days)
    left = calendar.working_days_between(today, due)
    if today > due:
        flag = Flag.OVERDUE
    elif left <= rules.warn_days:
        flag = Flag.DUE_SOON
    else:
        flag = Flag.OK
    return Deadline(what, due, left, flag)
