"""The REST API's request and response bodies (pydantic at the wire only)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class MediatorOut(BaseModel):
    id: int
    username: str
    display_name: str
    office_id: int
    office_name: str = ""
    role: str = "mediator"
    """``mediator`` or ``supervisor`` (sees the whole office's figures)."""


class OfficeOut(BaseModel):
    categories: list[str]
    acceptance_days: int
    mediation_days: int


class CaseIn(Body):
    title: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=40)
    claim: str = Field(default="", max_length=5000)
    amount_in_dispute: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    complaint_number: str | None = Field(default=None, max_length=40, pattern=r"^[0-9A-Za-z-]+$")
    received_on: dt.date | None = None
    """Defaults to today."""


class CaseUpdate(Body):
    """Only the fields given change; ``null`` clears an optional one."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    category: str | None = Field(default=None, min_length=1, max_length=40)
    claim: str | None = Field(default=None, max_length=5000)
    amount_in_dispute: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    complaint_number: str | None = Field(default=None, max_length=40, pattern=r"^[0-9A-Za-z-]+$")


class PartyIn(Body):
    role: Literal["consumer", "business"]
    name: str = Field(min_length=1, max_length=120)
    phone: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+\- ]{3,32}$")
    id_number: str | None = Field(default=None, max_length=32, pattern=r"^[0-9Xx]{15,18}$")
    credit_code: str | None = Field(default=None, max_length=32, pattern=r"^[0-9A-Z]{18}$")
    contact_person: str | None = Field(default=None, max_length=64)


class PartyOut(BaseModel):
    id: int
    role: str
    name: str
    phone: str | None
    """Masked (138****1234) unless asked for with ``?reveal=1``."""
    id_number: str | None
    credit_code: str | None
    contact_person: str | None


class DeadlineOut(BaseModel):
    what: str
    due: dt.date
    working_days_left: int
    flag: Literal["ok", "due_soon", "overdue"]


class CaseOut(BaseModel):
    number: str
    complaint_number: str | None
    title: str
    category: str
    claim: str
    amount_in_dispute: Decimal | None
    amount_recovered: Decimal | None
    status: str
    received_on: dt.date
    accepted_on: dt.date | None
    concluded_on: dt.date | None
    deadline: DeadlineOut | None
    next_statuses: list[str]
    """The statuses this case may move to now."""
    parties: list[PartyOut]


class CaseList(BaseModel):
    cases: list[CaseOut]
    total: int
    page: int
    per_page: int


class StatusIn(Body):
    to: Literal["accepted", "not_accepted", "in_mediation", "settled", "not_settled", "withdrawn"]
    reason: str = Field(default="", max_length=2000)
    amount_recovered: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    """Money recovered for the consumer; only with ``to: settled``."""


class InvitationsIn(Body):
    valid_hours: int = Field(default=72, ge=1, le=24 * 30)
    scheduled_at: AwareDatetime | None = None
    """When the parties are told to join (with its time zone); shown on "my work"."""


class InvitationOut(BaseModel):
    id: str
    role: str
    name: str
    sitting_id: int | None = None
    issued_at: dt.datetime | None = None
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    link: str | None = None
    """Only in the answer that issues it: the link is not stored, only its id."""


class InvitationList(BaseModel):
    invitations: list[InvitationOut]


class InvitationsOut(BaseModel):
    room_id: str
    invitations: list[InvitationOut]


class NoteIn(Body):
    text: str = Field(min_length=1, max_length=5000)


class EntryOut(BaseModel):
    seq: int
    at: dt.datetime
    kind: str
    author: str
    author_role: str
    text: str


class SittingOut(BaseModel):
    id: int
    room_id: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    scheduled_at: dt.datetime | None = None
    outcome: str | None = None
    """``settled``, ``not_settled``, ``adjourned``, ``undecided`` once concluded."""
    outcome_reason: str | None = None
    """The termination reason (``not_settled``), else the mediator's note."""
    next_sitting_at: dt.datetime | None = None
    """An adjourned sitting's next date."""


class RecordOut(BaseModel):
    case: CaseOut
    sittings: list[SittingOut]
    transcript: list[EntryOut]
    audit_events: int
    audit_intact: bool


class EvidenceUpload(BaseModel):
    """``multipart/form-data`` with one field (documentation only: the handler streams it)."""

    file: bytes
    """A JPEG, PNG, HEIC/HEIF photo or a PDF, at most 20 MiB, recognised by its content."""


class EvidenceOut(BaseModel):
    id: int
    filename: str
    """The uploader's file name (cleaned); kept for people, never used to store or serve."""
    content_type: Literal["image/jpeg", "image/png", "image/heic", "application/pdf"]
    """What the file's content was recognised as."""
    size: int
    sha256: str
    submitted_by: str
    role: str | None
    at: str
    """When it was submitted (ISO 8601, UTC)."""
    url: str
    """Where to download it (with the same credentials as this request)."""


class EvidenceUploaded(BaseModel):
    evidence: EvidenceOut


class EvidenceList(BaseModel):
    evidence: list[EvidenceOut]


class RecordingOut(BaseModel):
    """One recorded segment: one participant's audio and video as received, no transcoding."""

    id: int
    sitting_id: int
    participant_id: str
    role: str | None
    """``mediator``, ``consumer`` or ``business`` (``None`` if the participant id names none)."""
    name: str | None
    """The name on the participant's invitation for that sitting, when there is one."""
    started_at: dt.datetime
    ended_at: dt.datetime | None
    duration: float | None
    """Seconds, as the file says."""
    codecs: str
    """E.g. ``vp8+opus``."""
    size: int | None
    """Bytes."""
    sha256: str | None
    """Of the file as closed; the audit chain keeps the same value."""
    sealed_after_crash: bool
    """The server died while this segment was open; it was repaired at the next start."""
    content_type: str
    """``video/webm`` or ``video/x-matroska``: what the file is served as."""
    deleted_at: dt.datetime | None
    """When the retention job deleted the file (the row, its hash and size stay on record)."""
    url: str | None
    """Where to fetch the file (the same session cookie; range requests supported); ``None``
    once the file is deleted."""


class RecordingList(BaseModel):
    recordings: list[RecordingOut]


class PlaybackJobOut(BaseModel):
    """A playback file of one sitting (all participants side by side, audio mixed), made by a
    background worker: ``queued`` → ``running`` (``progress`` 0–1) → ``done`` or ``failed``."""

    id: int
    sitting_id: int
    status: str
    progress: float
    requested_by: str
    attempts: int
    error: str | None
    """Why it failed, and what to do."""
    size: int | None
    sha256: str | None
    """Of the MP4; the audit chain's ``playback_made`` event keeps the same value."""
    duration: float | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    url: str | None
    """The MP4 (range requests supported) once ``done``."""


class PlaybackJobList(BaseModel):
    jobs: list[PlaybackJobOut]


# -- the transcript document (调解笔录); times are ISO 8601 in the office's time zone ----------


class SummaryIn(Body):
    text: str = Field(min_length=1, max_length=20_000)
    """The mediator's written summary; it replaces the current one (older ones stay on record)."""


class TranscriptSummary(BaseModel):
    seq: int
    """Its transcript entry: the audit chain vouches for it like any entry."""
    at: str
    author: str
    text: str


class TranscriptCase(BaseModel):
    number: str
    complaint_number: str | None
    title: str
    category: str
    claim: str
    amount_in_dispute: str | None
    amount_recovered: str | None
    status: str
    status_label: str
    received_on: str | None
    accepted_on: str | None
    concluded_on: str | None
    office: str | None
    mediator: str | None
    """The case's mediator's display name."""


class TranscriptParty(BaseModel):
    id: int
    role: str
    role_label: str
    name: str
    phone: str | None
    """Masked (``138****1234``): the document may leave the system."""
    id_number: str | None
    """Masked: first and last two characters only."""
    credit_code: str | None
    contact_person: str | None


class TranscriptEntry(BaseModel):
    seq: int
    at: str
    kind: str
    """``system``, ``chat`` or ``note``."""
    author: str
    author_role: str
    text: str
    """A readable Chinese sentence (or what was said, for chat)."""
    event: str | None
    participant_id: str | None
    audience: str | None
    """Set when only the mediator and this party (``consumer``/``business``) could see it."""
    caucus: str | None
    """The party of the private talk (背对背) going on when it was written, if any."""
    data: dict[str, Any] | None


class TranscriptSitting(BaseModel):
    id: int
    number: int
    """1, 2, 3… within the case."""
    room_id: str
    opened_at: str | None
    closed_at: str | None
    outcome: str | None
    outcome_label: str | None
    entries: list[TranscriptEntry]


class TranscriptEvidence(BaseModel):
    id: int
    sitting: int | None
    """The number of the sitting it was submitted in."""
    filename: str
    content_type: str
    size: int
    sha256: str
    submitted_by: str
    submitted_role: str | None
    at: str | None


class TranscriptRecording(BaseModel):
    id: int
    sitting: int | None
    participant_id: str
    participant: str
    started_at: str | None
    ended_at: str | None
    duration: float | None
    size: int | None
    codecs: str
    sha256: str | None
    sealed_after_crash: bool
    deleted_at: str | None = None
    """When the retention job deleted the file (the row and its hash stay)."""


class TranscriptProblem(BaseModel):
    seq: int
    """The audit event where the problem shows (0: a row no event describes)."""
    reason: str


class TranscriptAudit(BaseModel):
    intact: bool
    problems: list[TranscriptProblem]
    events: int
    last_hash: str | None


class TranscriptOut(BaseModel):
    """The whole time line of a case's sittings: what the HTML and PDF documents show."""

    format: str
    generated_at: str
    timezone: str
    case: TranscriptCase
    parties: list[TranscriptParty]
    sittings: list[TranscriptSitting]
    notes: list[TranscriptEntry]
    """Entries outside any sitting (the mediator's notes, evidence added from the console)."""
    summary: TranscriptSummary | None
    summary_history: list[TranscriptSummary]
    """Earlier versions of the summary, oldest first."""
    evidence: list[TranscriptEvidence]
    recordings: list[TranscriptRecording]
    audit: TranscriptAudit


# -- satisfaction (满意度) ---------------------------------------------------------------------


class SatisfactionIn(Body):
    rating: int = Field(ge=1, le=5, strict=True)
    """1 (very dissatisfied) to 5 (very satisfied)."""
    comment: str = Field(default="", max_length=1000)


class SatisfactionOut(BaseModel):
    role: str
    """``consumer`` or ``business``."""
    rating: int
    comment: str
    sitting_id: int | None
    at: dt.datetime


class SatisfactionAnswer(BaseModel):
    """The asking party's answer, or ``null`` if they have not answered yet."""

    answer: SatisfactionOut | None


class SatisfactionList(BaseModel):
    answers: list[SatisfactionOut]


# -- settlement agreement (调解协议书) ---------------------------------------------------------


class AgreementSigner(BaseModel):
    role: str
    name: str
    signed_at: str | None
    """ISO 8601, UTC."""


class AgreementSignatureOut(BaseModel):
    """One signature row, voided ones included (an edit of the text voids them)."""

    id: int
    role: str
    name: str
    signed_at: str | None
    voided_at: str | None
    text_sha256: str
    image_sha256: str | None


class AgreementOut(BaseModel):
    """The case's current agreement (``cases.agreement.agreement_view``) and its signatures."""

    id: int
    case_id: int
    sitting_id: int | None
    status: Literal["draft", "sealed", "abandoned"]
    version: int
    template: str
    terms: dict[str, Any]
    text: str
    """The canonical text the signatures bind to."""
    text_sha256: str
    amount: str | None
    performance_due_on: str | None
    performed_on: str | None
    signatures: list[AgreementSigner]
    """The valid signatures of the current text."""
    sealed_at: str | None
    verification_code: str | None
    pdf_available: bool
    pdf_sha256: str | None
    signature_history: list[AgreementSignatureOut]


class PerformedIn(Body):
    performed_on: dt.date | None = None
    """The day it was performed; today (the office's time zone) if left out."""


class VerifyParty(BaseModel):
    role: str
    name: str
    """Masked: the first character only (李**)."""


class VerifyOut(BaseModel):
    """What anyone holding the code may learn of a sealed agreement."""

    verification_code: str
    case_number: str
    sealed_on: str
    """The day it was sealed (office time zone)."""
    text_sha256: str
    pdf_sha256: str | None
    parties: list[VerifyParty]


class VerifyPdfUpload(BaseModel):
    """``multipart/form-data`` with one field (documentation only: the handler streams it)."""

    file: bytes
    """The PDF to check, at most 10 MiB."""


class VerifyPdfOut(BaseModel):
    matches: bool
    """Whether the uploaded file is byte for byte the sealed agreement's PDF."""
    sha256: str
    """SHA-256 of the uploaded file."""
    pdf_sha256: str | None
