"""The transcript writer: what happens in a sitting, written into the case record as it happens.

Each entry is committed before the call returns, so anything the room has acknowledged is on
disk; the write goes through the async driver, never blocking the event loop. Every entry has
its text for people (Chinese, as the case record is read) and its ``event`` and ``data`` for
machines: a room that restarts rebuilds its state (who was admitted, the caucus, mutes, the chat)
from them.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases import agreement as agreements
from cases import repository as repo
from cases.evidence import evidence_view, get_evidence
from cases.models import Agreement, Attendance, Party, Sitting, TranscriptEntry, utcnow
from cases.outcome import conclude_sitting
from cases.recordings import add_recording
from recordings.recorder import SegmentInfo

logger = logging.getLogger(__name__)

ROLE_LABELS = {"mediator": "调解员", "consumer": "消费者", "business": "商家"}

SYSTEM_TEXT = {
    "joined": "{subject}进入调解室",
    "reconnected": "{subject}重新连接",
    "left": "{subject}离开调解室",
    "disconnected": "{subject}连接中断",
    "revoked": "{subject}的邀请链接已被撤销，离开调解室",
    "lobby_entered": "{subject}进入等候区",
    "lobby_left": "{subject}离开等候区",
    "audio_on": "{subject}打开麦克风",
    "audio_off": "{subject}关闭麦克风",
    "video_on": "{subject}打开摄像头",
    "video_off": "{subject}关闭摄像头",
    "consented": "{subject}同意本次调解录音录像并存入案件记录",
    "consent_declined": "{subject}不同意录音录像，暂未进入调解室",
    "identity_checked": "{subject}核验身份：手机号后四位{result}",
    "admitted": "{actor}准许{subject}进入调解室",
    "rejected": "{actor}拒绝{subject}进入调解室，理由：{reason}",
    "removed": "{actor}将{subject}移出调解室{reason_clause}",
    "locked": "{actor}锁定调解室",
    "unlocked": "{actor}解除调解室锁定",
    "caucus_started": "{actor}开始与{caucus}单独沟通（背对背）",
    "caucus_ended": "{actor}结束与{caucus}的单独沟通",
    "muted": "{actor}关闭{subject}的麦克风",
    "unmuted": "{actor}允许{subject}发言",
    "video_stopped": "{actor}关闭{subject}的视频",
    "video_allowed": "{actor}允许{subject}开启视频",
    "unmute_requested": "{subject}申请{kind}",
    "hand_raised": "{subject}举手",
    "hand_lowered": "{subject}放下手",
    "screen_share_started": "{actor}开始共享屏幕",
    "screen_share_stopped": "{actor}停止共享屏幕",
    "evidence_shown": "{actor}展示证据：{filename}",
    "evidence_hidden": "{actor}停止展示证据",
    "sitting_ended": (
        "{actor}结束本次调解，结果：{outcome}{reason_clause}{next_clause}{note_clause}"
    ),
    "recording_started": "{actor}开始录音录像{caucus_clause}",
    "recording_stopped": "录音录像结束{stop_reason}",
    "recording_paused": "单独沟通期间暂停录音录像",
    "recording_resumed": "单独沟通结束，继续录音录像",
    "recording_failed": "{subject}的录音录像出错，已停止：{reason}",
    "recording_interrupted": "服务中断，录音录像在此中断；中断前已录制的部分已封存",
    "service_interrupted": (
        "服务中断：承载本次调解的服务器停止，在场人员的连接中断；会话已恢复，此前已确认的记录均已保存"
    ),
    "agreement_started": "{actor}开始起草调解协议书",
    "agreement_updated": "{actor}修改调解协议书，现为第{version}稿",
    "agreement_signed": "{actor}签署调解协议书第{version}稿（签名：{signed_name}）",
    "agreement_signatures_voided": "调解协议书内容已修改，此前的{count}个签名作废，需重新签署",
    "agreement_sealed": "各方签署完毕，调解协议书第{version}稿封存，文本 SHA-256：{sha256}",
    "agreement_abandoned": "{actor}放弃调解协议书草稿{reason_clause}",
}
IDENTITY_RESULTS = {
    "match": "一致",
    "mismatch": "不一致",
    "too_many_attempts": "不一致（核验次数已用完）",
}
OUTCOME_LABELS = {
    "settled": "达成调解协议",
    "not_settled": "调解不成（终止调解）",
    "adjourned": "择期继续调解",
    "undecided": "待定",
}
KIND_LABELS = {"audio": "发言", "video": "开启视频"}
AGREEMENT_TIMEZONE = "Asia/Shanghai"
"""Whose calendar says what "today" is for an agreement's deadline (the office's, in China)."""


def agreement_today() -> dt.date:
    """Today where the office is: a performance deadline must come after it."""
    return dt.datetime.now(ZoneInfo(AGREEMENT_TIMEZONE)).date()


class Person(Protocol):
    """Someone in the room as the record names them (``rooms.room.Who``)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...


def _label(person: Person) -> str:
    return f"{person.name}（{ROLE_LABELS.get(person.role, person.role)}）"


def _ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


def _iso_utc(at: dt.datetime | None) -> str | None:
    """As ``cases.agreement.agreement_view`` writes its times: ISO 8601 in UTC."""
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


OUTCOME_TIMEZONE = "Asia/Shanghai"
"""Whose calendar says on which day a case was concluded (the office's, in China)."""


def _next_clause(value: object) -> str:
    """``，下次调解时间：2026-11-20 14:00`` in the time zone the mediator gave it in."""
    if not value:
        return ""
    try:
        at = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return ""
    return f"，下次调解时间：{at.strftime('%Y-%m-%d %H:%M')}"


def describe(what: str, actor: Person, subject: Person | None, data: dict[str, Any] | None) -> str:
    """The transcript's sentence for an event."""
    data = data or {}
    subject_label = _label(subject or actor)
    if what == "hand_lowered" and subject is not None and subject.id != actor.id:
        return f"{_label(actor)}放下{subject_label}的举手"
    reason = str(data.get("reason", ""))
    note = str(data.get("note", ""))
    return SYSTEM_TEXT[what].format(
        actor=_label(actor),
        subject=subject_label,
        reason=reason,
        reason_clause=f"，理由：{reason}" if reason else "",
        result=IDENTITY_RESULTS.get(str(data.get("result")), ""),
        caucus=ROLE_LABELS.get(str(data.get("role")), ""),
        kind=KIND_LABELS.get(str(data.get("kind")), ""),
        filename=(data.get("evidence") or {}).get("filename", ""),
        outcome=OUTCOME_LABELS.get(str(data.get("outcome")), ""),
        stop_reason={"sitting_ended": "（调解结束）", "server_stopped": "（服务器停止）"}.get(
            reason, ""
        ),
        caucus_clause="（单独沟通也录制）" if data.get("include_caucus") else "（单独沟通不录制）",
        note_clause=f"；{note}" if note else "",
        next_clause=_next_clause(data.get("next_sitting_at")),
        version=data.get("version", ""),
        signed_name=data.get("signed_name", ""),
        count=data.get("count", ""),
        sha256=data.get("text_sha256", ""),
    )


async def add_attendance(
    session: AsyncSession,
    sitting_id: int,
    participant_id: str,
    role: str,
    at: dt.datetime | None = None,
) -> Attendance:
    """Note that a participant entered the sitting (at ``at``, default now); the sitting's
    ``started_at`` is the earliest such entry (set by the first, kept by the later ones)."""
    at = utcnow() if at is None else at
    row = Attendance(sitting_id=sitting_id, participant_id=participant_id, role=role, joined_at=at)
    session.add(row)
    # The earliest wins even if two joins' transactions commit out of order.
    await session.execute(
        update(Sitting)
        .where(Sitting.id == sitting_id)
        .where(or_(Sitting.started_at.is_(None), Sitting.started_at > at))
        .values(started_at=at)
    )
    return row


class SittingRecord:
    """Writes one sitting's attendance, events and chat into its case."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], case_id: int, sitting_id: int
    ) -> None:
        self._sessions = sessions
        self.case_id = case_id
        self.sitting_id = sitting_id

    async def _end_attendance(
        self, session: AsyncSession, participant_id: str | None = None
    ) -> dt.datetime:
        """Close the open attendance of one participant (or of everyone); return the time."""
        now = utcnow()
        query = (
            update(Attendance)
            .where(Attendance.sitting_id == self.sitting_id)
            .where(Attendance.left_at.is_(None))
        )
        if participant_id is not None:
            query = query.where(Attendance.participant_id == participant_id)
        await session.execute(query.values(left_at=now))
        return now

    async def admit(self, invitation_id: str | None, ip: str, user_agent: str) -> None:
        """Refuse a revoked or unknown link; note the use of a good one."""
        async with self._sessions() as session, session.begin():
            await repo.use_invitation(
                session, invitation_id, self.case_id, ip, user_agent, self.sitting_id
            )

    async def event(
        self,
        what: str,
        *,
        actor: Person,
        subject: Person | None = None,
        audience: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Write one event; joins and leaves also keep the attendance list."""
        stored = dict(data or {})
        if subject is not None:
            stored.update(role=subject.role, name=subject.name)
        async with self._sessions() as session, session.begin():
            if subject is not None and what in ("joined", "reconnected", "left", "disconnected"):
                await self._end_attendance(session, subject.id)
                if what in ("joined", "reconnected"):
                    await add_attendance(session, self.sitting_id, subject.id, subject.role)
            await repo.append_transcript(
                session,
                self.case_id,
                kind="system",
                author=actor.name,
                author_role=actor.role,
                text=describe(what, actor, subject, data),
                sitting_id=self.sitting_id,
                event=what,
                participant_id=None if subject is None else subject.id,
                audience=audience,
                data=stored or None,
            )

    async def chat(
        self, author: Person, text: str, audience: str | None, client_id: str | None = None
    ) -> tuple[int, int]:
        async with self._sessions() as session, session.begin():
            entry = await repo.append_transcript(
                session,
                self.case_id,
                kind="chat",
                author=author.name,
                author_role=author.role,
                text=text,
                sitting_id=self.sitting_id,
                event="chat",
                participant_id=author.id,
                audience=audience,
                data={"client_id": client_id} if client_id else None,
            )
            return entry.seq, _ms(entry.at)

    async def restore(self) -> Sequence[dict[str, Any]]:
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(TranscriptEntry)
                    .where(TranscriptEntry.sitting_id == self.sitting_id)
                    .where(TranscriptEntry.event.is_not(None))
                    .order_by(TranscriptEntry.seq)
                )
            ).scalars()
            return [
                {
                    "event": e.event,
                    "participant_id": e.participant_id,
                    "audience": e.audience,
                    "data": e.data,
                    "seq": e.seq,
                    "at": _ms(e.at),
                    "author": e.author,
                    "author_role": e.author_role,
                    "text": e.text,
                }
                for e in rows
            ]

    async def check_phone(self, role: str, last4: str) -> bool | None:
        async with self._sessions() as session:
            phones = (
                await session.execute(
                    select(Party.phone).where(Party.case_id == self.case_id, Party.role == role)
                )
            ).scalars()
            digits = [re.sub(r"\D", "", phone) for phone in phones if phone]
        if not any(digits):
            return None
        return any(d.endswith(last4) for d in digits if d)

    async def revoke(self, invitation_id: str, actor: str) -> None:
        async with self._sessions() as session, session.begin():
            await repo.revoke_invitation(session, invitation_id, actor)

    async def evidence(self, evidence_id: int) -> dict[str, Any] | None:
        async with self._sessions() as session:
            ev = await get_evidence(session, self.case_id, evidence_id)
            sitting = await session.get(Sitting, self.sitting_id)
            if ev is None or sitting is None:
                return None
            return {**evidence_view(ev, sitting.room_id), "participant_id": ev.participant_id}

    async def recording_segment(self, segment: SegmentInfo, path: str) -> None:
        async with self._sessions() as session, session.begin():
            await add_recording(
                session,
                self.case_id,
                sitting_id=self.sitting_id,
                participant_id=segment.participant_id,
                path=path,
                started_at=segment.started_at,
                ended_at=segment.ended_at,
                codecs=segment.codecs,
                size=segment.size,
                sha256=segment.sha256,
                duration=segment.duration,
                sealed_after_crash=segment.sealed_after_crash,
            )

    # -- the settlement agreement (调解协议书) ----------------------------------------------
    # cases.agreement keeps the rules (versions, voiding, sealing); here each change and its
    # transcript lines are one transaction, so the record never shows one without the other.

    async def _agreement_line(
        self, session: AsyncSession, what: str, actor: Person, data: dict[str, Any]
    ) -> None:
        await repo.append_transcript(
            session,
            self.case_id,
            kind="system",
            author=actor.name,
            author_role=actor.role,
            text=describe(what, actor, None, data),
            sitting_id=self.sitting_id,
            event=what,
            data=data,
        )

    async def _agreement_view(self, session: AsyncSession, found: Agreement) -> dict[str, Any]:
        """The agreement as the room shows it: the current signatures, and the voided ones
        (so a party sees that theirs no longer counts)."""
        sigs = await agreements.signatures(session, found.id, include_voided=True)
        view = agreements.agreement_view(found, [s for s in sigs if s.voided_at is None])
        view["voided"] = [
            {
                "role": s.role,
                "name": s.name,
                "signed_at": _iso_utc(s.signed_at),
                "voided_at": _iso_utc(s.voided_at),
            }
            for s in sigs
            if s.voided_at is not None
        ]
        return view

    async def _current_agreement(self, session: AsyncSession) -> Agreement:
        found = await agreements.current_agreement(session, self.case_id)
        if found is None:
            raise agreements.AgreementError(
                "no_draft", "no agreement has been started for this case"
            )
        return found

    async def agreement(self) -> dict[str, Any] | None:
        """The case's current agreement (its room view), or ``None``."""
        async with self._sessions() as session:
            found = await agreements.current_agreement(session, self.case_id)
            return None if found is None else await self._agreement_view(session, found)

    async def agreement_start(self, actor: Person, data_dir: Path | None) -> dict[str, Any]:
        """Start a draft from the template (or return the draft there is)."""
        async with self._sessions() as session, session.begin():
            before = await agreements.current_agreement(session, self.case_id)
            found = await agreements.start_draft(
                session,
                self.case_id,
                sitting_id=self.sitting_id,
                actor=actor.name,
                data_dir=data_dir,
            )
            if before is None or before.id != found.id:
                data = {"agreement_id": found.id, "version": found.version}
                await self._agreement_line(session, "agreement_started", actor, data)
            return await self._agreement_view(session, found)

    async def agreement_update(
        self, actor: Person, terms: dict[str, Any], version: int, data_dir: Path | None
    ) -> dict[str, Any]:
        """A new version of the terms; any signature of an earlier text is void from now on."""
        async with self._sessions() as session, session.begin():
            found = await self._current_agreement(session)
            before = len(await agreements.signatures(session, found.id))
            updated = await agreements.update_terms(
                session,
                found.id,
                terms,
                expected_version=version,
                actor=actor.name,
                today=agreement_today(),
                data_dir=data_dir,
            )
            data = {
                "agreement_id": updated.id,
                "version": updated.version,
                "text_sha256": updated.text_sha256,
            }
            await self._agreement_line(session, "agreement_updated", actor, data)
            voided = before - len(await agreements.signatures(session, found.id))
            if voided:
                data = {"agreement_id": updated.id, "version": updated.version, "count": voided}
                await self._agreement_line(session, "agreement_signatures_voided", actor, data)
            return await self._agreement_view(session, updated)

    async def agreement_sign(
        self,
        signer: Person,
        *,
        name: str,
        text_sha256: str,
        image_png: bytes,
        data_dir: Path,
    ) -> tuple[dict[str, Any], bool]:
        """Sign the current text; return the new view and whether this signature sealed it."""
        async with self._sessions() as session, session.begin():
            found = await self._current_agreement(session)
            await agreements.sign(
                session,
                found.id,
                role=signer.role,
                name=name,
                participant_id=signer.id,
                text_sha256=text_sha256,
                image_png=image_png,
                data_dir=data_dir,
                today=agreement_today(),
            )
            await session.flush()
            await session.refresh(found)
            data = {
                "agreement_id": found.id,
                "version": found.version,
                "signed_name": name,
                "role": signer.role,
            }
            await self._agreement_line(session, "agreement_signed", signer, data)
            sealed = found.status == "sealed"
            if sealed:
                data = {
                    "agreement_id": found.id,
                    "version": found.version,
                    "text_sha256": found.text_sha256,
                }
                await self._agreement_line(session, "agreement_sealed", signer, data)
            return await self._agreement_view(session, found), sealed

    async def agreement_render(
        self, agreement_id: int, data_dir: Path, place: str
    ) -> dict[str, Any]:
        """Make the sealed agreement's PDF; return the view (``pdf_available`` then true)."""
        async with self._sessions() as session, session.begin():
            found = await agreements.render_pdf(
                session, agreement_id, data_dir=data_dir, place=place
            )
            return await self._agreement_view(session, found)

    async def agreement_abandon(self, actor: Person, reason: str) -> dict[str, Any]:
        async with self._sessions() as session, session.begin():
            found = await self._current_agreement(session)
            abandoned = await agreements.abandon(session, found.id, actor=actor.name, reason=reason)
            data = {"agreement_id": found.id, "version": found.version, "reason": reason}
            await self._agreement_line(session, "agreement_abandoned", actor, data)
            return await self._agreement_view(session, abandoned)

    async def set_outcome(
        self,
        outcome: str,
        note: str,
        actor: Person,
        *,
        reason: str | None = None,
        next_sitting_at: dt.datetime | None = None,
        data_dir: Path | None = None,
    ) -> None:
        """Conclude the sitting (:func:`cases.outcome.conclude_sitting`: refused with nothing
        changed) and write its line, in one transaction."""
        async with self._sessions() as session, session.begin():
            await conclude_sitting(
                session,
                self.case_id,
                self.sitting_id,
                outcome=outcome,
                actor=actor.name,
                note=note,
                reason=reason,
                next_sitting_at=next_sitting_at,
                today=dt.datetime.now(ZoneInfo(OUTCOME_TIMEZONE)).date(),
                data_dir=data_dir,
            )
            data: dict[str, Any] = {"outcome": outcome, "note": note}
            if reason:
                data["reason"] = reason.strip()
            if next_sitting_at is not None:
                data["next_sitting_at"] = next_sitting_at.isoformat()
            await repo.append_transcript(
                session,
                self.case_id,
                kind="system",
                author=actor.name,
                author_role=actor.role,
                text=describe("sitting_ended", actor, None, data),
                sitting_id=self.sitting_id,
                event="sitting_ended",
                data=data,
            )

    async def close(self, ended: bool) -> None:
        """Everyone present leaves; the sitting itself closes only if it ``ended``."""
        async with self._sessions() as session, session.begin():
            now = await self._end_attendance(session)
            sitting = (
                await session.execute(select(Sitting).where(Sitting.id == self.sitting_id))
            ).scalar_one()
            if ended and sitting.closed_at is None:
                sitting.closed_at = now
