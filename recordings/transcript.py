"""The transcript writer: what happens in a sitting, written into the case record as it happens.

Each entry is committed before the call returns, so anything the room has acknowledged is on
disk; the write goes through the async driver, never blocking the event loop.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases import repository as repo
from cases.models import Attendance, Sitting, utcnow

logger = logging.getLogger(__name__)

SYSTEM_TEXT = {
    "joined": "{name}（{role_label}）进入调解室",
    "left": "{name}（{role_label}）离开调解室",
    "disconnected": "{name}（{role_label}）连接中断",
    "audio_on": "{name}（{role_label}）打开麦克风",
    "audio_off": "{name}（{role_label}）关闭麦克风",
    "video_on": "{name}（{role_label}）打开摄像头",
    "video_off": "{name}（{role_label}）关闭摄像头",
}
ROLE_LABELS = {"mediator": "调解员", "consumer": "消费者", "business": "商家"}


class SittingRecord:
    """Writes one sitting's attendance and system events into its case."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], case_id: int, sitting_id: int
    ) -> None:
        self._sessions = sessions
        self.case_id = case_id
        self.sitting_id = sitting_id

    async def _system(self, session: AsyncSession, what: str, name: str, role: str) -> None:
        text = SYSTEM_TEXT[what].format(name=name, role_label=ROLE_LABELS.get(role, role))
        await repo.append_transcript(
            session,
            self.case_id,
            kind="system",
            author=name,
            author_role=role,
            text=text,
            sitting_id=self.sitting_id,
        )

    async def _end_attendance(
        self, session: AsyncSession, participant_id: str | None = None
    ) -> dt.datetime:
        """Close the open attendance of one participant (or of everyone); return the time."""
        now = utcnow()
        query = (
            update(Attendance)
            .where(Attendance.sitting_id == self.sitting_id)
            .where(Attendance.left_at.is_(None))
        )
        if participant_id is not None:
            query = query.where(Attendance.participant_id == participant_id)
        await session.execute(query.values(left_at=now))
        return now

    async def admit(self, invitation_id: str | None, ip: str, user_agent: str) -> None:
        """Refuse a revoked or unknown link; note the use of a good one."""
        async with self._sessions() as session, session.begin():
            await repo.use_invitation(session, invitation_id, self.case_id, ip, user_agent)

    async def joined(self, participant_id: str, role: str, name: str) -> None:
        async with self._sessions() as session, session.begin():
            await self._end_attendance(session, participant_id)  # a rejoin after a drop
            session.add(
                Attendance(sitting_id=self.sitting_id, participant_id=participant_id, role=role)
            )
            await self._system(session, "joined", name, role)

    async def left(self, participant_id: str, role: str, name: str, reason: str) -> None:
        async with self._sessions() as session, session.begin():
            await self._end_attendance(session, participant_id)
            await self._system(session, "disconnected" if reason != "left" else "left", name, role)

    async def media_changed(self, role: str, name: str, changes: list[str]) -> None:
        """``changes``: ``audio_on``, ``video_off``… as the participant switched them."""
        async with self._sessions() as session, session.begin():
            for what in changes:
                await self._system(session, what, name, role)

    async def close(self, ended: bool) -> None:
        """Everyone present leaves; the sitting itself closes only if it ``ended``."""
        async with self._sessions() as session, session.begin():
            now = await self._end_attendance(session)
            sitting = (
                await session.execute(select(Sitting).where(Sitting.id == self.sitting_id))
            ).scalar_one()
            if ended and sitting.closed_at is None:
                sitting.closed_at = now
