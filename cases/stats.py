"""The office's figures for a period: what offices report (received, concluded, on time, settled,
money recovered, satisfaction), by month and by category, and the same period a year earlier.

Everything is counted by the database (aggregates; medians by ``percentile_cont`` on
PostgreSQL, by ``row_number()`` over a window on SQLite, which has no percentile function);
Python only shapes the answer (adds up the counts by category and status). The same SQL runs on
SQLite and PostgreSQL: where they differ (date arithmetic, month of a date) :class:`_Sql` says
each dialect's way. The dashboard reads each table once for the period and the year before
(``count(*) FILTER (WHERE …)`` per period), and the indexes of migration 0007 serve a short
period's rows.

Definitions (also shown in the console and the exports):

- a case is *received* / *accepted* in the period by ``received_on`` / ``accepted_on``;
- *concluded* means settled, not settled (调解终止) or withdrawn, by ``concluded_on``; a case
  not accepted (不予受理) is counted apart, as ``not_accepted``;
- *concluded on time*: ``concluded_on <= conclusion_due_on`` (the mediation deadline, stored
  when the case was accepted), or — for a case withdrawn before acceptance —
  ``<= acceptance_due_on``;
- *success rate* = settled ÷ concluded (withdrawn cases count as concluded, not as settled);
- *money recovered*: ``amount_recovered`` of the cases settled in the period;
- *days to conclusion*: calendar days from receipt to conclusion of the concluded cases;
- *remote sittings*: sittings whose first participant joined in the period (``started_at``,
  stored with the first attendance); their length runs from that first join to the sitting's
  close (or, if never closed, the last one leaving);
- *satisfaction*: ratings (1–5) given in the period, per side.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    and_,
    cast,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import CONCLUDED, Attendance, Case, CaseStatus, Satisfaction, Sitting

MAX_PERIOD_DAYS = 366 * 20
"""A longer period is refused (a typo such as year 0026, not a report)."""

CONCLUDED_VALUES = tuple(sorted(s.value for s in CONCLUDED))

FIGURES: dict[str, str] = {
    "received": "收到投诉",
    "accepted": "受理",
    "not_accepted": "不予受理",
    "concluded": "办结",
    "on_time": "按期办结",
    "settled": "调解成功",
    "not_settled": "调解不成（终止）",
    "withdrawn": "撤回",
    "money": "挽回经济损失（元）",
    "sittings": "远程调解场次",
    "satisfaction_consumer": "消费者满意度评价",
    "satisfaction_business": "商家满意度评价",
}
"""The figures a list of cases can be asked for (``GET /api/stats/cases?figure=…``)."""

ROWS: tuple[tuple[str, str, str], ...] = (
    ("received", "收到投诉（件）", "received"),
    ("accepted", "受理（件）", "accepted"),
    ("not_accepted", "不予受理（件）", "not_accepted"),
    ("concluded", "办结（件）", "concluded"),
    ("on_time", "按期办结（件）", "on_time"),
    ("on_time_rate", "按期办结率", "on_time"),
    ("settled", "调解成功（件）", "settled"),
    ("not_settled", "调解不成（件）", "not_settled"),
    ("withdrawn", "撤回（件）", "withdrawn"),
    ("success_rate", "调解成功率（成功÷办结）", "settled"),
    ("money_recovered", "挽回经济损失（元）", "money"),
    ("money_median", "每件调解成功挽回金额中位数（元）", "money"),
    ("days_median", "收到至办结天数中位数", "concluded"),
    ("sittings", "远程调解场次", "sittings"),
    ("sitting_minutes_median", "每场时长中位数（分钟）", "sittings"),
    ("consumer_count", "消费者评价（份）", "satisfaction_consumer"),
    ("consumer_mean", "消费者满意度均分（1–5）", "satisfaction_consumer"),
    ("consumer_share", "消费者满意率（≥4分）", "satisfaction_consumer"),
    ("business_count", "商家评价（份）", "satisfaction_business"),
    ("business_mean", "商家满意度均分（1–5）", "satisfaction_business"),
    ("business_share", "商家满意率（≥4分）", "satisfaction_business"),
)
"""The summary table, in order: (key of :meth:`Figures.values`, Chinese label, figure whose
case list is behind it)."""

RATES = frozenset(
    {"on_time_rate", "success_rate", "consumer_share", "business_share"},
)
"""Shares 0–1: their change is in percentage points, shown as %."""


class BadQuery(ValueError):
    """A period or filter that cannot be counted; ``code`` names the problem."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Period:
    """Days ``start`` … ``end``, both included, in the office's time zone."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise BadQuery("invalid_period", "from is after to")
        if (self.end - self.start).days >= MAX_PERIOD_DAYS:
            raise BadQuery("invalid_period", "the period is longer than 20 years")

    def year_earlier(self) -> Period:
        return Period(_minus_year(self.start), _minus_year(self.end))

    def months(self) -> list[str]:
        """``YYYY-MM`` of every month the period touches, in order."""
        out = []
        year, month = self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            out.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out

    def month(self, key: str) -> Period:
        """The part of this period within month ``YYYY-MM``."""
        year, month = (int(x) for x in key.split("-"))
        first = dt.date(year, month, 1)
        last = (dt.date(year + month // 12, month % 12 + 1, 1)) - dt.timedelta(days=1)
        return Period(max(first, self.start), min(last, self.end))

    def utc_bounds(self, timezone: str) -> tuple[dt.datetime, dt.datetime]:
        """The instants the period starts and ends (exclusive), for timestamps."""
        zone = ZoneInfo(timezone)
        lo = dt.datetime.combine(self.start, dt.time(), zone)
        hi = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), zone)
        return lo.astimezone(dt.UTC), hi.astimezone(dt.UTC)


def _minus_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


@dataclass(frozen=True)
class Scope:
    """Whose cases: an office, optionally one category and one mediator."""

    office_id: int
    category: str | None = None
    mediator_id: int | None = None

    def where(self) -> ColumnElement[bool]:
        conditions = [Case.office_id == self.office_id]
        if self.category is not None:
            conditions.append(Case.category == self.category)
        if self.mediator_id is not None:
            conditions.append(Case.mediator_id == self.mediator_id)
        return and_(*conditions)


@dataclass
class Rating:
    """One side's satisfaction: how many ratings, their mean, the share rated 4 or 5."""

    count: int = 0
    mean: float | None = None
    share_4_plus: float | None = None


@dataclass
class Figures:
    """The figures of one period."""

    received: int = 0
    accepted: int = 0
    not_accepted: int = 0
    concluded: int = 0
    on_time: int = 0
    settled: int = 0
    not_settled: int = 0
    withdrawn: int = 0
    money_recovered: Decimal = Decimal("0.00")
    money_median: Decimal | None = None
    """Median amount recovered per settled case (those with an amount recorded)."""
    days_median: float | None = None
    sittings: int = 0
    sitting_minutes_median: float | None = None
    consumer: Rating = field(default_factory=Rating)
    business: Rating = field(default_factory=Rating)

    @property
    def success_rate(self) -> float | None:
        return _ratio(self.settled, self.concluded)

    @property
    def on_time_rate(self) -> float | None:
        return _ratio(self.on_time, self.concluded)

    def values(self) -> dict[str, int | float | Decimal | None]:
        """Every figure of :data:`ROWS` by key."""
        return {
            "received": self.received,
            "accepted": self.accepted,
            "not_accepted": self.not_accepted,
            "concluded": self.concluded,
            "on_time": self.on_time,
            "on_time_rate": self.on_time_rate,
            "settled": self.settled,
            "not_settled": self.not_settled,
            "withdrawn": self.withdrawn,
            "success_rate": self.success_rate,
            "money_recovered": self.money_recovered,
            "money_median": self.money_median,
            "days_median": self.days_median,
            "sittings": self.sittings,
            "sitting_minutes_median": self.sitting_minutes_median,
            "consumer_count": self.consumer.count,
            "consumer_mean": self.consumer.mean,
            "consumer_share": self.consumer.share_4_plus,
            "business_count": self.business.count,
            "business_mean": self.business.mean,
            "business_share": self.business.share_4_plus,
        }


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Row:
    """One figure now and a year earlier."""

    key: str
    label: str
    figure: str
    current: int | float | Decimal | None
    previous: int | float | Decimal | None
    change: int | float | Decimal | None
    """``current - previous`` (for a share: in points of 0–1)."""
    change_ratio: float | None
    """``change ÷ previous``: the year-on-year change (同比), ``None`` when previous is 0."""


@dataclass
class MonthRow:
    month: str
    received: int = 0
    concluded: int = 0
    settled: int = 0
    money_recovered: Decimal = Decimal("0.00")

    @property
    def success_rate(self) -> float | None:
        return _ratio(self.settled, self.concluded)


@dataclass
class CategoryRow:
    category: str
    received: int = 0
    concluded: int = 0
    on_time: int = 0
    settled: int = 0
    money_recovered: Decimal = Decimal("0.00")

    @property
    def success_rate(self) -> float | None:
        return _ratio(self.settled, self.concluded)


@dataclass
class Report:
    """The dashboard: a period's figures against a year earlier, by month and by category."""

    period: Period
    previous_period: Period
    current: Figures
    previous: Figures
    rows: list[Row]
    months: list[MonthRow]
    categories: list[CategoryRow]


# -- the dialects ----------------------------------------------------------------------------


class _Sql:
    """The few expressions SQLite and PostgreSQL spell differently."""

    def __init__(self, dialect: str) -> None:
        self.postgres = dialect == "postgresql"

    def cents(self, column: Any) -> ColumnElement[int]:
        """An exact amount in fen (SQLite keeps NUMERIC as a float: round, then integer)."""
        if self.postgres:
            return cast(column * 100, BigInteger)
        return cast(func.round(column * 100), BigInteger)

    def days_between(self, start: Any, end: Any) -> ColumnElement[int]:
        if self.postgres:
            return cast(end - start, Integer)
        return cast(func.round(func.julianday(end) - func.julianday(start)), Integer)

    def seconds_between(self, start: Any, end: Any) -> ColumnElement[int]:
        if self.postgres:
            return cast(func.round(func.extract("epoch", end - start)), BigInteger)
        return cast(func.round((func.julianday(end) - func.julianday(start)) * 86400), BigInteger)

    def month(self, column: Any) -> ColumnElement[str]:
        if self.postgres:
            return func.to_char(column, "YYYY-MM")
        return func.strftime("%Y-%m", column)


def _sql(session: AsyncSession) -> _Sql:
    return _Sql(session.get_bind().dialect.name)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows match (``count(*) FILTER (WHERE …)``: SQLite ≥ 3.30 and PostgreSQL)."""
    return func.count().filter(condition)


def _percentile_median(value: ColumnElement[Any], where: ColumnElement[bool]) -> Any:
    """PostgreSQL's median of ``value`` over the rows matching ``where`` (NULLs ignored):
    ``percentile_cont(0.5)``, the mean of the two middle values for an even count, as
    :func:`_median` — exact here, the values being whole numbers."""
    return func.percentile_cont(0.5).within_group(value).filter(where)


def _money(cents: Any) -> Decimal:
    return (Decimal(str(cents or 0)) / 100).quantize(Decimal("0.01"))


def _median_of(value: Any) -> Decimal | None:
    """A median read back from ``avg`` (a float on SQLite, an exact numeric on PostgreSQL)."""
    return None if value is None else Decimal(str(value))


async def _median(
    session: AsyncSession,
    value: ColumnElement[Any],
    where: Sequence[ColumnElement[bool]],
    select_from: Any = None,
) -> Decimal | None:
    """The median of ``value`` over the rows matching ``where``: the middle row (or the mean of
    the two middle rows) by ``row_number()`` — portable where percentile functions are not."""
    ranked = select(
        value.label("v"),
        func.row_number().over(order_by=value).label("rn"),
        func.count().over().label("n"),
    )
    if select_from is not None:
        ranked = ranked.select_from(select_from)
    rows = ranked.where(*where, value.is_not(None)).subquery()
    query = select(func.avg(rows.c.v)).where(
        rows.c.rn * 2 >= rows.c.n, rows.c.rn * 2 <= rows.c.n + 2
    )
    return _median_of((await session.execute(query)).scalar_one())


# -- the conditions behind every figure -------------------------------------------------------


def _within(column: Any, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column <= period.end)


def _concluded(period: Period) -> ColumnElement[bool]:
    return and_(Case.status.in_(CONCLUDED_VALUES), _within(Case.concluded_on, period))


def _status_in(status: CaseStatus, period: Period) -> ColumnElement[bool]:
    return and_(Case.status == status.value, _within(Case.concluded_on, period))


def _on_time(period: Period) -> ColumnElement[bool]:
    due = func.coalesce(Case.conclusion_due_on, Case.acceptance_due_on)
    return and_(_concluded(period), Case.concluded_on <= due)


def _last_leaves() -> Any:
    """The last leave of each sitting never closed (the few whose length runs to it): grouped
    over their attendance rows only, not every sitting's."""
    return (
        select(
            Attendance.sitting_id.label("sitting_id"),
            func.max(Attendance.left_at).label("last_left"),
        )
        .join(Sitting, Sitting.id == Attendance.sitting_id)
        .where(Sitting.closed_at.is_(None))
        .group_by(Attendance.sitting_id)
        .subquery()
    )


def _started_within(lo: dt.datetime, hi: dt.datetime) -> ColumnElement[bool]:
    return and_(Sitting.started_at >= lo, Sitting.started_at < hi)


def figure_condition(figure: str, period: Period, timezone: str) -> ColumnElement[bool]:
    """Which cases are behind ``figure`` (a key of :data:`FIGURES`) in ``period``."""
    if figure == "received":
        return _within(Case.received_on, period)
    if figure == "accepted":
        return _within(Case.accepted_on, period)
    if figure == "not_accepted":
        return _status_in(CaseStatus.NOT_ACCEPTED, period)
    if figure == "concluded":
        return _concluded(period)
    if figure == "on_time":
        return _on_time(period)
    if figure in ("settled", "money"):
        return _status_in(CaseStatus.SETTLED, period)
    if figure == "not_settled":
        return _status_in(CaseStatus.NOT_SETTLED, period)
    if figure == "withdrawn":
        return _status_in(CaseStatus.WITHDRAWN, period)
    lo, hi = period.utc_bounds(timezone)
    if figure == "sittings":
        return exists(select(Sitting.id).where(Sitting.case_id == Case.id, _started_within(lo, hi)))
    if figure in ("satisfaction_consumer", "satisfaction_business"):
        role = figure.rsplit("_", 1)[1]
        return exists(
            select(Satisfaction.id).where(
                Satisfaction.case_id == Case.id,
                Satisfaction.role == role,
                Satisfaction.at >= lo,
                Satisfaction.at < hi,
            )
        )
    raise BadQuery("unknown_figure", f"figure: must be one of {', '.join(FIGURES)}")


def cases_behind(figure: str, period: Period, scope: Scope, timezone: str) -> Select[Any]:
    """``SELECT cases`` behind a figure (newest first): the list a figure links to."""
    return (
        select(Case)
        .where(scope.where(), figure_condition(figure, period, timezone))
        .order_by(Case.received_on.desc(), Case.id.desc())
    )


# -- counting ---------------------------------------------------------------------------------


async def figures(
    session: AsyncSession, period: Period, scope: Scope, timezone: str = "Asia/Shanghai"
) -> Figures:
    """The figures of one period (a handful of aggregate queries)."""
    tallies = await _tallies(session, (period,), scope)
    return (await _figures(session, (period,), tallies, scope, timezone))[0]


@dataclass
class _Tally:
    """The cases of one category and status, counted for one period."""

    received: int = 0
    accepted: int = 0
    concluded: int = 0
    """Concluded in the period (for ``not_accepted``: refused in it)."""
    on_time: int = 0
    cents: int = 0
    """Amount recovered, in fen, of those concluded in the period."""


_Tallies = dict[tuple[str, str], _Tally]


async def _tallies(
    session: AsyncSession, periods: Sequence[Period], scope: Scope
) -> list[_Tallies]:
    """Per period, the cases counted by category and status — in one pass over the cases for
    every period: each period's counts are ``FILTER``-ed out of the same rows, and grouping by
    status spares a condition per status. The figures and the table by category add them up."""
    sql = _sql(session)
    due = func.coalesce(Case.conclusion_due_on, Case.acceptance_due_on)
    columns: list[ColumnElement[Any]] = []
    for period in periods:
        concluded = _within(Case.concluded_on, period)
        columns += [
            _count(_within(Case.received_on, period)),
            _count(_within(Case.accepted_on, period)),
            _count(concluded),
            _count(and_(concluded, Case.concluded_on <= due)),
            func.sum(sql.cents(Case.amount_recovered)).filter(concluded),
        ]
    result = await session.execute(
        select(Case.category, Case.status, *columns)
        .where(
            scope.where(),
            or_(
                *(
                    _within(day, period)
                    for period in periods
                    for day in (Case.received_on, Case.accepted_on, Case.concluded_on)
                )
            ),
        )
        .group_by(Case.category, Case.status)
    )
    out: list[_Tallies] = [{} for _ in periods]
    for category, status, *values in result:
        for k, tallies in enumerate(out):
            received, accepted, concluded, on_time, cents = values[5 * k : 5 * k + 5]
            tallies[category, status] = _Tally(
                int(received), int(accepted), int(concluded), int(on_time), int(cents or 0)
            )
    return out


def _add_up(tallies: _Tallies, out: Figures | CategoryRow) -> None:
    """Fill the counts of ``out`` from the tallies (of one period, one category or all)."""
    for (_, status), tally in tallies.items():
        out.received += tally.received
        if isinstance(out, Figures):
            out.accepted += tally.accepted
        if status == CaseStatus.NOT_ACCEPTED.value and isinstance(out, Figures):
            out.not_accepted += tally.concluded
        if status in CONCLUDED_VALUES:
            out.concluded += tally.concluded
            out.on_time += tally.on_time
        if status == CaseStatus.SETTLED.value:
            out.settled += tally.concluded
            out.money_recovered += _money(tally.cents)
        elif status == CaseStatus.NOT_SETTLED.value and isinstance(out, Figures):
            out.not_settled += tally.concluded
        elif status == CaseStatus.WITHDRAWN.value and isinstance(out, Figures):
            out.withdrawn += tally.concluded


async def _figures(
    session: AsyncSession,
    periods: Sequence[Period],
    tallies: Sequence[_Tallies],
    scope: Scope,
    timezone: str,
) -> list[Figures]:
    """The figures of several periods at once: each table is read once for all of them, every
    period's figures ``FILTER``-ed out of the same rows (on PostgreSQL the medians too, by
    ``percentile_cont``; SQLite has none: a ``row_number()`` window per median)."""
    sql = _sql(session)
    outs = [Figures() for _ in periods]
    for out, tally in zip(outs, tallies, strict=True):
        _add_up(tally, out)

    # The medians of money and of days to conclusion, over the cases concluded in a period.
    cents = sql.cents(Case.amount_recovered)
    days = sql.days_between(Case.received_on, Case.concluded_on)
    medians: list[tuple[Decimal | None, Decimal | None]] = []
    if sql.postgres:
        columns: list[ColumnElement[Any]] = []
        for period in periods:
            columns += [
                _percentile_median(cents, _status_in(CaseStatus.SETTLED, period)),
                _percentile_median(days, _concluded(period)),
            ]
        row = (
            await session.execute(
                select(*columns).where(
                    scope.where(),
                    Case.status.in_(CONCLUDED_VALUES),
                    or_(*(_within(Case.concluded_on, period) for period in periods)),
                )
            )
        ).one()
        medians = [
            (_median_of(row[2 * k]), _median_of(row[2 * k + 1])) for k in range(len(periods))
        ]
    else:
        for period in periods:
            settled = _status_in(CaseStatus.SETTLED, period)
            medians.append(
                (
                    await _median(session, cents, [scope.where(), settled]),
                    await _median(session, days, [scope.where(), _concluded(period)]),
                )
            )
    for out, (median_cents, median_days) in zip(outs, medians, strict=True):
        out.money_median = (
            None
            if median_cents is None
            else (median_cents / 100).quantize(Decimal("0.001")).normalize()
        )
        out.days_median = None if median_days is None else float(median_days)

    # Sittings: how many started in the period, and the median length of those with one
    # (from the first join to the close or, if never closed, the last one leaving).
    bounds = [period.utc_bounds(timezone) for period in periods]
    last = _last_leaves()
    length = sql.seconds_between(
        Sitting.started_at, func.coalesce(Sitting.closed_at, last.c.last_left)
    )
    sittings = Sitting.__table__.join(Case.__table__, Case.id == Sitting.case_id).outerjoin(
        last, last.c.sitting_id == Sitting.id
    )
    columns = []
    for lo, hi in bounds:
        columns.append(_count(_started_within(lo, hi)))
        if sql.postgres:
            columns.append(_percentile_median(length, _started_within(lo, hi)))
    held = (
        select(*columns)
        .select_from(sittings)
        .where(scope.where(), or_(*(_started_within(lo, hi) for lo, hi in bounds)))
    )
    row = (await session.execute(held)).one()
    for k, ((lo, hi), out) in enumerate(zip(bounds, outs, strict=True)):
        if sql.postgres:
            out.sittings, seconds = int(row[2 * k]), _median_of(row[2 * k + 1])
        else:
            out.sittings = int(row[k])
            seconds = await _median(
                session,
                length,
                [scope.where(), _started_within(lo, hi)],
                select_from=sittings,
            )
        out.sitting_minutes_median = None if seconds is None else float(seconds) / 60

    # Satisfaction: per side, given in the period.
    columns = []
    for lo, hi in bounds:
        given = and_(Satisfaction.at >= lo, Satisfaction.at < hi)
        columns += [
            _count(given),
            func.avg(Satisfaction.rating).filter(given),
            _count(and_(given, Satisfaction.rating >= 4)),
        ]
    ratings = await session.execute(
        select(Satisfaction.role, *columns)
        .join(Case, Case.id == Satisfaction.case_id)
        .where(
            scope.where(),
            or_(*(and_(Satisfaction.at >= lo, Satisfaction.at < hi) for lo, hi in bounds)),
        )
        .group_by(Satisfaction.role)
    )
    for role, *values in ratings:
        for k, out in enumerate(outs):
            count, mean, good = values[3 * k : 3 * k + 3]
            if not count:
                continue
            rating = Rating(int(count), float(mean), int(good) / int(count))
            if role == "consumer":
                out.consumer = rating
            elif role == "business":
                out.business = rating
    return outs


async def by_month(session: AsyncSession, period: Period, scope: Scope) -> list[MonthRow]:
    """Received, concluded, settled and money recovered in each month of the period (counted
    by day first: the month of a day is then worked out once a day, not once a case)."""
    sql = _sql(session)
    rows = {key: MonthRow(key) for key in period.months()}
    received = (
        select(Case.received_on.label("day"), func.count().label("n"))
        .where(scope.where(), _within(Case.received_on, period))
        .group_by(Case.received_on)
        .subquery()
    )
    received_month = sql.month(received.c.day)
    for month, count in await session.execute(
        select(received_month, func.sum(received.c.n)).group_by(received_month)
    ):
        rows[month].received = int(count)
    settled = Case.status == CaseStatus.SETTLED.value
    concluded = (
        select(
            Case.concluded_on.label("day"),
            func.count().label("n"),
            _count(settled).label("settled"),
            func.sum(sql.cents(Case.amount_recovered)).filter(settled).label("cents"),
        )
        .where(scope.where(), _concluded(period))
        .group_by(Case.concluded_on)
        .subquery()
    )
    concluded_month = sql.month(concluded.c.day)
    for month, count, settled_count, cents in await session.execute(
        select(
            concluded_month,
            func.sum(concluded.c.n),
            func.sum(concluded.c.settled),
            func.sum(concluded.c.cents),
        ).group_by(concluded_month)
    ):
        row = rows[month]
        row.concluded, row.settled = int(count), int(settled_count)
        row.money_recovered = _money(cents)
    return list(rows.values())


async def by_category(
    session: AsyncSession, period: Period, scope: Scope, categories: Sequence[str] = ()
) -> list[CategoryRow]:
    """The main figures per category: the office's categories first (zeros included), then any
    other category found in the cases."""
    return _by_category((await _tallies(session, (period,), scope))[0], categories)


def _by_category(tallies: _Tallies, categories: Sequence[str]) -> list[CategoryRow]:
    rows = {name: CategoryRow(name) for name in categories}
    # Another category shows when a case of it was received or concluded in the period.
    found = {c for (c, _), t in tallies.items() if t.received or t.concluded}
    for name in sorted(found - set(rows)):
        rows[name] = CategoryRow(name)
    for name, row in rows.items():
        _add_up({key: t for key, t in tallies.items() if key[0] == name}, row)
    return list(rows.values())


def compare(current: Figures, previous: Figures) -> list[Row]:
    """Each figure of :data:`ROWS` now, a year earlier, and the change."""
    now, before = current.values(), previous.values()
    out = []
    for key, label, figure in ROWS:
        a, b = now[key], before[key]
        change: int | float | Decimal | None = None
        ratio = None
        if a is not None and b is not None:
            change = a - b  # type: ignore[operator]
            if b:
                ratio = float(change) / float(b)
        out.append(Row(key, label, figure, a, b, change, ratio))
    return out


async def report(
    session: AsyncSession,
    period: Period,
    scope: Scope,
    *,
    timezone: str = "Asia/Shanghai",
    categories: Sequence[str] = (),
) -> Report:
    """The whole dashboard for a period and scope."""
    previous_period = period.year_earlier()
    periods = (period, previous_period)
    tallies = await _tallies(session, periods, scope)
    current, previous = await _figures(session, periods, tallies, scope, timezone)
    return Report(
        period=period,
        previous_period=previous_period,
        current=current,
        previous=previous,
        rows=compare(current, previous),
        months=await by_month(session, period, scope),
        categories=_by_category(tallies[0], categories),
    )
