"""Satisfaction (满意度): each party rates the mediation 1–5, with an optional comment, once.

A party answers on their own join link after the sitting ended: the link of an ended sitting
opens nothing else (the room refuses it), but it still says who they are, and this is the one use
:func:`rating_invitation` allows it. Every answer goes into the audit chain with a digest of its
comment, so an edited rating shows in ``mediation-room verify``.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases import repository as repo
from cases.errors import CaseError
from cases.models import Invitation, PartyRole, Satisfaction, Sitting

MAX_COMMENT = 1000
"""The longest comment, in characters."""

AUDIT_KIND = "satisfaction_answered"
RATINGS = range(1, 6)


class SatisfactionError(CaseError):
    """An answer refused; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Rater:
    """Who is answering, from their link."""

    case_id: int
    sitting_id: int
    role: str
    invitation_id: str


def comment_digest(comment: str) -> str:
    return hashlib.sha256(comment.encode("utf-8")).hexdigest()


def clean_comment(comment: str) -> str:
    """Unix line ends, no control characters but newline and tab, no blanks around."""
    comment = comment.replace("\r\n", "\n").replace("\r", "\n")
    comment = "".join(
        ch for ch in comment if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    ).strip()
    if len(comment) > MAX_COMMENT:
        raise repo.InvalidField("comment", f"is longer than {MAX_COMMENT} characters")
    return comment


async def rating_invitation(
    session: AsyncSession, room_id: str, invitation_id: str | None
) -> Rater:
    """The party behind a (signature-checked) link of ``room_id``, if they may answer now.

    Refused: a link that is not the case's, revoked (``token_*``), the mediator's
    (``forbidden``), or a sitting still going on (``sitting_not_ended``).
    """
    invitation = None if invitation_id is None else await session.get(Invitation, invitation_id)
    query = select(Sitting).where(Sitting.room_id == room_id)
    if invitation is not None and invitation.sitting_id is not None:
        query = query.where(Sitting.id == invitation.sitting_id)
    sitting = (
        await session.execute(query.order_by(Sitting.id.desc()).limit(1))
    ).scalar_one_or_none()
    if sitting is None:
        raise SatisfactionError(
            "room_not_found", f"no sitting of the case was held in room {room_id}"
        )
    # The link's own sitting: check_invitation's sitting_ended refusal is for a link of an earlier
    # sitting used to enter a later one, which this is not.
    checked = await repo.check_invitation(session, invitation_id, sitting.case_id, sitting.id)
    if checked.role not in (PartyRole.CONSUMER.value, PartyRole.BUSINESS.value):
        raise SatisfactionError(
            "forbidden", "only the consumer and the business rate the mediation, on their own link"
        )
    if sitting.closed_at is None:
        raise SatisfactionError(
            "sitting_not_ended", "the sitting is still going on: rate it after the mediator ends it"
        )
    return Rater(sitting.case_id, sitting.id, checked.role, checked.id)


async def answer_of(session: AsyncSession, case_id: int, role: str) -> Satisfaction | None:
    """The party's answer for the case, if they gave one."""
    result = await session.execute(
        select(Satisfaction).where(Satisfaction.case_id == case_id, Satisfaction.role == role)
    )
    return result.scalar_one_or_none()


async def record_answer(
    session: AsyncSession, rater: Rater, rating: int, comment: str = ""
) -> Satisfaction:
    """Store the party's one answer (audited); a second one → ``already_answered``."""
    if isinstance(rating, bool) or not isinstance(rating, int) or rating not in RATINGS:
        raise repo.InvalidField("rating", "must be a whole number from 1 to 5")
    cleaned = clean_comment(comment)
    await repo.lock_case(session, rater.case_id)  # one answer per party, even if sent twice at once
    if await answer_of(session, rater.case_id, rater.role) is not None:
        raise SatisfactionError(
            "already_answered", "you have rated this mediation already; thank you"
        )
    answer = Satisfaction(
        case_id=rater.case_id,
        sitting_id=rater.sitting_id,
        role=rater.role,
        invitation_id=rater.invitation_id,
        rating=rating,
        comment=cleaned,
    )
    session.add(answer)
    await session.flush()
    await repo.append_audit(
        session, rater.case_id, f"{rater.role}:{rater.invitation_id}", AUDIT_KIND, audited(answer)
    )
    return answer


def audited(answer: Satisfaction) -> dict[str, Any]:
    """What the ``satisfaction_answered`` event fixes of the row."""
    return {
        "satisfaction_id": answer.id,
        "sitting_id": answer.sitting_id,
        "role": answer.role,
        "rating": answer.rating,
        "comment_sha256": comment_digest(answer.comment),
    }


async def list_answers(session: AsyncSession, case_id: int) -> Sequence[Satisfaction]:
    result = await session.execute(
        select(Satisfaction).where(Satisfaction.case_id == case_id).order_by(Satisfaction.id)
    )
    return result.scalars().all()


def answer_view(answer: Satisfaction) -> dict[str, Any]:
    """An answer as JSON-ready data (time in UTC, ISO 8601)."""
    return {
        "role": answer.role,
        "rating": answer.rating,
        "comment": answer.comment,
        "sitting_id": answer.sitting_id,
        "at": answer.at.isoformat(),
    }
