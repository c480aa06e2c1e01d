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


class Consent(Message):
    accept: bool


class VerifyIdentity(Message):
    phone_last4: str = Field(pattern=r"^[0-9]{4}$")


class Admit(Message):
    participant_id: str = Field(min_length=1, max_length=64)


class Reject(Message):
    participant_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=200)


class RemoveParticipant(Message):
    participant_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(default="", max_length=200)


class StartCaucus(Message):
    role: Literal["consumer", "business"]


class EndCaucus(Message):
    pass


class MuteParticipant(Message):
    participant_id: str = Field(min_length=1, max_length=64)
    kind: Literal["audio", "video"]
    muted: bool


class LowerHand(Message):
    participant_id: str = Field(min_length=1, max_length=64)


class LockRoom(Message):
    locked: bool


class ShowEvidence(Message):
    evidence_id: int | None = Field(ge=1)


class SetScreenShare(Message):
    active: bool


class EndSitting(Message):
    outcome: Literal["settled", "not_settled", "adjourned", "undecided"]
    note: str = Field(default="", max_length=500)


class RaiseHand(Message):
    raised: bool


class RequestUnmute(Message):
    kind: Literal["audio", "video"]


class StartRecording(Message):
    include_caucus: bool = False


class StopRecording(Message):
    pass


class Chat(Message):
    text: str = Field(min_length=1, max_length=500)
    client_id: str | None = Field(default=None, min_length=1, max_length=64)


COMMANDS: dict[str, type[Message]] = {
    "join": Join,
    "answer": Answer,
    "ice_candidate": IceCandidate,
    "set_media_state": SetMediaState,
    "leave": Leave,
    "consent": Consent,
    "verify_identity": VerifyIdentity,
    "admit": Admit,
    "reject": Reject,
    "remove_participant": RemoveParticipant,
    "start_caucus": StartCaucus,
    "end_caucus": EndCaucus,
    "mute_participant": MuteParticipant,
    "lower_hand": LowerHand,
    "lock_room": LockRoom,
    "show_evidence": ShowEvidence,
    "set_screen_share": SetScreenShare,
    "end_sitting": EndSitting,
    "raise_hand": RaiseHand,
    "request_unmute": RequestUnmute,
    "chat": Chat,
    "start_recording": StartRecording,
    "stop_recording": StopRecording,
}
"""Every command a client may send, by event name."""


# -- server → client (facts) ---------------------------------------------------------------


class Quality(Message):
    level: Literal["good", "fair", "poor"]
    rtt_ms: float | None
    loss_pct: float | None


class ParticipantView(Message):
    id: str
    role: Literal["mediator", "consumer", "business"]
    name: str
    audio: bool
    video: bool
    connected: bool
    disconnected_at: int | None
    stage: Literal["lobby", "room"]
    admitted: bool
    consent: Literal["pending", "accepted", "declined", "not_required"]
    audio_blocked: bool
    video_blocked: bool
    unmute_requested: list[Literal["audio", "video"]]
    hand_raised: bool
    excluded: bool
    waiting_since: int | None
    identity: (
        Literal["unchecked", "match", "mismatch", "too_many_attempts", "no_phone_on_file"] | None
    )
    quality: Quality | None


class CaucusView(Message):
    role: Literal["consumer", "business"]
    started_at: int


class EvidenceView(Message):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    submitted_by: str
    role: str | None
    at: str
    url: str


class RecordingView(Message):
    started_at: int
    include_caucus: bool
    paused: bool
    failed: list[str]


class RoomView(Message):
    id: str
    case_number: str
    title: str
    state: str
    locked: bool
    caucus: CaucusView | None
    screen_share: bool
    recording: RecordingView | None
    evidence: EvidenceView | None


class IceServerView(Message):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class ChatMessage(Message):
    id: int
    at: int
    author_id: str
    author: str
    role: str
    text: str
    audience: Literal["consumer", "business"] | None


class RoomViewFact(Message):
    self_: ParticipantView = Field(alias="self")
    room: RoomView
    participants: list[ParticipantView]
    lobby: list[ParticipantView]


class Joined(RoomViewFact):
    chat: list[ChatMessage]
    ice_servers: list[IceServerView]


class TrackInfo(Message):
    participant_id: str
    role: str
    kind: Literal["audio", "video", "screen"]


class Offer(Message):
    type: Literal["offer"]
    sdp: str
    revision: int
    publish: dict[str, str]
    tracks: dict[str, TrackInfo]


class ChatFact(Message):
    message: ChatMessage


class EvidenceAdded(Message):
    evidence: EvidenceView


class Dismissed(Message):
    kind: Literal["rejected", "removed"]
    reason: str


class Replaced(Message):
    message: str


class ErrorBody(Message):
    """The one error shape, for Socket.IO and HTTP alike."""

    code: str
    message: str
    event: str | None = None


FACTS: dict[str, type[Message]] = {
    "joined": Joined,
    "room_view": RoomViewFact,
    "offer": Offer,
    "chat": ChatFact,
    "evidence_added": EvidenceAdded,
    "dismissed": Dismissed,
    "replaced": Replaced,
    "error": ErrorBody,
}
"""Every fact the server emits, by event name (``docs/protocol.md`` documents each)."""
