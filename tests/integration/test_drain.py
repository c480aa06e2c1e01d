"""Draining a node for an upgrade, and SIGTERM during a recorded call — a real server
subprocess, real aiortc clients, the real ``mediation-room drain`` command."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
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
from cases.models import Recording
from tests.support.peer import RoomClient, enter_room, wait_for
from tests.support.server import ROOT, RunningServer, run_server

pytestmark = pytest.mark.integration


def readyz(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def drain_cli(server: RunningServer, *flags: str) -> str:
    """``mediation-room drain`` as an operator runs it on the node."""
    command = [sys.executable, "-m", "server", "drain", "--url", server.url]
    out = subprocess.run(
        [*command, "--data-dir", str(server.data_dir), *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


async def test_a_draining_node_finishes_its_rooms_and_opens_no_other(tmp_path: Path) -> None:
    with run_server(tmp_path) as server:
        tokens = {role: server.token(role) for role in ("mediator", "consumer")}
    # Restarted without --demo: the demo room is not live until someone comes back to it.
    with run_server(tmp_path, demo=False) as server:
        # Without the admin token: refused.
        request = urllib.request.Request(server.url + "/admin/drain", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)  # noqa: ASYNC210
        assert refused.value.code == 401
        assert readyz(server.url)[0] == 200

        mediator = RoomClient(server.url, tokens["mediator"], "mediator")
        consumer = RoomClient(server.url, tokens["consumer"], "consumer")
        try:
            await mediator.connect()  # the room opens on this node
            assert await mediator.join() == {"ok": True}
            assert "draining, 1 live room" in drain_cli(server)
            status, body = readyz(server.url)
            assert status == 503 and body["failing"] == ["draining"], body
            # The live room goes on: a party still comes in.
            await consumer.connect()
            assert await consumer.join() == {"ok": True}
            assert await wait_for(lambda: consumer.joined is not None, 10)
        finally:
            await consumer.close()
            await mediator.close()

    # A node draining from the start opens no room at all.
    with run_server(tmp_path, demo=False) as server:
        drain_cli(server)
        late = RoomClient(server.url, tokens["consumer"], "consumer")
        refusals: list[Any] = []
        late.sio.on("connect_error", refusals.append)
        try:
            with pytest.raises(socketio.exceptions.ConnectionError):
                await late.connect()
            assert "node_draining" in str(refusals), refusals
        finally:
            await late.close()
        assert "taking rooms, 0 live room" in drain_cli(server, "--undo")
        assert readyz(server.url)[0] == 200
        back = RoomClient(server.url, tokens["consumer"], "consumer")
        try:
            await back.connect()
            assert await back.join() == {"ok": True}
        finally:
            await back.close()


async def recordings_of(data_dir: Path) -> tuple[list[Recording], list[str]]:
    engine = db.create_engine(db.sqlite_url(data_dir))
    try:
        async with db.session_factory(engine)() as session:
            rows = list((await session.execute(select(Recording).order_by(Recording.id))).scalars())
            [case_id] = {row.case_id for row in rows}
            entries = [e.event for e in await repo.transcript(session, case_id)]
            assert await repo.verify_case(session, case_id) == []
            return rows, entries
    finally:
        await engine.dispose()


async def test_sigterm_during_a_recorded_call_seals_everything_and_exits(tmp_path: Path) -> None:
    with run_server(tmp_path) as server:
        mediator = RoomClient(server.url, server.token("mediator"), "mediator")
        consumer = RoomClient(server.url, server.token("consumer"), "consumer")
        try:
            for client in (mediator, consumer):
                await client.connect()
            assert await mediator.join() == {"ok": True}
            await enter_room(mediator, consumer)
            assert await wait_for(lambda: mediator.remote.get("consumer") is not None, 20)
            assert await mediator.call("start_recording", {}) == {"ok": True}
            await asyncio.sleep(4)
            assert list(server.data_dir.joinpath("recordings").rglob("*.open"))
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(server.process.wait, 15)
            took = time.monotonic() - started
        finally:
            await consumer.close()
            await mediator.close()
        log = server.log()
    assert code == 0, log
    # Rooms close within a second of the signal; Engine.IO's websocket teardown takes most of
    # the rest (see docs/operations.md). Bounded well below systemd's TimeoutStopSec.
    assert took < 10, f"SIGTERM took {took:.1f}s\n{log}"
    assert "mediation-room stopping" in log
    assert not list((tmp_path / "data" / "recordings").rglob("*.open")), "a segment left open"
    rows, events = await recordings_of(tmp_path / "data")
    assert {r.participant_id for r in rows} == {"mediator", "consumer"}
    for row in rows:
        assert not row.sealed_after_crash  # closed by the shutdown, not repaired later
        out = subprocess.run(  # noqa: ASYNC221
            [
                "ffprobe",
                "-v",
                "error",
                "-show_format",
                "-of",
                "json",
                str(tmp_path / "data" / row.path),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert float(json.loads(out.stdout)["format"]["duration"]) >= 2
    assert "recording_stopped" in events, events
