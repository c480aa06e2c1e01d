"""The wire shapes of the office's view: the dashboard's figures and a mediator's "my work"."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from server.api_schemas import DeadlineOut

Number = int | float | Decimal | None


class PeriodOut(BaseModel):
    start: dt.date
    end: dt.date


class MediatorChoice(BaseModel):
    id: int
    display_name: str
    role: str


class FigureRowOut(BaseModel):
    """One figure: now, the same period a year earlier, the change (同比)."""

    key: str
    label: str
    figure: str
    """Ask ``GET /api/stats/cases?figure=…`` for the cases behind it."""
    current: Number
    previous: Number
    change: Number
    change_ratio: float | None
    rate: bool
    """A share 0–1 (its change is in points)."""


class MonthOut(BaseModel):
    month: str
    start: dt.date
    end: dt.date
    received: int
    concluded: int
    settled: int
    success_rate: float | None
    money_recovered: Decimal


class CategoryOut(BaseModel):
    category: str
    received: int
    concluded: int
    on_time: int
    settled: int
    success_rate: float | None
    money_recovered: Decimal


class StatsOut(BaseModel):
    office_name: str
    scope: Literal["office", "mediator"]
    """``office``: every case of the office; ``mediator``: one mediator's cases."""
    mediator: MediatorChoice | None
    category: str | None
    period: PeriodOut
    previous_period: PeriodOut
    timezone: str
    generated_at: dt.datetime
    rows: list[FigureRowOut]
    months: list[MonthOut]
    categories: list[CategoryOut]
    mediators: list[MediatorChoice]
    """Whom the mediator filter may name (a mediator: only themself)."""
    definitions: dict[str, str]


class WorkSitting(BaseModel):
    case_number: str
    case_title: str
    sitting_id: int
    room_id: str
    scheduled_at: dt.datetime | None
    opened_at: dt.datetime
    joined: list[str]
    """Roles with at least one attendance in the sitting."""
    missing: list[str]
    """Parties (consumer, business) who have not joined yet."""


class WorkCase(BaseModel):
    number: str
    title: str
    status: str
    category: str
    received_on: dt.date
    deadline: DeadlineOut


class WorkAgreement(BaseModel):
    agreement_id: int
    case_number: str
    case_title: str
    amount: Decimal | None
    performance_due_on: dt.date | None
    days_left: int | None
    """Calendar days to the performance date (negative: overdue)."""


class MyWorkOut(BaseModel):
    today: dt.date
    timezone: str
    sittings_today: list[WorkSitting]
    sittings_upcoming: list[WorkSitting]
    waiting_for_parties: list[WorkSitting]
    awaiting_acceptance: list[WorkCase]
    near_deadline: list[WorkCase]
    unperformed_agreements: list[WorkAgreement]
