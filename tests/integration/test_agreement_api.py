"""The agreement over HTTP on both databases: the console's view and PDF, a party's copy with
their link (for a limited time), and the public check by verification code."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from cases import agreement as ag
from cases import db
from cases import repository as repo
from cases.models import Agreement, Case
from server.app import create_app
from server.config import Settings
from server.keys import DATABASE, SETTINGS
from tests.integration.test_agreement import good_terms, signature_png
from tests.support.database import BACKENDS, fresh_database

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
Client = TestClient  # type: ignore[type-arg]


@pytest.fixture(params=BACKENDS)
async def client(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    aiohttp_client: Callable[[Any], Awaitable[Client]],
) -> AsyncIterator[Client]:
    engine = db.create_engine(await fresh_database(request.param, tmp_path))
    await db.upgrade(engine)
    async with db.session_factory(engine)() as session, session.begin():
        office = await repo.create_office(session, "甲市消协")
        for username in ("wang", "li"):
            await repo.create_mediator(session, office, username, f"{username}调解员", PASSWORD)
    settings = Settings(data_dir=tmp_path, secret=b"s" * 32, ice_hosts=("127.0.0.1",))
    yield await aiohttp_client(create_app(settings, engine))


async def login(client: Client, username: str = "wang") -> None:
    resp = await client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert resp.status == 200, await resp.text()


async def error(resp: Any, status: int, code: str) -> str:
    body = await resp.json()
    assert resp.status == status, body
    assert set(body) == {"code", "message", "event"} and body["code"] == code, body
    return str(body["message"])


def token_of(link: str) -> str:
    parts = urlsplit(link)
    query = parse_qs(parts.query) or parse_qs(parts.fragment)
    return query["t"][0]


async def a_case(client: Client) -> tuple[str, str, dict[str, str]]:
    """A case of wang's with both parties and a sitting: (number, room id, token by role)."""
    resp = await client.post(
        "/api/cases", json={"title": "空调不制冷", "category": "家用电器", "claim": "退款"}
    )
    number: str = (await resp.json())["number"]
    for party in (
        {"role": "consumer", "name": "李小红", "phone": "13812341234"},
        {"role": "business", "name": "某某电器商行"},
    ):
        assert (await client.post(f"/api/cases/{number}/parties", json=party)).status == 201
    issued = await client.post(f"/api/cases/{number}/invitations", json={"valid_hours": 24})
    assert issued.status == 201
    body = await issued.json()
    tokens = {inv["role"]: token_of(inv["link"]) for inv in body["invitations"]}
    return number, body["room_id"], tokens


async def draft_and_seal(client: Client, number: str, *, seal: bool = True) -> int:
    data_dir = client.app[SETTINGS].data_dir
    factory = db.session_factory(client.app[DATABASE])
    async with factory() as session, session.begin():
        case_id = (await session.execute(select(Case.id).where(Case.number == number))).scalar_one()
        agreement = await ag.start_draft(session, case_id, sitting_id=None, actor="wang调解员")
        agreement_id = agreement.id
    if not seal:
        return agreement_id
    today = dt.datetime.now(dt.UTC).date()
    async with factory() as session, session.begin():
        await ag.update_terms(
            session,
            agreement_id,
            good_terms(due_on=(today + dt.timedelta(days=14)).isoformat()),
            expected_version=1,
            actor="wang调解员",
            today=today,
        )
    for role, name in (("consumer", "李小红"), ("business", "张经理"), ("mediator", "王")):
        async with factory() as session, session.begin():
            row = await session.get(Agreement, agreement_id)
            assert row is not None
            await ag.sign(
                session,
                agreement_id,
                role=role,
                name=name,
                participant_id=role,
                text_sha256=row.text_sha256,
                image_png=signature_png(),
                data_dir=data_dir,
                today=today,
            )
    return agreement_id


async def test_console_view_and_pdf(client: Client) -> None:
    await error(await client.get("/api/cases/2026-000001/agreement"), 401, "not_logged_in")
    await login(client)
    number, _room, _tokens = await a_case(client)
    message = await error(
        await client.get(f"/api/cases/{number}/agreement"), 404, "agreement_not_found"
    )
    assert "draft it in the room" in message
    await draft_and_seal(client, number, seal=False)
    resp = await client.get(f"/api/cases/{number}/agreement")
    view = await resp.json()
    assert resp.status == 200 and view["status"] == "draft" and view["version"] == 1
    assert view["terms"]["consumer"]["name"] == "李小红" and "调解协议书" in view["text"]
    await error(await client.get(f"/api/cases/{number}/agreement.pdf"), 409, "not_sealed")
    await error(
        await client.post(f"/api/cases/{number}/agreement/performed", json={}), 409, "not_sealed"
    )
    await login(client, "li")  # the same office's other mediator does not see it
    await error(await client.get(f"/api/cases/{number}/agreement"), 404, "case_not_found")


async def test_sealed_pdf_party_copy_and_public_check(client: Client) -> None:
    await login(client)
    number, room_id, tokens = await a_case(client)
    await draft_and_seal(client, number)
    view = await (await client.get(f"/api/cases/{number}/agreement")).json()
    assert view["status"] == "sealed" and [s["role"] for s in view["signatures"]] == [
        "consumer",
        "business",
        "mediator",
    ]
    assert len(view["signature_history"]) == 3
    code = view["verification_code"]

    resp = await client.get(f"/api/cases/{number}/agreement.pdf")
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/pdf"
    pdf = await resp.read()
    assert pdf.startswith(b"%PDF-")

    # A party's copy with their link: the same file.
    url = f"/api/rooms/{room_id}/agreement.pdf"
    resp = await client.get(url, headers={"Authorization": f"Bearer {tokens['consumer']}"})
    assert resp.status == 200 and await resp.read() == pdf
    await error(await client.get(url), 401, "token_missing")
    await error(
        await client.get(url, headers={"Authorization": "Bearer nonsense"}),
        401,
        "token_malformed",
    )

    # The public check: facts with masked names, by the code as a person types it.
    anonymous = client.session.cookie_jar
    anonymous.clear()
    typed = code.lower().replace("-", " ")
    resp = await client.get(f"/api/verify/{typed}")
    facts = await resp.json()
    assert resp.status == 200, facts
    assert facts["case_number"] == number and facts["verification_code"] == code
    assert facts["parties"] == [
        {"role": "consumer", "name": "李**"},
        {"role": "business", "name": "某*****"},
    ]
    assert facts["text_sha256"] == view["text_sha256"]
    assert facts["pdf_sha256"] == ag._sha256(pdf)
    assert "13812341234" not in await resp.text()
    message = await error(
        await client.get("/api/verify/ZZZZZ-ZZZZZ"), 404, "verification_code_unknown"
    )
    assert "check the code" in message

    async def check(data: bytes) -> Any:
        form = aiohttp.FormData()
        form.add_field("file", data, filename="agreement.pdf", content_type="application/pdf")
        return await client.post(f"/api/verify/{code}", data=form)

    resp = await check(pdf)
    assert resp.status == 200 and (await resp.json())["matches"] is True
    resp = await check(pdf[:-10] + b"%%EOF    \n")
    assert resp.status == 200 and (await resp.json())["matches"] is False
    await error(await check(b"GIF89a not a pdf"), 422, "not_a_pdf")

    page = await client.get("/verify")
    assert page.status == 200 and "调解协议核验" in await page.text()

    # Performed, then the party's copy after its time is up.
    await login(client)
    await error(
        await client.post(
            f"/api/cases/{number}/agreement/performed", json={"performed_on": "2999-01-01"}
        ),
        422,
        "invalid_date",
    )
    resp = await client.post(f"/api/cases/{number}/agreement/performed", json={})
    done = await resp.json()
    assert resp.status == 200 and done["performed_on"], done
    async with db.session_factory(client.app[DATABASE])() as session, session.begin():
        await session.execute(
            update(Agreement).values(sealed_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=31))
        )
    message = await error(
        await client.get(url, headers={"Authorization": f"Bearer {tokens['business']}"}),
        410,
        "copy_expired",
    )
    assert "ask the office" in message
