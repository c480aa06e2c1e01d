"""A live room: who is present, the room's state, and its SFU, behind one lock."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from rooms.errors import NotJoined, RoomClosed
from rooms.model import Participant, Role, RoomState, check_transition
from rooms.sfu import MediaConfig, Sfu

logger = logging.getLogger(__name__)


class RoomListener(Protocol):
    """How a room reports outward; ``signaling/`` implements it (rooms know no Socket.IO)."""

    async def participant_joined(self, room: Room, participant: Participant) -> None: ...

    async def participant_left(self, room: Room, participant: Participant, reason: str) -> None: ...

    async def media_state_changed(self, room: Room, participant: Participant) -> None: ...

    async def offer(self, room: Room, participant: Participant, offer: dict[str, Any]) -> None: ...

    async def replaced(self, room: Room, participant: Participant, old_connection: str) -> None: ...


class RoomRecord(Protocol):
    """Where a room writes what happens into its case (``recordings.transcript`` implements it)."""

    async def admit(self, invitation_id: str | None, ip: str, user_agent: str) -> None:
        """Raise if the link may not enter (revoked, unknown); note its use otherwise."""

    async def joined(self, participant_id: str, role: str, name: str) -> None: ...

    async def left(self, participant_id: str, role: str, name: str, reason: str) -> None: ...

    async def media_changed(self, role: str, name: str, changes: list[str]) -> None:
        """A participant switched microphone or camera (``audio_off``, ``video_on``, …)."""

    async def close(self, ended: bool) -> None:
        """The room stops: ``ended`` if the sitting is over, else the server is stopping and
        the sitting goes on after a restart."""


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """What a room is about (until the case record issue, kept in memory)."""

    room_id: str
    case_number: str
    title: str


class Room:
    """One sitting of a case. Every command goes through :attr:`lock`, in arrival order."""

    def __init__(
        self,
        info: RoomInfo,
        media: MediaConfig,
        listener: RoomListener,
        record: RoomRecord | None = None,
    ) -> None:
        self.info = info
        self.record = record
        self.state = RoomState.OPEN
        self.participants: dict[str, Participant] = {}
        self.lock = asyncio.Lock()
        self._listener = listener
        self.sfu = Sfu(info.room_id, media, self._send_offer)

    @property
    def id(self) -> str:
        return self.info.room_id

    def public(self) -> dict[str, object]:
        """What participants may see of the room."""
        return {
            "id": self.info.room_id,
            "case_number": self.info.case_number,
            "title": self.info.title,
            "state": self.state.value,
        }

    def present(self) -> list[Participant]:
        """Participants with a live connection."""
        return [p for p in self.participants.values() if p.connected]

    def _move(self, target: RoomState) -> None:
        if self.state is not target:
            check_transition(self.state, target)
            logger.info("Room(%s) %s → %s", self.id, self.state, target)
            self.state = target

    async def _send_offer(self, participant_id: str, offer: dict[str, Any]) -> None:
        participant = self.participants.get(participant_id)
        if participant is not None and participant.connected:
            await self._listener.offer(self, participant, offer)

    # -- commands (call with self.lock held) -----------------------------------------------

    async def join(
        self,
        participant_id: str,
        role: Role,
        name: str,
        connection_id: str,
        *,
        audio: bool,
        video: bool,
    ) -> Participant:
        """Bring a participant in, or move them to a newer connection (reload, second tab)."""
        if self.state is RoomState.CONCLUDED:
            raise RoomClosed("this sitting has ended")
        participant = self.participants.get(participant_id)
        old_connection = participant.connection_id if participant else None
        if participant is None:
            participant = Participant(id=participant_id, role=role, name=name)
            self.participants[participant_id] = participant
        participant.name = name
        participant.audio = audio
        participant.video = video
        participant.connection_id = connection_id
        if old_connection is not None and old_connection != connection_id:
            await self._listener.replaced(self, participant, old_connection)
        else:
            await self._write("joined", participant)
        self._move(RoomState.IN_SESSION)
        await self._listener.participant_joined(self, participant)
        await self.sfu.connect(participant_id, role.value)
        return participant

    def member(self, participant_id: str, connection_id: str) -> Participant:
        """The participant this connection speaks for, or :class:`NotJoined`."""
        participant = self.participants.get(participant_id)
        if participant is None or participant.connection_id != connection_id:
            raise NotJoined("join the room first")
        return participant

    async def leave(self, participant_id: str, connection_id: str, reason: str) -> None:
        """A participant's connection is gone (``reason``: ``left`` or ``disconnected``).

        A stale connection (already replaced by a newer one) changes nothing.
        """
        participant = self.participants.get(participant_id)
        if participant is None or participant.connection_id != connection_id:
            return
        participant.connection_id = None
        await self.sfu.disconnect(participant_id)
        if reason == "left":
            del self.participants[participant_id]
        if not self.present() and self.state is RoomState.IN_SESSION:
            self._move(RoomState.OPEN)
        await self._listener.participant_left(self, participant, reason)
        await self._write(reason, participant)

    async def _write(self, what: str, participant: Participant) -> None:
        """Put a join or leave into the case record. A failed write is logged, not fatal: the
        parties' session matters more than one line, and the log shows the gap."""
        if self.record is None:
            return
        try:
            if what == "joined":
                await self.record.joined(participant.id, participant.role.value, participant.name)
            else:
                await self.record.left(
                    participant.id, participant.role.value, participant.name, what
                )
        except Exception:
            logger.exception("Room(%s) could not record %s of %s", self.id, what, participant.id)

    async def set_media_state(self, participant: Participant, *, audio: bool, video: bool) -> None:
        changes = [
            f"{kind}_{'on' if new else 'off'}"
            for kind, old, new in (
                ("audio", participant.audio, audio),
                ("video", participant.video, video),
            )
            if old != new
        ]
        participant.audio = audio
        participant.video = video
        await self._listener.media_state_changed(self, participant)
        if changes and self.record is not None:
            try:
                await self.record.media_changed(participant.role.value, participant.name, changes)
            except Exception:
                logger.exception("Room(%s) could not record a media change", self.id)

    async def close(self, ended: bool = True) -> None:
        """Close every peer connection; ``ended=False`` when only the server is stopping."""
        await self.sfu.close()
        for participant in self.participants.values():
            participant.connection_id = None
        if self.record is not None:
            try:
                await self.record.close(ended)
            except Exception:
                logger.exception("Room(%s) could not record its close", self.id)
        if self.state is not RoomState.CONCLUDED:
            self._move(RoomState.CONCLUDED)
