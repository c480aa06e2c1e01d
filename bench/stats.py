"""Benchmark: the dashboard's query set over 100,000 cases of ten years, on PostgreSQL.

    .venv/bin/python -m bench.stats --database-url postgresql+asyncpg://postgres@127.0.0.1/bench_stats

The database is emptied, migrated and filled by SQL (``generate_series``, seeded ``random()``):
cases across categories, three mediators, every outcome, about one sitting (with attendance) and
one satisfaction answer per settled or unsettled case. Then the dashboard's queries
(:func:`cases.stats.report`: the period, the year before, by month, by category, plus the count
behind one figure) run ``--runs`` times for the whole ten years; the best and median wall time
and this process's CPU time are printed (the counting itself is the database server's CPU: when
the server runs on this machine, its backend's CPU time is printed too, a figure a busy machine
disturbs less than the wall time), and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import time
from pathlib import Path

from sqlalchemy import func, select, text

from cases import db, stats
from cases.models import Case
from server.office import DEFAULT_CATEGORIES

FIRST = dt.date(2016, 1, 1)
DAYS = 3652

FILL = [
    "INSERT INTO offices (id, name, created_at) VALUES (1, '基准消协', now())",
    """INSERT INTO mediators (id, office_id, username, display_name, password_hash, active, role,
       created_at) SELECT g, 1, 'm' || g, '调解员' || g, 'x', true, 'mediator', now()
       FROM generate_series(1, 3) g""",
    "SELECT setseed(0.42)",
    """CREATE TEMP TABLE gen AS SELECT g AS id,
         (DATE '{first}' + (random() * {days})::int) AS received,
         floor(random() * 8)::int AS outcome, (random() * 10)::int AS lag,
         (random() * 80)::int AS span, floor(random() * {ncat})::int AS cat,
         1 + floor(random() * 3)::int AS mediator, (random() * 500000)::int AS cents
       FROM generate_series(1, {n}) g""",
    """INSERT INTO cases (id, number, office_id, mediator_id, title, category, claim, status,
         received_on, accepted_on, concluded_on, acceptance_due_on, conclusion_due_on,
         amount_recovered, created_at, updated_at)
       SELECT id, 'B-' || id, 1, mediator, '基准案件', (ARRAY[{categories}])[cat + 1], '',
         (ARRAY['received','not_accepted','accepted','in_mediation','settled','settled',
                'not_settled','withdrawn'])[outcome + 1],
         received,
         CASE WHEN outcome >= 2 THEN received + lag END,
         CASE WHEN outcome = 1 THEN received + lag WHEN outcome >= 4 THEN received + lag + span
         END,
         received + 9,
         CASE WHEN outcome >= 2 THEN received + lag + 63 END,
         CASE WHEN outcome IN (4, 5) THEN cents / 100.0 END,
         now(), now()
       FROM gen""",
    """INSERT INTO sittings (id, case_id, room_id, opened_at, started_at, closed_at)
       SELECT id, id, 'r' || id, (received + lag + 2)::timestamptz + interval '9 hours',
         (received + lag + 2)::timestamptz + interval '9 hours',
         (received + lag + 2)::timestamptz + interval '9 hours'
           + (span * 37 + 300) * interval '1 second'
       FROM gen WHERE outcome >= 4""",
    """INSERT INTO attendances (sitting_id, participant_id, role, joined_at, left_at)
       SELECT s.id, r, r, s.opened_at, s.closed_at FROM sittings s,
         unnest(ARRAY['mediator','consumer','business']) r""",
    """INSERT INTO satisfaction (case_id, role, rating, comment, at)
       SELECT id, r, 1 + floor(random() * 5)::int, '',
         (received + lag + span)::timestamptz + interval '10 hours'
       FROM gen, unnest(ARRAY['consumer','business']) r WHERE outcome IN (4, 5, 6)""",
    "ANALYZE",
]
# Then ``VACUUM``, outside a transaction: autovacuum does it in production; it sets the
# visibility map, without which an index-only scan still reads the table (and a freshly filled
# database would be measured sometimes before, sometimes after autovacuum came by).


async def fill(url: str, n: int) -> None:
    engine = db.create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await db.upgrade(engine)
        categories = ",".join(f"'{c}'" for c in DEFAULT_CATEGORIES)
        async with engine.begin() as conn:
            for sql in FILL:
                statement = sql.format(
                    first=FIRST.isoformat(),
                    days=DAYS,
                    n=n,
                    ncat=len(DEFAULT_CATEGORIES),
                    categories=categories,
                )
                await conn.execute(text(statement))
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM"))
    finally:
        await engine.dispose()


def _backend_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of the server process ``pid`` so far, when the server runs
    on this machine (``None`` otherwise). Parallel query workers are other processes: not
    counted."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(url: str, runs: int) -> None:
    engine = db.create_engine(url)
    period = stats.Period(FIRST, FIRST + dt.timedelta(days=DAYS - 1))
    scope = stats.Scope(office_id=1)
    walls: list[float] = []
    cpus: list[float] = []
    server_cpus: list[float] = []
    try:
        async with db.session_factory(engine)() as session:
            count = (await session.execute(select(func.count()).select_from(Case))).scalar()
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            for _ in range(runs):
                server = _backend_cpu(pid)
                wall, cpu = time.perf_counter(), time.process_time()
                report = await stats.report(
                    session, period, scope, timezone="Asia/Shanghai", categories=DEFAULT_CATEGORIES
                )
                behind = stats.cases_behind("on_time", period, scope, "Asia/Shanghai")
                await session.execute(select(func.count()).select_from(behind.subquery()))
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
                server_after = _backend_cpu(pid)
                if server is not None and server_after is not None:
                    server_cpus.append(server_after - server)
    finally:
        await engine.dispose()
    figures = report.current
    print(
        f"{count} cases, {period.start} – {period.end}: received {figures.received}, "
        f"concluded {figures.concluded}, settled {figures.settled}, "
        f"sittings {figures.sittings}, {len(report.months)} months"
    )
    print(
        f"dashboard query set, {runs} runs: wall best {min(walls) * 1000:.0f} ms, "
        f"median {statistics.median(walls) * 1000:.0f} ms; "
        f"process CPU median {statistics.median(cpus) * 1000:.0f} ms"
    )
    if server_cpus:
        best, middle = min(server_cpus) * 1000, statistics.median(server_cpus) * 1000
        print(
            f"server backend CPU (without parallel workers): best {best:.0f} ms, "
            f"median {middle:.0f} ms"
        )
    print(f"load average {' / '.join(f'{x:.2f}' for x in os.getloadavg())} (1 / 5 / 15 min)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database to empty")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-fill", action="store_true", help="measure the data already there")
    args = parser.parse_args()
    url = db.normalize_url(args.database_url)
    if not args.skip_fill:
        started = time.perf_counter()
        asyncio.run(fill(url, args.cases))
        print(f"filled {args.cases} cases in {time.perf_counter() - started:.1f} s")
    asyncio.run(measure(url, args.runs))


if __name__ == "__main__":
    main()
