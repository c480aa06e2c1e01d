"""Bad tokens, bad payloads and commands out of order: clear errors, and the room goes on."""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import socketio
from sqlalchemy import select

from cases import db
from cases import repository as repo
from cases.invitations import issue_token, read_claims
from cases.models import InvitationUse
from tests.support.peer import RoomClient, enter_room, wait_for
from tests.support.server import RunningServer, run_server

pytestmark = pytest.mark.integration


async def refusal(server: RunningServer, auth: dict[str, Any]) -> dict[str, Any]:
    """Connect with ``auth`` and return the ``connect_error`` data the server sent."""
    client = socketio.AsyncClient(reconnection=False)
    refused: list[Any] = []
    client.on("connect_error", lambda data: refused.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server.url, auth=auth, transports=["websocket"], wait_timeout=5)
    await client.disconnect()
    assert refused, "the server accepted a connection it should refuse"
    data: dict[str, Any] = refused[0]["data"]
    assert set(data) == {"code", "message", "event"}
    assert refused[0]["message"] == data["message"]
    return data


def tamper(token: str) -> str:
    i = len(token) - 5
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]


def reissue(server: RunningServer, role: str, **changes: Any) -> str:
    """A token signed with the server's own secret, with some claims changed."""
    claims = dataclasses.replace(read_claims(server.token(role)), **changes)
    return issue_token(server.secret(), claims)


async def test_tampered_token_is_refused(server: RunningServer) -> None:
    data = await refusal(server, {"token": tamper(server.token("consumer")), "room_id": "demo"})
    assert data["code"] == "token_invalid"


async def test_expired_token_is_refused(server: RunningServer) -> None:
    token = reissue(server, "consumer", expires_at=int(time.time()) - 1)
    data = await refusal(server, {"token": token, "room_id": "demo"})
    assert data["code"] == "token_expired"


async def test_token_for_another_room_is_refused(server: RunningServer) -> None:
    token = reissue(server, "consumer", room_id="another-room")
    assert (await refusal(server, {"token": token, "room_id": "demo"}))["code"] == "token_foreign"
    # Signed here, but for a room this server does not hold.
    assert (await refusal(server, {"token": token}))["code"] == "room_not_found"


async def test_missing_and_malformed_tokens(server: RunningServer) -> None:
    assert (await refusal(server, {}))["code"] == "token_missing"
    assert (await refusal(server, {"token": "hello", "room_id": "demo"}))[
        "code"
    ] == "token_malformed"


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers or {}), timeout=5
        ) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_invitation_inspection_over_http(server: RunningServer) -> None:
    token = server.token("business")
    status, body = http_get(f"{server.url}/api/invitations/inspect?t={token}&room=demo")
    assert status == 200
    assert body["role"] == "business"
    assert body["case_number"]
    status, body = http_get(f"{server.url}/api/invitations/inspect?t={tamper(token)}&room=demo")
    assert status == 403
    assert body == {"code": "token_invalid", "message": body["message"], "event": None}
    status, body = http_get(f"{server.url}/api/invitations/inspect?room=demo")
    assert (status, body["code"]) == (400, "token_missing")


async def test_bad_commands_get_errors_and_change_nothing(server: RunningServer) -> None:
    mediator = RoomClient(server.url, server.token("mediator"), "mediator")
    consumer = RoomClient(server.url, server.token("consumer"), "consumer")
    try:
        await consumer.connect()
        # Before join: every other command is refused.
        ack = await consumer.sio.call("set_media_state", {"audio": True, "video": True})
        assert ack["error"]["code"] == "not_joined"
        ack = await consumer.sio.call(
            "answer", {"type": "answer", "sdp": "v=0 xxxxxxxx", "revision": 1}
        )
        assert ack["error"]["code"] == "not_joined"
        # Malformed payloads, wrong types, unknown events.
        ack = await consumer.sio.call("join", "not an object")
        assert ack["error"] == {
            "code": "invalid_payload",
            "message": "join: the payload must be an object",
            "event": "join",
        }
        ack = await consumer.sio.call("join", {"name": 42})
        assert ack["error"]["code"] == "invalid_payload"
        assert "join.name" in ack["error"]["message"]
        ack = await consumer.sio.call("summon_dragon", {})
        assert ack["error"]["code"] == "unknown_event"
        assert await wait_for(lambda: len(consumer.errors) == 5, 5), consumer.errors
        assert [e["code"] for e in consumer.errors] == [
            "not_joined",
            "not_joined",
            "invalid_payload",
            "invalid_payload",
            "unknown_event",
        ]

        # None of it broke the connection or the room: a proper join still works.
        await mediator.connect()
        assert await mediator.join() == {"ok": True}
        await enter_room(mediator, consumer)
        assert await wait_for(
            lambda: "consumer" in mediator.remote and mediator.remote["consumer"].video_frames > 0,
            20,
        )
        # Joined now: a second join, a stale answer, an unreadable candidate.
        ack = await consumer.sio.call("join", {})
        assert ack["error"]["code"] == "already_joined"
        ack = await consumer.sio.call(
            "answer", {"type": "answer", "sdp": "v=0 xxxxxxxx", "revision": 99}
        )
        assert ack["error"]["code"] in ("stale_answer", "no_offer_pending")
        ack = await consumer.sio.call(
            "ice_candidate", {"candidate": "candidate:garbage", "sdpMid": "0"}
        )
        assert ack["error"]["code"] == "negotiation_failed"
        frames = mediator.remote["consumer"].video_frames
        assert await wait_for(lambda: mediator.remote["consumer"].video_frames > frames + 30, 10)
    finally:
        await consumer.close()
        await mediator.close()
    assert "Traceback" not in server.log()


async def test_revoked_and_unrecorded_links_are_refused(server: RunningServer) -> None:
    engine = db.create_engine(db.sqlite_url(server.data_dir))
    try:
        token = server.token("business")
        sessions = db.session_factory(engine)
        # Opening a link is a use, noted with where it came from.
        client = RoomClient(server.url, token, "business")
        await client.connect()
        await client.close()
        async with sessions() as session:
            uses = (await session.execute(select(InvitationUse))).scalars().all()
            assert [u.ip for u in uses] == ["127.0.0.1"]
        async with sessions() as session, session.begin():
            await repo.revoke_invitation(session, read_claims(token).invitation_id or "", "test")
        data = await refusal(server, {"token": token, "room_id": "demo"})
        assert data["code"] == "token_revoked"
        status, body = http_get(f"{server.url}/api/invitations/inspect?t={token}&room=demo")
        assert (status, body["code"]) == (403, "token_revoked")
        # Signed with the right key but never issued as a stored invitation.
        unrecorded = reissue(server, "consumer", invitation_id=None)
        data = await refusal(server, {"token": unrecorded, "room_id": "demo"})
        assert data["code"] == "token_unknown"
    finally:
        await engine.dispose()


async def test_a_link_of_an_ended_sitting_says_so(tmp_path: Path) -> None:
    # Each run of the demo ends the previous sitting and opens a new one in the same room.
    with run_server(tmp_path) as first:
        old = first.token("consumer")
    with run_server(tmp_path) as second:
        data = await refusal(second, {"token": old, "room_id": "demo"})
        assert data["code"] == "sitting_ended"
        status, body = http_get(f"{second.url}/api/invitations/inspect?t={old}&room=demo")
        assert (status, body["code"]) == (403, "sitting_ended")
        status, body = http_get(
            f"{second.url}/api/rooms/demo/evidence", {"Authorization": f"Bearer {old}"}
        )
        assert (status, body["code"]) == (401, "sitting_ended")
        # This sitting's link is fine.
        status, _ = http_get(
            f"{second.url}/api/invitations/inspect?t={second.token('consumer')}&room=demo"
        )
        assert status == 200
