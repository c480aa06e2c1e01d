"""Satisfaction over HTTP on both databases: each party rates once on their own link after the
sitting ended; the mediator's link, a live sitting, a withdrawn or foreign link and bad input are
refused with nothing stored; the console shows both answers; an edited rating breaks verify."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from cases import db
from cases import repository as repo
from cases.invitations import Invitation as Claims
from cases.invitations import issue_token
from cases.models import AuditEvent, Invitation, Satisfaction, Sitting, utcnow
from server.app import create_app
from server.config import Settings
from server.keys import DATABASE
from tests.integration.outcome_support import Built, build_case
from tests.support.database import BACKENDS, fresh_database

pytestmark = pytest.mark.integration

Client = TestClient  # type: ignore[type-arg]
SECRET = b"s" * 32


@pytest.fixture(params=BACKENDS)
async def client(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    aiohttp_client: Callable[[Any], Awaitable[Client]],
) -> AsyncIterator[Client]:
    engine = db.create_engine(await fresh_database(request.param, tmp_path))
    await db.upgrade(engine)
    settings = Settings(data_dir=tmp_path, secret=SECRET, ice_hosts=("127.0.0.1",))
    yield await aiohttp_client(create_app(settings, engine))


async def links(client: Client, built: Built) -> dict[str, str]:
    """The sitting's three links (stored invitations, signed tokens)."""
    async with db.session_factory(client.app[DATABASE])() as session, session.begin():
        tokens = {}
        for role in ("mediator", "consumer", "business"):
            invitation = await repo.issue_invitation(
                session,
                built.case_id,
                role=role,
                name=role,
                expires_at=utcnow().replace(year=utcnow().year + 1),
                actor="wang",
                sitting_id=built.sitting_id,
            )
            claims = Claims(built.room_id, role, role, role, int(time.time()) + 3600, invitation.id)
            tokens[role] = issue_token(SECRET, claims)
        return tokens


async def end_sitting(client: Client, built: Built) -> None:
    async with db.session_factory(client.app[DATABASE])() as session, session.begin():
        sitting = await session.get(Sitting, built.sitting_id)
        assert sitting is not None
        sitting.closed_at = utcnow()


async def error(resp: Any, status: int, code: str) -> None:
    body = await resp.json()
    assert resp.status == status, body
    assert set(body) == {"code", "message", "event"} and body["code"] == code, body
    assert body["message"]


async def stored(client: Client) -> tuple[int, int]:
    async with db.session_factory(client.app[DATABASE])() as session:
        answers = (await session.execute(select(func.count()).select_from(Satisfaction))).scalar()
        events = (await session.execute(select(func.count()).select_from(AuditEvent))).scalar()
        return int(answers or 0), int(events or 0)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_each_party_answers_once_after_the_sitting(client: Client) -> None:
    built = await build_case(client.app[DATABASE])
    tokens = await links(client, built)
    path = f"/api/rooms/{built.room_id}/satisfaction"

    # While the sitting goes on: not yet.
    await error(
        await client.post(path, json={"rating": 5}, headers=auth(tokens["consumer"])),
        409,
        "sitting_not_ended",
    )
    await end_sitting(client, built)
    before = await stored(client)
    await error(await client.get(path), 401, "token_missing")
    await error(
        await client.get(path, headers=auth(tokens["consumer"][:-3] + "AAA")), 401, "token_invalid"
    )
    await error(
        await client.get("/api/rooms/case-1-999/satisfaction", headers=auth(tokens["consumer"])),
        401,
        "token_foreign",
    )
    await error(
        await client.post(path, json={"rating": 5}, headers=auth(tokens["mediator"])),
        403,
        "forbidden",
    )
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": "5"}, {"rating": 4.5}, {},
                {"rating": 3, "comment": "长" * 1001}, {"rating": 3, "extra": 1}):  # fmt: skip
        await error(
            await client.post(path, json=bad, headers=auth(tokens["consumer"])),
            422,
            "invalid_payload",
        )
    assert await stored(client) == before

    got = await client.get(path, headers=auth(tokens["consumer"]))
    assert got.status == 200 and await got.json() == {"answer": None}
    resp = await client.post(
        path,
        json={"rating": 4, "comment": " 调解员很耐心。\r\n谢谢！ "},
        headers=auth(tokens["consumer"]),
    )
    assert resp.status == 201, await resp.text()
    answer = await resp.json()
    assert (answer["role"], answer["rating"], answer["comment"]) == (
        "consumer",
        4,
        "调解员很耐心。\n谢谢！",
    )
    await error(
        await client.post(path, json={"rating": 1}, headers=auth(tokens["consumer"])),
        409,
        "already_answered",
    )
    got = await (await client.get(path, headers=auth(tokens["consumer"]))).json()
    assert got["answer"]["rating"] == 4
    resp = await client.post(path, json={"rating": 2}, headers=auth(tokens["business"]))
    assert resp.status == 201

    # The console: both answers, to the office's mediators.
    await error(await client.get(f"/api/cases/{built.number}/satisfaction"), 401, "not_logged_in")
    login = await client.post("/api/session", json={"username": "wang", "password": "password 1"})
    assert login.status == 200
    listed = await (await client.get(f"/api/cases/{built.number}/satisfaction")).json()
    assert [(a["role"], a["rating"]) for a in listed["answers"]] == [
        ("consumer", 4),
        ("business", 2),
    ]

    async with db.session_factory(client.app[DATABASE])() as session, session.begin():
        assert await repo.verify_case(session, built.case_id) == []
        row = (
            await session.execute(select(Satisfaction).where(Satisfaction.role == "business"))
        ).scalar_one()
        row.rating = 5  # someone improves the figures behind the chain's back
        await session.flush()
        problems = [p.reason for p in await repo.verify_case(session, built.case_id)]
        assert problems == [f"satisfaction answer {row.id} was edited"]
        await session.rollback()


async def test_a_withdrawn_link_cannot_answer(client: Client) -> None:
    built = await build_case(client.app[DATABASE])
    tokens = await links(client, built)
    await end_sitting(client, built)
    async with db.session_factory(client.app[DATABASE])() as session, session.begin():
        invitation = (
            await session.execute(select(Invitation).where(Invitation.role == "business"))
        ).scalar_one()
        await repo.revoke_invitation(session, invitation.id, "wang")
    before = await stored(client)
    await error(
        await client.post(
            f"/api/rooms/{built.room_id}/satisfaction",
            json={"rating": 1},
            headers=auth(tokens["business"]),
        ),
        401,
        "token_revoked",
    )
    assert await stored(client) == before
