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
from cases.models import Case, Mediator, Office, PartyRole, Sitting, utcnow
from cases.passwords import hash_password
from recordings.transcript import SittingRecord
from rooms.registry import RoomRegistry
from rooms.room import RoomInfo
from server.config import Settings

DEMO_ROOM = "demo"
DEMO_CASE = "DEMO-2026-0001"
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


async def demo_account(engine: AsyncEngine) -> str:
    """The demo mediator account, with a new password each run (returned, to print)."""
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
    return password


async def _demo_case(
    engine: AsyncEngine, expires_at: dt.datetime
) -> tuple[Case, Sitting, dict[str, str]]:
    """The demo case (created on first run, found afterwards), a new sitting of it, and a new
    stored invitation per role."""
    sessions = db.session_factory(engine)
    async with sessions() as session, session.begin():
        case = (
            await session.execute(select(Case).where(Case.number == DEMO_CASE))
        ).scalar_one_or_none()
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
                number=DEMO_CASE,
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
