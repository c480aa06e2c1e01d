"""The office's figures (cases/stats.py) against a count made here, in Python, on the same
generated cases — on SQLite and on PostgreSQL.

A few hundred cases (random, seeded) across categories, mediators, outcomes and two years,
some received just before a public holiday or a make-up working weekend (调休), with sittings
(and who attended them), satisfaction answers and agreements. Deadlines are stored by the
repository on the office's calendar; here they are recounted with a working-day rule of the
test's own. A part of the cases loses its stored deadlines and migration 0006 fills them again;
the sittings' stored start (written with the attendance, as the room writes it) is dropped and
filled again from the attendance by migration 0007.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from alembic import command
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cases import db, stats
from cases import repository as repo
from cases.calendar import WorkingCalendar
from cases.deadlines import DeadlineRules
from cases.models import Agreement, Attendance, Case, CaseStatus, Satisfaction, Sitting
from recordings.transcript import SittingRecord, add_attendance
from tests.support.database import BACKENDS, fresh_database

# One generated office per backend for the whole module (seeding takes a while); the tests
# only read it, but for the migration's, which puts back what it changed.
pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)
# 国庆 2025 and 春节 2026 as published: days off, and the weekend days worked instead (调休).
HOLIDAYS = {dt.date(2025, 10, d) for d in range(1, 9)} | {
    dt.date(2026, 2, d) for d in range(15, 24)
}
MAKEUP = {dt.date(2025, 9, 28), dt.date(2025, 10, 11), dt.date(2026, 2, 14), dt.date(2026, 2, 28)}
CALENDAR = WorkingCalendar.of(HOLIDAYS, MAKEUP)
RULES = DeadlineRules(acceptance_days=7, mediation_days=45)
CATEGORIES = ("家用电器", "预付卡", "网络购物", "餐饮", "美容美发")
FIRST_DAY = dt.date(2024, 6, 1)
LAST_DAY = dt.date(2026, 6, 30)
N_CASES = 320
PASSWORD = "correct horse battery"


def working_day_after(start: dt.date, days: int) -> dt.date:
    """The test's own count: step day by day; a make-up day works, a holiday or weekend not."""
    day = start
    while days:
        day += dt.timedelta(days=1)
        if day in MAKEUP or (day not in HOLIDAYS and day.isoweekday() <= 5):
            days -= 1
    return day


@dataclass
class SittingSpec:
    start: dt.datetime | None
    """The first join (None: nobody ever joined)."""
    seconds: int | None
    """Its length (None: still open and nobody left)."""
    closed: bool


@dataclass
class Spec:
    """One generated case, as the test knows it."""

    number: str
    office: str
    mediator: int
    category: str
    received: dt.date
    accepted: dt.date | None = None
    status: str = CaseStatus.RECEIVED.value
    concluded: dt.date | None = None
    recovered: Decimal | None = None
    sittings: list[SittingSpec] = field(default_factory=list)
    ratings: dict[str, tuple[int, dt.datetime]] = field(default_factory=dict)

    @property
    def acceptance_due(self) -> dt.date:
        return working_day_after(self.received, RULES.acceptance_days)

    @property
    def conclusion_due(self) -> dt.date | None:
        return None if self.accepted is None else working_day_after(self.accepted, 45)


PATHS = {
    # outcome: the statuses it goes through after "received"
    "open": [],
    "not_accepted": ["not_accepted"],
    "withdrawn_early": ["withdrawn"],
    "accepted": ["accepted"],
    "in_mediation": ["accepted", "in_mediation"],
    "settled": ["accepted", "in_mediation", "settled"],
    "not_settled": ["accepted", "in_mediation", "not_settled"],
    "withdrawn": ["accepted", "in_mediation", "withdrawn"],
}


def generate(mediators: dict[str, list[int]]) -> list[Spec]:
    rng = random.Random(20261124)
    specs: list[Spec] = []
    span = (LAST_DAY - FIRST_DAY).days
    # Received just before the holidays (their deadlines run through them and the 调休 days).
    edge_days = [dt.date(2025, 9, 26), dt.date(2025, 9, 30), dt.date(2026, 2, 12)] * 4
    for i in range(N_CASES):
        office = "A" if i % 10 else "B"
        received = (
            edge_days[i]
            if i < len(edge_days)
            else FIRST_DAY + dt.timedelta(days=rng.randrange(span))
        )
        spec = Spec(
            number=f"T-{i:05d}",
            office=office,
            mediator=rng.choice(mediators[office]),
            category=rng.choice(CATEGORIES),
            received=received,
        )
        outcome = rng.choice(
            ["settled"] * 4 + ["not_settled"] * 2 + ["withdrawn", "withdrawn_early"] + list(PATHS)
        )
        day = received
        for step in PATHS[outcome]:
            if step == "accepted":
                day = received if i < len(edge_days) else day + dt.timedelta(rng.randrange(0, 9))
                spec.accepted = day
            elif step == "in_mediation":
                day = day + dt.timedelta(rng.randrange(0, 5))
            else:
                day = day + dt.timedelta(rng.randrange(1, 90))
                spec.concluded = day
            spec.status = step
        if spec.status == "settled" and rng.random() < 0.9:
            spec.recovered = Decimal(rng.randrange(0, 900_000)) / 100
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            base = dt.datetime.combine(
                received + dt.timedelta(rng.randrange(0, 60)), dt.time(), ZONE
            )
            # Some start late in the evening (Beijing): the UTC date is the day before.
            start = base + dt.timedelta(minutes=rng.choice([30, 9 * 60, 14 * 60, 23 * 60 + 50]))
            kind = rng.random()
            if kind < 0.1:
                spec.sittings.append(SittingSpec(None, None, closed=rng.random() < 0.5))
            elif kind < 0.2:
                spec.sittings.append(SittingSpec(start, None, closed=False))
            else:
                seconds = rng.randrange(120, 7200)
                spec.sittings.append(SittingSpec(start, seconds, closed=kind < 0.85))
        if spec.concluded is not None:
            for role in ("consumer", "business"):
                if rng.random() < 0.7:
                    at = dt.datetime.combine(spec.concluded, dt.time(), ZONE) + dt.timedelta(
                        minutes=rng.randrange(0, 24 * 60)
                    )
                    spec.ratings[role] = (rng.randint(1, 5), at)
        specs.append(spec)
    return specs


async def seed(engine: AsyncEngine, specs: list[Spec], offices: dict[str, int]) -> None:
    sessions = db.session_factory(engine)
    async with sessions() as session, session.begin():
        for spec in specs:
            case = await repo.create_case(
                session,
                office_id=offices[spec.office],
                mediator_id=spec.mediator,
                number=spec.number,
                title=f"案件 {spec.number}",
                category=spec.category,
                received_on=spec.received,
                actor="test",
                calendar=CALENDAR,
                deadlines=RULES,
            )
            day = spec.received
            for step in PATHS_OF[spec.number]:
                day = spec.accepted if step == "accepted" else (spec.concluded or day)
                assert day is not None
                await repo.change_status(
                    session,
                    case.id,
                    CaseStatus(step),
                    "test",
                    today=day if step != "in_mediation" else spec.accepted,
                    amount_recovered=spec.recovered if step == "settled" else None,
                    calendar=CALENDAR,
                    deadlines=RULES,
                )
            for n, sitting in enumerate(spec.sittings):
                row = Sitting(case_id=case.id, room_id=f"r-{case.id}-{n}")
                session.add(row)
                await session.flush()
                if sitting.start is not None:
                    start = sitting.start.astimezone(dt.UTC)
                    end = (
                        None
                        if sitting.seconds is None
                        else start + dt.timedelta(seconds=sitting.seconds)
                    )
                    # The mediator first; a party a minute later and gone before the end —
                    # written the way the room writes them (every other sitting in the
                    # reverse order: the earliest join is the start whatever the order).
                    joins = [
                        ("mediator", start, None if sitting.closed else end),
                        (
                            "consumer",
                            start + dt.timedelta(minutes=1),
                            None if end is None else end - dt.timedelta(seconds=1),
                        ),
                    ]
                    for who, joined, left in joins if (case.id + n) % 2 else joins[::-1]:
                        attendance = await add_attendance(session, row.id, who, who, joined)
                        attendance.left_at = left
                    if sitting.closed:
                        row.closed_at = end
                elif sitting.closed:
                    row.closed_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            for role, (rating, at) in spec.ratings.items():
                session.add(
                    Satisfaction(
                        case_id=case.id, role=role, rating=rating, at=at.astimezone(dt.UTC)
                    )
                )
            if spec.status == "settled":
                session.add(
                    Agreement(
                        case_id=case.id,
                        status="sealed",
                        text="协议",
                        text_sha256="0" * 64,
                        amount=spec.recovered,
                        performance_due_on=spec.concluded,
                    )
                )


PATHS_OF: dict[str, list[str]] = {}


def _wire_paths(specs: list[Spec]) -> None:
    for spec in specs:
        steps = {
            "received": [],
            "not_accepted": ["not_accepted"],
            "accepted": ["accepted"],
            "in_mediation": ["accepted", "in_mediation"],
        }.get(spec.status)
        if steps is None:  # concluded
            steps = (
                ["accepted", "in_mediation", spec.status]
                if spec.accepted is not None
                else [spec.status]
            )
        PATHS_OF[spec.number] = steps


# -- the test's own count ------------------------------------------------------------------


def within(day: dt.date | None, period: stats.Period) -> bool:
    return day is not None and period.start <= day <= period.end


def median(values: list[float] | list[Decimal] | list[int]) -> float | Decimal | None:
    return statistics.median(values) if values else None  # type: ignore[type-var]


def expected(
    specs: list[Spec], period: stats.Period, pick: Callable[[Spec], bool]
) -> stats.Figures:
    mine = [s for s in specs if pick(s)]
    concluded_statuses = {"settled", "not_settled", "withdrawn"}
    concluded = [s for s in mine if s.status in concluded_statuses and within(s.concluded, period)]
    settled = [s for s in concluded if s.status == "settled"]

    def on_time(s: Spec) -> bool:
        due = s.conclusion_due or s.acceptance_due
        assert s.concluded is not None
        return s.concluded <= due

    lo = dt.datetime.combine(period.start, dt.time(), ZONE)
    hi = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time(), ZONE)
    held = [x for s in mine for x in s.sittings if x.start is not None and lo <= x.start < hi]
    lengths = [x.seconds for x in held if x.seconds is not None]
    out = stats.Figures(
        received=sum(within(s.received, period) for s in mine),
        accepted=sum(within(s.accepted, period) for s in mine),
        not_accepted=sum(s.status == "not_accepted" and within(s.concluded, period) for s in mine),
        concluded=len(concluded),
        on_time=sum(on_time(s) for s in concluded),
        settled=len(settled),
        not_settled=sum(s.status == "not_settled" for s in concluded),
        withdrawn=sum(s.status == "withdrawn" for s in concluded),
        money_recovered=sum((s.recovered or Decimal(0) for s in settled), Decimal("0.00")),
        sittings=len(held),
    )
    amounts = [s.recovered for s in settled if s.recovered is not None]
    out.money_median = median(amounts)  # type: ignore[assignment]
    days = [(s.concluded - s.received).days for s in concluded if s.concluded]
    m = median(days)
    out.days_median = None if m is None else float(m)
    m = median(lengths)
    out.sitting_minutes_median = None if m is None else float(m) / 60
    for role in ("consumer", "business"):
        ratings = [
            s.ratings[role][0] for s in mine if role in s.ratings and lo <= s.ratings[role][1] < hi
        ]
        if ratings:
            rating = stats.Rating(
                len(ratings), statistics.mean(ratings), sum(r >= 4 for r in ratings) / len(ratings)
            )
            setattr(out, role, rating)
    return out


def assert_same(got: stats.Figures, want: stats.Figures, what: str) -> None:
    g, w = got.values(), want.values()
    for key in w:
        a, b = g[key], w[key]
        if isinstance(b, float) and a is not None:
            assert a == pytest.approx(b, abs=1e-9), (what, key, a, b)
        elif isinstance(b, Decimal) and a is not None:
            assert Decimal(a) == b, (what, key, a, b)
        else:
            assert a == b, (what, key, a, b)


# -- fixtures --------------------------------------------------------------------------------


@dataclass
class World:
    engine: AsyncEngine
    specs: list[Spec]
    offices: dict[str, int]
    mediators: dict[str, list[int]]


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKENDS)
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    tmp_path = tmp_path_factory.mktemp(f"stats-{request.param}")
    engine = db.create_engine(await fresh_database(request.param, tmp_path))
    await db.upgrade(engine)
    offices: dict[str, int] = {}
    mediators: dict[str, list[int]] = {}
    async with db.session_factory(engine)() as session, session.begin():
        for name in ("A", "B"):
            office = await repo.create_office(session, f"{name}市消协")
            offices[name] = office.id
            mediators[name] = [
                (
                    await repo.create_mediator(
                        session, office, f"{name}{k}", f"{name}{k}", "password1"
                    )
                ).id
                for k in range(3 if name == "A" else 1)
            ]
    specs = generate(mediators)
    _wire_paths(specs)
    await seed(engine, specs, offices)
    try:
        yield World(engine, specs, offices, mediators)
    finally:
        await engine.dispose()


PERIODS = [
    stats.Period(dt.date(2025, 7, 1), dt.date(2026, 6, 30)),
    stats.Period(dt.date(2025, 9, 20), dt.date(2025, 10, 31)),  # across 国庆 and its 调休
    stats.Period(dt.date(2026, 2, 1), dt.date(2026, 2, 28)),  # 春节
    stats.Period(dt.date(2024, 1, 1), dt.date(2026, 12, 31)),
]


async def test_deadlines_are_stored_on_the_office_calendar(world: World) -> None:
    async with db.session_factory(world.engine)() as session:
        rows = {
            c.number: c
            for c in (await session.execute(select(Case))).scalars()
            if c.number.startswith("T-")
        }
    assert len(rows) == N_CASES
    crossing = 0
    for spec in world.specs:
        case = rows[spec.number]
        assert case.acceptance_due_on == spec.acceptance_due, spec.number
        assert case.conclusion_due_on == spec.conclusion_due, spec.number
        assert case.status == spec.status and case.concluded_on == spec.concluded
        if spec.received in (dt.date(2025, 9, 26), dt.date(2025, 9, 30)):
            crossing += 1
            # Through 国庆 and the make-up Saturday 11 October.
            assert spec.acceptance_due > spec.received + dt.timedelta(days=9)
    assert crossing >= 8
    assert rows["T-00001"].acceptance_due_on == dt.date(2025, 10, 16)  # received 30 September


async def test_migration_0006_fills_missing_deadlines(world: World) -> None:
    """Rows from before the deadlines were stored (here: wiped) get them from the migration,
    counted on the calendar handed to it; rows that have them keep them."""
    numbers = [s.number for s in world.specs[::3]]
    async with db.session_factory(world.engine)() as session, session.begin():
        await session.execute(
            update(Case)
            .where(Case.number.in_(numbers))
            .values(acceptance_due_on=None, conclusion_due_on=None)
        )
        await session.execute(
            update(Case)
            .where(Case.number == world.specs[1].number)
            .values(acceptance_due_on=dt.date(2030, 1, 1))
        )
    await db.downgrade(world.engine, "0005")

    def upgrade(connection: object) -> None:
        config = db._alembic_config(connection)  # type: ignore[arg-type]
        config.attributes["office_calendar"] = CALENDAR
        config.attributes["deadline_rules"] = RULES
        command.upgrade(config, "head")

    async with world.engine.begin() as conn:
        await conn.run_sync(upgrade)
    kept = world.specs[1]  # not among the wiped: its (odd) stored date stays
    assert kept.number not in numbers
    async with db.session_factory(world.engine)() as session, session.begin():
        rows = {c.number: c for c in (await session.execute(select(Case))).scalars()}
        for spec in world.specs:
            row = rows[spec.number]
            if spec is kept:
                assert row.acceptance_due_on == dt.date(2030, 1, 1)
                # Put it back: the other tests read the same data.
                row.acceptance_due_on = spec.acceptance_due
            else:
                assert row.acceptance_due_on == spec.acceptance_due, spec.number
            assert row.conclusion_due_on == spec.conclusion_due, spec.number
        # 0007 put back each sitting's start from its attendance: the first join, as the room
        # had stored it.
        starts = {
            room_id: started_at
            for room_id, started_at in await session.execute(
                select(Sitting.room_id, Sitting.started_at)
            )
        }
        for spec in world.specs:
            case_id = rows[spec.number].id
            for n, sitting in enumerate(spec.sittings):
                assert starts[f"r-{case_id}-{n}"] == sitting.start, (spec.number, n)


async def test_every_figure_matches_a_count_by_hand(world: World) -> None:
    office_a = world.offices["A"]
    one_mediator = world.mediators["A"][1]
    scopes: list[tuple[stats.Scope, Callable[[Spec], bool]]] = [
        (stats.Scope(office_a), lambda s: s.office == "A"),
        (
            stats.Scope(office_a, category="预付卡"),
            lambda s: s.office == "A" and s.category == "预付卡",
        ),
        (
            stats.Scope(office_a, mediator_id=one_mediator),
            lambda s: s.office == "A" and s.mediator == one_mediator,
        ),
        (stats.Scope(world.offices["B"]), lambda s: s.office == "B"),
    ]
    async with db.session_factory(world.engine)() as session:
        for scope, pick in scopes:
            for period in PERIODS:
                got = await stats.figures(session, period, scope, TZ)
                assert_same(got, expected(world.specs, period, pick), f"{scope} {period}")
        # The whole report: a year earlier, by month, by category.
        period = PERIODS[0]
        scope, pick = scopes[0]
        report = await stats.report(session, period, scope, timezone=TZ, categories=CATEGORIES)
    assert report.previous_period == stats.Period(dt.date(2024, 7, 1), dt.date(2025, 6, 30))
    assert_same(report.current, expected(world.specs, period, pick), "current")
    assert_same(report.previous, expected(world.specs, report.previous_period, pick), "previous")
    for row in report.rows:
        now, before = report.current.values()[row.key], report.previous.values()[row.key]
        assert (row.current, row.previous) == (now, before)
        if now is not None and before is not None:
            assert row.change == now - before  # type: ignore[operator]
    assert report.current.received > 50 and report.current.settled > 10  # the data is there

    assert [m.month for m in report.months] == [
        f"{y}-{m:02d}"
        for y, m in [(2025, k) for k in range(7, 13)] + [(2026, k) for k in range(1, 7)]
    ]
    mine = [s for s in world.specs if pick(s)]
    for month in report.months:
        part = period.month(month.month)
        want = expected(world.specs, part, pick)
        assert (month.received, month.concluded, month.settled) == (
            want.received,
            want.concluded,
            want.settled,
        ), month
        assert month.money_recovered == want.money_recovered
        assert month.success_rate == want.success_rate
    assert sum(m.received for m in report.months) == report.current.received

    assert [c.category for c in report.categories][: len(CATEGORIES)] == list(CATEGORIES)
    for row in report.categories:
        want = expected(mine, period, lambda s, name=row.category: s.category == name)  # type: ignore[misc]
        assert (row.received, row.concluded, row.on_time, row.settled) == (
            want.received,
            want.concluded,
            want.on_time,
            want.settled,
        ), row
        assert row.money_recovered == want.money_recovered


async def test_the_cases_behind_each_figure_are_the_ones_counted(world: World) -> None:
    scope = stats.Scope(world.offices["A"])
    period = PERIODS[1]
    async with db.session_factory(world.engine)() as session:
        figures = await stats.figures(session, period, scope, TZ)
        counted = {
            "received": figures.received,
            "accepted": figures.accepted,
            "not_accepted": figures.not_accepted,
            "concluded": figures.concluded,
            "on_time": figures.on_time,
            "settled": figures.settled,
            "not_settled": figures.not_settled,
            "withdrawn": figures.withdrawn,
            "money": figures.settled,
        }
        for figure, count in counted.items():
            rows = (
                (await session.execute(stats.cases_behind(figure, period, scope, TZ)))
                .scalars()
                .all()
            )
            assert len(rows) == count, figure
        settled = (
            (await session.execute(stats.cases_behind("settled", period, scope, TZ)))
            .scalars()
            .all()
        )
        assert sum((c.amount_recovered or Decimal(0) for c in settled), Decimal(0)) == (
            figures.money_recovered
        )
        rated = (
            (await session.execute(stats.cases_behind("satisfaction_consumer", period, scope, TZ)))
            .scalars()
            .all()
        )
        assert len(rated) == figures.consumer.count
        with_sittings = (
            (await session.execute(stats.cases_behind("sittings", period, scope, TZ)))
            .scalars()
            .all()
        )
        assert 0 < len(with_sittings) <= figures.sittings


@dataclass
class Someone:
    id: str
    name: str
    role: str


async def test_the_room_stores_when_a_sitting_started(world: World) -> None:
    """The transcript writer sets a sitting's start with its first join; later joins (and a
    reconnection) keep it. An office of its own: the other tests' figures stay as they are."""
    sessions = db.session_factory(world.engine)
    async with sessions() as session, session.begin():
        office = await repo.create_office(session, "C市消协")
        case = await repo.create_case(
            session,
            office_id=office.id,
            number="C-00001",
            title="案件 C-00001",
            category=CATEGORIES[0],
            received_on=dt.date(2026, 3, 2),
            actor="test",
        )
        sitting = Sitting(case_id=case.id, room_id="r-c-1")
        session.add(sitting)
        await session.flush()
        office_id, case_id, sitting_id = office.id, case.id, sitting.id
    record = SittingRecord(sessions, case_id, sitting_id)
    mediator = Someone("m-1", "王调解员", "mediator")
    consumer = Someone("c-1", "李女士", "consumer")

    async def started_at() -> dt.datetime | None:
        async with sessions() as session:
            return (
                await session.execute(select(Sitting.started_at).where(Sitting.id == sitting_id))
            ).scalar_one()

    assert await started_at() is None
    await record.event("joined", actor=mediator, subject=mediator)
    async with sessions() as session:
        first = (
            await session.execute(
                select(Attendance.joined_at).where(Attendance.sitting_id == sitting_id)
            )
        ).scalar_one()
    assert await started_at() == first
    await record.event("joined", actor=consumer, subject=consumer)
    await record.event("disconnected", actor=mediator, subject=mediator)
    await record.event("reconnected", actor=mediator, subject=mediator)
    assert await started_at() == first
    async with sessions() as session:
        joins = (
            await session.execute(
                select(Attendance.joined_at).where(Attendance.sitting_id == sitting_id)
            )
        ).scalars()
        assert min(joins) == first
    period = stats.Period(dt.date(2020, 1, 1), dt.date(2035, 12, 31))
    async with sessions() as session:
        got = await stats.figures(session, period, stats.Scope(office_id), TZ)
    assert got.sittings == 1


async def test_an_empty_period_gives_zeros(world: World) -> None:
    async with db.session_factory(world.engine)() as session:
        report = await stats.report(
            session,
            stats.Period(dt.date(2010, 1, 1), dt.date(2010, 12, 31)),
            stats.Scope(world.offices["A"]),
            timezone=TZ,
            categories=CATEGORIES,
        )
    assert report.current == stats.Figures()
    assert report.previous == stats.Figures()
    assert all(m.received == m.concluded == 0 for m in report.months) and len(report.months) == 12
    assert all(c.received == 0 and c.success_rate is None for c in report.categories)
    assert {r.key: r.current for r in report.rows}["success_rate"] is None


async def test_periods_refuse_nonsense() -> None:
    with pytest.raises(stats.BadQuery) as info:
        stats.Period(dt.date(2026, 2, 1), dt.date(2026, 1, 1))
    assert info.value.code == "invalid_period"
    with pytest.raises(stats.BadQuery):
        stats.Period(dt.date(1990, 1, 1), dt.date(2026, 1, 1))
    leap = stats.Period(dt.date(2024, 2, 29), dt.date(2024, 3, 31)).year_earlier()
    assert leap == stats.Period(dt.date(2023, 2, 28), dt.date(2023, 3, 31))
    assert stats.Period(dt.date(2025, 12, 15), dt.date(2026, 1, 10)).months() == [
        "2025-12",
        "2026-01",
    ]
