"""A real case for the outcome, satisfaction and bundle tests: office, mediator, both parties, one
sitting, the case in mediation; and a sealed agreement made through cases.agreement."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy.ext.asyncio import AsyncEngine

from cases import agreement as agreements
from cases import db
from cases import repository as repo
from cases.models import Agreement, CaseStatus, PartyRole, Sitting

CONSUMER = "李女士"
BUSINESS = "某某电器商行"
TODAY = dt.date(2026, 11, 16)


@dataclass
class Built:
    case_id: int
    number: str
    sitting_id: int
    room_id: str


async def build_case(engine: AsyncEngine, number: str = "2026-000042") -> Built:
    async with db.session_factory(engine)() as session, session.begin():
        office = await repo.create_office(session, "某市市场监督管理局")
        mediator = await repo.create_mediator(session, office, "wang", "王调解员", "password 1")
        case = await repo.create_case(
            session,
            office_id=office.id,
            number=number,
            title="空调不制冷",
            category="家用电器",
            claim="退货退款",
            amount_in_dispute="3299.00",
            received_on=dt.date(2026, 11, 2),
            actor="wang",
            mediator_id=mediator.id,
        )
        await repo.add_party(
            session, case.id, PartyRole.CONSUMER, CONSUMER, "wang", phone="13812341234"
        )
        await repo.add_party(session, case.id, PartyRole.BUSINESS, BUSINESS, "wang")
        await repo.change_status(session, case.id, CaseStatus.ACCEPTED, "wang", today=TODAY)
        await repo.change_status(session, case.id, CaseStatus.IN_MEDIATION, "wang", today=TODAY)
        sitting = Sitting(case_id=case.id, room_id="")
        session.add(sitting)
        await session.flush()
        sitting.room_id = f"case-{case.id}-{sitting.id}"
        return Built(case.id, case.number, sitting.id, sitting.room_id)


def signature_png() -> bytes:
    image = Image.new("RGBA", (200, 80), (255, 255, 255, 0))
    ImageDraw.Draw(image).line([(10, 60), (60, 10), (120, 70), (190, 20)], fill="black", width=6)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def seal_agreement(
    engine: AsyncEngine, built: Built, data_dir: Path, amount: str = "3299.00"
) -> Agreement:
    """Draft, complete, sign (consumer, business, mediator) and render the agreement's PDF."""
    sessions = db.session_factory(engine)
    today = dt.date.today()
    async with sessions() as session, session.begin():
        draft = await agreements.start_draft(
            session, built.case_id, sitting_id=built.sitting_id, actor="王调解员"
        )
        terms = dict(draft.terms or {})
        terms.update(
            remedy=["refund"],
            amount=amount,
            method="银行转账",
            due_on=(today + dt.timedelta(days=7)).isoformat(),
        )
        draft = await agreements.update_terms(
            session, draft.id, terms, expected_version=draft.version, actor="王调解员", today=today
        )
        agreement_id, text_sha256 = draft.id, draft.text_sha256
    for role, name in (("consumer", CONSUMER), ("business", BUSINESS), ("mediator", "王调解员")):
        async with sessions() as session, session.begin():
            await agreements.sign(
                session,
                agreement_id,
                role=role,
                name=name,
                participant_id=role,
                text_sha256=text_sha256,
                image_png=signature_png(),
                data_dir=data_dir,
                today=today,
            )
    async with sessions() as session, session.begin():
        return await agreements.render_pdf(session, agreement_id, data_dir=data_dir, place="某市")
