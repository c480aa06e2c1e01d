"""The sealed agreement's PDF: its Chinese text, amount and code come back, the CJK font is
embedded, the page is not blank; made once, audited, and only for a sealed agreement."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cases import agreement as ag
from cases import agreement_pdf, db
from cases.models import Agreement, AuditEvent
from cases.pdf import FONT_FAMILY
from tests.integration.test_agreement import (
    draft,
    new_case,
    problems,
    sealed_agreement,
    signature_png,
)
from tests.support.database import fresh_database
from tests.support.pdf import ink_on_first_page, pdf_fonts, pdf_text, require_poppler

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """The PDF does not depend on the database: SQLite is enough for it."""
    engine = db.create_engine(await fresh_database("sqlite", tmp_path))
    await db.upgrade(engine)
    yield engine
    await engine.dispose()


async def make_pdf(engine: AsyncEngine, agreement_id: int, data_dir: Path) -> Agreement:
    async with db.session_factory(engine)() as session, session.begin():
        return await ag.render_pdf(
            session,
            agreement_id,
            data_dir=data_dir,
            place="云端调解室（线上）",
            verify_url="https://tiaojie.example.gov.cn/verify",
        )


async def test_sealed_agreement_pdf(engine: AsyncEngine, tmp_path: Path) -> None:
    require_poppler()
    data = tmp_path / "data"
    sealed = await sealed_agreement(engine, data, "2026-000301")
    done = await make_pdf(engine, sealed.id, data)
    assert done.pdf_path == f"agreements/{sealed.case_id}/agreement-{sealed.id}.pdf"
    pdf = data / done.pdf_path
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert done.pdf_sha256 == ag._sha256(pdf.read_bytes())

    text = pdf_text(pdf)
    for expected in (
        "调解协议书",
        "2026-000301",
        "李小红",
        "某某电器商行",
        "3,299.50",
        "叁仟贰佰玖拾玖元伍角整",
        "双方自愿达成",
        "本协议经双方签字后生效",
        "云端调解室（线上）",
        sealed.text_sha256,
        str(sealed.verification_code),
        "https://tiaojie.example.gov.cn/verify",
        "王调解员",
        "张经理",
    ):
        assert expected.replace(" ", "") in text, expected
    fonts = pdf_fonts(pdf)
    assert any(name.endswith("+" + FONT_FAMILY.replace(" ", "-")) for name, _ in fonts), fonts
    assert all(emb == "yes" for _, emb in fonts), fonts
    assert ink_on_first_page(pdf, tmp_path) > 2000

    # Made once: a second call returns it as it is, with no new audit event.
    async with db.session_factory(engine)() as session:
        count = select(func.count()).where(AuditEvent.case_id == sealed.case_id)
        before = (await session.execute(count)).scalar_one()
    again = await make_pdf(engine, sealed.id, data)
    assert again.pdf_sha256 == done.pdf_sha256
    async with db.session_factory(engine)() as session:
        assert (await session.execute(count)).scalar_one() == before
        events = [
            e
            for e in (await session.execute(select(AuditEvent))).scalars()
            if e.kind == "agreement_pdf"
        ]
    assert len(events) == 1 and events[0].payload["pdf_sha256"] == done.pdf_sha256
    assert await problems(engine, sealed.case_id) == []

    # A deleted file is made again (the hash on record changes with it, audited).
    pdf.unlink()
    remade = await make_pdf(engine, sealed.id, data)
    assert (data / str(remade.pdf_path)).is_file()
    assert await problems(engine, sealed.case_id) == []


async def test_no_pdf_before_sealing(engine: AsyncEngine, tmp_path: Path) -> None:
    case_id = await new_case(engine, "2026-000302")
    agreement = await draft(engine, case_id)
    with pytest.raises(ag.AgreementError) as caught:
        await make_pdf(engine, agreement.id, tmp_path)
    assert caught.value.code == "not_sealed"
    with pytest.raises(ag.AgreementError) as caught:
        await make_pdf(engine, 424242, tmp_path)
    assert caught.value.code == "agreement_not_found"
    assert not (tmp_path / "agreements").exists()


async def test_changed_signature_file_stops_the_pdf(engine: AsyncEngine, tmp_path: Path) -> None:
    sealed = await sealed_agreement(engine, tmp_path, "2026-000303")
    async with db.session_factory(engine)() as session:
        (consumer, *_rest) = await ag.signatures(session, sealed.id)
    (tmp_path / consumer.image_path).write_bytes(signature_png(7))
    with pytest.raises(ag.AgreementError) as caught:
        await make_pdf(engine, sealed.id, tmp_path)
    assert caught.value.code == "signature_file_changed"


def test_signature_svg_traces_the_ink() -> None:
    svg = agreement_pdf.signature_svg(signature_png(), label="消费者 李小红 签名")
    assert svg.startswith("<svg") and 'aria-label="消费者 李小红 签名"' in svg
    assert svg.count("h") > 50  # many runs of ink
    blank = agreement_pdf.signature_svg(signature_png(blank=True), label="x")
    assert "<path" not in blank
