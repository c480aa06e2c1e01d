"""The transcript document (调解笔录) on both databases: the timeline in order, the HTML escaped,
the PDF with its Chinese text and its fonts embedded, the summary audited."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from cases import db
from cases import repository as repo
from cases import transcript_doc as doc
from cases.evidence import store_evidence
from cases.models import PartyRole, Sitting, TranscriptEntry, utcnow
from cases.pdf import FONT_FAMILY, MissingGlyphs, render_pdf
from cases.recordings import add_recording
from tests.support.database import BACKENDS, fresh_database
from tests.support.pdf import ink_on_first_page, pdf_fonts, pdf_text, require_poppler

pytestmark = pytest.mark.integration

BUSINESS = "某某电器<script>alert(1)</script>商行"
SUMMARY = (
    "经调解，双方当事人自愿达成如下协议：商家于三日内退还货款人民币 3299.00 元，"
    "消费者退回空调一台，运费由商家承担。双方再无其他争议。"
)
CHAT_OPEN = "我要求退货退款，空调装好第二天就不制冷了。"
CHAT_CAUCUS = "如果商家同意退款，运费我可以自己出一半。"
NOTE = "电话联系商家负责人，对方同意参加下周调解。"
ADMITTED = "王调解员（调解员）准许李女士（消费者）进入调解室"


@dataclass
class Built:
    case_id: int
    number: str
    sittings: list[int]


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = await fresh_database(request.param, tmp_path)
    engine = db.create_engine(url)
    await db.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """The PDF does not depend on the database: one backend is enough for it."""
    engine = db.create_engine(await fresh_database("sqlite", tmp_path))
    await db.upgrade(engine)
    yield engine
    await engine.dispose()


async def system(
    session: Any, case_id: int, sitting: int, event: str, line: str, **kw: Any
) -> None:
    await repo.append_transcript(
        session,
        case_id,
        kind="system",
        author="王调解员",
        author_role="mediator",
        text=line,
        sitting_id=sitting,
        event=event,
        **kw,
    )


async def chat(session: Any, case_id: int, sitting: int, line: str, audience: str | None) -> None:
    await repo.append_transcript(
        session,
        case_id,
        kind="chat",
        author="李女士",
        author_role="consumer",
        text=line,
        sitting_id=sitting,
        event="chat",
        participant_id="consumer",
        audience=audience,
    )


async def build_case(engine: AsyncEngine) -> Built:
    """A case with both parties, two sittings (chat in and out of a caucus), a note, evidence,
    a recorded segment and a summary written twice."""
    sessions = db.session_factory(engine)
    async with sessions() as session, session.begin():
        office = await repo.create_office(session, "某市消费者协会")
        mediator = await repo.create_mediator(session, office, "wang", "王调解员", "password 1")
        case = await repo.create_case(
            session,
            office_id=office.id,
            number="2026-000042",
            title="空调不制冷",
            category="家用电器",
            claim="退货退款",
            amount_in_dispute="3299.00",
            received_on=dt.date(2026, 11, 2),
            actor="wang",
            mediator_id=mediator.id,
        )
        case_id = case.id
        await repo.add_party(
            session,
            case_id,
            PartyRole.CONSUMER,
            "李女士",
            "wang",
            phone="13812341234",
            id_number="110101199003071234",
        )
        await repo.add_party(
            session, case_id, PartyRole.BUSINESS, BUSINESS, "wang", phone="02112345678"
        )
        first = Sitting(case_id=case_id, room_id=f"case-{case_id}-1")
        second = Sitting(case_id=case_id, room_id=f"case-{case_id}-2")
        session.add_all([first, second])
        await session.flush()
        sittings = [first.id, second.id]
    async with sessions() as session, session.begin():
        await system(session, case_id, sittings[0], "admitted", ADMITTED, participant_id="consumer")
        await chat(session, case_id, sittings[0], CHAT_OPEN, None)
        await system(
            session,
            case_id,
            sittings[0],
            "caucus_started",
            "王调解员（调解员）开始与消费者单独沟通（背对背）",
            data={"role": "consumer"},
        )
        await chat(session, case_id, sittings[0], CHAT_CAUCUS, "consumer")
        await system(
            session,
            case_id,
            sittings[0],
            "caucus_ended",
            "王调解员（调解员）结束与消费者的单独沟通",
            data={"role": "consumer"},
        )
        await store_evidence(
            session,
            case_id=case_id,
            sitting_id=sittings[0],
            participant_id="consumer",
            role="consumer",
            submitted_by="李女士",
            filename="购物小票.jpg",
            content_type="image/jpeg",
            size=123_456,
            sha256="ab" * 32,
            path=f"evidence/case-{case_id}/{'ab' * 32}.jpg",
        )
        now = utcnow()
        await add_recording(
            session,
            case_id,
            sitting_id=sittings[0],
            participant_id="consumer",
            path=f"recordings/case-{case_id}/consumer-1.webm",
            started_at=now - dt.timedelta(minutes=5),
            ended_at=now,
            codecs="opus,vp8",
            size=4_000_000,
            sha256="cd" * 32,
            duration=300.0,
        )
        await system(
            session,
            case_id,
            sittings[0],
            "sitting_ended",
            "王调解员（调解员）结束本次调解，结果：择期继续调解",
            data={"outcome": "adjourned"},
        )
        await repo.append_transcript(
            session, case_id, kind="note", author="王调解员", author_role="mediator", text=NOTE
        )
        await system(session, case_id, sittings[1], "admitted", ADMITTED, participant_id="consumer")
        await chat(session, case_id, sittings[1], "好的，我同意这个方案。", None)
        for sitting_id, outcome in zip(sittings, ("adjourned", "settled"), strict=True):
            row = await session.get(Sitting, sitting_id)
            assert row is not None
            row.closed_at, row.outcome = utcnow(), outcome
        await doc.set_summary(session, case_id, "初稿", "王调解员")
        await doc.set_summary(session, case_id, SUMMARY + "\r\n", "王调解员")
    return Built(case_id, "2026-000042", sittings)


async def timeline_of(engine: AsyncEngine, case_id: int) -> dict[str, Any]:
    async with db.session_factory(engine)() as session:
        return await doc.build_timeline(
            session, case_id, now=dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)
        )


async def test_timeline_has_everything_in_order(engine: AsyncEngine) -> None:
    built = await build_case(engine)
    timeline = await timeline_of(engine, built.case_id)
    assert json.loads(json.dumps(timeline)) == timeline  # JSON-ready as it is

    assert timeline["generated_at"] == "2026-11-30T10:00:00+08:00"  # the office's zone
    case = timeline["case"]
    assert (case["number"], case["title"], case["amount_in_dispute"]) == (
        "2026-000042",
        "空调不制冷",
        "3299.00",
    )
    assert (case["office"], case["mediator"]) == ("某市消费者协会", "王调解员")
    consumer, business = timeline["parties"]
    assert (consumer["name"], consumer["phone"], consumer["id_number"]) == (
        "李女士",
        "138****1234",
        "11**************34",
    )
    assert (business["name"], business["phone"]) == (BUSINESS, "021****5678")

    first, second = timeline["sittings"]
    assert [s["number"] for s in timeline["sittings"]] == [1, 2]
    assert (first["outcome"], first["outcome_label"]) == ("adjourned", "择期继续调解")
    assert second["outcome_label"] == "达成调解协议"
    assert first["opened_at"].endswith("+08:00")
    events = [e["event"] for e in first["entries"]]
    assert events == [
        "admitted",
        "chat",
        "caucus_started",
        "chat",
        "caucus_ended",
        "evidence_uploaded",
        "sitting_ended",
    ]
    seqs = [e["seq"] for s in timeline["sittings"] for e in s["entries"]]
    assert seqs == sorted(seqs)
    said = {e["text"]: e for e in first["entries"] if e["kind"] == "chat"}
    assert (said[CHAT_OPEN]["audience"], said[CHAT_OPEN]["caucus"]) == (None, None)
    assert (said[CHAT_CAUCUS]["audience"], said[CHAT_CAUCUS]["caucus"]) == ("consumer", "consumer")
    assert [e["caucus"] for e in first["entries"]][2:5] == [None, "consumer", None]
    assert [e["text"] for e in second["entries"]] == [ADMITTED, "好的，我同意这个方案。"]

    assert [(n["kind"], n["text"]) for n in timeline["notes"]] == [("note", NOTE)]
    assert timeline["summary"]["text"] == SUMMARY  # the trailing line end is not kept
    assert timeline["summary"]["author"] == "王调解员"
    assert [h["text"] for h in timeline["summary_history"]] == ["初稿"]
    (evidence,) = timeline["evidence"]
    assert (evidence["filename"], evidence["sha256"], evidence["sitting"]) == (
        "购物小票.jpg",
        "ab" * 32,
        1,
    )
    (recording,) = timeline["recordings"]
    assert (recording["participant"], recording["duration"], recording["sitting"]) == (
        "李女士（消费者）",
        300.0,
        1,
    )
    audit = timeline["audit"]
    assert audit["intact"] and audit["problems"] == []
    async with db.session_factory(engine)() as session:
        chain = await repo.audit_events(session, built.case_id)
    assert (audit["events"], audit["last_hash"]) == (len(chain), chain[-1].hash)


async def test_the_same_summary_again_writes_nothing_and_bad_ones_are_refused(
    engine: AsyncEngine,
) -> None:
    built = await build_case(engine)
    sessions = db.session_factory(engine)
    async with sessions() as session, session.begin():
        again = await doc.set_summary(session, built.case_id, SUMMARY, "王调解员")
    async with sessions() as session:
        summaries = (
            (
                await session.execute(
                    select(TranscriptEntry.seq).where(TranscriptEntry.kind == doc.SUMMARY_KIND)
                )
            )
            .scalars()
            .all()
        )
    assert len(summaries) == 2 and again.seq == max(summaries)
    for bad in ("", " \n\t", "长" * (doc.MAX_SUMMARY + 1)):
        with pytest.raises(repo.InvalidField, match="text"):
            async with sessions() as session, session.begin():
                await doc.set_summary(session, built.case_id, bad, "王调解员")
    async with sessions() as session, session.begin():
        entry = await doc.set_summary(session, built.case_id, "第一段\x00\x07\n第二段", "王调解员")
    assert entry.text == "第一段\n第二段"  # PostgreSQL refuses NUL in text; bells are noise


async def test_html_is_escaped_self_contained_and_marks_the_caucus(engine: AsyncEngine) -> None:
    built = await build_case(engine)
    page = doc.render_html(await timeline_of(engine, built.case_id))
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="zh-CN">' in page
    assert f"'{FONT_FAMILY}'" in page
    assert "<script" not in page
    assert "某某电器&lt;script&gt;alert(1)&lt;/script&gt;商行" in page
    for external in ("<link", "src=", "url(", "@import", "http://", "https://"):
        assert external not in page, external
    assert "<h1>调解笔录</h1>" in page and "2026-000042" in page
    assert "138****1234" in page and "13812341234" not in page
    assert "110101199003071234" not in page
    caucus_line = re.search(r'<li class="chat in-caucus"[^>]*>.*?</li>', page)
    assert caucus_line is not None
    assert "背对背 · 与消费者" in caucus_line.group(0)
    assert CHAT_CAUCUS in caucus_line.group(0)
    assert re.search(r'<li class="chat"[^>]*>.*?' + re.escape(CHAT_OPEN), page)
    assert "第 1 次调解" in page and "第 2 次调解" in page
    assert "（第 2 稿）" in page
    assert "abababababab…" in page and "cdcdcdcdcdcd…" in page
    assert "审计链校验通过" in page


async def test_pdf_has_the_chinese_text_in_the_embedded_font(
    sqlite_engine: AsyncEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    require_poppler()
    built = await build_case(sqlite_engine)
    page = doc.render_html(await timeline_of(sqlite_engine, built.case_id))
    gaps: list[float] = []
    ticking = asyncio.create_task(tick(gaps))
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    pdf = await doc.render_pdf_async(page)
    took = time.perf_counter() - started
    ticking.cancel()
    print(
        f"transcript PDF: {len(pdf)} bytes in {took:.2f} s; loop's longest wait {max(gaps):.3f} s"
    )
    # The event loop (which relays live media in the server) kept running meanwhile; rendered
    # in-process, this document holds it for the whole render (1–3 s).
    assert max(gaps) < 0.5, max(gaps)
    assert pdf.startswith(b"%PDF-")
    path = tmp_path / "transcript.pdf"
    path.write_bytes(pdf)

    found = pdf_text(path)
    for expected in (
        "调解笔录",
        "2026-000042",
        SUMMARY,
        CHAT_OPEN,
        CHAT_CAUCUS,
        NOTE,
        ADMITTED,
        "背对背·与消费者",
        "购物小票.jpg",
        "某某电器<script>alert(1)</script>商行",
        "审计链校验通过",
    ):
        assert re.sub(r"\s+", "", expected) in found, expected

    fonts = pdf_fonts(path)
    assert fonts, "no fonts in the PDF"
    for name, embedded in fonts:
        assert embedded == "yes", fonts
        # A subset is named TAG+Family-Style: "ABCDEF+Noto-Sans-CJK-SC-Bold".
        assert name.split("+", 1)[-1].startswith(FONT_FAMILY.replace(" ", "-")), fonts
    assert ink_on_first_page(path, tmp_path) > 2000
    assert not [r for r in caplog.records if "glyph" in r.getMessage()]


async def tick(gaps: list[float]) -> None:
    """Notes how late the event loop wakes a 5 ms sleep, until cancelled."""
    last = time.perf_counter()
    while True:
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


def test_a_character_no_font_has_refuses_the_pdf() -> None:
    page = f'<html lang="zh-CN"><body style="font-family: \'{FONT_FAMILY}\'">张𠀀</body></html>'
    with pytest.raises(MissingGlyphs) as refused:
        render_pdf(page)
    assert refused.value.characters == "𠀀"
    assert refused.value.code == "pdf_missing_glyphs"


async def test_the_worker_reports_missing_glyphs_too() -> None:
    page = f'<html lang="zh-CN"><body style="font-family: \'{FONT_FAMILY}\'">张𠀀</body></html>'
    with pytest.raises(MissingGlyphs, match="U\\+20000"):
        await doc.render_pdf_async(page)


def test_emoji_in_chat_are_drawn(tmp_path: Path) -> None:
    """Parties send 👍 from phones: the emoji font draws them, the rest stays Noto Sans CJK SC."""
    require_poppler()
    timeline_page = doc.render_html(
        {
            **EMPTY_TIMELINE,
            "sittings": [
                {
                    "id": 1,
                    "number": 1,
                    "room_id": "r",
                    "opened_at": "2026-11-20T14:00:00+08:00",
                    "closed_at": None,
                    "outcome": None,
                    "outcome_label": None,
                    "entries": [
                        {
                            "seq": 1,
                            "at": "2026-11-20T14:01:00+08:00",
                            "kind": "chat",
                            "author": "李女士",
                            "author_role": "consumer",
                            "text": "好的👍谢谢",
                            "event": "chat",
                            "participant_id": "consumer",
                            "audience": None,
                            "caucus": None,
                            "data": None,
                        }
                    ],
                }
            ],
        }
    )
    path = tmp_path / "emoji.pdf"
    path.write_bytes(render_pdf(timeline_page))
    assert "好的👍谢谢" in pdf_text(path)
    families = {name.split("+", 1)[-1] for name, _ in pdf_fonts(path)}
    assert "Noto-Color-Emoji" in families
    assert all(f.startswith(("Noto-Sans-CJK-SC", "Noto-Color-Emoji")) for f in families)


EMPTY_TIMELINE: dict[str, Any] = {
    "format": "mediation-room/transcript@1",
    "generated_at": "2026-11-30T10:00:00+08:00",
    "timezone": "Asia/Shanghai",
    "case": {
        "number": "2026-000001",
        "complaint_number": None,
        "title": "标题",
        "category": "其他",
        "claim": "",
        "amount_in_dispute": None,
        "amount_recovered": None,
        "status": "received",
        "status_label": "已收到（待受理）",
        "received_on": "2026-11-02",
        "accepted_on": None,
        "concluded_on": None,
        "office": None,
        "mediator": None,
    },
    "parties": [],
    "sittings": [],
    "notes": [],
    "summary": None,
    "summary_history": [],
    "evidence": [],
    "recordings": [],
    "audit": {"intact": True, "problems": [], "events": 1, "last_hash": "0" * 64},
}


async def test_an_edited_summary_is_reported(engine: AsyncEngine) -> None:
    built = await build_case(engine)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE transcript_entries SET text = '双方未达成协议。' WHERE seq ="
                " (SELECT max(seq) FROM transcript_entries WHERE kind = 'summary')"
            )
        )
    timeline = await timeline_of(engine, built.case_id)
    assert timeline["summary"]["text"] == "双方未达成协议。"
    audit = timeline["audit"]
    assert not audit["intact"]
    seq = timeline["summary"]["seq"]
    assert any(p["reason"] == f"transcript entry {seq} was edited" for p in audit["problems"])
    page = doc.render_html(timeline)
    assert "审计链校验未通过" in page and f"transcript entry {seq} was edited" in page
