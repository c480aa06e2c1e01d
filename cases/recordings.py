"""Recorded segments in the case record: one row per file, vouched for by the audit chain."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases import repository as repo
from cases.models import Recording
from cases.repository import RECORDING_AUDITED


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
