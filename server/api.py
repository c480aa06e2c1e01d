"""REST API for mediators: login, cases, parties, invitations, the record, notes.

Every handler but login needs a mediator session; a mediator sees their own office's cases only
(another office's case answers 404, as if it did not exist).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from cases import db
from cases import repository as repo
from cases.deadlines import current_deadline
from cases.invitations import Invitation as InvitationClaims
from cases.models import (
    CONCLUDED,
    Case,
    CaseStatus,
    Invitation,
    Mediator,
    Office,
    PartyRole,
    Sitting,
    utcnow,
)
from cases.passwords import verify_password
from server import api_schemas as s
from server.auth import COOKIE, SESSION_TTL, current_mediator, session_cookie
from server.cluster import on_every_node, on_room_node
from server.demo import join_link
from server.errors import ApiError, describe
from server.keys import DATABASE, GATEWAY, OFFICE, ROOMS, SETTINGS
from server.office import OfficeRules

B = TypeVar("B", bound=BaseModel)


async def read_body(request: web.Request, model: type[B]) -> B:
    """A JSON body validated against ``model``; anything else is a 4xx naming the problem."""
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not JSON: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "invalid_payload", describe(exc)) from exc


def respond(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        text=model.model_dump_json(),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def sessions(request: web.Request) -> Any:
    return db.session_factory(request.app[DATABASE])


# -- session -------------------------------------------------------------------------------


async def login(request: web.Request) -> web.Response:
    body = await read_body(request, s.LoginIn)
    async with sessions(request)() as session:
        mediator = (
            await session.execute(
                select(Mediator).where(Mediator.username == body.username, Mediator.active)
            )
        ).scalar_one_or_none()
    # Verify even for an unknown user so timing does not tell which usernames exist.
    stored = mediator.password_hash if mediator else "scrypt$16384$8$1$AAAA$AAAA"
    if not verify_password(body.password, stored) or mediator is None:
        raise ApiError(401, "bad_credentials", "wrong username or password")
    out = s.MediatorOut.model_validate(mediator, from_attributes=True)
    out.office_name = await _office_name(request, mediator)
    response = respond(out)
    response.set_cookie(
        COOKIE,
        session_cookie(request.app[SETTINGS].secret, mediator.id),
        max_age=SESSION_TTL,
        httponly=True,
        samesite="Strict",
        secure=request.app[SETTINGS].base_url.startswith("https://"),
        path="/",
    )
    return response


async def logout(request: web.Request) -> web.Response:
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    mediator = await current_mediator(request)
    out = s.MediatorOut.model_validate(mediator, from_attributes=True)
    out.office_name = await _office_name(request, mediator)
    return respond(out)


async def _office_name(request: web.Request, mediator: Mediator) -> str:
    async with sessions(request)() as session:
        office = await session.get(Office, mediator.office_id)
    return office.name if office is not None else ""


async def office(request: web.Request) -> web.Response:
    await current_mediator(request)
    rules = request.app[OFFICE]
    return respond(
        s.OfficeOut(
            categories=list(rules.categories),
            acceptance_days=rules.deadlines.acceptance_days,
            mediation_days=rules.deadlines.mediation_days,
        )
    )


# -- cases ---------------------------------------------------------------------------------


def case_out(case: Case, rules: OfficeRules, reveal: bool = False) -> s.CaseOut:
    deadline = current_deadline(case, rules.calendar, rules.deadlines, rules.today())
    return s.CaseOut(
        number=case.number,
        complaint_number=case.complaint_number,
        title=case.title,
        category=case.category,
        claim=case.claim,
        amount_in_dispute=case.amount_in_dispute,
        amount_recovered=case.amount_recovered,
        status=case.status,
        received_on=case.received_on,
        accepted_on=case.accepted_on,
        concluded_on=case.concluded_on,
        next_statuses=repo.next_statuses(case.status),
        deadline=None
        if deadline is None
        else s.DeadlineOut(
            what=deadline.what,
            due=deadline.due,
            working_days_left=deadline.working_days_left,
            flag=deadline.flag.value,
        ),
        parties=[
            s.PartyOut(
                id=p.id,
                role=p.role,
                name=p.name,
                phone=p.phone if reveal else repo.mask_phone(p.phone),
                id_number=p.id_number if reveal else repo.mask_id_number(p.id_number),
                credit_code=p.credit_code,
                contact_person=p.contact_person,
            )
            for p in case.parties
        ],
    )


async def office_case(
    session: AsyncSession, mediator: Mediator, number: str, *, own: bool = False
) -> Case:
    """The case of that number in the mediator's office — or, with ``own``, only if it is this
    mediator's own case (recordings, the transcript document: the most sensitive parts) — else
    404, as if it did not exist."""
    case = (
        await session.execute(
            select(Case)
            .where(Case.number == number, Case.office_id == mediator.office_id)
            .options(selectinload(Case.parties))
        )
    ).scalar_one_or_none()
    if case is None or (own and case.mediator_id != mediator.id):
        where = "of yours" if own else "in your office"
        raise ApiError(404, "case_not_found", f"no case {number!r} {where}")
    return case


async def _next_number(session: AsyncSession, office_id: int, today: dt.date) -> str:
    """The next case number of the year. Within an office numbering is serialized: on
    PostgreSQL the office row is locked (two creations at once would otherwise count the same
    rows); SQLite transactions here are serialized by BEGIN IMMEDIATE already. Numbers are
    unique across offices: a rare clash between two offices is retried by the caller."""
    await session.execute(select(Office.id).where(Office.id == office_id).with_for_update())
    prefix = f"{today.year}-"
    count = (
        await session.execute(select(func.count()).where(Case.number.like(prefix + "%")))
    ).scalar_one()
    return f"{prefix}{count + 1:06d}"


async def create_case(request: web.Request) -> web.Response:
    mediator = await current_mediator(request)
    body = await read_body(request, s.CaseIn)
    categories = request.app[OFFICE].categories
    if body.category not in categories:
        raise ApiError(422, "invalid_payload", f"category: must be one of {', '.join(categories)}")
    today = request.app[OFFICE].today()
    received = body.received_on or today
    if received > today:
        raise ApiError(422, "invalid_payload", "received_on: must not be in the future")
    for attempt in range(3):
        try:
            async with sessions(request)() as session, session.begin():
                case = await repo.create_case(
                    session,
                    office_id=mediator.office_id,
                    number=await _next_number(session, mediator.office_id, today),
                    title=body.title,
                    category=body.category,
                    claim=body.claim,
                    amount_in_dispute=body.amount_in_dispute,
                    complaint_number=body.complaint_number,
                    received_on=received,
                    mediator_id=mediator.id,
                    actor=mediator.username,
                    calendar=request.app[OFFICE].calendar,
                    deadlines=request.app[OFFICE].deadlines,
                )
                number = case.number
            break
        except IntegrityError:
            # Another office took the same number at the same moment: count again.
            if attempt == 2:
                raise
    async with sessions(request)() as session:
        return respond(
            case_out(await office_case(session, mediator, number), request.app[OFFICE]), status=201
        )


async def list_cases(request: web.Request) -> web.Response:
    mediator = await current_mediator(request)
    try:
        page = max(1, int(request.query.get("page", "1")))
        per_page = min(100, max(1, int(request.query.get("per_page", "20"))))
    except ValueError as exc:
        raise ApiError(422, "invalid_payload", "page and per_page must be numbers") from exc
    query = select(Case).where(Case.office_id == mediator.office_id)
    status = request.query.get("status")
    if status:
        if status not in {x.value for x in CaseStatus}:
            raise ApiError(422, "invalid_payload", f"status: unknown status {status!r}")
        query = query.where(Case.status == status)
    if request.query.get("category"):
        query = query.where(Case.category == request.query["category"])
    text = request.query.get("q", "").strip()
    if text:
        pattern = f"%{text.replace('%', '').replace('_', '')[:100]}%"
        query = query.where(
            or_(
                Case.title.like(pattern),
                Case.number.like(pattern),
                Case.complaint_number.like(pattern),
            )
        )
    flag = request.query.get("deadline")
    if flag and flag not in ("ok", "due_soon", "overdue"):
        raise ApiError(422, "invalid_payload", f"deadline: unknown flag {flag!r}")
    rules = request.app[OFFICE]
    ordered = query.options(selectinload(Case.parties)).order_by(
        Case.received_on.desc(), Case.id.desc()
    )
    async with sessions(request)() as session:
        if flag:
            # A deadline depends on the office's calendar, computed here: filter the open
            # cases first, then page, so that total and pages are right.
            closed = [c.value for c in CONCLUDED] + [CaseStatus.NOT_ACCEPTED.value]
            rows = (await session.execute(ordered.where(Case.status.not_in(closed)))).scalars()
            matching = [
                c
                for c in (case_out(r, rules) for r in rows.all())
                if c.deadline is not None and c.deadline.flag == flag
            ]
            total = len(matching)
            cases = matching[(page - 1) * per_page : page * per_page]
        else:
            total = (
                await session.execute(select(func.count()).select_from(query.subquery()))
            ).scalar_one()
            page_rows = await session.execute(ordered.offset((page - 1) * per_page).limit(per_page))
            cases = [case_out(c, rules) for c in page_rows.scalars().all()]
    return respond(s.CaseList(cases=cases, total=total, page=page, per_page=per_page))


async def get_case(request: web.Request) -> web.Response:
    mediator = await current_mediator(request)
    reveal = request.query.get("reveal") == "1"
    async with sessions(request)() as session, session.begin():
        case = await office_case(session, mediator, request.match_info["number"])
        if reveal:  # seeing full personal data leaves a trace in the case's chain
            await repo.lock_case(session, case.id)
            await repo.append_audit(session, case.id, mediator.username, "personal_data_viewed", {})
    return respond(case_out(case, request.app[OFFICE], reveal=reveal))


async def update_case(request: web.Request) -> web.Response:
    mediator = await current_mediator(request)
    body = await read_body(request, s.CaseUpdate)
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise ApiError(422, "invalid_payload", "body: give at least one field to change")
    for required in ("title", "category", "claim"):
        if required in changes and changes[required] is None:
            raise ApiError(422, "invalid_payload", f"{required}: cannot be cleared")
    categories = request.app[OFFICE].categories
    if changes.get("category") is not None and changes["category"] not in categories:
        raise ApiError(422, "invalid_payload", f"category: must be one of {', '.join(categories)}")
    number = request.match_info["number"]
    async with sessions(request)() as session, session.begin():
        case = await office_case(session, mediator, number)
        await repo.update_case(session, case.id, mediator.username, changes)
    async with sessions(request)() as session:
        return respond(case_out(await office_case(session, mediator, number), request.app[OFFICE]))


async def close_sitting(request: web.Request) -> web.Response:
    """End a sitting: everyone in its room is put out, and its links stop working."""
    mediator = await current_mediator(request)
    number = request.match_info["number"]
    try:
        sitting_id = int(request.match_info["sitting_id"])
    except ValueError as exc:
        raise ApiError(404, "sitting_not_found", "no such sitting") from exc
    async with sessions(request)() as session:
        case = await office_case(session, mediator, number)
        sitting = await session.get(Sitting, sitting_id)
        if sitting is None or sitting.case_id != case.id:
            raise ApiError(404, "sitting_not_found", f"case {number} has no sitting {sitting_id}")
        room_id = sitting.room_id
    registry = request.app[ROOMS]

    async def close_here() -> None:
        if registry.has_room(room_id):
            await request.app[GATEWAY].disconnect_room(room_id)
            await registry.close_room(room_id)  # closes the sitting through its record

    # With several nodes the room may live on another one: that node closes it.
    await on_room_node(request.app, room_id, close_here, f"/cluster/rooms/{room_id}/close", {})
    async with sessions(request)() as session, session.begin():
        sitting = await session.get(Sitting, sitting_id)
        assert sitting is not None
        if sitting.closed_at is None:
            sitting.closed_at = utcnow()
        out = s.SittingOut.model_validate(sitting, from_attributes=True)
    return respond(out)


async def change_status(request: web.Request) -> web.Response:
    mediator = await current_mediator(request)
    body = await read_body(request, s.StatusIn)
    number = request.match_info["number"]
    async with sessions(request)() as session, session.begin():
        case = await office_case(session, mediator, number)
        await repo.change_status(
            session,
            case.id,
            CaseStatus(body.to),
            mediator.username,
            body.reason,
            today=request.app[OFFICE].today(),
            amount_recovered=body.amount_recovered,
            calendar=request.app[OFFICE].calendar,
            deadlines=request.app[OFFICE].deadlines,
        )
    async with sessions(request)() as session:
        return respond(case_out(await office_case(session, mediator, number), request.app[OFFICE]))


async def add_party(request: web.Request) -> web.Response:
    mediator = await current_mediator(request)
    body = await read_body(request, s.PartyIn)
    number = request.match_info["number"]
    async with sessions(request)() as session, session.begin():
        case = await office_case(session, mediator, number)
        if any(p.role == body.role for p in case.parties):
            raise ApiError(409, "conflict", f"the case has a {body.role} already")
        await repo.add_party(
            session,
            case.id,
            PartyRole(body.role),
            body.name,
            mediator.username,
            phone=body.phone,
            id_number=body.id_number,
            credit_code=body.credit_code,
            contact_person=body.contact_person,
        )
    async with sessions(request)() as session:
        return respond(
            case_out(await office_case(session, mediator, number), request.app[OFFICE]), status=201
        )


# -- invitations and the room --------------------------------------------------------------


async def issue_invitations(request: web.Request) -> web.Response:
    """Open a new sitting of the case and issue its three links (mediator, consumer, business)."""
    mediator = await current_mediator(request)
    body = await read_body(request, s.InvitationsIn)
    settings = request.app[SETTINGS]
    expires = int(time.time()) + body.valid_hours * 3600
    expires_at = dt.datetime.fromtimestamp(expires, dt.UTC)
    async with sessions(request)() as session, session.begin():
        case = await office_case(session, mediator, request.match_info["number"])
        if not repo.next_statuses(case.status):
            raise ApiError(
                409, "invalid_status_transition", f"the case is {case.status}: no new sittings"
            )
        names = {p.role: p.name for p in case.parties}
        missing = {"consumer", "business"} - set(names)
        if missing:
            raise ApiError(
                409, "conflict", f"add the {' and '.join(sorted(missing))} to the case first"
            )
        names["mediator"] = mediator.display_name
        # In UTC: SQLite keeps the wall time and drops the zone (UTCDateTime reads it as UTC).
        scheduled = None if body.scheduled_at is None else body.scheduled_at.astimezone(dt.UTC)
        sitting = Sitting(case_id=case.id, room_id="", scheduled_at=scheduled)
        session.add(sitting)
        await session.flush()
        sitting.room_id = f"case-{case.id}-{sitting.id}"
        out = []
        for role in ("mediator", "consumer", "business"):
            invitation = await repo.issue_invitation(
                session,
                case.id,
                role=role,
                name=names[role],
                expires_at=expires_at,
                actor=mediator.username,
                sitting_id=sitting.id,
                issued_by=mediator.id,
            )
            claims = InvitationClaims(
                room_id=sitting.room_id,
                participant_id=role,
                role=role,
                name=names[role],
                expires_at=expires,
                invitation_id=invitation.id,
            )
            issued = s.InvitationOut.model_validate(invitation, from_attributes=True)
            issued.link = join_link(settings, claims)
            out.append(issued)
        room_id = sitting.room_id
    return respond(s.InvitationsOut(room_id=room_id, invitations=out), status=201)


async def list_invitations(request: web.Request) -> web.Response:
    mediator = await current_mediator(request)
    async with sessions(request)() as session:
        case = await office_case(session, mediator, request.match_info["number"])
        rows = (
            await session.execute(
                select(Invitation)
                .where(Invitation.case_id == case.id)
                .order_by(Invitation.issued_at.desc(), Invitation.id)
            )
        ).scalars()
        invitations = [s.InvitationOut.model_validate(i, from_attributes=True) for i in rows.all()]
    return respond(s.InvitationList(invitations=invitations))


async def revoke_invitation(request: web.Request) -> web.Response:
    mediator = await current_mediator(request)
    async with sessions(request)() as session, session.begin():
        invitation = await session.get(Invitation, request.match_info["invitation_id"])
        case = None if invitation is None else await session.get(Case, invitation.case_id)
        if invitation is None or case is None or case.office_id != mediator.office_id:
            raise ApiError(404, "invitation_not_found", "no such invitation in your office")
        invitation = await repo.revoke_invitation(session, invitation.id, mediator.username)
        # Committed above; now whoever is inside with this link is put out at once.
        out = s.InvitationOut.model_validate(invitation, from_attributes=True)

    async def disconnect_here() -> None:
        await request.app[GATEWAY].disconnect_invitation(out.id)

    # Whichever node the link's holder is connected to puts them out.
    await on_every_node(
        request.app, disconnect_here, f"/cluster/invitations/{out.id}/disconnect", {}
    )
    return respond(out)


# -- the record ----------------------------------------------------------------------------


async def get_record(request: web.Request) -> web.Response:
    mediator = await current_mediator(request)
    async with sessions(request)() as session:
        case = await office_case(session, mediator, request.match_info["number"])
        sittings = (
            (
                await session.execute(
                    select(Sitting).where(Sitting.case_id == case.id).order_by(Sitting.id)
                )
            )
            .scalars()
            .all()
        )
        entries = await repo.transcript(session, case.id)
        events = await repo.audit_events(session, case.id)
        problems = await repo.verify_case(session, case.id)
        out = s.RecordOut(
            case=case_out(case, request.app[OFFICE]),
            sittings=[s.SittingOut.model_validate(x, from_attributes=True) for x in sittings],
            transcript=[s.EntryOut.model_validate(e, from_attributes=True) for e in entries],
            audit_events=len(events),
            audit_intact=not problems,
        )
    return respond(out)


async def add_note(request: web.Request) -> web.Response:
    mediator = await current_mediator(request)
    body = await read_body(request, s.NoteIn)
    async with sessions(request)() as session, session.begin():
        case = await office_case(session, mediator, request.match_info["number"])
        entry = await repo.append_transcript(
            session,
            case.id,
            kind="note",
            author=mediator.display_name,
            author_role="mediator",
            text=body.text,
        )
        out = s.EntryOut.model_validate(entry, from_attributes=True)
    return respond(out, status=201)
