"""How a sitting ended: its outcome on the record, the case moved along, and — when mediation is
terminated — the termination notice (调解终止通知书) as a PDF.

:func:`conclude_sitting` is the one way to set a sitting's outcome. It checks everything before it
changes anything, so a refusal (an :class:`OutcomeError` with a ``code``) leaves the record as it
was; status changes go through :func:`cases.repository.change_status`, so they are audited like
any other. The notice is written beside the data directory's other files and its SHA-256 goes
into the audit chain (event ``termination_notice``), which is how the console and the case bundle
find it again and prove it unchanged.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import html
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases import repository as repo
from cases.agreement import current_agreement
from cases.errors import CaseError
from cases.evidence import ROLE_LABELS
from cases.models import (
    Agreement,
    AgreementStatus,
    AuditEvent,
    Case,
    CaseStatus,
    Office,
    Party,
    Sitting,
    utcnow,
)
from cases.pdf import FONT_FAMILY, render_pdf_async

logger = logging.getLogger(__name__)

MAX_REASON = 500
"""The longest termination reason, in characters (the room's note has the same limit)."""

NOTICE_KIND = "termination_notice"
"""The audit event that vouches for a termination notice file."""

CONCLUDED_KIND = "sitting_concluded"
"""The audit event that vouches for a sitting's outcome."""


class Outcome(enum.StrEnum):
    """How a sitting ended."""

    SETTLED = "settled"
    """An agreement was sealed: the case is settled (调解成功)."""
    NOT_SETTLED = "not_settled"
    """Mediation is terminated without agreement (调解终止); a reason is required."""
    ADJOURNED = "adjourned"
    """To go on another day (休会); the next date is required."""
    UNDECIDED = "undecided"
    """The mediator decides later; the case stays as it is."""


class OutcomeError(CaseError):
    """A conclusion refused; ``field`` names the input at fault, if one is."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(frozen=True, slots=True)
class NoticeRef:
    """Where a sitting's termination notice is, as its audit event says."""

    sitting_id: int
    path: str
    """Relative to the data directory."""
    sha256: str
    size: int


def notice_path(case_id: int, sitting_id: int) -> str:
    """Where the termination notice of a sitting is kept, relative to the data directory."""
    return f"notices/case-{case_id}/termination-{sitting_id}.pdf"


def _check_inputs(
    outcome: str, reason: str | None, next_sitting_at: dt.datetime | None, now: dt.datetime
) -> tuple[Outcome, str | None]:
    """The outcome and the cleaned reason; a refusal names the field and what to do."""
    try:
        chosen = Outcome(outcome)
    except ValueError:
        choices = ", ".join(o.value for o in Outcome)
        raise OutcomeError(
            "invalid_field", f"outcome: {outcome!r} is not one of {choices}", "outcome"
        ) from None
    cleaned = (reason or "").strip() or None
    if chosen is Outcome.NOT_SETTLED:
        if cleaned is None:
            raise OutcomeError(
                "reason_required",
                "give the reason mediation is terminated (调解终止的理由); the notice states it",
                "reason",
            )
        if len(cleaned) > MAX_REASON:
            raise OutcomeError(
                "invalid_field", f"reason: at most {MAX_REASON} characters", "reason"
            )
    elif cleaned is not None:
        raise OutcomeError(
            "invalid_field",
            "reason: only a terminated mediation (not_settled) takes a reason; write a note",
            "reason",
        )
    if chosen is Outcome.ADJOURNED:
        if next_sitting_at is None:
            raise OutcomeError(
                "next_sitting_required",
                "give the date and time of the next sitting (休会后的下次调解时间)",
                "next_sitting_at",
            )
        if next_sitting_at.tzinfo is None:
            raise OutcomeError(
                "invalid_field",
                "next_sitting_at: give the time with its UTC offset, e.g. 2026-11-20T14:00+08:00",
                "next_sitting_at",
            )
        if next_sitting_at <= now:
            raise OutcomeError(
                "next_sitting_in_past",
                "the next sitting must be in the future: choose a later date and time",
                "next_sitting_at",
            )
    elif next_sitting_at is not None:
        raise OutcomeError(
            "invalid_field",
            "next_sitting_at: only an adjourned sitting (adjourned) takes a next date",
            "next_sitting_at",
        )
    return chosen, cleaned


async def _to_concluded(
    session: AsyncSession,
    case: Case,
    to: CaseStatus,
    actor: str,
    reason: str,
    today: dt.date,
    amount_recovered: Any = None,
) -> None:
    """Move the case to ``to``; an accepted case first enters mediation (a sitting was held)."""
    if case.status == CaseStatus.ACCEPTED.value:
        await repo.change_status(
            session, case.id, CaseStatus.IN_MEDIATION, actor, "调解已开始", today=today
        )
    await repo.change_status(
        session, case.id, to, actor, reason, today=today, amount_recovered=amount_recovered
    )


def _require_concludable(case: Case, outcome: Outcome) -> None:
    if case.status in (CaseStatus.ACCEPTED.value, CaseStatus.IN_MEDIATION.value):
        return
    raise OutcomeError(
        "invalid_status_transition",
        f"case {case.number} is {case.status}: only an accepted case or one in mediation can "
        f"end as {outcome.value}; end this sitting as undecided and check the case's status",
    )


async def conclude_sitting(
    session: AsyncSession,
    case_id: int,
    sitting_id: int,
    *,
    outcome: str,
    actor: str,
    note: str = "",
    reason: str | None = None,
    next_sitting_at: dt.datetime | None = None,
    today: dt.date,
    data_dir: Path | None = None,
) -> Sitting:
    """Record how a sitting ended, in the caller's transaction; refused with nothing changed.

    ``settled`` needs the case's agreement sealed and records its amount as recovered;
    ``not_settled`` needs ``reason`` and writes the termination notice under ``data_dir``
    (without a data directory — a room without files — no notice is made); ``adjourned`` needs
    ``next_sitting_at`` in the future. A sitting is concluded once: again → ``sitting_concluded``.
    """
    now = utcnow()
    chosen, cleaned = _check_inputs(outcome, reason, next_sitting_at, now)
    case = await repo.lock_case(session, case_id)
    sitting = await session.get(Sitting, sitting_id)
    if sitting is None or sitting.case_id != case_id:
        raise OutcomeError(
            "sitting_not_found", f"case {case.number} has no sitting {sitting_id}", "sitting_id"
        )
    if sitting.outcome is not None:
        raise OutcomeError(
            "sitting_concluded",
            f"this sitting already ended as {sitting.outcome}; open a new sitting to go on",
        )
    agreement: Agreement | None = None
    if chosen is Outcome.SETTLED:
        agreement = await current_agreement(session, case_id)
        if agreement is None or agreement.status != AgreementStatus.SEALED.value:
            state = "no agreement" if agreement is None else f"the agreement is {agreement.status}"
            raise OutcomeError(
                "agreement_not_sealed",
                f"{state}: a settled case needs its agreement signed by both parties and sealed "
                "first; or end this sitting as adjourned or undecided",
            )
    if chosen in (Outcome.SETTLED, Outcome.NOT_SETTLED):
        _require_concludable(case, chosen)

    notice: tuple[str, bytes] | None = None
    if chosen is Outcome.NOT_SETTLED and data_dir is not None:
        assert cleaned is not None
        notice_html = await termination_notice_html(session, case, cleaned, today)
        notice = (notice_path(case_id, sitting_id), await render_pdf_async(notice_html))

    sitting.outcome = chosen.value
    sitting.outcome_reason = cleaned if chosen is Outcome.NOT_SETTLED else (note.strip() or None)
    sitting.next_sitting_at = (
        None if next_sitting_at is None else next_sitting_at.astimezone(dt.UTC)
    )
    if chosen is Outcome.SETTLED:
        assert agreement is not None
        await _to_concluded(
            session,
            case,
            CaseStatus.SETTLED,
            actor,
            "达成调解协议",
            today,
            amount_recovered=agreement.amount,
        )
    elif chosen is Outcome.NOT_SETTLED:
        assert cleaned is not None
        await _to_concluded(session, case, CaseStatus.NOT_SETTLED, actor, cleaned, today)
    await session.flush()
    await repo.append_audit(
        session,
        case_id,
        actor,
        CONCLUDED_KIND,
        concluded_payload(sitting) | {"agreement_id": None if agreement is None else agreement.id},
    )
    if notice is not None:
        assert data_dir is not None
        relative, pdf = notice
        _write_atomically(data_dir / relative, pdf)
        await repo.append_audit(
            session,
            case_id,
            actor,
            NOTICE_KIND,
            {
                "sitting_id": sitting_id,
                "path": relative,
                "sha256": hashlib.sha256(pdf).hexdigest(),
                "size": len(pdf),
            },
        )
    return sitting


def concluded_payload(sitting: Sitting) -> dict[str, Any]:
    """What a ``sitting_concluded`` event fixes of the sitting row."""
    return {
        "sitting_id": sitting.id,
        "outcome": sitting.outcome,
        "outcome_reason": sitting.outcome_reason,
        "next_sitting_at": None
        if sitting.next_sitting_at is None
        else sitting.next_sitting_at.astimezone(dt.UTC).isoformat(),
    }


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".notice-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


async def termination_notices(session: AsyncSession, case_id: int) -> dict[int, NoticeRef]:
    """Every termination notice of a case by sitting id, as the audit chain records them."""
    rows = (
        await session.execute(
            select(AuditEvent.payload)
            .where(AuditEvent.case_id == case_id, AuditEvent.kind == NOTICE_KIND)
            .order_by(AuditEvent.seq)
        )
    ).scalars()
    return {
        int(p["sitting_id"]): NoticeRef(
            sitting_id=int(p["sitting_id"]),
            path=str(p["path"]),
            sha256=str(p["sha256"]),
            size=int(p["size"]),
        )
        for p in rows
    }


# -- the termination notice ----------------------------------------------------------------

_CSS = f"""
@page {{ size: A4; margin: 25mm 22mm; font-family: '{FONT_FAMILY}'; }}
html {{ font-family: '{FONT_FAMILY}'; color: #111; background: #fff; }}
body {{ font-size: 12pt; line-height: 1.8; }}
h1 {{ font-size: 20pt; text-align: center; letter-spacing: 0.3em; margin: 0 0 4mm; }}
.number {{ text-align: right; margin: 0 0 6mm; }}
table {{ width: 100%; border-collapse: collapse; margin: 0 0 6mm; table-layout: fixed; }}
th, td {{ border: 1px solid #888; padding: 2mm 3mm; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; }}
th {{ width: 28%; background: #f2f2f2; }}
p {{ margin: 0 0 4mm; text-indent: 2em; }}
.reason {{ white-space: pre-wrap; }}
.sign {{ margin-top: 16mm; text-align: right; text-indent: 0; }}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _chinese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


async def termination_notice_html(
    session: AsyncSession, case: Case, reason: str, today: dt.date
) -> str:
    """The notice as a self-contained HTML page (every value from the record escaped)."""
    office = await session.get(Office, case.office_id)
    parties = (
        (await session.execute(select(Party).where(Party.case_id == case.id).order_by(Party.id)))
        .scalars()
        .all()
    )
    office_name = office.name if office is not None else ""
    rows = [("案件编号", case.number)]
    if case.complaint_number:
        rows.append(("12315 投诉单号", case.complaint_number))
    rows.append(("案由", case.title))
    rows += [(ROLE_LABELS.get(p.role, p.role), p.name) for p in parties]
    table = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    names = "、".join(p.name for p in parties) or "各方当事人"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>调解终止通知书 · {_e(case.number)}</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>调解终止通知书</h1>"
        f'<p class="number">案件编号：{_e(case.number)}</p>'
        f"<table>{table}</table>"
        f"<p>{_e(names)}：</p>"
        f"<p>你们之间的消费争议（案由：{_e(case.title)}），经{_e(office_name or '本单位')}"
        "组织调解，未能达成调解协议。终止调解的理由：</p>"
        f'<p class="reason">{_e(reason)}</p>'
        "<p>现决定终止调解。当事人可以依法通过其他途径解决争议，"
        "如申请仲裁或者向人民法院提起诉讼。</p>"
        "<p>特此通知。</p>"
        f'<p class="sign">{_e(office_name)}<br>{_e(_chinese_date(today))}</p>'
        "</body></html>\n"
    )
