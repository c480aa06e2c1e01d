"""Repository functions of the case record; each takes an ``AsyncSession`` inside a transaction.

Every change to a case also appends to the case's audit chain, in the same transaction, so the
record and its proof are committed together or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.audit import GENESIS, ChainProblem, canonical, event_hash, verify_chain
from cases.calendar import WorkingCalendar
from cases.deadlines import DeadlineRules
from cases.errors import CaseError, SittingEnded, TokenRevoked, TokenUnknown
from cases.models import (
    CONCLUDED,
    AuditEvent,
    Case,
    CaseStatus,
    Evidence,
    Invitation,
    InvitationUse,
    Mediator,
    Office,
    Party,
    PartyRole,
    PlaybackJob,
    Recording,
    Satisfaction,
    Sitting,
    StatusChange,
    TranscriptEntry,
    utcnow,
)
from cases.passwords import hash_password


class CaseNotFound(CaseError):
    code = "case_not_found"


class InvalidStatusTransition(CaseError):
    code = "invalid_status_transition"


class InvalidField(CaseError):
    """A value that is well-typed but not acceptable; ``field`` names it."""

    code = "invalid_field"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


_TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.RECEIVED: frozenset(
        {CaseStatus.ACCEPTED, CaseStatus.NOT_ACCEPTED, CaseStatus.WITHDRAWN}
    ),
    CaseStatus.ACCEPTED: frozenset({CaseStatus.IN_MEDIATION, CaseStatus.WITHDRAWN}),
    CaseStatus.IN_MEDIATION: frozenset(
        {CaseStatus.SETTLED, CaseStatus.NOT_SETTLED, CaseStatus.WITHDRAWN}
    ),
    CaseStatus.NOT_ACCEPTED: frozenset(),
    CaseStatus.SETTLED: frozenset(),
    CaseStatus.NOT_SETTLED: frozenset(),
    CaseStatus.WITHDRAWN: frozenset(),
}


def next_statuses(status: str) -> list[str]:
    """Where a case in ``status`` may go next."""
    return sorted(s.value for s in _TRANSITIONS[CaseStatus(status)])


def mask_phone(phone: str | None) -> str | None:
    """``13812341234`` → ``138****1234``: enough to recognise, not enough to call."""
    if not phone:
        return phone
    digits = phone.strip()
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_id_number(value: str | None) -> str | None:
    """A resident ID number keeps its first and last two characters only."""
    if not value:
        return value
    return value[:2] + "*" * max(0, len(value) - 4) + value[-2:]


def parse_amount(value: Any, field: str = "amount") -> Decimal:
    """An exact CNY amount: not negative, at most two decimals, below a trillion."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidField(field, "not a number") from exc
    if not amount.is_finite() or amount < 0:
        raise InvalidField(field, "must be zero or more")
    if amount != amount.quantize(Decimal("0.01")):
        raise InvalidField(field, "has more than two decimals (fen)")
    if amount >= Decimal("1000000000000"):
        raise InvalidField(field, "is too large")
    return amount.quantize(Decimal("0.01"))


# -- audit ---------------------------------------------------------------------------------


async def append_audit(
    session: AsyncSession, case_id: int, actor: str, kind: str, payload: dict[str, Any]
) -> AuditEvent:
    """Append one event to a case's chain (the caller holds the case row's lock)."""
    last = (
        await session.execute(
            select(AuditEvent.seq, AuditEvent.hash)
            .where(AuditEvent.case_id == case_id)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at = utcnow()
    event = AuditEvent(
        case_id=case_id,
        seq=seq,
        at=at,
        actor=actor,
        kind=kind,
        payload=payload,
        prev_hash=prev,
        hash=event_hash(prev, case_id, seq, at, actor, kind, payload),
    )
    session.add(event)
    await session.flush()
    return event


async def audit_events(session: AsyncSession, case_id: int) -> Sequence[AuditEvent]:
    result = await session.execute(
        select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.seq)
    )
    return result.scalars().all()


async def verify_case(session: AsyncSession, case_id: int) -> list[ChainProblem]:
    """Problems in a case's record; empty when intact.

    The chain proves the audit events; the events' digests prove the rows they describe
    (transcript entries, parties, evidence), so an edited, deleted or added row shows up too.
    """
    events = await audit_events(session, case_id)
    problems = verify_chain(events)
    entries = {e.seq: e for e in await transcript(session, case_id)}
    parties = {
        p.id: p
        for p in (await session.execute(select(Party).where(Party.case_id == case_id))).scalars()
    }
    evidence = {
        e.id: e
        for e in (
            await session.execute(select(Evidence).where(Evidence.case_id == case_id))
        ).scalars()
    }
    described_entries: set[int] = set()
    described_parties: set[int] = set()
    described_evidence: set[int] = set()
    recordings = {
        r.id: r
        for r in (
            await session.execute(select(Recording).where(Recording.case_id == case_id))
        ).scalars()
    }
    described_recordings: set[int] = set()
    deleted_recordings: set[int] = set()  # files the retention job deleted; rows stay
    answers = {
        a.id: a
        for a in (
            await session.execute(select(Satisfaction).where(Satisfaction.case_id == case_id))
        ).scalars()
    }
    described_answers: set[int] = set()
    case = await session.get(Case, case_id)
    described_case = [ev for ev in events if ev.kind in ("case_created", "case_updated")]
    if case is not None and described_case:
        last = described_case[-1]
        actual = _case_fields(case)
        for name, value in actual.items():
            if last.payload.get(name) != value:
                problems.append(ChainProblem(last.seq, f"the case's {name} was edited"))
    for ev in events:
        if ev.kind == "transcript":
            seq = int(ev.payload["seq"])
            described_entries.add(seq)
            entry = entries.get(seq)
            if entry is None:
                problems.append(ChainProblem(ev.seq, f"transcript entry {seq} is missing"))
            elif _sha256(entry.text) != ev.payload["text_sha256"] or not _entry_meta_intact(
                entry, ev.payload
            ):
                problems.append(ChainProblem(ev.seq, f"transcript entry {seq} was edited"))
        elif ev.kind == "party_added":
            party_id = int(ev.payload["party_id"])
            described_parties.add(party_id)
            party = parties.get(party_id)
            if party is None:
                problems.append(ChainProblem(ev.seq, f"party {party_id} is missing"))
            elif _party_digest(party) != ev.payload["data_sha256"]:
                problems.append(ChainProblem(ev.seq, f"party {party_id} was edited"))
        elif ev.kind == "evidence_added":  # written by cases.evidence.store_evidence
            evidence_id = int(ev.payload["evidence_id"])
            described_evidence.add(evidence_id)
            item = evidence.get(evidence_id)
            if item is None:
                problems.append(ChainProblem(ev.seq, f"evidence {evidence_id} is missing"))
            elif any(
                getattr(item, name) != ev.payload.get(name)
                for name in (
                    "sha256",
                    "size",
                    "content_type",
                    "filename",
                    "path",
                    "submitted_by",
                    "submitted_role",
                    "participant_id",
                )
            ):
                problems.append(ChainProblem(ev.seq, f"evidence {evidence_id} was edited"))
        elif ev.kind == "recording_added":  # written by cases.recordings.add_recording
            recording_id = int(ev.payload["recording_id"])
            described_recordings.add(recording_id)
            segment = recordings.get(recording_id)
            if segment is None:
                problems.append(ChainProblem(ev.seq, f"recording {recording_id} is missing"))
            elif any(getattr(segment, n) != ev.payload.get(n) for n in RECORDING_AUDITED):
                problems.append(ChainProblem(ev.seq, f"recording {recording_id} was edited"))
        elif ev.kind == "recording_deleted":  # by cases.recordings.purge_recordings
            recording_id = int(ev.payload["recording_id"])
            deleted_recordings.add(recording_id)
            segment = recordings.get(recording_id)
            if segment is not None and segment.deleted_at is None:
                problems.append(
                    ChainProblem(
                        ev.seq, f"recording {recording_id} was deleted but its row says kept"
                    )
                )
        elif ev.kind == "satisfaction_answered":  # by cases.satisfaction.record_answer
            answer_id = int(ev.payload["satisfaction_id"])
            described_answers.add(answer_id)
            answer = answers.get(answer_id)
            if answer is None:
                problems.append(ChainProblem(ev.seq, f"satisfaction answer {answer_id} is missing"))
            elif (
                answer.role != ev.payload.get("role")
                or answer.rating != ev.payload.get("rating")
                or answer.sitting_id != ev.payload.get("sitting_id")
                or _sha256(answer.comment) != ev.payload.get("comment_sha256")
            ):
                problems.append(ChainProblem(ev.seq, f"satisfaction answer {answer_id} was edited"))
        elif ev.kind == "sitting_concluded":  # by cases.outcome.conclude_sitting
            sitting = await session.get(Sitting, int(ev.payload["sitting_id"]))
            next_at = None if sitting is None else sitting.next_sitting_at
            if sitting is None or (
                sitting.outcome != ev.payload.get("outcome")
                or sitting.outcome_reason != ev.payload.get("outcome_reason")
                or (None if next_at is None else next_at.astimezone(dt.UTC).isoformat())
                != ev.payload.get("next_sitting_at")
            ):
                problems.append(
                    ChainProblem(
                        ev.seq, f"the outcome of sitting {ev.payload['sitting_id']} was edited"
                    )
                )
    problems += await _check_playback(session, case_id, events)
    for answer_id in sorted(set(answers) - described_answers):
        problems.append(
            ChainProblem(0, f"satisfaction answer {answer_id} is not in the audit chain")
        )
    for recording_id in sorted(set(recordings) - described_recordings):
        problems.append(ChainProblem(0, f"recording {recording_id} is not in the audit chain"))
    for recording_id, segment in sorted(recordings.items()):
        if segment.deleted_at is not None and recording_id not in deleted_recordings:
            problems.append(
                ChainProblem(0, f"recording {recording_id} was deleted outside the retention job")
            )
    for seq in sorted(set(entries) - described_entries):
        problems.append(ChainProblem(0, f"transcript entry {seq} is not in the audit chain"))
    for party_id in sorted(set(parties) - described_parties):
        problems.append(ChainProblem(0, f"party {party_id} is not in the audit chain"))
    for evidence_id in sorted(set(evidence) - described_evidence):
        problems.append(ChainProblem(0, f"evidence {evidence_id} is not in the audit chain"))
    # Agreements and signatures: cases.agreement writes their events (imported here, as it
    # imports this module).
    from cases.agreement import agreement_problems

    problems.extend(await agreement_problems(session, case_id, events))
    return problems


async def _check_playback(
    session: AsyncSession, case_id: int, events: Sequence[AuditEvent]
) -> list[ChainProblem]:
    """Every finished playback file (``cases.playback_jobs.finish``) is vouched for, unchanged."""
    done = {
        job.id: job
        for job in (
            await session.execute(
                select(PlaybackJob).where(
                    PlaybackJob.case_id == case_id, PlaybackJob.status == "done"
                )
            )
        ).scalars()
    }
    problems = []
    described: set[int] = set()
    for ev in events:
        if ev.kind != "playback_made":
            continue
        job_id = int(ev.payload["job_id"])
        described.add(job_id)
        job = done.get(job_id)
        if job is None:
            problems.append(ChainProblem(ev.seq, f"playback file {job_id} is missing"))
        elif (job.path, job.size, job.sha256) != (
            ev.payload.get("path"),
            ev.payload.get("size"),
            ev.payload.get("sha256"),
        ):
            problems.append(ChainProblem(ev.seq, f"playback file {job_id} was edited"))
    for job_id in sorted(set(done) - described):
        problems.append(ChainProblem(0, f"playback file {job_id} is not in the audit chain"))
    return problems


RECORDING_AUDITED = (
    "sitting_id",
    "participant_id",
    "path",
    "codecs",
    "size",
    "sha256",
    "duration",
)
"""The fields of a recorded segment that its ``recording_added`` audit event fixes."""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- offices and mediators -----------------------------------------------------------------


async def create_office(session: AsyncSession, name: str) -> Office:
    office = Office(name=name)
    session.add(office)
    await session.flush()
    return office


async def create_mediator(
    session: AsyncSession, office: Office, username: str, display_name: str, password: str
) -> Mediator:
    mediator = Mediator(
        office_id=office.id,
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
    )
    session.add(mediator)
    await session.flush()
    return mediator


# -- cases ---------------------------------------------------------------------------------


async def lock_case(session: AsyncSession, case_id: int) -> Case:
    """The case row, locked for this transaction (appends to its chain are serialized)."""
    case = (
        await session.execute(select(Case).where(Case.id == case_id).with_for_update())
    ).scalar_one_or_none()
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    return case


async def create_case(
    session: AsyncSession,
    *,
    office_id: int,
    number: str,
    title: str,
    category: str,
    received_on: dt.date,
    actor: str,
    claim: str = "",
    amount_in_dispute: Any = None,
    complaint_number: str | None = None,
    mediator_id: int | None = None,
    calendar: WorkingCalendar | None = None,
    deadlines: DeadlineRules | None = None,
) -> Case:
    """Record a received complaint as a case; its acceptance deadline is stored, counted in
    working days on ``calendar`` (the office's; plain weekdays when not given)."""
    if not title.strip():
        raise InvalidField("title", "must not be empty")
    case = Case(
        office_id=office_id,
        number=number,
        title=title.strip(),
        category=category,
        claim=claim,
        amount_in_dispute=(
            None if amount_in_dispute is None else parse_amount(amount_in_dispute, "amount")
        ),
        complaint_number=complaint_number,
        mediator_id=mediator_id,
        status=CaseStatus.RECEIVED.value,
        received_on=received_on,
        acceptance_due_on=(calendar or WorkingCalendar()).add_working_days(
            received_on, (deadlines or DeadlineRules()).acceptance_days
        ),
    )
    session.add(case)
    await session.flush()
    session.add(StatusChange(case_id=case.id, from_status=None, to_status=case.status, actor=actor))
    await append_audit(
        session,
        case.id,
        actor,
        "case_created",
        {"number": number, "received_on": received_on.isoformat(), **_case_fields(case)},
    )
    return case


async def change_status(
    session: AsyncSession,
    case_id: int,
    to: CaseStatus,
    actor: str,
    reason: str = "",
    *,
    today: dt.date | None = None,
    amount_recovered: Any = None,
    calendar: WorkingCalendar | None = None,
    deadlines: DeadlineRules | None = None,
) -> Case:
    """Move a case along its life; an illegal move changes nothing and says why. Accepting
    stores the mediation deadline, in working days on ``calendar`` (plain weekdays if not given)."""
    case = await lock_case(session, case_id)
    current = CaseStatus(case.status)
    if to not in _TRANSITIONS[current]:
        allowed = ", ".join(sorted(_TRANSITIONS[current])) or "none (the case is closed)"
        raise InvalidStatusTransition(
            f"a case that is {current} cannot become {to}; allowed: {allowed}"
        )
    if amount_recovered is not None and to is not CaseStatus.SETTLED:
        raise InvalidField("amount_recovered", "is recorded only when the case is settled")
    recovered = (
        None if amount_recovered is None else parse_amount(amount_recovered, "amount_recovered")
    )
    today = today or utcnow().date()
    case.status = to.value
    if recovered is not None:
        case.amount_recovered = recovered
    if to is CaseStatus.ACCEPTED:
        case.accepted_on = today
        case.conclusion_due_on = (calendar or WorkingCalendar()).add_working_days(
            today, (deadlines or DeadlineRules()).mediation_days
        )
    if to in CONCLUDED or to is CaseStatus.NOT_ACCEPTED:
        case.concluded_on = today
    session.add(
        StatusChange(
            case_id=case.id,
            from_status=current.value,
            to_status=to.value,
            actor=actor,
            reason=reason,
        )
    )
    await append_audit(
        session,
        case.id,
        actor,
        "status_changed",
        {
            "from": current.value,
            "to": to.value,
            "reason": reason,
            "amount_recovered": None if recovered is None else str(recovered),
        },
    )
    return case


EDITABLE_FIELDS = ("title", "category", "claim", "amount_in_dispute", "complaint_number")


def _case_fields(case: Case) -> dict[str, Any]:
    """What the audit chain vouches for of the case row itself."""
    return {
        "title": case.title,
        "category": case.category,
        "claim_sha256": _sha256(case.claim),
        "amount_in_dispute": None
        if case.amount_in_dispute is None
        else str(case.amount_in_dispute),
        "complaint_number": case.complaint_number,
    }


async def update_case(
    session: AsyncSession, case_id: int, actor: str, changes: dict[str, Any]
) -> Case:
    """Correct a case's description; a concluded case is closed to edits."""
    case = await lock_case(session, case_id)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidField(sorted(unknown)[0], "cannot be changed here")
    status = CaseStatus(case.status)
    if status in CONCLUDED or status is CaseStatus.NOT_ACCEPTED:
        raise InvalidStatusTransition(f"a case that is {status} can no longer be edited")
    if "title" in changes:
        if not str(changes["title"]).strip():
            raise InvalidField("title", "must not be empty")
        case.title = str(changes["title"]).strip()
    if "category" in changes:
        case.category = changes["category"]
    if "claim" in changes:
        case.claim = changes["claim"]
    if "amount_in_dispute" in changes:
        value = changes["amount_in_dispute"]
        case.amount_in_dispute = None if value is None else parse_amount(value, "amount_in_dispute")
    if "complaint_number" in changes:
        case.complaint_number = changes["complaint_number"]
    await append_audit(session, case.id, actor, "case_updated", _case_fields(case))
    return case


def _party_digest(party: Party) -> str:
    return hashlib.sha256(
        canonical(
            [
                party.role,
                party.name,
                party.phone,
                party.id_number,
                party.credit_code,
                party.contact_person,
            ]
        ).encode()
    ).hexdigest()


async def add_party(
    session: AsyncSession,
    case_id: int,
    role: PartyRole,
    name: str,
    actor: str,
    *,
    phone: str | None = None,
    id_number: str | None = None,
    credit_code: str | None = None,
    contact_person: str | None = None,
) -> Party:
    """Add the consumer or the business to a case. The audit chain holds a digest of their
    personal data, not the data: the chain proves it unchanged without spreading it."""
    await lock_case(session, case_id)
    if not name.strip():
        raise InvalidField("name", "must not be empty")
    party = Party(
        case_id=case_id,
        role=role.value,
        name=name.strip(),
        phone=phone,
        id_number=id_number,
        credit_code=credit_code,
        contact_person=contact_person,
    )
    session.add(party)
    await session.flush()
    await append_audit(
        session,
        case_id,
        actor,
        "party_added",
        {
            "party_id": party.id,
            "role": role.value,
            "phone": mask_phone(phone),
            "data_sha256": _party_digest(party),
        },
    )
    return party


# -- transcript ----------------------------------------------------------------------------


async def append_transcript(
    session: AsyncSession,
    case_id: int,
    *,
    kind: str,
    author: str,
    author_role: str,
    text: str,
    sitting_id: int | None = None,
    event: str | None = None,
    participant_id: str | None = None,
    audience: str | None = None,
    data: dict[str, Any] | None = None,
) -> TranscriptEntry:
    """Add one entry to the case's transcript, numbered in the order the server accepts them.

    ``event``, ``participant_id``, ``audience`` and ``data`` say the same for machines (a room
    reloads its state from them); the audit chain vouches for them as for the text.
    """
    await lock_case(session, case_id)
    seq = (
        await session.execute(
            select(func.coalesce(func.max(TranscriptEntry.seq), 0)).where(
                TranscriptEntry.case_id == case_id
            )
        )
    ).scalar_one() + 1
    entry = TranscriptEntry(
        case_id=case_id,
        sitting_id=sitting_id,
        seq=seq,
        kind=kind,
        author=author,
        author_role=author_role,
        text=text,
        event=event,
        participant_id=participant_id,
        audience=audience,
        data=data,
    )
    session.add(entry)
    await session.flush()
    payload: dict[str, Any] = {"seq": seq, "kind": kind, "text_sha256": _sha256(text)}
    if event is not None:
        payload["event"] = event
    payload["meta_sha256"] = _entry_meta_digest(entry)
    await append_audit(session, case_id, author, "transcript", payload)
    return entry


def _entry_meta_digest(entry: TranscriptEntry) -> str:
    """Digest of an entry's machine-readable fields (what a reloading room trusts)."""
    meta = {
        "event": entry.event,
        "participant_id": entry.participant_id,
        "audience": entry.audience,
        "data": entry.data,
        "sitting_id": entry.sitting_id,
    }
    return _sha256(json.dumps(meta, sort_keys=True, ensure_ascii=False, separators=(",", ":")))


def _entry_meta_intact(entry: TranscriptEntry, payload: dict[str, Any]) -> bool:
    """Whether an entry's machine fields are as written (entries from before migration 0002
    carry no digest: their fields must still be empty)."""
    if "meta_sha256" in payload:
        return bool(_entry_meta_digest(entry) == payload["meta_sha256"])
    return (
        entry.event is None
        and entry.participant_id is None
        and entry.audience is None
        and (entry.data is None)
    )


async def transcript(session: AsyncSession, case_id: int) -> Sequence[TranscriptEntry]:
    result = await session.execute(
        select(TranscriptEntry)
        .where(TranscriptEntry.case_id == case_id)
        .order_by(TranscriptEntry.seq)
    )
    return result.scalars().all()


# -- invitations ---------------------------------------------------------------------------


async def issue_invitation(
    session: AsyncSession,
    case_id: int,
    *,
    role: str,
    name: str,
    expires_at: dt.datetime,
    actor: str,
    sitting_id: int | None = None,
    issued_by: int | None = None,
) -> Invitation:
    """Store a new join link for one role of a case (the signed token carries its id)."""
    await lock_case(session, case_id)
    invitation = Invitation(
        id=secrets.token_hex(8),
        case_id=case_id,
        sitting_id=sitting_id,
        role=role,
        name=name,
        issued_by=issued_by,
        expires_at=expires_at,
    )
    session.add(invitation)
    await session.flush()
    await append_audit(
        session,
        case_id,
        actor,
        "invitation_issued",
        {"invitation": invitation.id, "role": role, "expires_at": expires_at.isoformat()},
    )
    return invitation


async def revoke_invitation(session: AsyncSession, invitation_id: str, actor: str) -> Invitation:
    """Stop a link from working (at once: every connect checks it)."""
    invitation = await session.get(Invitation, invitation_id)
    if invitation is None:
        raise TokenUnknown(f"no invitation {invitation_id}")
    await lock_case(session, invitation.case_id)
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        await append_audit(
            session,
            invitation.case_id,
            actor,
            "invitation_revoked",
            {"invitation": invitation.id},
        )
    return invitation


async def check_invitation(
    session: AsyncSession, invitation_id: str | None, case_id: int, sitting_id: int | None = None
) -> Invitation:
    """The stored invitation behind a link, if it may be used in this case (and sitting) now."""
    invitation = None if invitation_id is None else await session.get(Invitation, invitation_id)
    if invitation is None or invitation.case_id != case_id:
        raise TokenUnknown("this link is not one of this case's invitations")
    if invitation.revoked_at is not None:
        raise TokenRevoked("this link was withdrawn by the mediator")
    if sitting_id is not None and invitation.sitting_id not in (None, sitting_id):
        raise SittingEnded("this link was for an earlier sitting of the case, which has ended")
    return invitation


async def use_invitation(
    session: AsyncSession,
    invitation_id: str | None,
    case_id: int,
    ip: str,
    user_agent: str,
    sitting_id: int | None = None,
) -> Invitation:
    """Check that a link may enter this case's room now, and note the use."""
    invitation = await check_invitation(session, invitation_id, case_id, sitting_id)
    session.add(InvitationUse(invitation_id=invitation.id, ip=ip[:64], user_agent=user_agent[:400]))
    await session.flush()
    return invitation
