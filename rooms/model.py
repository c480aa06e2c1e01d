"""Plain domain objects of the live room: roles, room states, participants."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field

from rooms.errors import IllegalTransition


class Role(enum.StrEnum):
    """Who a participant is in the mediation."""

    MEDIATOR = "mediator"
    CONSUMER = "consumer"
    BUSINESS = "business"


class RoomState(enum.StrEnum):
    """Life of one sitting: scheduled → open → in session → concluded."""

    SCHEDULED = "scheduled"
    OPEN = "open"
    IN_SESSION = "in_session"
    CONCLUDED = "concluded"


_ALLOWED: dict[RoomState, frozenset[RoomState]] = {
    RoomState.SCHEDULED: frozenset({RoomState.OPEN, RoomState.CONCLUDED}),
    RoomState.OPEN: frozenset({RoomState.IN_SESSION, RoomState.CONCLUDED}),
    RoomState.IN_SESSION: frozenset({RoomState.OPEN, RoomState.CONCLUDED}),
    RoomState.CONCLUDED: frozenset(),
}


def check_transition(current: RoomState, target: RoomState) -> None:
    """Raise :class:`IllegalTransition` unless ``current → target`` is a legal move."""
    if target not in _ALLOWED[current]:
        raise IllegalTransition(f"a room cannot go from {current} to {target}")


@dataclass(slots=True)
class Participant:
    """One person in a room, across their reconnections."""

    id: str
    """Stable id from the invitation; the same after a reload."""
    role: Role
    name: str
    audio: bool = True
    """Whether their microphone is on (as they report it)."""
    video: bool = True
    """Whether their camera is on (as they report it)."""
    connection_id: str | None = None
    """Opaque id of the signaling connection that currently speaks for them; ``None`` if absent."""
    joined_at: float = field(default_factory=time.time)

    @property
    def connected(self) -> bool:
        return self.connection_id is not None

    def public(self) -> dict[str, object]:
        """What the other participants may see of this one."""
        return {
            "id": self.id,
            "role": self.role.value,
            "name": self.name,
            "audio": self.audio,
            "video": self.video,
            "connected": self.connected,
        }
