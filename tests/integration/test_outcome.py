"""How a sitting ends, on both databases: every refusal changes nothing; not settled makes the
termination notice (a real PDF, its hash in the audit chain); adjourned keeps the next date;
settled needs the sealed agreement and records its amount; a sitting ends once."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cases import db
from cases import repository as repo
from cases.models import AuditEvent, Case, Sitting, StatusChange, TranscriptEntry, utcnow
from cases.outcome import OutcomeError, conclude_sitting, termination_notices
from cases.pdf import FONT_FAMILY
from recordings.transcript import SittingRecord
from tests.integration.outcome_support import (
    BUSINESS,
    CONSUMER,
    TODAY,
    Built,
    build_case,
    seal_agreement,
)
from tests.support.pdf import pdf_fonts, pdf_text, require_poppler

pytestmark = pytest.mark.integration

REASON = "商家坚持只修不退，消费者不同意维修方案，双方分歧较大。"


@dataclass(frozen=True)
class Mediator:
    id: str = "mediator"
    name: str = "王调解员"
    role: str = "mediator"


async def state(engine: AsyncEngine, built: Built) -> tuple[Any, ...]:
    """Everything a conclusion may change."""
    async with db.session_factory(engine)() as session:
        case = await session.get(Case, built.case_id)
        sitting = await session.get(Sitting, built.sitting_id)
        assert case is not None and sitting is not None
        events = (await session.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
        changes = (
            await session.execute(select(func.count()).select_from(StatusChange))
        ).scalar_one()
        return (
            case.status,
            case.concluded_on,
            case.amount_recovered,
            sitting.outcome,
            sitting.outcome_reason,
            sitting.next_sitting_at,
            events,
            changes,
        )


async def conclude(engine: AsyncEngine, built: Built, data_dir: Path | None, **kw: Any) -> Sitting:
    async with db.session_factory(engine)() as session, session.begin():
        return await conclude_sitting(
            session, built.case_id, built.sitting_id, actor="王调解员", today=TODAY,
            data_dir=data_dir, **kw,
        )  # fmt: skip


async def test_every_refusal_names_its_reason_and_changes_nothing(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    built = await build_case(engine)
    before = await state(engine, built)
    future = utcnow() + dt.timedelta(days=3)
    cases: list[tuple[dict[str, Any], str, str | None]] = [
        ({"outcome": "won"}, "invalid_field", "outcome"),
        ({"outcome": "not_settled"}, "reason_required", "reason"),
        ({"outcome": "not_settled", "reason": "   "}, "reason_required", "reason"),
        ({"outcome": "not_settled", "reason": "长" * 501}, "invalid_field", "reason"),
        ({"outcome": "adjourned"}, "next_sitting_required", "next_sitting_at"),
        (
            {"outcome": "adjourned", "next_sitting_at": utcnow() - dt.timedelta(minutes=1)},
            "next_sitting_in_past",
            "next_sitting_at",
        ),
        (
            {"outcome": "adjourned", "next_sitting_at": future.replace(tzinfo=None)},
            "invalid_field",
            "next_sitting_at",
        ),
        ({"outcome": "undecided", "reason": REASON}, "invalid_field", "reason"),
        ({"outcome": "settled", "next_sitting_at": future}, "invalid_field", "next_sitting_at"),
        ({"outcome": "settled"}, "agreement_not_sealed", None),
    ]
    for kw, code, field in cases:
        with pytest.raises(OutcomeError) as refused:
            await conclude(engine, built, tmp_path, **kw)
        assert (refused.value.code, refused.value.field) == (code, field), kw
        assert refused.value.message  # says what to do
        assert await state(engine, built) == before, kw
    assert not (tmp_path / "notices").exists()

    async with db.session_factory(engine)() as session, session.begin():
        with pytest.raises(OutcomeError) as refused:
            await conclude_sitting(
                session, built.case_id, 9999, outcome="undecided", actor="x", today=TODAY
            )
        assert refused.value.code == "sitting_not_found"


async def test_not_settled_terminates_the_case_with_a_notice(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    require_poppler()
    built = await build_case(engine)
    record = SittingRecord(db.session_factory(engine), built.case_id, built.sitting_id)
    await record.set_outcome(
        "not_settled", "已告知当事人其他途径", Mediator(), reason=f"  {REASON}\n", data_dir=tmp_path
    )
    async with db.session_factory(engine)() as session:
        case = await session.get(Case, built.case_id)
        sitting = await session.get(Sitting, built.sitting_id)
        assert case is not None and sitting is not None
        assert case.status == "not_settled"
        assert case.concluded_on == dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
        assert sitting.outcome == "not_settled" and sitting.outcome_reason == REASON
        notices = await termination_notices(session, built.case_id)
        line = (
            await session.execute(
                select(TranscriptEntry).where(TranscriptEntry.event == "sitting_ended")
            )
        ).scalar_one()
        changes = (
            await session.execute(
                select(StatusChange.to_status, StatusChange.reason)
                .where(StatusChange.case_id == built.case_id)
                .order_by(StatusChange.id)
            )
        ).all()
        assert await repo.verify_case(session, built.case_id) == []
    assert changes[-1] == ("not_settled", REASON)
    assert line.text == (
        f"王调解员（调解员）结束本次调解，结果：调解不成（终止调解），理由：{REASON}"
        "；已告知当事人其他途径"
    )
    assert line.data == {"outcome": "not_settled", "note": "已告知当事人其他途径", "reason": REASON}

    notice = notices[built.sitting_id]
    pdf = tmp_path / notice.path
    data = pdf.read_bytes()
    assert (hashlib.sha256(data).hexdigest(), len(data)) == (notice.sha256, notice.size)
    text = pdf_text(pdf)
    for expected in (
        "调解终止通知书",
        built.number,
        CONSUMER,
        BUSINESS,
        REASON,
        "某市市场监督管理局",
    ):
        assert expected in text, expected
    assert f"{TODAY.year}年" in text
    fonts = pdf_fonts(pdf)
    assert fonts and all(embedded == "yes" for _, embedded in fonts), fonts
    assert any(FONT_FAMILY.replace(" ", "-") in name for name, _ in fonts), fonts

    # Once only: the second conclusion is refused and writes nothing.
    before = await state(engine, built)
    with pytest.raises(OutcomeError) as again:
        await record.set_outcome("undecided", "", Mediator())
    assert again.value.code == "sitting_concluded"
    assert await state(engine, built) == before


async def test_adjourned_keeps_the_next_date_and_the_case_in_mediation(
    engine: AsyncEngine,
) -> None:
    built = await build_case(engine)
    china = dt.timezone(dt.timedelta(hours=8))
    next_at = (dt.datetime.now(china) + dt.timedelta(days=7)).replace(
        hour=14, minute=30, second=0, microsecond=0
    )
    record = SittingRecord(db.session_factory(engine), built.case_id, built.sitting_id)
    await record.set_outcome(
        "adjourned", "商家需要核实发货记录", Mediator(), next_sitting_at=next_at
    )
    async with db.session_factory(engine)() as session:
        case = await session.get(Case, built.case_id)
        sitting = await session.get(Sitting, built.sitting_id)
        assert case is not None and sitting is not None
        line = (
            await session.execute(
                select(TranscriptEntry.text).where(TranscriptEntry.event == "sitting_ended")
            )
        ).scalar_one()
        assert await repo.verify_case(session, built.case_id) == []
        assert case.status == "in_mediation" and case.concluded_on is None
        assert sitting.outcome == "adjourned" and sitting.outcome_reason == "商家需要核实发货记录"
        assert sitting.next_sitting_at == next_at
        # An edit of the stored outcome shows in the chain check.
        sitting.next_sitting_at = next_at + dt.timedelta(days=1)
        await session.flush()
        assert [p.reason for p in await repo.verify_case(session, built.case_id)] == [
            f"the outcome of sitting {built.sitting_id} was edited"
        ]
        await session.rollback()
    assert f"下次调解时间：{next_at:%Y-%m-%d} 14:30" in line


async def test_settled_needs_the_sealed_agreement_and_records_its_amount(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    built = await build_case(engine)
    await seal_agreement(engine, built, tmp_path, amount="2800.50")
    sitting = await conclude(engine, built, tmp_path, outcome="settled", note="当场转账")
    assert sitting.outcome == "settled"
    async with db.session_factory(engine)() as session:
        case = await session.get(Case, built.case_id)
        assert case is not None
        assert case.status == "settled" and case.concluded_on == TODAY
        assert str(case.amount_recovered) == "2800.50"
        assert await repo.verify_case(session, built.case_id) == []
        assert await termination_notices(session, built.case_id) == {}
