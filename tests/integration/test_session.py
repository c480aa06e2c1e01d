"""The mediation session with real aiortc clients through the real server: the lobby, consent,
the caucus enforced by the SFU, the mediator's controls, chat, reconnection, permissions."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from cases import db
from cases import repository as repo
from cases.invitations import read_claims
from cases.models import Case, Sitting
from rooms.sfu import quality_level
from tests.support.peer import PatternVideoTrack, RoomClient, enter_room, wait_for
from tests.support.server import RunningServer, run_server

pytestmark = pytest.mark.integration

MEDIATOR_ONLY: list[tuple[str, dict[str, Any]]] = [
    ("admit", {"participant_id": "business"}),
    ("reject", {"participant_id": "business", "reason": "不是本人"}),
    ("remove_participant", {"participant_id": "business", "reason": "扰乱秩序"}),
    ("start_caucus", {"role": "consumer"}),
    ("end_caucus", {}),
    ("mute_participant", {"participant_id": "business", "kind": "audio", "muted": True}),
    ("lower_hand", {"participant_id": "business"}),
    ("lock_room", {"locked": True}),
    ("show_evidence", {"evidence_id": 1}),
    ("set_screen_share", {"active": True}),
    ("end_sitting", {"outcome": "settled"}),
]


async def three(make_client: Callable[[str], RoomClient]) -> tuple[RoomClient, ...]:
    """Mediator, consumer and business in the room, each receiving the others' video."""
    clients = tuple(make_client(role) for role in ("mediator", "consumer", "business"))
    for client in clients:
        await client.connect()
    assert await clients[0].join() == {"ok": True}
    await enter_room(clients[0], *clients[1:])
    assert await wait_for(
        lambda: all(
            c.remote.get(o) is not None and c.remote[o].video_frames > 0
            for c in clients
            for o in ("mediator", "consumer", "business")
            if o != c.role
        ),
        20,
    )
    return clients


def without_quality(view: dict[str, Any] | None) -> Any:
    """A room view without the connection figures, which move by themselves."""
    if view is None:
        return None
    strip = lambda p: {k: v for k, v in p.items() if k != "quality"}  # noqa: E731
    return {
        **view,
        "self": strip(view["self"]),
        "participants": [strip(p) for p in view["participants"]],
        "lobby": [strip(p) for p in view["lobby"]],
    }


async def transcript(server: RunningServer) -> list[Any]:
    engine = db.create_engine(db.sqlite_url(server.data_dir))
    try:
        async with db.session_factory(engine)() as session:
            case = (await session.execute(select(Case))).scalar_one()
            entries = list(await repo.transcript(session, case.id))
            assert await repo.verify_case(session, case.id) == []
            return entries
    finally:
        await engine.dispose()


async def test_nobody_gets_media_from_the_lobby(make_client: Callable[[str], RoomClient]) -> None:
    mediator, consumer = make_client("mediator"), make_client("consumer")
    await consumer.connect()
    assert await consumer.join() == {"ok": True}  # the party arrives first
    assert consumer.me()["stage"] == "lobby"
    assert consumer.view is not None and consumer.view["participants"] == []
    await mediator.connect()
    assert await mediator.join() == {"ok": True}
    waiting = mediator.seen("consumer")
    assert waiting is not None and waiting["stage"] == "lobby" and waiting["waiting_since"] > 0
    assert waiting["consent"] == "pending" and waiting["identity"] == "unchecked"
    # Nothing from the lobby: no offer, no chat, no hand.
    await asyncio.sleep(1)
    assert consumer.offers == 0 and "consumer" not in mediator.remote
    ack = await consumer.call("chat", {"text": "有人吗"})
    assert ack["error"]["code"] == "not_admitted"
    ack = await consumer.call("raise_hand", {"raised": True})
    assert ack["error"]["code"] == "not_admitted"
    # Admitted without consent: still no media; the mediator sees what is missing.
    assert await mediator.call("admit", {"participant_id": "consumer"}) == {"ok": True}
    assert await wait_for(lambda: consumer.me()["admitted"], 5)
    assert consumer.me()["stage"] == "lobby" and consumer.offers == 0
    assert await consumer.call("consent", {"accept": False}) == {"ok": True}
    assert await wait_for(lambda: (mediator.seen("consumer") or {}).get("consent") == "declined", 5)
    await asyncio.sleep(0.5)
    assert consumer.offers == 0
    # Changing their mind lets them in.
    assert await consumer.call("consent", {"accept": True}) == {"ok": True}
    assert await wait_for(lambda: "mediator" in consumer.remote, 15)
    assert (await consumer.call("consent", {"accept": True}))["error"]["code"] == "invalid_state"


async def test_identity_check_compares_with_the_case_record(
    make_client: Callable[[str], RoomClient], server: RunningServer
) -> None:
    mediator, consumer = make_client("mediator"), make_client("consumer")
    for client in (mediator, consumer):
        await client.connect()
        assert await client.join() == {"ok": True}
    ack = await consumer.call("verify_identity", {"phone_last4": "0000"})
    assert ack == {"ok": True, "match": False, "attempts_left": 4}
    assert await wait_for(
        lambda: (mediator.seen("consumer") or {}).get("identity") == "mismatch", 5
    )
    ack = await consumer.call("verify_identity", {"phone_last4": "1234"})  # demo: 13812341234
    assert ack == {"ok": True, "match": True, "attempts_left": 3}
    assert await wait_for(lambda: (mediator.seen("consumer") or {}).get("identity") == "match", 5)
    ack = await consumer.call("verify_identity", {"phone_last4": "12a4"})
    assert ack["error"]["code"] == "invalid_payload"
    # The parties never learn the others' identity results.
    assert consumer.me()["identity"] is None
    texts = [e.text for e in await transcript(server)]
    assert "李女士（消费者）核验身份：手机号后四位不一致" in texts
    assert "李女士（消费者）核验身份：手机号后四位一致" in texts


async def test_identity_attempts_are_limited(make_client: Callable[[str], RoomClient]) -> None:
    consumer, business = make_client("consumer"), make_client("business")
    for client in (consumer, business):
        await client.connect()
        assert await client.join() == {"ok": True}
    for left in (4, 3, 2, 1, 0):
        ack = await consumer.call("verify_identity", {"phone_last4": "9999"})
        assert ack == {"ok": True, "match": False, "attempts_left": left}
    ack = await consumer.call("verify_identity", {"phone_last4": "1234"})  # right, but too late
    assert ack["error"]["code"] == "too_many_attempts"
    # The demo case has no phone number for the business: the mediator checks another way.
    ack = await business.call("verify_identity", {"phone_last4": "1234"})
    assert ack["error"]["code"] == "no_phone_on_file"


async def test_caucus_cuts_the_excluded_party_off_in_both_directions(
    make_client: Callable[[str], RoomClient], server: RunningServer
) -> None:
    mediator, consumer, business = await three(make_client)
    assert await mediator.call("start_caucus", {"role": "consumer"}) == {"ok": True}
    assert await wait_for(lambda: business.me()["excluded"], 5)
    assert business.view is not None and business.view["room"]["caucus"]["role"] == "consumer"
    assert not consumer.me()["excluded"]
    await asyncio.sleep(0.5)  # packets already on the wire arrive
    before = {
        (c.role, o): await c.packets_from(o)
        for c in (mediator, consumer, business)
        for o in ("mediator", "consumer", "business")
        if o != c.role
    }
    await asyncio.sleep(2)
    after = {
        key: await next(c for c in (mediator, consumer, business) if c.role == key[0]).packets_from(
            key[1]
        )
        for key in before
    }
    grown = {key: after[key] - before[key] for key in before}
    for key in (("business", "mediator"), ("business", "consumer")):
        assert grown[key] == 0, f"the excluded business still received from {key[1]}: {grown}"
    for key in (("mediator", "business"), ("consumer", "business")):
        assert grown[key] == 0, f"{key[0]} still received from the excluded business: {grown}"
    assert grown[("mediator", "consumer")] > 50 and grown[("consumer", "mediator")] > 50, grown
    # Chat stays inside the caucus; the excluded party can't write meanwhile.
    ack = await consumer.call("chat", {"text": "我想单独说一下"})
    assert ack["ok"] and ack["message"]["audience"] == "consumer"
    assert (await business.call("chat", {"text": "喂"}))["error"]["code"] == "invalid_state"

    # The caucus ends: media resumes for the business within a second or so.
    frames = {o: business.remote[o].video_frames for o in ("mediator", "consumer")}
    back = mediator.remote["business"].video_frames
    started = time.monotonic()
    assert await mediator.call("end_caucus", {}) == {"ok": True}
    assert await wait_for(
        lambda: (
            all(business.remote[o].video_frames > frames[o] for o in frames)
            and mediator.remote["business"].video_frames > back
        ),
        5,
        interval=0.02,
    )
    resumed = time.monotonic() - started
    assert resumed < 2.0, f"video came back after {resumed:.2f} s"
    await asyncio.sleep(1)
    assert business.chats == [] or all(m["audience"] is None for m in business.chats)
    # The business joined the chat again: history without the caucus' message.
    ack = await business.call("chat", {"text": "我回来了"})
    assert ack["ok"] and ack["message"]["audience"] is None
    events = [(e.event, (e.data or {}).get("role")) for e in await transcript(server)]
    assert ("caucus_started", "consumer") in events and ("caucus_ended", "consumer") in events


async def test_switching_the_caucus_to_the_other_party(
    make_client: Callable[[str], RoomClient],
) -> None:
    mediator, consumer, business = await three(make_client)
    assert await mediator.call("start_caucus", {"role": "consumer"}) == {"ok": True}
    assert await mediator.call("start_caucus", {"role": "business"}) == {"ok": True}
    assert await wait_for(lambda: consumer.me()["excluded"] and not business.me()["excluded"], 5)
    await asyncio.sleep(1)
    frames = business.remote["mediator"].video_frames
    assert await wait_for(lambda: business.remote["mediator"].video_frames > frames + 10, 5)
    before = await consumer.packets_from("mediator")
    await asyncio.sleep(1.5)
    assert await consumer.packets_from("mediator") == before
    ack = await mediator.call("start_caucus", {"role": "business"})
    assert ack["error"]["code"] == "invalid_state"


async def test_server_side_mute_stops_forwarding(make_client: Callable[[str], RoomClient]) -> None:
    mediator, consumer, business = await three(make_client)
    ack = await mediator.call(
        "mute_participant", {"participant_id": "business", "kind": "audio", "muted": True}
    )
    assert ack == {"ok": True}
    assert await wait_for(lambda: business.me()["audio_blocked"], 5)
    await asyncio.sleep(0.5)
    before = [await c.packets_from("business", "audio") for c in (mediator, consumer)]
    video_before = await consumer.packets_from("business", "video")
    await asyncio.sleep(1.5)
    assert [await c.packets_from("business", "audio") for c in (mediator, consumer)] == before
    assert await consumer.packets_from("business", "video") > video_before  # only audio stops
    # The business asks to speak; the mediator sees it and allows it.
    assert await business.call("request_unmute", {"kind": "audio"}) == {"ok": True}
    assert await wait_for(
        lambda: (mediator.seen("business") or {}).get("unmute_requested") == ["audio"], 5
    )
    ack = await mediator.call(
        "mute_participant", {"participant_id": "business", "kind": "audio", "muted": False}
    )
    assert ack == {"ok": True}
    after = await consumer.packets_from("business", "audio")
    assert await wait_for(lambda: not business.me()["audio_blocked"], 5)
    await asyncio.sleep(1)
    assert await consumer.packets_from("business", "audio") > after + 20
    assert (await business.call("request_unmute", {"kind": "audio"}))["error"]["code"] == (
        "invalid_state"
    )


async def test_every_mediator_command_is_refused_to_a_party(
    make_client: Callable[[str], RoomClient], server: RunningServer
) -> None:
    mediator, consumer, business = await three(make_client)
    assert await business.call("raise_hand", {"raised": True}) == {"ok": True}
    await asyncio.sleep(0.3)
    views_before = [without_quality(c.view) for c in (mediator, consumer, business)]
    entries_before = len(await transcript(server))
    for event, payload in MEDIATOR_ONLY:
        ack = await consumer.call(event, payload)
        assert ack["ok"] is False and ack["error"]["code"] == "forbidden", (event, ack)
        assert ack["error"]["event"] == event
    await asyncio.sleep(0.3)
    assert [without_quality(c.view) for c in (mediator, consumer, business)] == views_before
    assert len(await transcript(server)) == entries_before
    # The party-only commands are not the mediator's either.
    ack = await mediator.call("consent", {"accept": True})
    assert ack["error"]["code"] == "forbidden"
    ack = await mediator.call("verify_identity", {"phone_last4": "1234"})
    assert ack["error"]["code"] == "forbidden"
    ack = await mediator.call("admit", {"participant_id": "nobody"})
    assert ack["error"]["code"] == "participant_not_found"
    ack = await mediator.call("end_caucus", {})
    assert ack["error"]["code"] == "invalid_state"


async def test_chat_is_ordered_stored_and_replayed(
    make_client: Callable[[str], RoomClient], server: RunningServer
) -> None:
    mediator, consumer, business = await three(make_client)
    texts = [f"第{i}条" for i in range(12)]
    acks = await asyncio.gather(
        *(
            (consumer if i % 2 else business).call("chat", {"text": t, "client_id": f"c{i}"})
            for i, t in enumerate(texts)
        )
    )
    assert all(a["ok"] for a in acks), acks
    ids = [a["message"]["id"] for a in acks]
    assert len(set(ids)) == len(ids)
    for client in (mediator, consumer, business):
        assert await wait_for(lambda c=client: len(c.chats) == len(texts), 5), client.chats
        assert [m["id"] for m in client.chats] == sorted(ids)  # all in the same order
    # A resend after a reconnect (same client_id) returns the stored message, no duplicate.
    again = await consumer.call("chat", {"text": texts[1], "client_id": "c1"})
    assert again["message"] == acks[1]["message"]
    await asyncio.sleep(0.3)
    assert len(mediator.chats) == len(texts)
    # Too long or blank: refused, nothing stored.
    assert (await consumer.call("chat", {"text": "长" * 501}))["error"]["code"] == (
        "invalid_payload"
    )
    assert (await consumer.call("chat", {"text": "   "}))["error"]["code"] == "invalid_state"
    stored = [e.text for e in await transcript(server) if e.kind == "chat"]
    assert sorted(stored) == sorted(texts)
    # A reconnecting participant gets the history.
    await business.close()
    late = make_client("business")
    await late.connect()
    assert await late.join() == {"ok": True}
    assert [m["text"] for m in late.chats] == [m["text"] for m in mediator.chats]


async def test_reconnect_restores_the_same_state_without_admission(
    make_client: Callable[[str], RoomClient], server: RunningServer
) -> None:
    mediator, consumer, _ = await three(make_client)
    assert await consumer.call("raise_hand", {"raised": True}) == {"ok": True}
    ack = await mediator.call(
        "mute_participant", {"participant_id": "consumer", "kind": "audio", "muted": True}
    )
    assert ack == {"ok": True}
    assert await mediator.call("start_caucus", {"role": "consumer"}) == {"ok": True}
    await consumer.close()  # the phone drops off the network
    assert await wait_for(lambda: (mediator.seen("consumer") or {}).get("connected") is False, 10)
    assert mediator.seen("consumer")["disconnected_at"] is not None  # type: ignore[index]
    back = make_client("consumer")
    started = time.monotonic()
    await back.connect()
    assert await back.join() == {"ok": True}
    me = back.me()
    assert me["stage"] == "room" and me["audio_blocked"] and me["hand_raised"]
    assert back.view is not None and back.view["room"]["caucus"]["role"] == "consumer"
    assert await wait_for(lambda: back.remote.get("mediator", None) is not None, 10)
    assert await wait_for(lambda: back.remote["mediator"].video_frames > 0, 10)
    took = time.monotonic() - started
    assert took < 5, f"back in {took:.1f} s"
    assert "business" not in back.remote or back.remote["business"].video_frames == 0
    events = [e.event for e in await transcript(server) if e.participant_id == "consumer"]
    assert events.count("admitted") == 1 and "reconnected" in events


async def test_a_mediator_who_drops_finds_the_room_waiting(
    make_client: Callable[[str], RoomClient],
) -> None:
    mediator, consumer, _ = await three(make_client)
    await mediator.close()
    assert await wait_for(lambda: (consumer.seen("mediator") or {}).get("connected") is False, 10)
    # The parties stay in the room and keep each other.
    frames = consumer.remote["business"].video_frames
    assert await wait_for(lambda: consumer.remote["business"].video_frames > frames + 10, 5)
    again = make_client("mediator")
    await again.connect()
    assert await again.join() == {"ok": True}
    assert {p["id"] for p in again.view["participants"]} == {"consumer", "business"}  # type: ignore[index]
    assert await wait_for(lambda: again.remote.get("consumer") is not None, 10)


async def test_rejected_and_removed_parties_cannot_come_back(
    make_client: Callable[[str], RoomClient], server: RunningServer
) -> None:
    mediator, consumer, business = (
        make_client("mediator"),
        make_client("consumer"),
        make_client("business"),
    )
    for client in (mediator, consumer, business):
        await client.connect()
        assert await client.join() == {"ok": True}
    await enter_room(mediator)  # nothing: parties stay in the lobby
    ack = await mediator.call("reject", {"participant_id": "business", "reason": "身份不符"})
    assert ack == {"ok": True}
    assert await wait_for(
        lambda: ("dismissed", {"kind": "rejected", "reason": "身份不符"}) in business.events, 5
    )
    assert await wait_for(lambda: not business.sio.connected, 5)
    assert mediator.seen("business") is None
    retry = RoomClient(server.url, server.token("business"), "business")
    with pytest.raises(Exception):  # noqa: B017 — connect_error: the link is revoked
        await retry.connect()
    await retry.close()

    assert await consumer.call("consent", {"accept": True}) == {"ok": True}
    assert await mediator.call("admit", {"participant_id": "consumer"}) == {"ok": True}
    assert await wait_for(lambda: consumer.me()["stage"] == "room", 5)
    assert await mediator.call("remove_participant", {"participant_id": "consumer"}) == {"ok": True}
    assert await wait_for(lambda: any(e == "dismissed" for e, _ in consumer.events), 5)
    assert await wait_for(lambda: not consumer.sio.connected, 5)
    texts = [e.text for e in await transcript(server)]
    assert "王调解员（调解员）拒绝某某电器商行（商家）进入调解室，理由：身份不符" in texts
    assert "王调解员（调解员）将李女士（消费者）移出调解室" in texts


async def test_a_locked_room_admits_nobody_new(make_client: Callable[[str], RoomClient]) -> None:
    mediator, consumer, business = (
        make_client("mediator"),
        make_client("consumer"),
        make_client("business"),
    )
    for client in (mediator, consumer, business):
        await client.connect()
    assert await mediator.join() == {"ok": True}
    await enter_room(mediator, consumer)
    assert await mediator.call("lock_room", {"locked": True}) == {"ok": True}
    ack = await business.join()
    assert ack["error"]["code"] == "room_locked"
    # The admitted consumer still comes back after a drop.
    await consumer.close()
    back = make_client("consumer")
    await back.connect()
    assert await back.join() == {"ok": True}
    assert back.me()["stage"] == "room"
    assert await mediator.call("lock_room", {"locked": False}) == {"ok": True}
    assert await business.join() == {"ok": True}


async def test_ending_the_sitting_records_the_outcome(
    make_client: Callable[[str], RoomClient], server: RunningServer
) -> None:
    mediator, consumer, business = await three(make_client)
    # Adjourned needs the next date; without it the room goes on, told why.
    refused = await mediator.call("end_sitting", {"outcome": "adjourned", "note": "下周三继续"})
    assert refused["ok"] is False and refused["error"]["code"] == "next_sitting_required"
    next_at = (dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(days=7)).replace(
        hour=14, minute=0, second=0, microsecond=0
    )
    ack = await mediator.call(
        "end_sitting",
        {"outcome": "adjourned", "note": "下周三继续", "next_sitting_at": next_at.isoformat()},
    )
    assert ack == {"ok": True}
    for client in (consumer, business):
        assert await wait_for(lambda c=client: any(e["code"] == "room_closed" for e in c.errors), 5)
    engine = db.create_engine(db.sqlite_url(server.data_dir))
    try:
        async with db.session_factory(engine)() as session:
            sitting = (
                (await session.execute(select(Sitting).order_by(Sitting.id.desc())))
                .scalars()
                .first()
            )
            assert sitting is not None
            assert sitting.outcome == "adjourned" and sitting.closed_at is not None
    finally:
        await engine.dispose()
    texts = [e.text for e in await transcript(server)]
    assert (
        "王调解员（调解员）结束本次调解，结果：择期继续调解，"
        f"下次调解时间：{next_at:%Y-%m-%d} 14:00；下周三继续"
    ) in texts


async def test_admissions_survive_a_server_restart(tmp_path: Path) -> None:
    with run_server(tmp_path) as server:
        tokens = {role: server.token(role) for role in ("mediator", "consumer")}
        mediator = RoomClient(server.url, tokens["mediator"], "mediator")
        consumer = RoomClient(server.url, tokens["consumer"], "consumer")
        try:
            for client in (mediator, consumer):
                await client.connect()
            assert await mediator.join() == {"ok": True}
            await enter_room(mediator, consumer)
            assert (await consumer.call("chat", {"text": "重启前的话"}))["ok"]
            assert await mediator.call("start_caucus", {"role": "consumer"}) == {"ok": True}
            server.process.kill()  # kill -9: nothing gets to say goodbye
            server.process.wait(timeout=10)
        finally:
            await consumer.close()
            await mediator.close()
    with run_server(tmp_path, demo=False) as restarted:
        back = RoomClient(restarted.url, tokens["consumer"], "consumer")
        try:
            await back.connect()
            assert await back.join() == {"ok": True}
            assert back.me()["stage"] == "room"  # no new admission after the restart
            assert back.view is not None and back.view["room"]["caucus"]["role"] == "consumer"
            assert [m["text"] for m in back.chats] == ["重启前的话"]
            mediator_view = back.seen("mediator")
            assert mediator_view is not None and mediator_view["connected"] is False
        finally:
            await back.close()


async def test_the_mediator_sees_each_connections_quality(
    make_client: Callable[[str], RoomClient],
) -> None:
    mediator, consumer, _ = await three(make_client)

    def measured(pid: str) -> dict[str, Any] | None:
        seen = mediator.seen(pid)
        return None if seen is None else seen["quality"]

    assert await wait_for(lambda: measured("consumer") and measured("business"), 15), mediator.view
    quality = measured("consumer")
    assert quality is not None
    # Loopback: a round trip well under a second, and a level that follows from the figures
    # (a loaded CI machine may drop a few packets, so "good" is not guaranteed).
    assert quality["rtt_ms"] is None or 0 <= quality["rtt_ms"] < 1000, quality
    assert quality["loss_pct"] is None or 0 <= quality["loss_pct"] <= 100, quality
    assert quality["level"] == quality_level(quality["rtt_ms"], quality["loss_pct"])
    # Only the mediator's view carries it.
    assert all(p["quality"] is None for p in consumer.view["participants"])  # type: ignore[index]


async def test_the_mediators_screen_reaches_the_parties_beside_the_camera(
    make_client: Callable[[str], RoomClient],
) -> None:
    mediator, consumer, business = (
        make_client("mediator"),
        make_client("consumer"),
        make_client("business"),
    )
    mediator.screen_track = PatternVideoTrack("screen")
    for client in (mediator, consumer, business):
        await client.connect()
    assert await mediator.join() == {"ok": True}
    await enter_room(mediator, consumer, business)
    assert await mediator.call("set_screen_share", {"active": True}) == {"ok": True}
    assert await wait_for(lambda: consumer.view["room"]["screen_share"], 5)  # type: ignore[index]

    def screen_frames(client: RoomClient) -> int:
        media = client.remote.get("mediator:screen")
        return 0 if media is None else media.video_by_sender.get("screen", 0)

    assert await wait_for(lambda: screen_frames(consumer) > 10 and screen_frames(business) > 10, 20)
    camera = consumer.remote["mediator"].video_by_sender
    assert camera.get("mediator", 0) > 10 and camera.get("screen", 0) == 0  # two tiles, not one
    # In a caucus the screen follows the caucus too.
    assert await mediator.call("start_caucus", {"role": "consumer"}) == {"ok": True}
    await asyncio.sleep(0.5)
    before = screen_frames(business)
    await asyncio.sleep(1.5)
    assert screen_frames(business) == before
    assert screen_frames(consumer) > 0


async def test_a_link_revoked_from_the_console_takes_its_holder_out_for_good(
    make_client: Callable[[str], RoomClient], server: RunningServer
) -> None:
    mediator, consumer, business = await three(make_client)
    password = re.search(r"user demo, password (\S+),", server.log())
    assert password, server.log()
    invitation_id = read_claims(server.token("business")).invitation_id
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(server.url, cookie_jar=jar) as http:
        resp = await http.post("/api/session", json={"username": "demo", "password": password[1]})
        assert resp.status == 200
        resp = await http.post(f"/api/invitations/{invitation_id}/revoke")
        assert resp.status == 200, await resp.text()
    assert await wait_for(lambda: not business.sio.connected, 5)
    # Not "reconnecting": gone from the others' views.
    assert await wait_for(lambda: mediator.seen("business") is None, 5), mediator.view
    assert consumer.seen("business") is None
    events = [e.event for e in await transcript(server) if e.participant_id == "business"]
    assert events[-1] == "revoked"
