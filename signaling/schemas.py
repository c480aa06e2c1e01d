"""One pydantic model per event, both directions; the registry maps command names to models.

Only the wire uses pydantic: handlers get these typed messages, never raw dicts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Message(BaseModel):
    """Base of every payload: unknown fields are refused, so a typo is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# -- client → server (commands) ------------------------------------------------------------


class Join(Message):
    name: str | None = Field(default=None, min_length=1, max_length=40)
    audio: bool = True
    video: bool = True


class Answer(Message):
    type: Literal["answer"]
    sdp: str = Field(min_length=10, max_length=200_000)
    revision: int = Field(ge=1)


class IceCandidate(Message):
    candidate: str | None = Field(default=None, max_length=1_000)
    sdpMid: str | None = Field(default=None, max_length=32)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=1_000)
    usernameFragment: str | None = Field(default=None, max_length=256)


class SetMediaState(Message):
    audio: bool
    video: bool


class Leave(Message):
    pass


COMMANDS: dict[str, type[Message]] = {
    "join": Join,
    "answer": Answer,
    "ice_candidate": IceCandidate,
    "set_media_state": SetMediaState,
    "leave": Leave,
}
"""Every command a client may send, by event name."""


# -- server → client (facts) ---------------------------------------------------------------


class ParticipantView(Message):
    id: str
    role: Literal["mediator", "consumer", "business"]
    name: str
    audio: bool
    video: bool
    connected: bool


class RoomView(Message):
    id: str
    case_number: str
    title: str
    state: str


class IceServerView(Message):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class Joined(Message):
    self_: ParticipantView = Field(alias="self")
    room: RoomView
    participants: list[ParticipantView]
    ice_servers: list[IceServerView]


class TrackInfo(Message):
    participant_id: str
    role: str
    kind: Literal["audio", "video"]


class Offer(Message):
    type: Literal["offer"]
    sdp: str
    revision: int
    publish: dict[str, str]
    tracks: dict[str, TrackInfo]


class ParticipantLeft(Message):
    id: str
    reason: Literal["left", "disconnected"]


class MediaStateChanged(Message):
    id: str
    audio: bool
    video: bool


class Replaced(Message):
    message: str


class ErrorBody(Message):
    """The one error shape, for Socket.IO and HTTP alike."""

    code: str
    message: str
    event: str | None = None


FACTS: dict[str, type[Message]] = {
    "joined": Joined,
    "offer": Offer,
    "participant_joined": ParticipantView,
    "participant_left": ParticipantLeft,
    "media_state_changed": MediaStateChanged,
    "replaced": Replaced,
    "error": ErrorBody,
}
"""Every fact the server emits, by event name (``docs/protocol.md`` documents each)."""
