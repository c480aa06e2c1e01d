"""The mediators' REST API on both databases, through the real app (pytest-aiohttp)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import socketio
from aiohttp.test_utils import TestClient

from cases import db
from cases import repository as repo
from server.app import create_app
from server.config import Settings
from server.openapi import OPERATIONS
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
        for office_name, username in (("甲市消协", "wang"), ("乙市消协", "zhao")):
            office = await repo.create_office(session, office_name)
            await repo.create_mediator(session, office, username, f"{username}调解员", PASSWORD)
    settings = Settings(data_dir=tmp_path, secret=b"s" * 32, ice_hosts=("127.0.0.1",))
    yield await aiohttp_client(create_app(settings, engine))


async def login(client: Client, username: str = "wang") -> None:
    resp = await client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["office_name"].endswith("市消协")


async def error(resp: Any, status: int, code: str) -> dict[str, Any]:
    body: dict[str, Any] = await resp.json()
    assert resp.status == status, body
    assert set(body) == {"code", "message", "event"}, body
    assert body["code"] == code, body
    return body


CASE = {
    "title": "空调不制冷",
    "category": "家用电器",
    "claim": "退款",
    "amount_in_dispute": "3299.50",
}


async def new_case(client: Client, **changes: Any) -> dict[str, Any]:
    resp = await client.post("/api/cases", json={**CASE, **changes})
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def test_anonymous_requests_get_401(client: Client) -> None:
    for method, path, *_ in OPERATIONS:
        if path in ("/api/session", "/api/invitations/inspect"):
            continue
        url = re.sub(r"\{[a-z_]+\}", "x", path)
        resp = await client.request(method, url, json={})
        await error(resp, 401, "not_logged_in")


async def test_login_logout(client: Client) -> None:
    resp = await client.post("/api/session", json={"username": "wang", "password": "nope"})
    await error(resp, 401, "bad_credentials")
    resp = await client.post("/api/session", json={"username": "ghost", "password": PASSWORD})
    await error(resp, 401, "bad_credentials")
    await login(client)
    assert (await (await client.get("/api/me")).json())["username"] == "wang"
    assert (await client.delete("/api/session")).status == 200
    await error(await client.get("/api/me"), 401, "not_logged_in")


async def test_bad_input_is_refused_and_changes_nothing(client: Client) -> None:
    await login(client)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"title": "x" * 201}, "title"),
        ({"category": "飞船"}, "category"),
        ({"amount_in_dispute": "-1"}, "amount_in_dispute"),
        ({"amount_in_dispute": "1.234"}, "amount_in_dispute"),
        ({"amount_in_dispute": "一百"}, "amount_in_dispute"),
        ({"received_on": "2999-01-01"}, "received_on"),
        ({"title": 42}, "title"),
        ({"colour": "red"}, "colour"),
    ]
    for changes, field in cases:
        resp = await client.post("/api/cases", json={**CASE, **changes})
        body = await error(resp, 422, "invalid_payload")
        assert field in body["message"], body
    resp = await client.post("/api/cases", data="not json", headers={"Content-Type": "text/plain"})
    await error(resp, 415, "unsupported_media_type")
    resp = await client.post(
        "/api/cases", data="{broken", headers={"Content-Type": "application/json"}
    )
    await error(resp, 400, "invalid_json")
    assert (await (await client.get("/api/cases")).json())["total"] == 0


async def test_case_life_through_the_api(client: Client) -> None:
    await login(client)
    case = await new_case(client, complaint_number="12315-2026-001")
    number = case["number"]
    assert re.fullmatch(r"\d{4}-\d{6}", number)
    assert case["status"] == "received"
    assert case["amount_in_dispute"] == "3299.50"
    assert case["deadline"]["what"] == "acceptance"
    resp = await client.post(
        f"/api/cases/{number}/parties",
        json={"role": "consumer", "name": "李女士", "phone": "13812341234"},
    )
    assert resp.status == 201
    assert (await resp.json())["parties"][0]["phone"] == "138****1234"
    revealed = await (await client.get(f"/api/cases/{number}?reveal=1")).json()
    assert revealed["parties"][0]["phone"] == "13812341234"
    resp = await client.post(f"/api/cases/{number}/parties", json={"role": "consumer", "name": "x"})
    await error(resp, 409, "conflict")

    resp = await client.post(f"/api/cases/{number}/status", json={"to": "settled"})
    body = await error(resp, 409, "invalid_status_transition")
    assert "received cannot become settled" in body["message"]
    for to in ("accepted", "in_mediation"):
        resp = await client.post(f"/api/cases/{number}/status", json={"to": to})
        assert resp.status == 200, await resp.text()
    assert (await resp.json())["deadline"]["what"] == "mediation"

    listed = await (await client.get("/api/cases?status=in_mediation&q=空调")).json()
    assert [c["number"] for c in listed["cases"]] == [number]
    assert (await (await client.get("/api/cases?status=settled")).json())["total"] == 0
    await error(await client.get("/api/cases?status=bogus"), 422, "invalid_payload")


async def test_invitations_open_a_sitting_and_can_be_revoked(client: Client) -> None:
    await login(client)
    number = (await new_case(client))["number"]
    resp = await client.post(f"/api/cases/{number}/invitations", json={})
    body = await error(resp, 409, "conflict")
    assert body["message"] == "add the business and consumer to the case first"
    for role, name in (("consumer", "李女士"), ("business", "某电器行")):
        await client.post(f"/api/cases/{number}/parties", json={"role": role, "name": name})
    resp = await client.post(f"/api/cases/{number}/invitations", json={"valid_hours": 2})
    assert resp.status == 201
    issued = await resp.json()
    links = {i["role"]: i["link"] for i in issued["invitations"]}
    assert set(links) == {"mediator", "consumer", "business"}

    consumer = urlparse(links["consumer"])
    token = parse_qs(consumer.query)["t"][0]
    room_id = consumer.path.rsplit("/", 1)[1]
    assert room_id == issued["room_id"]
    inspect = f"/api/invitations/inspect?t={token}&room={room_id}"
    seen = await (await client.get(inspect)).json()
    assert (seen["role"], seen["name"], seen["case_number"]) == ("consumer", "李女士", number)

    invitation_id = next(i["id"] for i in issued["invitations"] if i["role"] == "consumer")
    inside = socketio.AsyncClient(reconnection=False)
    await inside.connect(
        str(client.make_url("/")),
        auth={"token": token, "room_id": room_id},
        transports=["websocket"],
    )
    await login(client, "zhao")  # another office: as if the invitation did not exist
    await error(
        await client.post(f"/api/invitations/{invitation_id}/revoke"), 404, "invitation_not_found"
    )
    await error(await client.get(f"/api/cases/{number}"), 404, "case_not_found")
    await login(client, "wang")
    resp = await client.post(f"/api/invitations/{invitation_id}/revoke")
    assert resp.status == 200
    assert (await resp.json())["revoked_at"] is not None
    await error(await client.get(inspect), 403, "token_revoked")
    for _ in range(50):  # the one already inside is put out at once
        if not inside.connected:
            break
        await asyncio.sleep(0.1)
    assert not inside.connected
    await inside.disconnect()


async def test_record_holds_notes_and_checks_its_chain(client: Client) -> None:
    await login(client)
    number = (await new_case(client))["number"]
    resp = await client.post(f"/api/cases/{number}/notes", json={"text": "双方同意下周复谈"})
    assert resp.status == 201
    await error(
        await client.post(f"/api/cases/{number}/notes", json={"text": ""}), 422, "invalid_payload"
    )
    record = await (await client.get(f"/api/cases/{number}/record")).json()
    assert [(e["kind"], e["text"]) for e in record["transcript"]] == [("note", "双方同意下周复谈")]
    assert record["audit_intact"] is True
    assert record["audit_events"] == 2


async def test_every_api_route_is_in_the_openapi_document(client: Client) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    for route in client.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method == "HEAD" or not path or not path.startswith("/api/"):
            continue  # aiohttp adds HEAD beside every GET
        if path != "/api/openapi.json":
            assert (route.method.lower(), path) in documented, (route.method, path)


async def test_settling_records_the_amount_and_next_steps_are_listed(client: Client) -> None:
    await login(client)
    me = await (await client.get("/api/me")).json()
    assert me["office_name"] == "甲市消协"
    case = await new_case(client)
    number = case["number"]
    assert case["next_statuses"] == ["accepted", "not_accepted", "withdrawn"]
    resp = await client.post(
        f"/api/cases/{number}/status", json={"to": "accepted", "amount_recovered": "10"}
    )
    body = await error(resp, 422, "invalid_field")
    assert "amount_recovered" in body["message"]
    for to in ("accepted", "in_mediation"):
        assert (await client.post(f"/api/cases/{number}/status", json={"to": to})).status == 200
    resp = await client.post(
        f"/api/cases/{number}/status", json={"to": "settled", "amount_recovered": "3000.00"}
    )
    settled = await resp.json()
    assert resp.status == 200, settled
    assert (settled["status"], settled["amount_recovered"]) == ("settled", "3000.00")
    assert settled["next_statuses"] == [] and settled["deadline"] is None
    assert settled["concluded_on"] is not None


async def test_reveal_is_audited_and_times_carry_their_zone(client: Client) -> None:
    await login(client)
    number = (await new_case(client))["number"]
    for role, name in (("consumer", "李女士"), ("business", "某电器行")):
        await client.post(f"/api/cases/{number}/parties", json={"role": role, "name": name})
    await client.post(f"/api/cases/{number}/invitations", json={})
    before = (await (await client.get(f"/api/cases/{number}/record")).json())["audit_events"]
    await client.get(f"/api/cases/{number}?reveal=1")
    record = await (await client.get(f"/api/cases/{number}/record")).json()
    assert record["audit_events"] == before + 1
    assert record["audit_intact"] is True
    listed = await (await client.get(f"/api/cases/{number}/invitations")).json()
    assert sorted(i["role"] for i in listed["invitations"]) == ["business", "consumer", "mediator"]
    assert all(i["link"] is None for i in listed["invitations"])  # links are not kept
    assert {i["sitting_id"] for i in listed["invitations"]} == {record["sittings"][0]["id"]}
    assert all(i["issued_at"] for i in listed["invitations"])
    for stamp in [i["expires_at"] for i in listed["invitations"]] + [
        s["opened_at"] for s in record["sittings"]
    ]:
        assert stamp.endswith(("Z", "+00:00")), stamp


async def test_deadline_filter_pages_over_the_matching_cases(client: Client) -> None:
    await login(client)
    for _ in range(3):
        await new_case(client, received_on="2020-01-02")  # long overdue
    await new_case(client)  # due in 7 working days
    page = await (await client.get("/api/cases?deadline=overdue&per_page=2")).json()
    assert (page["total"], len(page["cases"])) == (3, 2)
    page2 = await (await client.get("/api/cases?deadline=overdue&per_page=2&page=2")).json()
    assert len(page2["cases"]) == 1
    ok = await (await client.get("/api/cases?deadline=ok")).json()
    assert ok["total"] == 1
    await error(await client.get("/api/cases?deadline=late"), 422, "invalid_payload")


async def test_correcting_a_case_is_audited_and_bounded(client: Client) -> None:
    await login(client)
    number = (await new_case(client))["number"]
    resp = await client.patch(
        f"/api/cases/{number}", json={"title": "空调制冷差", "amount_in_dispute": "2999"}
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert (body["title"], body["amount_in_dispute"]) == ("空调制冷差", "2999.00")
    for bad, field in (
        ({}, "body"),
        ({"title": None}, "title"),
        ({"status": "settled"}, "status"),
        ({"category": "飞船"}, "category"),
        ({"claim": "x" * 5001}, "claim"),
    ):
        err = await error(
            await client.patch(f"/api/cases/{number}", json=bad), 422, "invalid_payload"
        )
        assert field in err["message"], err
    record = await (await client.get(f"/api/cases/{number}/record")).json()
    assert record["audit_intact"] is True
    for to in ("withdrawn",):
        await client.post(f"/api/cases/{number}/status", json={"to": to})
    resp = await client.patch(f"/api/cases/{number}", json={"title": "晚了"})
    await error(resp, 409, "invalid_status_transition")
    resp = await client.post(f"/api/cases/{number}/invitations", json={})
    await error(resp, 409, "invalid_status_transition")


async def test_closing_a_sitting_puts_everyone_out_and_ends_its_links(client: Client) -> None:
    await login(client)
    number = (await new_case(client))["number"]
    for role, name in (("consumer", "李女士"), ("business", "某电器行")):
        await client.post(f"/api/cases/{number}/parties", json={"role": role, "name": name})
    issued = await (await client.post(f"/api/cases/{number}/invitations", json={})).json()
    link = urlparse(next(i["link"] for i in issued["invitations"] if i["role"] == "consumer"))
    token, room_id = parse_qs(link.query)["t"][0], link.path.rsplit("/", 1)[1]
    inside = socketio.AsyncClient(reconnection=False)
    told: list[dict[str, Any]] = []
    inside.on("error", told.append)
    await inside.connect(
        str(client.make_url("/")),
        auth={"token": token, "room_id": room_id},
        transports=["websocket"],
    )
    sitting_id = (await (await client.get(f"/api/cases/{number}/record")).json())["sittings"][0][
        "id"
    ]
    resp = await client.post(f"/api/cases/{number}/sittings/{sitting_id}/close")
    closed = await resp.json()
    assert resp.status == 200, closed
    assert closed["closed_at"] is not None
    for _ in range(50):
        if not inside.connected:
            break
        await asyncio.sleep(0.1)
    assert not inside.connected
    assert [e["code"] for e in told] == ["room_closed"]  # the page shows "调解室已关闭"
    await inside.disconnect()
    inspect = f"/api/invitations/inspect?t={token}&room={room_id}"
    await error(await client.get(inspect), 404, "room_not_found")
    await error(
        await client.post(f"/api/cases/{number}/sittings/999/close"), 404, "sitting_not_found"
    )


async def test_a_party_token_opens_no_api_door(client: Client) -> None:
    await login(client)
    number = (await new_case(client))["number"]
    for role, name in (("consumer", "李女士"), ("business", "某电器行")):
        await client.post(f"/api/cases/{number}/parties", json={"role": role, "name": name})
    issued = await (await client.post(f"/api/cases/{number}/invitations", json={})).json()
    token = parse_qs(urlparse(issued["invitations"][1]["link"]).query)["t"][0]
    await client.delete("/api/session")
    client.session.cookie_jar.update_cookies({"mr_session": token})
    for path in (f"/api/cases/{number}", f"/api/cases/{number}/record", "/api/cases"):
        resp = await client.get(path, headers={"Authorization": f"Bearer {token}"})
        await error(resp, 401, "not_logged_in")


async def test_cases_created_at_once_get_distinct_numbers(client: Client) -> None:
    await login(client)
    results = await asyncio.gather(*(client.post("/api/cases", json=CASE) for _ in range(8)))
    assert [r.status for r in results] == [201] * 8
    numbers = {(await r.json())["number"] for r in results}
    assert len(numbers) == 8
