"""The case record's tables: SQLAlchemy 2 typed models, portable between SQLite and PostgreSQL.

Enumerations are stored as short strings (readable in a dump, no database enum types to migrate);
money is an exact ``Numeric(14, 2)`` in CNY; every time is stored in UTC.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back time-zone aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store times in UTC with tzinfo")
        # SQLite keeps the clock time and drops the zone: store every instant as UTC.
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


class Base(DeclarativeBase):
    """Base of every table of the case record."""


class CaseStatus(enum.StrEnum):
    """Life of a case: received → accepted → in mediation → concluded."""

    RECEIVED = "received"
    NOT_ACCEPTED = "not_accepted"
    """The office decided not to accept the complaint (不予受理)."""
    ACCEPTED = "accepted"
    IN_MEDIATION = "in_mediation"
    SETTLED = "settled"
    NOT_SETTLED = "not_settled"
    """Mediation ended without agreement (调解终止)."""
    WITHDRAWN = "withdrawn"


CONCLUDED = frozenset({CaseStatus.SETTLED, CaseStatus.NOT_SETTLED, CaseStatus.WITHDRAWN})


class PartyRole(enum.StrEnum):
    CONSUMER = "consumer"
    BUSINESS = "business"


class Office(Base):
    """A market-regulation office or consumer association; mediators see their office's cases."""

    __tablename__ = "offices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Mediator(Base):
    """A mediator's (or supervisor's) account."""

    __tablename__ = "mediators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    """``scrypt$n$r$p$salt$hash`` (see :mod:`cases.passwords`)."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    role: Mapped[str] = mapped_column(String(20), default="mediator")
    """``mediator`` (their own cases' figures) or ``supervisor`` (the whole office's)."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Case(Base):
    """A consumer complaint worked as a mediation case."""

    __tablename__ = "cases"
    __table_args__ = (
        # The office's figures count cases of an office by these days (cases/stats.py).
        Index("ix_cases_office_received", "office_id", "received_on"),
        Index("ix_cases_office_accepted", "office_id", "accepted_on"),
        Index("ix_cases_office_concluded", "office_id", "concluded_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    """The office's case number, e.g. ``2026-000123``."""
    complaint_number: Mapped[str | None] = mapped_column(String(40))
    """The 12315 platform's complaint number, when the case came from there."""
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    mediator_id: Mapped[int | None] = mapped_column(ForeignKey("mediators.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40), index=True)
    claim: Mapped[str] = mapped_column(Text, default="")
    """What the consumer asks for, in their words."""
    amount_in_dispute: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    amount_recovered: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    status: Mapped[str] = mapped_column(String(20), default=CaseStatus.RECEIVED.value, index=True)
    received_on: Mapped[dt.date] = mapped_column(Date)
    """The day the complaint was received: the acceptance deadline counts from it."""
    accepted_on: Mapped[dt.date | None] = mapped_column(Date)
    concluded_on: Mapped[dt.date | None] = mapped_column(Date)
    acceptance_due_on: Mapped[dt.date | None] = mapped_column(Date)
    """Last day to decide on acceptance (working-day calendar), set when the case is received."""
    conclusion_due_on: Mapped[dt.date | None] = mapped_column(Date)
    """Last day to conclude (working-day calendar), set when the case is accepted: "concluded
    on time" is ``concluded_on <= conclusion_due_on``, computed by the database."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    parties: Mapped[list[Party]] = relationship(back_populates="case", order_by="Party.id")
    status_changes: Mapped[list[StatusChange]] = relationship(
        back_populates="case", order_by="StatusChange.id"
    )


class StatusChange(Base):
    """One move of a case's status, with its time and who made it."""

    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(Text, default="")

    case: Mapped[Case] = relationship(back_populates="status_changes")


class Party(Base):
    """The consumer or the business of a case. Personal data: shown masked, never logged."""

    __tablename__ = "parties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(32))
    id_number: Mapped[str | None] = mapped_column(String(32))
    """Consumer's resident ID number (optional)."""
    credit_code: Mapped[str | None] = mapped_column(String(32))
    """Business's unified social credit code (统一社会信用代码, optional)."""
    contact_person: Mapped[str | None] = mapped_column(String(64))

    case: Mapped[Case] = relationship(back_populates="parties")


class Sitting(Base):
    """One run of the room for a case."""

    __tablename__ = "sittings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    room_id: Mapped[str] = mapped_column(String(64), index=True)
    """The live room's id; the same room may hold several sittings of one case."""
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    """When the first participant entered (the earliest attendance); None while nobody has.
    Kept here so the figures need not group every attendance row."""
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(20))
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    """Why it ended so: the termination reason (not settled), the mediator's note."""
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    """When the parties were told to join (shown on the mediator's "my work" page)."""
    next_sitting_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    """An adjourned sitting's next date."""


class Attendance(Base):
    """Who was in a sitting, from when to when."""

    __tablename__ = "attendances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("sittings.id"), index=True)
    participant_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    left_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Invitation(Base):
    """A stored, revocable join link (the token itself is not stored, only its id)."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    sitting_id: Mapped[int | None] = mapped_column(ForeignKey("sittings.id"))
    role: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("mediators.id"))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class InvitationUse(Base):
    """Every time a link was used: when, from where, with what browser."""

    __tablename__ = "invitation_uses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invitation_id: Mapped[str] = mapped_column(ForeignKey("invitations.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(400), default="")


class TranscriptEntry(Base):
    """One line of the session record (笔录): chat, a system event or a mediator's note."""

    __tablename__ = "transcript_entries"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    sitting_id: Mapped[int | None] = mapped_column(ForeignKey("sittings.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    """1, 2, 3… within the case, in the order the server accepted the entries."""
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))
    """``chat``, ``system`` or ``note``."""
    author: Mapped[str] = mapped_column(String(120))
    author_role: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    event: Mapped[str | None] = mapped_column(String(40))
    """What happened, for machines (``admitted``, ``caucus_started``, ``chat``…); ``text`` is
    the same for people, in Chinese."""
    participant_id: Mapped[str | None] = mapped_column(String(64))
    """The participant the entry is about (the one admitted, muted, removed…), if any."""
    audience: Mapped[str | None] = mapped_column(String(20))
    """Who could see it in the room: ``None`` everyone present; ``consumer`` or ``business`` a
    caucus of the mediator with that party."""
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Details of the event (the reason of a rejection, the kind of a mute, an evidence id…)."""


class AuditEvent(Base):
    """Append-only audit chain of a case: each event holds the hash of the one before."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Evidence(Base):
    """A file a party or the mediator put on the record."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    sitting_id: Mapped[int | None] = mapped_column(ForeignKey("sittings.id"))
    submitted_by: Mapped[str] = mapped_column(String(120))
    submitted_role: Mapped[str | None] = mapped_column(String(20))
    participant_id: Mapped[str | None] = mapped_column(String(64))
    """The room participant who uploaded it (their invitation's participant id)."""
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(500))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Recording(Base):
    """One recorded segment file of one participant's media (no transcoding)."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("sittings.id"))
    participant_id: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(500))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    codecs: Mapped[str] = mapped_column(String(100), default="")
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    duration: Mapped[float | None] = mapped_column(Float)
    """Seconds, as the file says."""
    sealed_after_crash: Mapped[bool] = mapped_column(Boolean, default=False)
    """The server died while the segment was open; it was repaired at the next start."""
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    """When the retention job deleted the file (its ``recording_deleted`` event says so)."""


class AgreementStatus(enum.StrEnum):
    DRAFT = "draft"
    SEALED = "sealed"
    """Every party and the mediator signed this exact text: it can never change again."""
    ABANDONED = "abandoned"
    """The mediator dropped the draft (the sitting ended without settling)."""


class Agreement(Base):
    """A settlement agreement (调解协议书): drafted in the room, signed by each party, sealed.

    ``text`` is the canonical text the signatures bind to (``text_sha256`` is its SHA-256);
    ``terms`` the structured fields it was rendered from (amount, deadline, …). ``version``
    grows with every edit; an edit after a signature voids every signature (``voided_at``).
    """

    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    sitting_id: Mapped[int | None] = mapped_column(ForeignKey("sittings.id"))
    status: Mapped[str] = mapped_column(String(20), default=AgreementStatus.DRAFT.value)
    template: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    terms: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    """Money the business pays the consumer under the agreement (CNY), for the figures."""
    performance_due_on: Mapped[dt.date | None] = mapped_column(Date)
    """The day by which the agreement must be performed."""
    performed_on: Mapped[dt.date | None] = mapped_column(Date)
    """The day the mediator recorded it as performed."""
    verification_code: Mapped[str | None] = mapped_column(String(24), unique=True)
    """Short code printed on the PDF; the public check page looks the agreement up by it."""
    pdf_path: Mapped[str | None] = mapped_column(String(500))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    sealed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow
    )


class Signature(Base):
    """A party's signature of one exact agreement text (``text_sha256`` of that version)."""

    __tablename__ = "signatures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    participant_id: Mapped[str | None] = mapped_column(String(64))
    text_sha256: Mapped[str] = mapped_column(String(64))
    image_path: Mapped[str] = mapped_column(String(500))
    image_sha256: Mapped[str | None] = mapped_column(String(64))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    voided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    """An edit of the text after this signature voided it (the row stays, for the record)."""


class Satisfaction(Base):
    """A party's rating of the mediation (1–5) and comment, given on their own link."""

    __tablename__ = "satisfaction"
    __table_args__ = (UniqueConstraint("case_id", "role", name="uq_satisfaction_case_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    sitting_id: Mapped[int | None] = mapped_column(ForeignKey("sittings.id"))
    role: Mapped[str] = mapped_column(String(20))
    """``consumer`` or ``business``."""
    invitation_id: Mapped[str | None] = mapped_column(String(32))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class PlaybackStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class PlaybackJob(Base):
    """The composed review file of one sitting (``recordings.playback``), made by a background
    worker process; ``progress`` (0–1) and ``heartbeat_at`` are written while it runs."""

    __tablename__ = "playback_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("sittings.id"))
    status: Mapped[str] = mapped_column(String(20), default=PlaybackStatus.QUEUED.value, index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    requested_by: Mapped[str] = mapped_column(String(120))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    path: Mapped[str | None] = mapped_column(String(500))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    duration: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
