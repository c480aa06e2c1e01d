"""Retention of recordings on both real databases: the files of long-concluded cases go, their
rows, hashes and audit events stay; the CLI and the console API say so."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cases import db
from cases import repository as repo
from cases.models import Case, CaseStatus, Recording, Sitting, utcnow
from cases.recordings import add_recording, purge_recordings
from tests.integration.test_database_cli import cli
from tests.support.server import run_server

pytestmark = pytest.mark.integration

TODAY = dt.date(2026, 11, 24)


async def record(engine: AsyncEngine, data_dir: Path, case_id: int, n: int) -> Path:
    """One segment of ``case_id``: a few bytes on disk and its row (with its audit event)."""
    relative = f"recordings/case-{case_id}/sitting-1/consumer-{n}.webm"
    path = data_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    data = f"segment {case_id}/{n}".encode()
    path.write_bytes(data)
    async with db.session_factory(engine)() as session, session.begin():
        now = utcnow()
        sitting = Sitting(case_id=case_id, room_id=f"case-{case_id}-{n}", closed_at=now)
        session.add(sitting)
        await session.flush()
        await add_recording(
            session,
            case_id,
            sitting_id=sitting.id,
            participant_id="consumer",
            path=relative,
            started_at=now,
            ended_at=now,
            codecs="vp8+opus",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            duration=1.5,
        )
    return path


async def new_case(engine: AsyncEngine, number: str, concluded_on: dt.date | None) -> int:
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
            received_on=dt.date(2025, 10, 1),
            actor="王调解员",
        )
    if concluded_on is not None:
        async with db.session_factory(engine)() as session, session.begin():
            await repo.change_status(
                session, case.id, CaseStatus.WITHDRAWN, "王调解员", "撤回", today=concluded_on
            )
    return case.id


async def purge(engine: AsyncEngine, data_dir: Path, *, dry_run: bool = False) -> list[int]:
    async with db.session_factory(engine)() as session:
        gone = await purge_recordings(
            session,
            data_dir,
            today=TODAY,
            retention_days=365,
            actor="保存期限任务",
            dry_run=dry_run,
        )
        return [r.id for r in gone]


async def test_purge_deletes_only_the_files_of_long_concluded_cases(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    old = await new_case(engine, "2025-0001", TODAY - dt.timedelta(days=400))
    recent = await new_case(engine, "2026-0002", TODAY - dt.timedelta(days=1))
    still_open = await new_case(engine, "2026-0003", None)
    old_files = [await record(engine, data_dir, old, n) for n in (1, 2)]
    kept = [await record(engine, data_dir, case_id, 1) for case_id in (recent, still_open)]
    async with db.session_factory(engine)() as session:
        rows_before = {
            r.id: (r.sha256, r.size) for r in (await session.execute(select(Recording))).scalars()
        }

    # A dry run names what would go and changes nothing.
    would = await purge(engine, data_dir, dry_run=True)
    assert len(would) == 2
    assert all(p.exists() for p in old_files + kept)
    async with db.session_factory(engine)() as session:
        assert not any(e.kind == "recording_deleted" for e in await repo.audit_events(session, old))
        assert (
            await session.execute(select(Recording).where(Recording.deleted_at.is_not(None)))
        ).first() is None

    gone = await purge(engine, data_dir)
    assert sorted(gone) == sorted(would)
    assert not any(p.exists() for p in old_files)
    assert all(p.exists() for p in kept)
    async with db.session_factory(engine)() as session:
        rows = {r.id: r for r in (await session.execute(select(Recording))).scalars()}
        # Every row stays, with its hash and size; only the old case's are marked deleted.
        assert {i: (r.sha256, r.size) for i, r in rows.items()} == rows_before
        assert {i for i, r in rows.items() if r.deleted_at is not None} == set(gone)
        events = [e for e in await repo.audit_events(session, old) if e.kind == "recording_deleted"]
        assert sorted(e.payload["recording_id"] for e in events) == sorted(gone)
        for event in events:
            row = rows[event.payload["recording_id"]]
            assert (event.payload["path"], event.payload["sha256"], event.payload["size"]) == (
                row.path,
                row.sha256,
                row.size,
            )
            assert "365 days" in event.payload["reason"]
            assert event.payload["file_missing"] is False
        for case_id in (old, recent, still_open):
            assert await repo.verify_case(session, case_id) == []

    # Nothing more is due.
    assert await purge(engine, data_dir) == []


async def test_missing_files_are_marked_and_paths_outside_are_refused(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    old = await new_case(engine, "2025-0001", TODAY - dt.timedelta(days=400))
    missing = await record(engine, data_dir, old, 1)
    missing.unlink()
    await record(engine, data_dir, old, 2)
    outside = data_dir / "secret.key"
    outside.write_bytes(b"key")
    async with db.session_factory(engine)() as session, session.begin():
        # Made by hand (the chain will say so); the job must not follow it out of recordings/.
        last = (
            await session.execute(select(Recording).order_by(Recording.id.desc()).limit(1))
        ).scalar_one()
        last.path = "recordings/../secret.key"
        refused_id = last.id

    gone = await purge(engine, data_dir)
    assert refused_id not in gone and len(gone) == 1
    assert outside.exists()
    async with db.session_factory(engine)() as session:
        events = [e for e in await repo.audit_events(session, old) if e.kind == "recording_deleted"]
        assert [e.payload["file_missing"] for e in events] == [True]


async def test_a_deletion_outside_the_job_shows_in_verify(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    case_id = await new_case(engine, "2026-0001", None)
    await record(engine, data_dir, case_id, 1)
    async with db.session_factory(engine)() as session, session.begin():
        await session.execute(update(Recording).values(deleted_at=utcnow()))
    async with db.session_factory(engine)() as session:
        problems = await repo.verify_case(session, case_id)
    assert [p.reason for p in problems] == [
        f"recording {(await _only_recording(engine)).id} was deleted outside the retention job"
    ]


async def _only_recording(engine: AsyncEngine) -> Recording:
    async with db.session_factory(engine)() as session:
        return (await session.execute(select(Recording))).scalar_one()


# -- the command and the console API (SQLite, as an operator runs them) -------------------------


def office_config(tmp_path: Path, days: int) -> Path:
    path = tmp_path / "office.json"
    path.write_text(json.dumps({"recording_retention_days": days}), encoding="utf-8")
    return path


async def concluded_with_a_recording(data_dir: Path, number: str, days_ago: int) -> Path:
    """Conclude the demo case ``days_ago`` (once) and record a segment for it."""
    engine = db.create_engine(db.sqlite_url(data_dir))
    try:
        async with db.session_factory(engine)() as session, session.begin():
            case = (await session.execute(select(Case).where(Case.number == number))).scalar_one()
            if case.concluded_on is None:
                await repo.change_status(
                    session,
                    case.id,
                    CaseStatus.WITHDRAWN,
                    "王调解员",
                    today=dt.date.today() - dt.timedelta(days=days_ago),
                )
        return await record(engine, data_dir, case.id, 1 if days_ago else 2)
    finally:
        await engine.dispose()


async def test_the_purge_command_and_the_server_job(tmp_path: Path) -> None:
    with run_server(tmp_path) as server:
        found = re.search(r"user demo, password (\S+),", server.log())
    assert found
    password = found[1]
    data_dir = tmp_path / "data"
    data = str(data_dir)
    first = await concluded_with_a_recording(data_dir, "DEMO-2026-0001", 400)
    config = str(office_config(tmp_path, 365))

    refused = cli("recordings", "purge", "--data-dir", data)
    assert refused.returncode != 0
    assert "set no recording_retention_days" in refused.stderr

    dry = cli("recordings", "purge", "--dry-run", "--data-dir", data, "--office-config", config)
    assert dry.returncode == 0, dry.stderr
    assert "would delete: case DEMO-2026-0001 recording" in dry.stdout
    assert dry.stdout.splitlines()[-1].startswith("would delete 1 recording file(s) of 1 case(s)")
    assert first.exists()

    purged = cli("recordings", "purge", "--data-dir", data, "--office-config", config)
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.splitlines()[-1].startswith("deleted 1 recording file(s) of 1 case(s)")
    assert not first.exists()
    again = cli("recordings", "purge", "--data-dir", data, "--office-config", config)
    assert again.stdout.strip().startswith("deleted 0 recording file(s) of 0 case(s)")

    # A later segment goes with the server's job at start-up; the console lists both as
    # deleted, and their files answer 410.
    second = await concluded_with_a_recording(data_dir, "DEMO-2026-0001", 0)
    with run_server(tmp_path, "--office-config", config, demo=False) as server:
        async with aiohttp.ClientSession(
            server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)
        ) as http:
            resp = await http.post("/api/session", json={"username": "demo", "password": password})
            assert resp.status == 200, await resp.text()
            listed: list[dict[str, object]] = []
            for _ in range(100):
                resp = await http.get("/api/cases/DEMO-2026-0001/recordings")
                listed = (await resp.json())["recordings"]
                if all(r["deleted_at"] for r in listed):
                    break
                await asyncio.sleep(0.1)
            assert len(listed) == 2 and all(r["deleted_at"] for r in listed), listed
            assert all(r["url"] is None and r["sha256"] for r in listed)
            resp = await http.get(f"/api/cases/DEMO-2026-0001/recordings/{listed[1]['id']}/file")
            assert resp.status == 410
            assert (await resp.json())["code"] == "recording_deleted"
    assert not second.exists()
    assert "retention: deleted 1 recording file(s) of 1 case(s)" in server.log()
    verified = cli("verify", "DEMO-2026-0001", "--data-dir", data)
    assert verified.returncode == 0, verified.stdout
