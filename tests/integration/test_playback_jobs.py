"""Playback files as a background job: asked for on the console, made by a worker process,
followed by its progress, served with ranges and vouched for in the audit chain; and the
worker's behaviour when a worker died, a source file changed, or it is told to stop."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cases import db
from cases import playback_jobs as jobs
from cases import repository as repo
from cases.models import AuditEvent, Invitation, PlaybackJob, Recording, Sitting, utcnow
from cases.recordings import add_recording
from recordings.playback_worker import DATABASE_ENV, Worker
from tests.integration.test_playback import ffprobe, record
from tests.integration.test_recordings_api import console, error_code, record_a_session
from tests.support.peer import RoomClient
from tests.support.server import ROOT, RunningServer

pytestmark = pytest.mark.integration
__all__ = ["console"]  # the console fixture, used by name


async def test_the_mediator_gets_a_playback_file_of_the_sitting_with_progress(
    make_client: Callable[[str], RoomClient],
    server: RunningServer,
    console: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:
    await record_a_session(make_client, 5)
    number = (await (await console.get("/api/cases")).json())["cases"][0]["number"]
    record = await (await console.get(f"/api/cases/{number}/record")).json()
    [sitting] = record["sittings"]
    ask = f"/api/cases/{number}/sittings/{sitting['id']}/playback"

    # While the sitting is open the recording may still grow: refused, nothing queued.
    assert await error_code(await console.post(ask), 409) == "sitting_open"
    assert (await (await console.get(f"/api/cases/{number}/playback")).json())["jobs"] == []

    resp = await console.post(f"/api/cases/{number}/sittings/{sitting['id']}/close")
    assert resp.status == 200, await resp.text()
    resp = await console.post(ask)
    assert resp.status == 202, await resp.text()
    job = await resp.json()
    assert job["status"] in ("queued", "running") and job["url"] is None
    # Asking again while it is being made gives the same job, not a second one.
    again = await (await console.post(ask)).json()
    assert again["id"] == job["id"]

    seen: list[tuple[str, float]] = []
    deadline = time.monotonic() + 180
    while True:
        [current] = (await (await console.get(f"/api/cases/{number}/playback")).json())["jobs"]
        seen.append((current["status"], current["progress"]))
        if current["status"] in ("done", "failed") or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    assert current["status"] == "done", (current, server.log()[-3000:])
    assert current["progress"] == 1.0 and current["attempts"] == 1
    # Progress was reported on the way, and never went backwards.
    # (That it moves between 0 and 1 on the way: the SIGTERM test, with a longer recording.)
    fractions = [p for status, p in seen if status == "running"]
    assert fractions == sorted(fractions), seen

    # The file: what the job says, seekable, both streams, about as long as the recording.
    resp = await console.get(current["url"])
    assert resp.status == 200 and resp.headers["Content-Type"] == "video/mp4"
    assert resp.headers["Accept-Ranges"] == "bytes"
    body = await resp.read()
    assert hashlib.sha256(body).hexdigest() == current["sha256"]
    assert len(body) == current["size"]
    resp = await console.get(current["url"], headers={"Range": "bytes=0-15"})
    assert resp.status == 206 and await resp.read() == body[:16]
    mp4 = tmp_path / "playback.mp4"
    mp4.write_bytes(body)
    probed = ffprobe(mp4)
    codecs = {s["codec_type"]: s["codec_name"] for s in probed["streams"]}
    assert codecs == {"video": "h264", "audio": "aac"}, codecs
    segments = (await (await console.get(f"/api/cases/{number}/recordings")).json())["recordings"]
    span = max(
        dt.datetime.fromisoformat(s["started_at"]).timestamp() + s["duration"] for s in segments
    ) - min(dt.datetime.fromisoformat(s["started_at"]).timestamp() for s in segments)
    assert abs(float(probed["format"]["duration"]) - span) < max(1.0, 0.15 * span), (
        probed["format"]["duration"],
        span,
    )

    # The record vouches for it, and for what it was made from.
    engine = db.create_engine(db.sqlite_url(server.data_dir))
    try:
        async with db.session_factory(engine)() as session:
            case_id = (await session.execute(select(PlaybackJob.case_id))).scalar_one()
            assert await repo.verify_case(session, case_id) == []
            [made] = [
                e for e in await repo.audit_events(session, case_id) if e.kind == "playback_made"
            ]
            assert made.payload["sha256"] == current["sha256"]
            assert {s["recording_id"] for s in made.payload["sources"]} == {
                s["id"] for s in segments
            }
            # An edited row is caught.
            await session.execute(update(PlaybackJob).values(sha256="0" * 64))
            await session.commit()
            problems = await repo.verify_case(session, case_id)
            assert [p.reason for p in problems] == [f"playback file {current['id']} was edited"]
    finally:
        await engine.dispose()


# -- the worker on its own, on both databases ---------------------------------------------------


async def recorded_sitting(
    engine: AsyncEngine, data_dir: Path, seconds: float = 3.0
) -> tuple[int, int]:
    """A closed sitting with a consumer's and a business's segments (synthetic media)."""
    sessions = db.session_factory(engine)
    async with sessions() as session, session.begin():
        office = await repo.create_office(session, "某市消费者协会")
        case = await repo.create_case(
            session,
            office_id=office.id,
            number="2026-000007",
            title="空调不制冷",
            category="家用电器",
            received_on=dt.date(2026, 11, 2),
            actor="王调解员",
        )
        sitting = Sitting(case_id=case.id, room_id=f"case-{case.id}-1", closed_at=utcnow())
        session.add(sitting)
        await session.flush()
        case_id, sitting_id = case.id, sitting.id
    start = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)
    directory = data_dir / "recordings" / f"case-{case_id}" / f"sitting-{sitting_id}"
    for role, name, delay in (("consumer", "李女士", 0.0), ("business", "王经理", 0.5)):
        [path] = await record(directory, role, [(delay, delay + seconds)])
        data = path.read_bytes()
        async with sessions() as session, session.begin():
            session.add(
                Invitation(
                    id=f"inv-{role}",
                    case_id=case_id,
                    sitting_id=sitting_id,
                    role=role,
                    name=name,
                    expires_at=start + dt.timedelta(days=1),
                )
            )
            await add_recording(
                session,
                case_id,
                sitting_id=sitting_id,
                participant_id=role,
                path=path.relative_to(data_dir).as_posix(),
                started_at=start + dt.timedelta(seconds=delay),
                ended_at=start + dt.timedelta(seconds=delay + seconds),
                codecs="vp8+opus",
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                duration=seconds,
            )
    return case_id, sitting_id


async def queue(engine: AsyncEngine, case_id: int, sitting_id: int) -> int:
    async with db.session_factory(engine)() as session, session.begin():
        job = await jobs.request(session, case_id, sitting_id, actor="王调解员")
        return job.id


async def job_row(engine: AsyncEngine, job_id: int) -> PlaybackJob:
    async with db.session_factory(engine)() as session:
        job = await session.get(PlaybackJob, job_id)
        assert job is not None
        return job


async def test_a_job_left_by_a_dead_worker_is_made_by_the_next(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    case_id, sitting_id = await recorded_sitting(engine, tmp_path)
    job_id = await queue(engine, case_id, sitting_id)
    # A worker took it, then died: its heartbeat is old.
    async with db.session_factory(engine)() as session, session.begin():
        await session.execute(
            update(PlaybackJob).values(
                status="running",
                attempts=1,
                heartbeat_at=utcnow() - jobs.STALE_AFTER - dt.timedelta(seconds=5),
            )
        )
    async with db.session_factory(engine)() as session:
        assert await jobs.pending(session) == 1
    assert await Worker(engine, tmp_path).run(until_idle=True) == 1
    job = await job_row(engine, job_id)
    assert (job.status, job.attempts, job.error) == ("done", 2, None), job.error
    assert job.path is not None and (tmp_path / job.path).is_file()
    assert hashlib.sha256((tmp_path / job.path).read_bytes()).hexdigest() == job.sha256
    assert job.duration is not None and 3.0 <= job.duration <= 4.5, job.duration
    # Captions carry the role and the name from the sitting's invitations.
    async with db.session_factory(engine)() as session:
        labels = [row.label for row in await jobs.segments(session, sitting_id)]
        assert labels == ["消费者 李女士", "经营者 王经理"]
        assert await repo.verify_case(session, case_id) == []


async def test_a_job_whose_worker_kept_dying_fails_and_says_so(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    case_id, sitting_id = await recorded_sitting(engine, tmp_path, seconds=1.0)
    job_id = await queue(engine, case_id, sitting_id)
    async with db.session_factory(engine)() as session, session.begin():
        await session.execute(
            update(PlaybackJob).values(
                status="running",
                attempts=jobs.MAX_ATTEMPTS,
                heartbeat_at=utcnow() - dt.timedelta(hours=1),
            )
        )
    assert await Worker(engine, tmp_path).run(until_idle=True) == 0
    job = await job_row(engine, job_id)
    assert job.status == "failed" and job.error and "stopped 3 times" in job.error
    # Asking again queues a new job.
    assert await queue(engine, case_id, sitting_id) != job_id


async def test_a_changed_source_file_is_not_composed(engine: AsyncEngine, tmp_path: Path) -> None:
    case_id, sitting_id = await recorded_sitting(engine, tmp_path, seconds=1.0)
    job_id = await queue(engine, case_id, sitting_id)
    async with db.session_factory(engine)() as session:
        first = (await jobs.segments(session, sitting_id))[0]
    with (tmp_path / first.path).open("ab") as f:
        f.write(b"tampered")
    assert await Worker(engine, tmp_path).run(until_idle=True) == 1
    job = await job_row(engine, job_id)
    assert job.status == "failed" and job.path is None
    assert job.error and "does not match the SHA-256" in job.error and first.path in job.error
    assert not list((tmp_path / "playback").rglob("*.mp4"))
    async with db.session_factory(engine)() as session:
        kinds = [e.kind for e in await repo.audit_events(session, case_id)]
        assert "playback_made" not in kinds


async def test_nothing_to_compose_is_refused_when_asked(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    case_id, sitting_id = await recorded_sitting(engine, tmp_path, seconds=1.0)
    async with db.session_factory(engine)() as session, session.begin():
        await session.execute(update(Sitting).values(closed_at=None))
    with pytest.raises(jobs.PlaybackJobError) as refused:
        await queue(engine, case_id, sitting_id)
    assert refused.value.code == "sitting_open"
    async with db.session_factory(engine)() as session, session.begin():
        await session.execute(update(Sitting).values(closed_at=utcnow()))
        await session.execute(update(Recording).values(deleted_at=utcnow()))
    with pytest.raises(jobs.PlaybackJobError) as refused:
        await queue(engine, case_id, sitting_id)
    assert refused.value.code == "no_recordings"
    async with db.session_factory(engine)() as session:
        assert (await session.execute(select(PlaybackJob))).first() is None


async def test_sigterm_puts_the_running_job_back_in_the_queue(tmp_path: Path) -> None:
    url = db.sqlite_url(tmp_path)
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine)
        case_id, sitting_id = await recorded_sitting(engine, tmp_path, seconds=20.0)
        job_id = await queue(engine, case_id, sitting_id)
        worker = subprocess.Popen(  # noqa: ASYNC220 - a process we watch and signal
            [sys.executable, "-m", "recordings.playback_worker", "--data-dir", str(tmp_path)],
            cwd=ROOT,
            env={**os.environ, DATABASE_ENV: url},
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            # Progress reaches the record on the way (the console shows it).
            while not 0 < (job := await job_row(engine, job_id)).progress < 1:
                assert job.status in ("queued", "running"), (job.status, job.error)
                assert time.monotonic() < deadline and worker.poll() is None, worker.stderr
                await asyncio.sleep(0.1)
            assert job.status == "running" and job.heartbeat_at is not None
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=15) == 0
        finally:
            if worker.poll() is None:
                worker.kill()
            worker.wait()
        job = await job_row(engine, job_id)
        assert (job.status, job.attempts, job.progress) == ("queued", 0, 0.0)
        # No half-made file is left behind, and nothing was put on the record.
        assert not [p for p in (tmp_path / "playback").rglob("*") if p.is_file()]
        async with db.session_factory(engine)() as session:
            events = (await session.execute(select(AuditEvent.kind))).scalars().all()
            assert "playback_made" not in events
    finally:
        await engine.dispose()
