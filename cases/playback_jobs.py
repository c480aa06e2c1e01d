"""Playback jobs in the case record: asked for on the console, done by a worker process.

A job composes one sitting's recorded segments into one MP4 for review
(:mod:`recordings.playback`). Its life: ``queued`` → ``running`` (``progress`` 0–1 and
``heartbeat_at`` written as it goes) → ``done`` (path, size, SHA-256, duration; a
``playback_made`` event in the case's audit chain) or ``failed`` (``error`` says why).

Several workers (one per node, say) may poll the same table: :func:`claim` takes a job with a
conditional ``UPDATE`` that only one of them can win. A worker that dies leaves its job
``running`` with a stale heartbeat; the next :func:`claim` puts it back in the queue — up to
``MAX_ATTEMPTS`` runs, then it is failed with a message saying so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cases import repository as repo
from cases.invitations import ROLES
from cases.models import (
    Invitation,
    PlaybackJob,
    PlaybackStatus,
    Recording,
    Sitting,
    utcnow,
)

MAX_ATTEMPTS = 3
STALE_AFTER = dt.timedelta(seconds=60)
"""A running job whose heartbeat is older than this lost its worker."""

ROLE_LABELS = {"mediator": "调解员", "consumer": "消费者", "business": "经营者"}
ACTIVE = (PlaybackStatus.QUEUED.value, PlaybackStatus.RUNNING.value)


class PlaybackJobError(Exception):
    """A job cannot be asked for; ``code`` and ``message`` say why and what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SegmentRow:
    """One segment to compose, as the worker needs it."""

    recording_id: int
    path: str
    """Relative to the data directory."""
    label: str
    started_at: dt.datetime
    duration: float
    sha256: str | None


async def request(
    session: AsyncSession, case_id: int, sitting_id: int, *, actor: str
) -> PlaybackJob:
    """Queue a playback of the sitting, or return the one already queued or running.

    Refused while the sitting is still open (``sitting_open``: the recording may grow) and when
    it has no recorded segment left (``no_recordings``; deleted files don't count).
    """
    await repo.lock_case(session, case_id)
    sitting = await session.get(Sitting, sitting_id)
    if sitting is None or sitting.case_id != case_id:
        raise PlaybackJobError("sitting_not_found", f"this case has no sitting {sitting_id}")
    if sitting.closed_at is None:
        raise PlaybackJobError(
            "sitting_open",
            "the sitting is still open: end it first, then make its playback file",
        )
    active = (
        await session.execute(
            select(PlaybackJob)
            .where(PlaybackJob.sitting_id == sitting_id, PlaybackJob.status.in_(ACTIVE))
            .order_by(PlaybackJob.id.desc())
        )
    ).scalar()
    if active is not None:
        return active
    if not await segments(session, sitting_id):
        raise PlaybackJobError(
            "no_recordings",
            f"sitting {sitting_id} has no recorded segment on the server: nothing to compose",
        )
    job = PlaybackJob(
        case_id=case_id,
        sitting_id=sitting_id,
        status=PlaybackStatus.QUEUED.value,
        progress=0.0,
        requested_by=actor,
        attempts=0,
    )
    session.add(job)
    await session.flush()
    return job


async def jobs_of_case(session: AsyncSession, case_id: int) -> Sequence[PlaybackJob]:
    result = await session.execute(
        select(PlaybackJob).where(PlaybackJob.case_id == case_id).order_by(PlaybackJob.id)
    )
    return result.scalars().all()


async def pending(session: AsyncSession, *, now: dt.datetime | None = None) -> int:
    """Jobs a worker should take now: queued, or running with a stale heartbeat."""
    now = now or utcnow()
    rows = (
        await session.execute(
            select(PlaybackJob.status, PlaybackJob.heartbeat_at).where(
                PlaybackJob.status.in_(ACTIVE)
            )
        )
    ).all()
    return sum(
        1
        for status, heartbeat in rows
        if status == PlaybackStatus.QUEUED.value
        or heartbeat is None
        or now - heartbeat > STALE_AFTER
    )


async def _requeue_stale(session: AsyncSession, now: dt.datetime) -> None:
    stale = (
        await session.execute(
            select(PlaybackJob).where(
                PlaybackJob.status == PlaybackStatus.RUNNING.value,
                PlaybackJob.heartbeat_at < now - STALE_AFTER,
            )
        )
    ).scalars()
    for job in stale:
        if job.attempts >= MAX_ATTEMPTS:
            job.status = PlaybackStatus.FAILED.value
            job.finished_at = now
            job.error = (
                f"the worker stopped {job.attempts} times while making this file; "
                "see the server's log, then ask for it again"
            )
        else:
            job.status = PlaybackStatus.QUEUED.value
            job.progress = 0.0


async def claim(session: AsyncSession, *, now: dt.datetime | None = None) -> PlaybackJob | None:
    """Take the oldest queued job for this worker (committing), or ``None``."""
    now = now or utcnow()
    async with session.begin():
        await _requeue_stale(session, now)
    while True:
        async with session.begin():
            candidate = (
                await session.execute(
                    select(PlaybackJob.id)
                    .where(PlaybackJob.status == PlaybackStatus.QUEUED.value)
                    .order_by(PlaybackJob.id)
                    .limit(1)
                )
            ).scalar()
            if candidate is None:
                return None
            won = await session.execute(
                update(PlaybackJob)
                .where(
                    PlaybackJob.id == candidate,
                    PlaybackJob.status == PlaybackStatus.QUEUED.value,
                )
                .values(
                    status=PlaybackStatus.RUNNING.value,
                    started_at=now,
                    heartbeat_at=now,
                    progress=0.0,
                    attempts=PlaybackJob.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if won.rowcount == 1:  # type: ignore[attr-defined]
                job = await session.get(PlaybackJob, candidate, populate_existing=True)
                assert job is not None
                return job
        # Another worker took it between the two statements: try the next one.


async def segments(session: AsyncSession, sitting_id: int) -> list[SegmentRow]:
    """The sitting's segments still on the server, labelled ``<role> <name>`` for captions."""
    rows = (
        await session.execute(
            select(Recording)
            .where(Recording.sitting_id == sitting_id, Recording.deleted_at.is_(None))
            .order_by(Recording.started_at, Recording.id)
        )
    ).scalars()
    names = {
        inv.role: inv.name
        for inv in (
            await session.execute(
                select(Invitation)
                .where(Invitation.sitting_id == sitting_id)
                .order_by(Invitation.issued_at)
            )
        ).scalars()
    }
    out = []
    for row in rows:
        # Participant ids are the invitation's role (server.api.issue_invitations).
        role = row.participant_id if row.participant_id in ROLES else None
        label = f"{ROLE_LABELS[role]} {names.get(role, '')}".strip() if role else row.participant_id
        out.append(
            SegmentRow(
                recording_id=row.id,
                path=row.path,
                label=label,
                started_at=row.started_at,
                duration=float(row.duration or 0.0),
                sha256=row.sha256,
            )
        )
    return out


async def heartbeat(session: AsyncSession, job_id: int, progress: float) -> bool:
    """Note progress; ``False`` if the job is no longer this worker's (requeued or failed)."""
    async with session.begin():
        result = await session.execute(
            update(PlaybackJob)
            .where(PlaybackJob.id == job_id, PlaybackJob.status == PlaybackStatus.RUNNING.value)
            .values(progress=round(min(1.0, max(0.0, progress)), 4), heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def finish(
    session: AsyncSession,
    job_id: int,
    *,
    path: str,
    size: int,
    sha256: str,
    duration: float,
    sources: Sequence[SegmentRow],
) -> PlaybackJob:
    """Record the made file and vouch for it in the audit chain (one transaction)."""
    async with session.begin():
        job = await session.get(PlaybackJob, job_id, populate_existing=True)
        assert job is not None
        await repo.lock_case(session, job.case_id)
        job.status = PlaybackStatus.DONE.value
        job.progress = 1.0
        job.path = path
        job.size = size
        job.sha256 = sha256
        job.duration = round(duration, 3)
        job.finished_at = utcnow()
        job.error = None
        payload: dict[str, Any] = {
            "job_id": job.id,
            "sitting_id": job.sitting_id,
            "path": path,
            "size": size,
            "sha256": sha256,
            "duration": job.duration,
            "requested_by": job.requested_by,
            "sources": [{"recording_id": s.recording_id, "sha256": s.sha256} for s in sources],
        }
        await repo.append_audit(session, job.case_id, "回放合成任务", "playback_made", payload)
        return job


async def fail(session: AsyncSession, job_id: int, error: str) -> None:
    async with session.begin():
        job = await session.get(PlaybackJob, job_id, populate_existing=True)
        assert job is not None
        job.status = PlaybackStatus.FAILED.value
        job.finished_at = utcnow()
        job.error = error[:2000]


async def release(session: AsyncSession, job_id: int) -> None:
    """Put a running job back in the queue (the worker is stopping); this run doesn't count."""
    async with session.begin():
        await session.execute(
            update(PlaybackJob)
            .where(PlaybackJob.id == job_id, PlaybackJob.status == PlaybackStatus.RUNNING.value)
            .values(
                status=PlaybackStatus.QUEUED.value,
                progress=0.0,
                attempts=PlaybackJob.attempts - 1,
            )
            .execution_options(synchronize_session=False)
        )
