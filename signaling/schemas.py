"""One pydantic model per event, both directions; the registry maps command names to models.

Only the wire uses pydantic: handlers get these typed messages, never raw dicts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


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
    reason: str | None = Field(default=None, max_length=500)
    """Why mediation is terminated: required with ``not_settled`` (it goes on the notice)."""
    next_sitting_at: AwareDatetime | None = None
    """When an ``adjourned`` sitting goes on (ISO 8601 with its UTC offset, in the future)."""


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


SIGNATURE_IMAGE_MAX = 400_000
"""Characters of a signature image's base64 (about 290 KiB of PNG: a drawn signature is
10–60 KiB)."""


class AgreementStart(Message):
    pass


class AgreementUpdate(Message):
    terms: dict[str, Any]
    """The whole set of terms (``cases.agreement.validate_terms`` checks each)."""
    version: int = Field(ge=1)
    """The version the edit was made on."""


class AgreementSign(Message):
    text_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """The SHA-256 of the text the signer was shown."""
    name: str = Field(min_length=1, max_length=40)
    image: str = Field(
        min_length=16,
        max_length=SIGNATURE_IMAGE_MAX,
        pattern=r"^(data:image/png;base64,)?[A-Za-z0-9+/]+={0,2}$",
    )
    """The drawn signature: PNG as base64 (a ``data:image/png;base64,`` URL is accepted)."""


class AgreementAbandon(Message):
    reason: str = Field(default="", max_length=200)


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
    "agreement_start": AgreementStart,
    "agreement_update": AgreementUpdate,
    "agreement_sign": AgreementSign,
    "agreement_abandon": AgreementAbandon,
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


class SignatureView(Message):
    model_config = ConfigDict(extra="allow", frozen=True)
    role: Literal["mediator", "consumer", "business"]
    name: str


class AgreementView(Message):
    """The agreement's view (``cases.agreement.agreement_view``); its core fields are fixed
    here, the rest (terms details, dates) may grow."""

    model_config = ConfigDict(extra="allow", frozen=True)
    id: int
    status: Literal["draft", "sealed", "abandoned"]
    version: int
    text: str
    text_sha256: str
    signatures: list[SignatureView]
    voided: list[SignatureView]
    pdf_available: bool


class AgreementFact(Message):
    agreement: AgreementView | None
    pdf_url: str | None


class ErrorBody(Message):
    """The one error shape, for Socket.IO and HTTP alike."""

    code: str
    message: str
    event: str | None = None
    field: str | None = None
    """Which input was wrong (``amount``, ``due_on``…), for errors about one; absent otherwise."""


FACTS: dict[str, type[Message]] = {
    "joined": Joined,
    "room_view": RoomViewFact,
    "offer": Offer,
    "chat": ChatFact,
    "evidence_added": EvidenceAdded,
    "dismissed": Dismissed,
    "replaced": Replaced,
    "agreement": AgreementFact,
    "error": ErrorBody,
}
"""Every fact the server emits, by event name (``docs/protocol.md`` documents each)."""
