"""Recorded segments in the case record: one row per file, vouched for by the audit chain."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases import repository as repo
from cases.models import CONCLUDED, Case, Recording, utcnow
from cases.repository import RECORDING_AUDITED

logger = logging.getLogger(__name__)

RECORDINGS_DIR = "recordings"
"""Under the data directory: the only place the retention job deletes from."""


async def add_recording(
    session: AsyncSession,
    case_id: int,
    *,
    sitting_id: int,
    participant_id: str,
    path: str,
    started_at: dt.datetime,
    ended_at: dt.datetime,
    codecs: str,
    size: int,
    sha256: str,
    duration: float,
    sealed_after_crash: bool = False,
    actor: str = "录制服务",
) -> Recording:
    """Put one closed segment on the record (``path`` relative to the data directory)."""
    await repo.lock_case(session, case_id)
    recording = Recording(
        case_id=case_id,
        sitting_id=sitting_id,
        participant_id=participant_id,
        path=path,
        started_at=started_at,
        ended_at=ended_at,
        codecs=codecs,
        size=size,
        sha256=sha256,
        duration=round(duration, 3),
        sealed_after_crash=sealed_after_crash,
    )
    session.add(recording)
    await session.flush()
    payload: dict[str, Any] = {"recording_id": recording.id}
    payload.update({name: getattr(recording, name) for name in RECORDING_AUDITED})
    payload["sealed_after_crash"] = sealed_after_crash
    await repo.append_audit(session, case_id, actor, "recording_added", payload)
    return recording


async def list_recordings(session: AsyncSession, case_id: int) -> Sequence[Recording]:
    result = await session.execute(
        select(Recording)
        .where(Recording.case_id == case_id)
        .order_by(Recording.started_at, Recording.id)
    )
    return result.scalars().all()


async def purge_recordings(
    session: AsyncSession,
    data_dir: Path,
    *,
    today: dt.date,
    retention_days: int,
    actor: str,
    dry_run: bool = False,
) -> list[Recording]:
    """Delete the files of the segments of cases concluded ``retention_days`` or more before
    ``today``; the rows stay (hash, size, duration) with ``deleted_at`` set, and each deletion
    is a ``recording_deleted`` event in the case's chain. One transaction per case.

    Returns the segments deleted (with ``dry_run``: those that would be; nothing changes).
    A path on the record that resolves outside ``<data_dir>/recordings`` is logged and skipped.
    """
    if retention_days < 0:
        raise ValueError("retention_days must be zero or more")
    cutoff = today - dt.timedelta(days=retention_days)
    due = (
        select(Recording, Case.concluded_on)
        .join(Case, Case.id == Recording.case_id)
        .where(
            Case.status.in_([status.value for status in CONCLUDED]),
            Case.concluded_on <= cutoff,
            Recording.deleted_at.is_(None),
        )
        .order_by(Recording.case_id, Recording.id)
    )
    by_case: dict[int, tuple[dt.date | None, list[Recording]]] = {}
    for recording, concluded_on in await session.execute(due):
        by_case.setdefault(recording.case_id, (concluded_on, []))[1].append(recording)
    purged: list[Recording] = []
    for case_id, (concluded_on, candidates) in by_case.items():
        if dry_run:
            for recording in candidates:
                if _inside(data_dir, recording.path):
                    purged.append(recording)
                else:
                    _log_refused(recording)
            continue
        await repo.lock_case(session, case_id)
        # Read again under the lock: another purge may have taken some meanwhile.
        current = (await session.execute(due.where(Recording.case_id == case_id))).scalars().all()
        reason = (
            f"retention: {retention_days} days after the case concluded on "
            f"{concluded_on.isoformat() if concluded_on else '?'}"
        )
        for recording in current:
            if not _inside(data_dir, recording.path):
                _log_refused(recording)
                continue
            # The file goes before the commit: should the commit fail, the next run finds the
            # file missing and records the deletion then — never a record of a file still kept.
            missing = not await asyncio.to_thread(_unlink, data_dir / recording.path)
            if missing:
                logger.warning(
                    "recording %s of case %s: file %s was already gone; marking it deleted",
                    recording.id,
                    case_id,
                    recording.path,
                )
            recording.deleted_at = utcnow()
            await repo.append_audit(
                session,
                case_id,
                actor,
                "recording_deleted",
                {
                    "recording_id": recording.id,
                    "path": recording.path,
                    "sha256": recording.sha256,
                    "size": recording.size,
                    "reason": reason,
                    "file_missing": missing,
                },
            )
            purged.append(recording)
        await session.commit()
    return purged


def _inside(data_dir: Path, relative: str) -> bool:
    """Whether ``relative`` resolves (``..`` and symbolic links followed) under the recordings
    directory: the job never deletes anything else, whatever the record says."""
    root = (data_dir / RECORDINGS_DIR).resolve()
    return (data_dir / relative).resolve().is_relative_to(root)


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _log_refused(recording: Recording) -> None:
    logger.error(
        "recording %s of case %s: its path %r is outside the recordings directory; not deleted",
        recording.id,
        recording.case_id,
        recording.path,
    )
