"""The transcript document (调解笔录): a case's sittings as one readable record.

:func:`build_timeline` gathers the case, its parties, every sitting with its transcript entries
in order, the notes outside sittings, evidence, recordings, the mediator's summary and the state
of the audit chain into one JSON-ready dict; :func:`render_html` makes a printable, self-contained
page of it, and :func:`render_pdf_async` the PDF (out of the server's process).

The document leaves the system (printed, mailed, filed at a court), so phone and ID numbers are
masked as on the console's default view; the full numbers stay behind the audited "reveal".
Times are shown in the office's time zone, which the caller passes (it is configured in server/).
"""

from __future__ import annotations

import datetime as dt
import html
import unicodedata
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases import repository as repo
from cases.evidence import ROLE_LABELS, list_evidence
from cases.models import Case, Mediator, Office, Party, Sitting, TranscriptEntry, utcnow
from cases.pdf import FONT_FAMILY, render_pdf, render_pdf_async
from cases.recordings import list_recordings

__all__ = [
    "MAX_SUMMARY",
    "SUMMARY_KIND",
    "build_timeline",
    "current_summary",
    "render_html",
    "render_pdf",
    "render_pdf_async",
    "set_summary",
    "summary_view",
]

FORMAT = "mediation-room/transcript@1"
"""Names the JSON layout, so a reader can tell if it changes."""

SUMMARY_KIND = "summary"
"""Transcript entries of this kind are the mediator's summary; the newest one is current."""

MAX_SUMMARY = 20_000
"""The longest summary accepted, in characters (about ten printed pages)."""

DEFAULT_TIMEZONE = "Asia/Shanghai"

STATUS_LABELS = {
    "received": "已收到（待受理）",
    "not_accepted": "不予受理",
    "accepted": "已受理",
    "in_mediation": "调解中",
    "settled": "调解成功",
    "not_settled": "调解不成（终止调解）",
    "withdrawn": "已撤回",
}
OUTCOME_LABELS = {  # the same words as recordings.transcript.OUTCOME_LABELS (cases is below it)
    "settled": "达成调解协议",
    "not_settled": "调解不成（终止调解）",
    "adjourned": "择期继续调解",
    "undecided": "待定",
}
SHORT_HASH = 12
"""Hex digits of a SHA-256 shown on paper (the JSON has all 64)."""


# -- the summary ---------------------------------------------------------------------------


def clean_summary(text: str) -> str:
    """The summary as stored: Unix line ends, no control characters but tab and newline, no
    trailing blanks; refused if empty or longer than :data:`MAX_SUMMARY`."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    )
    text = text.rstrip()
    if not text.strip():
        raise repo.InvalidField("text", "must not be empty")
    if len(text) > MAX_SUMMARY:
        raise repo.InvalidField("text", f"is longer than {MAX_SUMMARY} characters")
    return text


async def current_summary(session: AsyncSession, case_id: int) -> TranscriptEntry | None:
    """The newest summary of a case, if any was written."""
    result = await session.execute(
        select(TranscriptEntry)
        .where(TranscriptEntry.case_id == case_id, TranscriptEntry.kind == SUMMARY_KIND)
        .order_by(TranscriptEntry.seq.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def set_summary(
    session: AsyncSession, case_id: int, text: str, actor: str, *, author_role: str = "mediator"
) -> TranscriptEntry:
    """Write the mediator's summary (``actor`` is the name shown as its author).

    It is a transcript entry of kind :data:`SUMMARY_KIND`, so the audit chain vouches for it
    like any entry; earlier versions stay as history. The same text again writes nothing.
    """
    cleaned = clean_summary(text)
    await repo.lock_case(session, case_id)  # read the current one and append under one lock
    current = await current_summary(session, case_id)
    if current is not None and current.text == cleaned:
        return current
    return await repo.append_transcript(
        session,
        case_id,
        kind=SUMMARY_KIND,
        author=actor,
        author_role=author_role,
        text=cleaned,
        event="summary_written",
    )


def summary_view(entry: TranscriptEntry, timezone: str = DEFAULT_TIMEZONE) -> dict[str, Any]:
    """A summary as the timeline has it (``summary`` and ``summary_history``)."""
    return {
        "seq": entry.seq,
        "at": _local(entry.at, ZoneInfo(timezone)),
        "author": entry.author,
        "text": entry.text,
    }


# -- the timeline --------------------------------------------------------------------------


def _local(at: dt.datetime | None, zone: ZoneInfo) -> str | None:
    if at is None:
        return None
    if at.tzinfo is None:  # stored in UTC (see cases.models.UTCDateTime)
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(zone).isoformat(timespec="seconds")


def _day(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _entry(entry: TranscriptEntry, zone: ZoneInfo, caucus: str | None) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": _local(entry.at, zone),
        "kind": entry.kind,
        "author": entry.author,
        "author_role": entry.author_role,
        "text": entry.text,
        "event": entry.event,
        "participant_id": entry.participant_id,
        "audience": entry.audience,
        "caucus": caucus,
        "data": entry.data,
    }


def _sitting_entries(entries: Sequence[TranscriptEntry], zone: ZoneInfo) -> list[dict[str, Any]]:
    """A sitting's entries; ``caucus`` names the party of the private talk that was going on
    (between its ``caucus_started`` and ``caucus_ended`` marks), else ``None``."""
    out = []
    caucus: str | None = None
    for entry in entries:
        if entry.event == "caucus_ended":
            caucus = None
        out.append(_entry(entry, zone, caucus))
        if entry.event == "caucus_started":
            caucus = str((entry.data or {}).get("role") or entry.audience or "") or None
    return out


async def build_timeline(
    session: AsyncSession,
    case_id: int,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Everything the transcript document shows, JSON-ready (times ISO 8601 in ``timezone``).

    Raises :class:`cases.repository.CaseNotFound` for an unknown case.
    """
    zone = ZoneInfo(timezone)
    case = await session.get(Case, case_id)
    if case is None:
        raise repo.CaseNotFound(f"no case {case_id}")
    office = await session.get(Office, case.office_id)
    mediator = None if case.mediator_id is None else await session.get(Mediator, case.mediator_id)
    parties = (
        (await session.execute(select(Party).where(Party.case_id == case_id).order_by(Party.id)))
        .scalars()
        .all()
    )
    sittings = (
        (
            await session.execute(
                select(Sitting).where(Sitting.case_id == case_id).order_by(Sitting.id)
            )
        )
        .scalars()
        .all()
    )
    entries = await repo.transcript(session, case_id)
    evidence = await list_evidence(session, case_id)
    recordings = await list_recordings(session, case_id)
    events = await repo.audit_events(session, case_id)
    problems = await repo.verify_case(session, case_id)

    number_of = {s.id: i for i, s in enumerate(sittings, start=1)}
    by_sitting: dict[int, list[TranscriptEntry]] = {s.id: [] for s in sittings}
    outside: list[TranscriptEntry] = []
    summaries: list[TranscriptEntry] = []
    for entry in entries:
        if entry.kind == SUMMARY_KIND:
            summaries.append(entry)
        elif entry.sitting_id in by_sitting:
            by_sitting[entry.sitting_id].append(entry)
        else:
            outside.append(entry)

    labels = {p.role: f"{p.name}（{ROLE_LABELS.get(p.role, p.role)}）" for p in parties}
    if mediator is not None:
        labels["mediator"] = f"{mediator.display_name}（调解员）"

    return {
        "format": FORMAT,
        "generated_at": _local(now or utcnow(), zone),
        "timezone": timezone,
        "case": {
            "number": case.number,
            "complaint_number": case.complaint_number,
            "title": case.title,
            "category": case.category,
            "claim": case.claim,
            "amount_in_dispute": _money(case.amount_in_dispute),
            "amount_recovered": _money(case.amount_recovered),
            "status": case.status,
            "status_label": STATUS_LABELS.get(case.status, case.status),
            "received_on": _day(case.received_on),
            "accepted_on": _day(case.accepted_on),
            "concluded_on": _day(case.concluded_on),
            "office": None if office is None else office.name,
            "mediator": None if mediator is None else mediator.display_name,
        },
        "parties": [
            {
                "id": p.id,
                "role": p.role,
                "role_label": ROLE_LABELS.get(p.role, p.role),
                "name": p.name,
                "phone": repo.mask_phone(p.phone),
                "id_number": repo.mask_id_number(p.id_number),
                "credit_code": p.credit_code,
                "contact_person": p.contact_person,
            }
            for p in parties
        ],
        "sittings": [
            {
                "id": s.id,
                "number": number_of[s.id],
                "room_id": s.room_id,
                "opened_at": _local(s.opened_at, zone),
                "closed_at": _local(s.closed_at, zone),
                "outcome": s.outcome,
                "outcome_label": None if s.outcome is None else OUTCOME_LABELS.get(s.outcome),
                "entries": _sitting_entries(by_sitting[s.id], zone),
            }
            for s in sittings
        ],
        "notes": [_entry(e, zone, None) for e in outside],
        "summary": summary_view(summaries[-1], timezone) if summaries else None,
        "summary_history": [summary_view(e, timezone) for e in summaries[:-1]],
        "evidence": [
            {
                "id": ev.id,
                "sitting": number_of.get(ev.sitting_id) if ev.sitting_id else None,
                "filename": ev.filename,
                "content_type": ev.content_type,
                "size": ev.size,
                "sha256": ev.sha256,
                "submitted_by": ev.submitted_by,
                "submitted_role": ev.submitted_role,
                "at": _local(ev.at, zone),
            }
            for ev in evidence
        ],
        "recordings": [
            {
                "id": r.id,
                "sitting": number_of.get(r.sitting_id),
                "participant_id": r.participant_id,
                "participant": labels.get(r.participant_id, r.participant_id),
                "started_at": _local(r.started_at, zone),
                "ended_at": _local(r.ended_at, zone),
                "duration": r.duration,
                "size": r.size,
                "codecs": r.codecs,
                "sha256": r.sha256,
                "sealed_after_crash": r.sealed_after_crash,
                "deleted_at": _local(r.deleted_at, zone),
            }
            for r in recordings
        ],
        "audit": {
            "intact": not problems,
            "problems": [{"seq": p.seq, "reason": p.reason} for p in problems],
            "events": len(events),
            "last_hash": events[-1].hash if events else None,
        },
    }


# -- HTML ----------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _time(value: str | None) -> str:
    if not value:
        return ""
    return dt.datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")


def _clock(value: str | None, day: str | None) -> str:
    """The time of an entry: the clock, with the date above it when it is not ``day``."""
    if not value:
        return ""
    at = dt.datetime.fromisoformat(value)
    clock = _e(at.strftime("%H:%M:%S"))
    return clock if value[:10] == day else f"{_e(at.strftime('%Y-%m-%d'))}<br>{clock}"


def _short(sha256: str | None) -> str:
    return "" if not sha256 else sha256[:SHORT_HASH] + "…"


def _yuan(amount: str | None) -> str:
    return "" if amount is None else f"{Decimal(amount):,.2f} 元"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _size(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


# Solid rules only: WeasyPrint draws a dotted border dot by dot (a 50-page transcript came out at
# 19 MB and 4x slower with dotted lines, 0.4 MB with solid ones).
_CSS = f"""
@page {{
  size: A4;
  margin: 16mm 15mm 18mm 15mm;
  font-family: '{FONT_FAMILY}';
  @bottom-left {{ content: "调解笔录 " string(case-number); font-size: 8pt; color: #666; }}
  @bottom-right {{
    content: "第 " counter(page) " 页 / 共 " counter(pages) " 页"; font-size: 8pt; color: #666;
  }}
}}
html {{ font-family: '{FONT_FAMILY}'; color: #1a1a1a; background: #fff; }}
body {{ margin: 0 auto; padding: 24px 16px 48px; max-width: 820px; font-size: 16px;
  line-height: 1.6; overflow-wrap: break-word; }}
header {{ border-bottom: 2px solid #1a1a1a; padding-bottom: 8px; margin-bottom: 16px; }}
h1 {{ font-size: 1.75em; letter-spacing: 0.3em; text-align: center; margin: 0 0 4px; }}
.subtitle {{ text-align: center; color: #444; margin: 0; }}
.case-number {{ string-set: case-number content(text); font-weight: bold; }}
h2 {{ font-size: 1.2em; margin: 24px 0 8px; padding-bottom: 2px; border-bottom: 1px solid #999;
  break-after: avoid; }}
h3 {{ font-size: 1.05em; margin: 16px 0 4px; break-after: avoid; }}
table {{ width: 100%; border-collapse: collapse; margin: 4px 0 8px; table-layout: fixed; }}
th, td {{ border: 1px solid #bbb; padding: 4px 8px; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; }}
th {{ background: #f1f1f1; font-weight: bold; }}
tr {{ break-inside: avoid; }}
.meta {{ color: #444; margin: 0 0 8px; }}
ol.timeline {{ list-style: none; margin: 0; padding: 0; }}
ol.timeline li {{ display: flow-root; padding: 3px 0; border-bottom: 1px solid #e6e6e6;
  break-inside: avoid; }}
.at {{ float: left; width: 6em; color: #555; white-space: nowrap; }}
.body {{ margin-left: 6.5em; }}
.who {{ font-weight: bold; }}
.system .body {{ color: #333; }}
.note .who::after {{ content: " · 记录"; font-weight: normal; color: #555; }}
blockquote {{ margin: 2px 0 0; padding: 2px 10px; border-left: 3px solid #888;
  background: #f7f7f7; white-space: pre-wrap; }}
.tag {{ display: inline-block; font-size: 0.8em; padding: 0 6px; margin-left: 6px;
  border: 1px solid #b35c00; color: #b35c00; border-radius: 3px; font-weight: normal; }}
ol.timeline li.in-caucus {{ background: #fff6ea; border-left: 4px solid #e08a1e; margin-left: -10px;
  padding-left: 6px; }}
.summary {{ white-space: pre-wrap; border: 1px solid #bbb; padding: 8px 12px; margin: 0; }}
.empty {{ color: #666; }}
footer {{ margin-top: 32px; padding-top: 8px; border-top: 1px solid #999; font-size: 0.85em;
  color: #333; }}
.intact {{ color: #1b5e20; }}
.broken {{ color: #b00020; font-weight: bold; }}
@media print {{
  body {{ padding: 0; max-width: none; font-size: 10.5pt; }}
}}
"""


def _facts(timeline: dict[str, Any]) -> str:
    case = timeline["case"]
    rows = [
        ("案件编号", case["number"]),
        ("12315 投诉单号", case["complaint_number"]),
        ("案由", case["title"]),
        ("投诉类别", case["category"]),
        ("消费者诉求", case["claim"]),
        ("争议金额", _yuan(case["amount_in_dispute"])),
        ("挽回金额", _yuan(case["amount_recovered"])),
        ("案件状态", case["status_label"]),
        ("收到投诉", case["received_on"]),
        ("受理日期", case["accepted_on"]),
        ("办结日期", case["concluded_on"]),
        ("调解机构", case["office"]),
        ("调解员", case["mediator"]),
    ]
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows if v)
    return f'<table><colgroup><col style="width: 20%"><col></colgroup>{body}</table>'


def _table(columns: Sequence[tuple[str, int]], rows: str) -> str:
    """A table with fixed column widths (percent): long names wrap inside their column."""
    cols = "".join(f'<col style="width: {width}%">' for _, width in columns)
    head = "".join(f"<th>{_e(name)}</th>" for name, _ in columns)
    return (
        f"<table><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _parties(timeline: dict[str, Any]) -> str:
    if not timeline["parties"]:
        return '<p class="empty">尚未登记当事人。</p>'
    rows = "".join(
        "<tr>"
        f"<td>{_e(p['role_label'])}</td><td>{_e(p['name'])}</td><td>{_e(p['phone'])}</td>"
        f"<td>{_e(p['id_number'] or p['credit_code'])}</td><td>{_e(p['contact_person'])}</td>"
        "</tr>"
        for p in timeline["parties"]
    )
    return _table(
        [
            ("身份", 10),
            ("姓名 / 名称", 26),
            ("联系电话", 17),
            ("身份证号 / 统一社会信用代码", 29),
            ("联系人", 18),
        ],
        rows,
    )


def _who(entry: dict[str, Any]) -> str:
    role = ROLE_LABELS.get(entry["author_role"] or "", entry["author_role"])
    return f"{entry['author']}（{role}）" if role else str(entry["author"])


def _caucus_tag(role: str | None) -> str:
    if not role:
        return ""
    return f'<span class="tag">背对背 · 与{_e(ROLE_LABELS.get(role, role))}</span>'


def _entry_html(entry: dict[str, Any], day: str | None) -> str:
    # A private passage shows who it was with: the entry's own audience, else the caucus
    # that was going on when it was written.
    caucus = entry["audience"] or entry["caucus"]
    classes = [entry["kind"]] + (["in-caucus"] if caucus else [])
    tag = _caucus_tag(caucus)
    who = f'<span class="who">{_e(_who(entry))}</span>{tag}'
    if entry["kind"] == "chat":
        body = f"{who}<blockquote>{_e(entry['text'])}</blockquote>"
    elif entry["kind"] == "note":
        body = f"{who}<div>{_e(entry['text'])}</div>"
    else:
        body = f"{_e(entry['text'])}{tag}"
    return (
        f'<li class="{" ".join(classes)}" data-seq="{entry["seq"]}">'
        f'<span class="at">{_clock(entry["at"], day)}</span><div class="body">{body}</div></li>'
    )


def _sitting_html(sitting: dict[str, Any]) -> str:
    opened = sitting["opened_at"]
    meta = [f"开始：{_time(opened)}"]
    if sitting["closed_at"]:
        meta.append(f"结束：{_time(sitting['closed_at'])}")
    else:
        meta.append("尚未结束")
    if sitting["outcome_label"]:
        meta.append(f"结果：{sitting['outcome_label']}")
    entries = sitting["entries"]
    items = "".join(_entry_html(e, (opened or "")[:10]) for e in entries)
    listing = (
        f'<ol class="timeline">{items}</ol>' if entries else '<p class="empty">本次无记录。</p>'
    )
    return (
        f'<section class="sitting" id="sitting-{sitting["number"]}">'
        f"<h3>第 {sitting['number']} 次调解</h3>"
        f'<p class="meta">{_e(" · ".join(meta))}</p>{listing}</section>'
    )


def _summary_html(timeline: dict[str, Any]) -> str:
    summary = timeline["summary"]
    if summary is None:
        return '<p class="empty">调解员尚未填写调解情况小结。</p>'
    versions = len(timeline["summary_history"]) + 1
    version = f"（第 {versions} 稿）" if versions > 1 else ""
    return (
        f'<p class="meta">{_e(summary["author"])} 于 {_e(_time(summary["at"]))} 填写{version}</p>'
        f'<p class="summary">{_e(summary["text"])}</p>'
    )


def _evidence_html(timeline: dict[str, Any]) -> str:
    if not timeline["evidence"]:
        return '<p class="empty">无。</p>'
    rows = "".join(
        "<tr>"
        f"<td>{_e(ev['filename'])}</td>"
        f"<td>{_e(_who({'author': ev['submitted_by'], 'author_role': ev['submitted_role']}))}</td>"
        f"<td>{_e(_time(ev['at']))}</td><td>{_e(_size(ev['size']))}</td>"
        f'<td class="hash">{_e(_short(ev["sha256"]))}</td>'
        "</tr>"
        for ev in timeline["evidence"]
    )
    return _table(
        [("文件", 28), ("提交人", 20), ("提交时间", 19), ("大小", 11), ("SHA-256", 22)], rows
    )


def _recording_remark(r: dict[str, Any]) -> str:
    remarks = ["服务中断后封存"] if r["sealed_after_crash"] else []
    if r["deleted_at"]:
        remarks.append("文件已按保存期限删除，哈希保留")
    return "；".join(remarks)


def _recordings_html(timeline: dict[str, Any]) -> str:
    if not timeline["recordings"]:
        return '<p class="empty">无。</p>'
    rows = "".join(
        "<tr>"
        f"<td>{_e(r['sitting'])}</td><td>{_e(r['participant'])}</td>"
        f"<td>{_e(_time(r['started_at']))}</td><td>{_e(_duration(r['duration']))}</td>"
        f'<td class="hash">{_e(_short(r["sha256"]))}</td>'
        f"<td>{_e(_recording_remark(r))}</td>"
        "</tr>"
        for r in timeline["recordings"]
    )
    return _table(
        [("次", 6), ("参与人", 22), ("开始", 21), ("时长", 11), ("SHA-256", 22), ("备注", 18)],
        rows,
    )


def _footer_html(timeline: dict[str, Any]) -> str:
    audit = timeline["audit"]
    generated = f"生成时间：{_time(timeline['generated_at'])}（{timeline['timezone']}）"
    last = _short(audit["last_hash"])
    if audit["intact"]:
        state = (
            f'<span class="intact">审计链校验通过</span>：共 {audit["events"]} 条事件，'
            f'末条哈希 <span class="hash">{_e(last)}</span>'
        )
        problems = ""
    else:
        state = (
            f'<span class="broken">审计链校验未通过（{len(audit["problems"])} 处问题），'
            "以下记录可能已被改动</span>："
            f'共 {audit["events"]} 条事件，末条哈希 <span class="hash">{_e(last)}</span>'
        )
        problems = (
            "<ul>"
            + "".join(
                f"<li>{_e(p['reason'])}" + (f"（事件 {p['seq']}）" if p["seq"] else "") + "</li>"
                for p in audit["problems"]
            )
            + "</ul>"
        )
    return f"<footer><p>{_e(generated)}</p><p>{state}</p>{problems}</footer>"


def render_html(timeline: dict[str, Any]) -> str:
    """The transcript as one printable HTML page: inline CSS, no scripts, nothing fetched.
    Every value from the record is escaped."""
    case = timeline["case"]
    sittings = "".join(_sitting_html(s) for s in timeline["sittings"]) or (
        '<p class="empty">尚无调解记录。</p>'
    )
    notes = ""
    if timeline["notes"]:
        items = "".join(_entry_html(e, None) for e in timeline["notes"])
        notes = f'<h3>调解之外的记录</h3><ol class="timeline">{items}</ol>'
    office = f"{_e(case['office'])} · " if case["office"] else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>调解笔录 · {_e(case['number'])}</title>"
        f"<style>{_CSS}</style></head><body>"
        "<header><h1>调解笔录</h1>"
        f'<p class="subtitle">{office}案件编号 '
        f'<span class="case-number">{_e(case["number"])}</span></p>'
        "</header>"
        f"<h2>案件</h2>{_facts(timeline)}"
        f"<h2>当事人</h2>{_parties(timeline)}"
        f"<h2>调解经过</h2>{sittings}{notes}"
        f"<h2>调解情况小结</h2>{_summary_html(timeline)}"
        f"<h2>证据</h2>{_evidence_html(timeline)}"
        f"<h2>录音录像</h2>{_recordings_html(timeline)}"
        f"{_footer_html(timeline)}"
        "</body></html>\n"
    )
