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


class Consent(enum.StrEnum):
    """A party's answer to the recording and record-keeping notice."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    NOT_REQUIRED = "not_required"
    """The mediator: the authority gives no consent to itself."""


class Identity(enum.StrEnum):
    """Result of a party's identity check against the phone number in the case record."""

    UNCHECKED = "unchecked"
    MATCH = "match"
    MISMATCH = "mismatch"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    NO_PHONE_ON_FILE = "no_phone_on_file"


IDENTITY_ATTEMPTS = 5
"""How often a party may type the last four digits of their phone number in one sitting."""


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(slots=True)
class Participant:
    """One person in a room, across their reconnections, for the whole sitting."""

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
    invitation_id: str | None = None
    """The stored invitation they came in with (revoked when they are rejected or removed)."""
    joined_at: float = field(default_factory=time.time)
    admitted: bool = False
    """The mediator let them in (the mediator is admitted from the start)."""
    consent: Consent = Consent.PENDING
    audio_blocked: bool = False
    """The mediator stopped their audio at the server."""
    video_blocked: bool = False
    unmute_requested: set[str] = field(default_factory=set)
    """Kinds (``audio``, ``video``) they asked the mediator to allow again."""
    hand_raised: bool = False
    waiting_since: int = field(default_factory=now_ms)
    """When they last entered the lobby (ms since the epoch)."""
    disconnected_at: int | None = None
    """When their connection dropped (ms), while they are expected back; ``None`` if connected
    or gone for good."""
    departed: bool = False
    """They left on purpose (``leave``) or were put out: no longer shown to the others."""
    identity: Identity = Identity.UNCHECKED
    identity_attempts: int = 0
    entered: bool = False
    """Whether they have been in the room (with media) during this sitting."""

    def __post_init__(self) -> None:
        if self.role is Role.MEDIATOR:
            self.admitted = True
            self.consent = Consent.NOT_REQUIRED

    @property
    def connected(self) -> bool:
        return self.connection_id is not None

    @property
    def in_room(self) -> bool:
        """Admitted and consented: their media may flow."""
        return self.admitted and self.consent in (Consent.ACCEPTED, Consent.NOT_REQUIRED)

    @property
    def stage(self) -> str:
        return "room" if self.in_room else "lobby"

    def public(self) -> dict[str, object]:
        """What the other participants may see of this one (no connection ids)."""
        return {
            "id": self.id,
            "role": self.role.value,
            "name": self.name,
            "audio": self.audio,
            "video": self.video,
            "connected": self.connected,
            "disconnected_at": self.disconnected_at,
            "stage": self.stage,
            "admitted": self.admitted,
            "consent": self.consent.value,
            "audio_blocked": self.audio_blocked,
            "video_blocked": self.video_blocked,
            "unmute_requested": sorted(self.unmute_requested),
            "hand_raised": self.hand_raised,
            "excluded": False,
            "waiting_since": None,
            "identity": None,
            "quality": None,
        }
