"""The case record on both real databases: migrations, audit chain, transitions, concurrency."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from cases import db
from cases import repository as repo
from cases.models import Case, CaseStatus, PartyRole
from tests.support.database import BACKENDS, fresh_database

pytestmark = pytest.mark.integration


async def new_case(engine: AsyncEngine, number: str = "2026-0001") -> int:
    async with db.session_factory(engine)() as session, session.begin():
        office = await repo.create_office(session, f"某市消费者协会 {number}")
        case = await repo.create_case(
            session,
            office_id=office.id,
            number=number,
            title="空调不制冷",
            category="家用电器",
            claim="退货退款",
            amount_in_dispute="3299.00",
            received_on=dt.date(2026, 11, 2),
            actor="王调解员",
        )
        await repo.add_party(
            session, case.id, PartyRole.CONSUMER, "李女士", "王调解员", phone="13812341234"
        )
        await repo.add_party(session, case.id, PartyRole.BUSINESS, "某某电器商行", "王调解员")
        return case.id


async def new_case_at_0001(engine: AsyncEngine) -> int:
    """A case written by the code of revision 0001: plain SQL, as today's models have more
    columns than that schema."""
    now = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
    async with db.session_factory(engine)() as session, session.begin():
        await session.execute(
            text("INSERT INTO offices (id, name, created_at) VALUES (1, '某市消费者协会', :now)"),
            {"now": now},
        )
        await session.execute(
            text(
                "INSERT INTO cases (id, number, office_id, title, category, claim, status,"
                " received_on, created_at, updated_at) VALUES (1, '2026-0001', 1, '空调不制冷',"
                " '家用电器', '退货退款', 'received', :day, :now, :now)"
            ),
            {"day": dt.date(2026, 11, 2), "now": now},
        )
        await repo.append_audit(
            session,
            1,
            "王调解员",
            "case_created",
            {
                "number": "2026-0001",
                "received_on": "2026-11-02",
                "title": "空调不制冷",
                "category": "家用电器",
                "claim_sha256": repo._sha256("退货退款"),
                "amount_in_dispute": None,
                "complaint_number": None,
            },
        )
    return 1


@pytest.mark.parametrize("backend", BACKENDS)
async def test_migrations_up_from_empty_and_down_again(backend: str, tmp_path: Path) -> None:
    engine = db.create_engine(await fresh_database(backend, tmp_path))
    try:
        assert (await db.schema_status(engine)).state is db.SchemaState.EMPTY
        await db.upgrade(engine)
        status = await db.schema_status(engine)
        assert status.state is db.SchemaState.CURRENT
        assert status.revision == db.head_revision()
        await db.downgrade(engine)
        assert (await db.schema_status(engine)).state is db.SchemaState.EMPTY
        await db.upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = 'from_the_future'"))
        assert (await db.schema_status(engine)).state is db.SchemaState.AHEAD
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_entries_written_before_0002_still_verify(backend: str, tmp_path: Path) -> None:
    """Migration 0002 gave transcript entries machine fields that the chain vouches for; older
    entries have none, and must neither fail verification nor take some on unnoticed."""
    engine = db.create_engine(await fresh_database(backend, tmp_path))
    try:
        await db.upgrade(engine, "0001")
        case_id = await new_case_at_0001(engine)
        async with db.session_factory(engine)() as session, session.begin():
            await session.execute(
                text(
                    "INSERT INTO transcript_entries (case_id, seq, at, kind, author, author_role,"
                    " text) VALUES (:c, 1, :at, 'system', '王调解员', 'mediator', '旧的记录')"
                ),
                {"c": case_id, "at": dt.datetime(2026, 11, 20, tzinfo=dt.UTC)},
            )
            await repo.append_audit(
                session,
                case_id,
                "王调解员",
                "transcript",
                {"seq": 1, "kind": "system", "text_sha256": repo._sha256("旧的记录")},
            )
        await db.upgrade(engine)
        async with db.session_factory(engine)() as session, session.begin():
            await repo.append_transcript(
                session,
                case_id,
                kind="system",
                author="王调解员",
                author_role="mediator",
                text="王调解员（调解员）准许李女士（消费者）进入调解室",
                event="admitted",
                participant_id="consumer",
                data={"role": "consumer", "name": "李女士"},
            )
        async with db.session_factory(engine)() as session:
            assert await repo.verify_case(session, case_id) == []
        for sql in (
            "UPDATE transcript_entries SET event = 'admitted' WHERE seq = 1",
            "UPDATE transcript_entries SET participant_id = 'business' WHERE seq = 2",
        ):
            async with engine.begin() as conn:
                await conn.execute(text(sql))
            async with db.session_factory(engine)() as session:
                problems = [p.reason for p in await repo.verify_case(session, case_id)]
            assert any("was edited" in p for p in problems), (sql, problems)
            async with engine.begin() as conn:  # put it back for the next case
                await conn.execute(
                    text(
                        "UPDATE transcript_entries SET event = NULL WHERE seq = 1"
                        if "seq = 1" in sql
                        else "UPDATE transcript_entries SET participant_id = 'consumer'"
                        " WHERE seq = 2"
                    )
                )
    finally:
        await engine.dispose()


async def test_case_life_is_recorded_and_verifiable(engine: AsyncEngine) -> None:
    case_id = await new_case(engine)
    sessions = db.session_factory(engine)
    async with sessions() as session, session.begin():
        await repo.change_status(session, case_id, CaseStatus.ACCEPTED, "王调解员")
        await repo.change_status(session, case_id, CaseStatus.IN_MEDIATION, "王调解员")
        for i in range(3):
            await repo.append_transcript(
                session,
                case_id,
                kind="chat",
                author="李女士",
                author_role="consumer",
                text=f"第{i + 1}句",
            )
    async with sessions() as session:
        case = (await session.execute(select(Case).where(Case.id == case_id))).scalar_one()
        assert case.status == CaseStatus.IN_MEDIATION
        assert case.amount_in_dispute == Decimal("3299.00")
        assert case.accepted_on is not None
        changes = [
            (c.from_status, c.to_status)
            for c in await session.run_sync(
                lambda s: s.get(Case, case_id).status_changes  # type: ignore[union-attr]
            )
        ]
        assert changes == [
            (None, "received"),
            ("received", "accepted"),
            ("accepted", "in_mediation"),
        ]
        assert [e.seq for e in await repo.transcript(session, case_id)] == [1, 2, 3]
        assert await repo.verify_case(session, case_id) == []
        kinds = [e.kind for e in await repo.audit_events(session, case_id)]
        assert kinds[:3] == ["case_created", "party_added", "party_added"]


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("UPDATE transcript_entries SET text = '我没说过' WHERE seq = 2", "was edited"),
        ("DELETE FROM transcript_entries WHERE seq = 1", "is missing"),
        ("UPDATE audit_events SET actor = 'someone' WHERE seq = 2", "changed after"),
        ("DELETE FROM audit_events WHERE seq = 3", "missing or moved"),
        ("UPDATE parties SET phone = '13900000000' WHERE role = 'consumer'", "was edited"),
        ("UPDATE cases SET title = '改过的标题'", "the case's title was edited"),
        ("UPDATE cases SET amount_in_dispute = 1", "amount_in_dispute was edited"),
    ],
)
async def test_tampering_is_detected(engine: AsyncEngine, statement: str, expected: str) -> None:
    case_id = await new_case(engine)
    sessions = db.session_factory(engine)
    async with sessions() as session, session.begin():
        for i in range(2):
            await repo.append_transcript(
                session, case_id, kind="chat", author="x", author_role="consumer", text=str(i)
            )
    async with engine.begin() as conn:
        await conn.execute(text(statement))
    async with sessions() as session:
        problems = await repo.verify_case(session, case_id)
    assert any(expected in p.reason for p in problems), problems


async def test_illegal_status_change_is_refused_and_changes_nothing(engine: AsyncEngine) -> None:
    case_id = await new_case(engine)
    sessions = db.session_factory(engine)
    with pytest.raises(repo.InvalidStatusTransition, match="received cannot become settled"):
        async with sessions() as session, session.begin():
            await repo.change_status(session, case_id, CaseStatus.SETTLED, "王调解员")
    async with sessions() as session:
        case = (await session.execute(select(Case).where(Case.id == case_id))).scalar_one()
        assert case.status == "received"
        assert len(await repo.audit_events(session, case_id)) == 3


async def test_concurrent_appends_lose_nothing(engine: AsyncEngine) -> None:
    """Several rooms' writers at once: every entry kept, numbered without gaps, chain intact."""
    cases = [await new_case(engine, f"2026-{n:04d}") for n in range(1, 4)]
    sessions = db.session_factory(engine)

    async def writer(case_id: int, n: int) -> None:
        async with sessions() as session, session.begin():
            await repo.append_transcript(
                session, case_id, kind="chat", author="x", author_role="consumer", text=f"m{n}"
            )

    await asyncio.gather(*(writer(c, n) for c in cases for n in range(15)))
    async with sessions() as session:
        for case_id in cases:
            entries = await repo.transcript(session, case_id)
            assert [e.seq for e in entries] == list(range(1, 16))
            assert sorted(e.text for e in entries) == sorted(f"m{n}" for n in range(15))
            assert await repo.verify_case(session, case_id) == []


async def test_bad_amounts_are_refused(engine: AsyncEngine) -> None:
    sessions = db.session_factory(engine)
    for amount, message in (("-1", "zero or more"), ("1.234", "two decimals"), ("abc", "number")):
        with pytest.raises(repo.InvalidField, match=message):
            async with sessions() as session, session.begin():
                office = await repo.create_office(session, "office")
                await repo.create_case(
                    session,
                    office_id=office.id,
                    number="N",
                    title="t",
                    category="餐饮",
                    received_on=dt.date(2026, 1, 5),
                    actor="a",
                    amount_in_dispute=amount,
                )
    async with sessions() as session:
        assert (await session.execute(select(Case))).first() is None


async def test_migrations_match_the_models(engine: AsyncEngine) -> None:
    """A model changed without a migration (or the reverse) fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from cases.models import Base

    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
        )
    assert diff == []
