"""The transcript document over HTTP on both databases: JSON, HTML, PDF and the summary, for the
case's own mediator only."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from cases import db
from cases import repository as repo
from cases.models import Case, Sitting
from server.app import create_app
from server.config import Settings
from server.keys import DATABASE
from tests.support.database import BACKENDS, fresh_database
from tests.support.pdf import pdf_text

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
Client = TestClient  # type: ignore[type-arg]
SUMMARY = "双方同意：商家退款 3299.50 元，消费者退回空调。"
ROUTES = ("transcript", "transcript.html", "transcript.pdf")


@pytest.fixture(params=BACKENDS)
async def client(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    aiohttp_client: Callable[[Any], Awaitable[Client]],
) -> AsyncIterator[Client]:
    engine = db.create_engine(await fresh_database(request.param, tmp_path))
    await db.upgrade(engine)
    async with db.session_factory(engine)() as session, session.begin():
        for office_name, usernames in (("甲市消协", ("wang", "li")), ("乙市消协", ("zhao",))):
            office = await repo.create_office(session, office_name)
            for username in usernames:
                await repo.create_mediator(session, office, username, f"{username}调解员", PASSWORD)
    settings = Settings(data_dir=tmp_path, secret=b"s" * 32, ice_hosts=("127.0.0.1",))
    yield await aiohttp_client(create_app(settings, engine))


async def login(client: Client, username: str = "wang") -> None:
    resp = await client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert resp.status == 200, await resp.text()


async def error(resp: Any, status: int, code: str) -> None:
    body = await resp.json()
    assert resp.status == status, body
    assert set(body) == {"code", "message", "event"} and body["code"] == code, body


async def a_case_with_a_sitting(client: Client) -> str:
    """A case of wang's with both parties, one sitting with a caucus chat line, and a note."""
    resp = await client.post(
        "/api/cases", json={"title": "空调不制冷", "category": "家用电器", "claim": "退款"}
    )
    number: str = (await resp.json())["number"]
    for party in (
        {"role": "consumer", "name": "李女士", "phone": "13812341234"},
        {"role": "business", "name": "<b>某某电器</b>"},
    ):
        assert (await client.post(f"/api/cases/{number}/parties", json=party)).status == 201
    issued = await client.post(f"/api/cases/{number}/invitations", json={"valid_hours": 24})
    assert issued.status == 201
    room_id = (await issued.json())["room_id"]
    async with db.session_factory(client.app[DATABASE])() as session, session.begin():
        case_id = (await session.execute(select(Case.id).where(Case.number == number))).scalar_one()
        sitting_id = (
            await session.execute(select(Sitting.id).where(Sitting.room_id == room_id))
        ).scalar_one()
        await repo.append_transcript(
            session,
            case_id,
            kind="chat",
            author="李女士",
            author_role="consumer",
            text="运费我可以出一半。",
            sitting_id=sitting_id,
            event="chat",
            participant_id="consumer",
            audience="consumer",
        )
    assert (
        await client.post(f"/api/cases/{number}/notes", json={"text": "已电话通知商家"})
    ).status == 201
    return number


async def test_the_transcript_is_the_case_mediators_only(client: Client) -> None:
    for route in ROUTES:
        await error(await client.get(f"/api/cases/2026-000001/{route}"), 401, "not_logged_in")
    await error(
        await client.put("/api/cases/2026-000001/summary", json={"text": "x"}), 401, "not_logged_in"
    )
    await login(client)
    number = await a_case_with_a_sitting(client)
    for other in ("li", "zhao"):  # the same office's other mediator, and another office's
        await login(client, other)
        for route in ROUTES:
            await error(await client.get(f"/api/cases/{number}/{route}"), 404, "case_not_found")
        await error(
            await client.put(f"/api/cases/{number}/summary", json={"text": "x"}),
            404,
            "case_not_found",
        )
    await login(client)
    await error(await client.get("/api/cases/1999-000001/transcript"), 404, "case_not_found")


async def test_summary_json_html_and_pdf(client: Client, tmp_path: Path) -> None:
    await login(client)
    number = await a_case_with_a_sitting(client)
    path = f"/api/cases/{number}"

    await error(await client.put(f"{path}/summary", json={"text": ""}), 422, "invalid_payload")
    await error(
        await client.put(f"{path}/summary", json={"text": "长" * 20_001}), 422, "invalid_payload"
    )
    await error(await client.put(f"{path}/summary", data=b"text"), 415, "unsupported_media_type")
    await error(await client.put(f"{path}/summary", json={"text": "  "}), 422, "invalid_field")
    resp = await client.put(f"{path}/summary", json={"text": SUMMARY})
    assert resp.status == 200, await resp.text()
    written = await resp.json()
    assert (written["text"], written["author"]) == (SUMMARY, "wang调解员")
    assert written["at"].endswith("+08:00")
    again = await (await client.put(f"{path}/summary", json={"text": SUMMARY})).json()
    assert again["seq"] == written["seq"]  # the same text writes nothing new

    resp = await client.get(f"{path}/transcript")
    assert resp.status == 200
    timeline = await resp.json()
    assert timeline["summary"] == written
    (sitting,) = timeline["sittings"]
    (said,) = [e for e in sitting["entries"] if e["kind"] == "chat"]
    assert (said["text"], said["audience"]) == ("运费我可以出一半。", "consumer")
    assert [n["text"] for n in timeline["notes"]] == ["已电话通知商家"]
    assert timeline["parties"][0]["phone"] == "138****1234"
    assert timeline["audit"]["intact"] is True

    resp = await client.get(f"{path}/transcript.html")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert (
        resp.headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    )
    page = await resp.text()
    assert '<html lang="zh-CN">' in page and SUMMARY in page
    assert "&lt;b&gt;某某电器&lt;/b&gt;" in page and "<b>" not in page
    assert "背对背 · 与消费者" in page

    resp = await client.get(f"{path}/transcript.pdf")
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == "application/pdf"
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert f"filename*=UTF-8''{quote(f'调解笔录-{number}.pdf')}" in disposition
    pdf = await resp.read()
    assert pdf.startswith(b"%PDF-")
    (tmp_path / "t.pdf").write_bytes(pdf)
    assert re.sub(r"\s+", "", SUMMARY) in pdf_text(tmp_path / "t.pdf")
