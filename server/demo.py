"""``serve --demo``: a made-up case in the case record, a new sitting of it, three join links."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from urllib.parse import quote

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cases import db
from cases import repository as repo
from cases.invitations import Invitation, issue_token
from cases.models import (
    CONCLUDED,
    Case,
    CaseStatus,
    Mediator,
    Office,
    PartyRole,
    Sitting,
    utcnow,
)
from cases.passwords import hash_password
from recordings.transcript import SittingRecord
from rooms.registry import RoomRegistry
from rooms.room import RoomInfo
from server.config import Settings

DEMO_ROOM = "demo"
DEMO_CASE_PREFIX = "DEMO-2026-"
DEMO_CASE = f"{DEMO_CASE_PREFIX}0001"
DEMO_OFFICE = "演示消费者协会"
DEMO_PARTIES = (
    ("mediator", "王调解员"),
    ("consumer", "李女士"),
    ("business", "某某电器商行"),
)


def join_link(settings: Settings, invitation: Invitation) -> str:
    token = issue_token(settings.secret, invitation)
    return f"{settings.base_url}/room/{quote(invitation.room_id)}?t={quote(token)}"


DEMO_USER = "demo"


async def demo_account(engine: AsyncEngine, example_cases: int = 30) -> str:
    """The demo mediator and supervisor accounts, with a new password each run (returned, to
    print); ``example_cases`` concluded cases are seeded once for the dashboard."""
    password = secrets.token_urlsafe(9)
    async with db.session_factory(engine)() as session, session.begin():
        office = (
            await session.execute(select(Office).where(Office.name == DEMO_OFFICE))
        ).scalar_one_or_none() or await repo.create_office(session, DEMO_OFFICE)
        mediator = (
            await session.execute(select(Mediator).where(Mediator.username == DEMO_USER))
        ).scalar_one_or_none()
        if mediator is None:
            await repo.create_mediator(session, office, DEMO_USER, "王调解员", password)
        else:
            mediator.password_hash = hash_password(password)
            mediator.office_id = office.id
            mediator.active = True
        supervisor = (
            await session.execute(select(Mediator).where(Mediator.username == DEMO_SUPERVISOR))
        ).scalar_one_or_none()
        if supervisor is None:
            supervisor = await repo.create_mediator(
                session, office, DEMO_SUPERVISOR, "陈主任", password
            )
        supervisor.password_hash = hash_password(password)
        supervisor.office_id = office.id
        supervisor.active = True
        supervisor.role = "supervisor"
    if example_cases:
        await seed_demo_figures(engine, example_cases)
    return password


DEMO_SUPERVISOR = "supervisor"
"""The demo supervisor (the office dashboard), with the demo mediator's password."""

DEMO_FIGURES_PREFIX = "DEMO-F-"
# Not 家用电器 or 餐饮: the console's browser tests count the cases of those categories.
_DEMO_CATEGORIES = ("预付卡", "网络购物", "美容美发", "汽车", "教育培训")
_DEMO_OUTCOMES = (
    CaseStatus.SETTLED,
    CaseStatus.SETTLED,
    CaseStatus.NOT_SETTLED,
    CaseStatus.SETTLED,
    CaseStatus.WITHDRAWN,
    CaseStatus.SETTLED,
    None,
)


async def seed_demo_figures(engine: AsyncEngine, count: int = 30) -> None:
    """Cases of the last 14 months with outcomes, so the demo's dashboard has figures (made
    once; the same every run, from a fixed pattern)."""
    sessions = db.session_factory(engine)
    async with sessions() as session, session.begin():
        if (
            await session.execute(
                select(Case.id).where(Case.number.like(DEMO_FIGURES_PREFIX + "%")).limit(1)
            )
        ).first():
            return
        mediator = (
            await session.execute(select(Mediator).where(Mediator.username == DEMO_USER))
        ).scalar_one()
        today = dt.date.today()
        for i in range(count):
            received = today - dt.timedelta(days=8 + (i * 421) // count)
            case = await repo.create_case(
                session,
                office_id=mediator.office_id,
                mediator_id=mediator.id,
                number=f"{DEMO_FIGURES_PREFIX}{i + 1:04d}",
                title=f"演示案件 {i + 1}",
                category=_DEMO_CATEGORIES[i % len(_DEMO_CATEGORIES)],
                amount_in_dispute=f"{300 + (i * 137) % 4000}.00",
                received_on=received,
                actor="demo",
            )
            outcome = _DEMO_OUTCOMES[i % len(_DEMO_OUTCOMES)]
            if outcome is None:
                continue
            accepted = received + dt.timedelta(days=1 + i % 5)
            concluded = accepted + dt.timedelta(days=3 + (i * 7) % 50)
            for to, day in (
                (CaseStatus.ACCEPTED, accepted),
                (CaseStatus.IN_MEDIATION, accepted),
                (outcome, min(concluded, today)),
            ):
                await repo.change_status(
                    session,
                    case.id,
                    to,
                    "demo",
                    today=day,
                    amount_recovered=f"{200 + (i * 89) % 3000}.00"
                    if to is CaseStatus.SETTLED
                    else None,
                )


async def _demo_case(
    engine: AsyncEngine, expires_at: dt.datetime
) -> tuple[Case, Sitting, dict[str, str]]:
    """The demo case (created on first run, found afterwards), a new sitting of it, and a new
    stored invitation per role."""
    sessions = db.session_factory(engine)
    async with sessions() as session, session.begin():
        # The latest demo case; once a run concluded it (settled, say), the next run takes a
        # new one, so every run can go from the lobby to a signed agreement.
        demo_cases = (
            await session.execute(
                select(Case)
                .where(Case.number.like(DEMO_CASE_PREFIX + "%"))
                .order_by(Case.id.desc())
            )
        ).scalars()
        case = next(iter(demo_cases), None)
        number = DEMO_CASE
        if case is not None and CaseStatus(case.status) in CONCLUDED:
            number = f"{DEMO_CASE_PREFIX}{int(case.number.rsplit('-', 1)[1]) + 1:04d}"
            case = None
        if case is None:
            office = (
                await session.execute(select(Office).where(Office.name == DEMO_OFFICE))
            ).scalar_one_or_none() or await repo.create_office(session, DEMO_OFFICE)
            mediator = (
                await session.execute(select(Mediator).where(Mediator.username == DEMO_USER))
            ).scalar_one_or_none()
            case = await repo.create_case(
                session,
                mediator_id=None if mediator is None else mediator.id,
                office_id=office.id,
                number=number,
                title="空调安装后不制冷退款纠纷",
                category="家用电器",
                claim="退还货款 3299 元",
                amount_in_dispute="3299.00",
                received_on=dt.date.today(),
                actor="demo",
            )
            await repo.add_party(
                session, case.id, PartyRole.CONSUMER, "李女士", "demo", phone="13812341234"
            )
            await repo.add_party(
                session,
                case.id,
                PartyRole.BUSINESS,
                "某某电器商行",
                "demo",
                contact_person="张经理",
            )
            # Accepted and in mediation, as a case is when its parties are invited: the demo
            # sitting can end settled (with the sealed agreement) or terminated.
            for status in (CaseStatus.ACCEPTED, CaseStatus.IN_MEDIATION):
                await repo.change_status(
                    session, case.id, status, "demo", "演示案件", today=dt.date.today()
                )
        # The demo room id is reused: a new run ends the demo's earlier sittings.
        await session.execute(
            update(Sitting)
            .where(Sitting.case_id == case.id, Sitting.closed_at.is_(None))
            .values(closed_at=utcnow())
        )
        sitting = Sitting(case_id=case.id, room_id=DEMO_ROOM)
        session.add(sitting)
        await session.flush()
        invitations = {
            role: (
                await repo.issue_invitation(
                    session,
                    case.id,
                    role=role,
                    name=name,
                    expires_at=expires_at,
                    actor="demo",
                    sitting_id=sitting.id,
                )
            ).id
            for role, name in DEMO_PARTIES
        }
        return case, sitting, invitations


async def seed_demo(
    settings: Settings, registry: RoomRegistry, engine: AsyncEngine
) -> dict[str, str]:
    """Open the demo room as a new sitting of the demo case; return its join links by role."""
    expires = int(time.time()) + settings.token_ttl
    case, sitting, invitation_ids = await _demo_case(
        engine, dt.datetime.fromtimestamp(expires, dt.UTC)
    )
    await registry.place(DEMO_ROOM)  # several nodes: run --demo on one of them
    registry.create_room(
        RoomInfo(
            room_id=DEMO_ROOM,
            case_number=case.number,
            title=case.title,
            case_id=case.id,
            sitting_id=sitting.id,
        ),
        record=SittingRecord(db.session_factory(engine), case.id, sitting.id),
    )
    return {
        role: join_link(
            settings,
            Invitation(
                room_id=DEMO_ROOM,
                participant_id=role,
                role=role,
                name=name,
                expires_at=expires,
                invitation_id=invitation_ids[role],
            ),
        )
        for role, name in DEMO_PARTIES
    }
