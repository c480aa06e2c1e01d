"""Recording a session through the real server with aiortc clients: files as received, on the
record with their hashes, paused in a caucus, sealed after a crash."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest
from sqlalchemy import select

from cases import db
from cases import repository as repo
from cases.models import Case, Recording
from tests.support.database import fresh_database
from tests.support.peer import PATTERNS, RoomClient, enter_room, wait_for
from tests.support.server import RunningServer, run_server

pytestmark = pytest.mark.integration


async def three(make_client: Callable[[str], RoomClient]) -> tuple[RoomClient, ...]:
    clients = tuple(make_client(role) for role in ("mediator", "consumer", "business"))
    for client in clients:
        await client.connect()
    assert await clients[0].join() == {"ok": True}
    await enter_room(clients[0], *clients[1:])
    assert await wait_for(
        lambda: all(
            (c.remote.get(o) is not None and c.remote[o].video_frames > 0)
            for c in clients
            for o in ("mediator", "consumer", "business")
            if o != c.role
        ),
        20,
    )
    return clients


async def segments(data_dir: Path) -> tuple[list[Recording], list[Any]]:
    engine = db.create_engine(db.sqlite_url(data_dir))
    try:
        async with db.session_factory(engine)() as session:
            case = (await session.execute(select(Case))).scalar_one()
            rows = list((await session.execute(select(Recording).order_by(Recording.id))).scalars())
            entries = list(await repo.transcript(session, case.id))
            assert await repo.verify_case(session, case.id) == []
            return rows, entries
    finally:
        await engine.dispose()


def probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def pattern_of(path: Path) -> str | None:
    """Which role's test pattern the recorded video shows (its last decodable frame)."""
    found = None
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            luma = frame.to_ndarray(format="gray")
            h, w = luma.shape
            left = float(luma[h // 4 : 3 * h // 4, w // 8 : 3 * w // 8].mean())
            right = float(luma[h // 4 : 3 * h // 4, 5 * w // 8 : 7 * w // 8].mean())
            for role, (want_left, want_right) in PATTERNS.items():
                if abs(left - want_left) < 40 and abs(right - want_right) < 40:
                    found = role
    return found


async def test_a_recorded_session_is_on_record_file_by_file(
    make_client: Callable[[str], RoomClient], server: RunningServer
) -> None:
    mediator, consumer, business = await three(make_client)
    ack = await consumer.call("start_recording", {})
    assert ack["error"]["code"] == "forbidden"
    started = time.monotonic()
    assert await mediator.call("start_recording", {}) == {"ok": True}
    assert await wait_for(lambda: consumer.view["room"]["recording"] is not None, 5)  # type: ignore[index]
    assert (await mediator.call("start_recording", {}))["error"]["code"] == "already_recording"
    await asyncio.sleep(4)
    # A caucus is not recorded by default: the recording pauses and resumes.
    assert await mediator.call("start_caucus", {"role": "consumer"}) == {"ok": True}
    assert await wait_for(lambda: business.view["room"]["recording"]["paused"], 5)  # type: ignore[index]
    await asyncio.sleep(2)
    assert await mediator.call("end_caucus", {}) == {"ok": True}
    await asyncio.sleep(4)
    assert await mediator.call("stop_recording", {}) == {"ok": True}
    wall = time.monotonic() - started
    assert await wait_for(lambda: consumer.view["room"]["recording"] is None, 5)  # type: ignore[index]

    rows, entries = await segments(server.data_dir)
    assert {r.participant_id for r in rows} == {"mediator", "consumer", "business"}, rows
    recorded: dict[str, float] = {}
    for row in rows:
        path = server.data_dir / row.path
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == row.sha256 and len(data) == row.size
        info = probe(path)
        codecs = sorted(s["codec_name"] for s in info["streams"])
        duration = float(info["format"]["duration"])
        assert row.codecs == "+".join(sorted(codecs, reverse=True)), (row.codecs, codecs)
        if codecs == ["opus"]:
            # Audio that resumed before the camera's next keyframe (after the caucus).
            assert duration < 2.5, (row, info["format"])
            recorded[row.participant_id] = recorded.get(row.participant_id, 0.0) + duration
            continue
        assert codecs == ["opus", "vp8"], info["streams"]
        assert row.duration is not None and abs(row.duration - duration) < 1
        recorded[row.participant_id] = recorded.get(row.participant_id, 0.0) + duration
        assert pattern_of(path) == row.participant_id
    # The whole time, the unrecorded caucus a gap within the file (or between segments).
    for participant_id, total in recorded.items():
        assert wall - 2 - 2 <= total <= wall + 1, (participant_id, total, wall, rows)
    events = [e.event for e in entries]
    for event in (
        "recording_started",
        "recording_paused",
        "recording_resumed",
        "recording_stopped",
    ):
        assert event in events, events


async def test_a_crash_mid_recording_leaves_playable_segments(tmp_path: Path) -> None:
    with run_server(tmp_path) as server:
        tokens = {role: server.token(role) for role in ("mediator", "consumer")}
        mediator = RoomClient(server.url, tokens["mediator"], "mediator")
        consumer = RoomClient(server.url, tokens["consumer"], "consumer")
        try:
            for client in (mediator, consumer):
                await client.connect()
            assert await mediator.join() == {"ok": True}
            await enter_room(mediator, consumer)
            assert await wait_for(lambda: mediator.remote.get("consumer") is not None, 20)
            assert await mediator.call("start_recording", {}) == {"ok": True}
            await asyncio.sleep(6)
            server.process.kill()
            server.process.wait(timeout=10)
        finally:
            await consumer.close()
            await mediator.close()
    unsealed = list((tmp_path / "data" / "recordings").rglob("*.open"))
    assert unsealed, "a crash mid-recording leaves the open segments marked"
    # The restart seals them as the room reopens (the mediator comes back).
    with run_server(tmp_path, demo=False) as restarted:
        back = RoomClient(restarted.url, tokens["mediator"], "mediator")
        try:
            await back.connect()
            assert await back.join() == {"ok": True}
            assert back.view is not None and back.view["room"]["recording"] is None
        finally:
            await back.close()
    assert not list((tmp_path / "data" / "recordings").rglob("*.open"))
    rows, entries = await segments(tmp_path / "data")
    assert {r.participant_id for r in rows} == {"mediator", "consumer"}
    for row in rows:
        assert row.sealed_after_crash
        info = probe(tmp_path / "data" / row.path)
        assert float(info["format"]["duration"]) >= 2, info["format"]
    assert "recording_interrupted" in [e.event for e in entries]


async def test_a_full_disk_stops_the_recording_not_the_call(tmp_path: Path) -> None:
    """Every file the server writes past 250 kB fails (EFBIG, as a full disk fails): the
    recorders stop and say so, the mediator is told, the participants notice nothing. The case
    record is in PostgreSQL here, so only the recordings meet the limit."""
    url = await fresh_database("postgresql", tmp_path)
    engine = db.create_engine(url)
    await db.upgrade(engine)
    await engine.dispose()
    with run_server(tmp_path, "--database-url", url, file_size_limit=250_000) as server:
        clients = [RoomClient(server.url, server.token(r), r) for r in ("mediator", "consumer")]
        mediator, consumer = clients
        try:
            for client in clients:
                await client.connect()
            assert await mediator.join() == {"ok": True}
            await enter_room(mediator, consumer)
            assert await wait_for(lambda: mediator.remote.get("consumer") is not None, 20)
            assert await mediator.call("start_recording", {}) == {"ok": True}
            assert await wait_for(
                lambda: bool(mediator.view["room"]["recording"]["failed"]),  # type: ignore[index]
                60,
            ), mediator.view
            assert consumer.view["room"]["recording"]["failed"] == []  # type: ignore[index]
            # The call goes on: video keeps flowing both ways, chat is still written down.
            frames = {
                (c.role, o): c.remote[o].video_frames
                for c, o in ((mediator, "consumer"), (consumer, "mediator"))
            }
            await asyncio.sleep(3)
            for (role, owner), before in frames.items():
                client = mediator if role == "mediator" else consumer
                fps = (client.remote[owner].video_frames - before) / 3
                assert fps >= 15, f"{role} got {fps:.1f} fps from {owner} after the disk filled"
            assert (await consumer.call("chat", {"text": "还能听到吗"}))["ok"]
            assert await mediator.call("stop_recording", {}) == {"ok": True}
        finally:
            for client in clients:
                await client.close()
    engine = db.create_engine(url)
    try:
        async with db.session_factory(engine)() as session:
            case = (await session.execute(select(Case))).scalar_one()
            events = [e.event for e in await repo.transcript(session, case.id)]
            assert "recording_failed" in events
            assert await repo.verify_case(session, case.id) == []
    finally:
        await engine.dispose()
