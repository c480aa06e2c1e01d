"""Recordings over HTTP, for the case's office only: a session recorded through the real server
with aiortc clients, then listed and fetched (whole and by range) as the console does."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from cases import db
from cases.models import Recording
from tests.support.peer import RoomClient, enter_room, wait_for
from tests.support.server import ROOT, RunningServer

pytestmark = pytest.mark.integration

ROLES = ("mediator", "consumer", "business")


async def logged_in(server: RunningServer, username: str, password: str) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession(server.url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    resp = await http.post("/api/session", json={"username": username, "password": password})
    assert resp.status == 200, await resp.text()
    return http


@pytest.fixture
async def console(server: RunningServer) -> AsyncIterator[aiohttp.ClientSession]:
    """The demo mediator's console session (its password is in the server's log)."""
    found = re.search(r"user demo, password (\S+),", server.log())
    assert found, server.log()
    http = await logged_in(server, "demo", found[1])
    yield http
    await http.close()


async def record_a_session(make_client: Callable[[str], RoomClient], seconds: float) -> None:
    clients = [make_client(role) for role in ROLES]
    for client in clients:
        await client.connect()
    mediator = clients[0]
    assert await mediator.join() == {"ok": True}
    await enter_room(mediator, *clients[1:])
    assert await wait_for(
        lambda: all(
            (media := c.remote.get(o)) is not None and media.video_frames > 0
            for c in clients
            for o in ROLES
            if o != c.role
        ),
        20,
    )
    assert await mediator.call("start_recording", {}) == {"ok": True}
    await asyncio.sleep(seconds)
    # The ack comes once the last segments are closed, hashed and on the record.
    assert await mediator.call("stop_recording", {}) == {"ok": True}


async def error_code(resp: aiohttp.ClientResponse, status: int) -> str:
    assert resp.status == status, (resp.status, await resp.text())
    assert resp.content_type == "application/json"
    body: dict[str, Any] = await resp.json()
    assert set(body) <= {"code", "message", "event"}, body
    return str(body["code"])


async def test_the_mediator_lists_and_fetches_the_recorded_segments(
    make_client: Callable[[str], RoomClient],
    server: RunningServer,
    console: aiohttp.ClientSession,
) -> None:
    await record_a_session(make_client, 4)
    number = (await (await console.get("/api/cases")).json())["cases"][0]["number"]

    resp = await console.get(f"/api/cases/{number}/recordings")
    assert resp.status == 200, await resp.text()
    assert resp.headers["Cache-Control"] == "no-store"
    segments = (await resp.json())["recordings"]
    assert {s["participant_id"] for s in segments} == set(ROLES), segments
    for segment in segments:
        assert segment["role"] == segment["participant_id"]
        assert segment["name"], segment  # from the sitting's invitation
        assert segment["content_type"] in ("video/webm", "video/x-matroska")
        assert segment["sealed_after_crash"] is False
        assert segment["duration"] and segment["duration"] > 0
        assert "opus" in segment["codecs"]
        # The same bytes as on disk, with the hash and size the record keeps.
        resp = await console.get(segment["url"])
        assert resp.status == 200
        assert resp.headers["Content-Type"] == segment["content_type"]
        assert resp.headers["Cache-Control"] == "private, no-store"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Accept-Ranges"] == "bytes"
        body = await resp.read()
        assert hashlib.sha256(body).hexdigest() == segment["sha256"]
        assert len(body) == segment["size"]
    on_disk = await stored_rows(server.data_dir)
    assert {row.id: row.sha256 for row in on_disk} == {s["id"]: s["sha256"] for s in segments}
    for row in on_disk:
        data = (server.data_dir / row.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row.sha256

    # A range, as a <video> asks for when it seeks.
    first = segments[0]
    whole = (server.data_dir / next(r.path for r in on_disk if r.id == first["id"])).read_bytes()
    resp = await console.get(first["url"], headers={"Range": "bytes=0-99"})
    assert resp.status == 206
    assert resp.headers["Content-Range"] == f"bytes 0-99/{len(whole)}"
    assert await resp.read() == whole[:100]
    resp = await console.get(first["url"], headers={"Range": f"bytes={len(whole) - 10}-"})
    assert resp.status == 206
    assert await resp.read() == whole[-10:]


async def test_only_the_cases_office_may_list_or_fetch_recordings(
    make_client: Callable[[str], RoomClient],
    server: RunningServer,
    console: aiohttp.ClientSession,
) -> None:
    await record_a_session(make_client, 2)
    number = (await (await console.get("/api/cases")).json())["cases"][0]["number"]
    listed = await (await console.get(f"/api/cases/{number}/recordings")).json()
    paths = [f"/api/cases/{number}/recordings", listed["recordings"][0]["url"]]
    async with aiohttp.ClientSession(server.url) as anonymous:
        for path in paths:
            assert await error_code(await anonymous.get(path), 401) == "not_logged_in"
            # A join link's token opens the room, never the recordings — the mediator's neither.
            for role in ROLES:
                headers = {"Authorization": f"Bearer {server.token(role)}"}
                resp = await anonymous.get(path, headers=headers)
                assert await error_code(resp, 401) == "not_logged_in"

    # A mediator of another office: the case does not exist for them. A colleague of the same
    # office sees the case, but not its recordings.
    for username, office, sees_case in (
        ("zhao", "乙市市场监督管理局", False),
        ("qian", "演示消费者协会", True),
    ):
        other = await new_mediator(server, username, office)
        try:
            status = (await other.get(f"/api/cases/{number}")).status
            assert status == (200 if sees_case else 404)
            for path in paths:
                assert await error_code(await other.get(path), 404) == "case_not_found"
        finally:
            await other.close()

    # No such recording in this case.
    for bad in ("999999", "x", "-1"):
        resp = await console.get(f"/api/cases/{number}/recordings/{bad}/file")
        assert await error_code(resp, 404) == "recording_not_found"


async def new_mediator(server: RunningServer, username: str, office: str) -> aiohttp.ClientSession:
    """A second mediator account (by the CLI), logged into the console API."""
    env = {**os.environ, "MEDIATION_ROOM_PASSWORD": f"{username}-long-password"}
    subprocess.run(  # noqa: ASYNC221 (a one-off command line; nothing else runs meanwhile)
        [sys.executable, "-m", "server", "admin", "create-mediator", "--data-dir",
         str(server.data_dir), "--username", username, "--display-name", f"{username}调解员",
         "--office", office],
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return await logged_in(server, username, f"{username}-long-password")


async def test_no_path_outside_the_recordings_directory_is_served(
    make_client: Callable[[str], RoomClient],
    server: RunningServer,
    console: aiohttp.ClientSession,
) -> None:
    await record_a_session(make_client, 2)
    number = (await (await console.get("/api/cases")).json())["cases"][0]["number"]
    real = (await stored_rows(server.data_dir))[0]
    secret = (server.data_dir / "secret.key").read_bytes()
    recordings = server.data_dir / "recordings"
    link = recordings / f"case-{real.case_id}" / "link.webm"
    link.symlink_to(server.data_dir / "secret.key")
    # Rows as an edited record might hold them (the audit chain would say so; the files
    # must still never be served).
    bad_paths = [
        "secret.key",
        "../secret.key",
        "recordings/../secret.key",
        f"recordings/case-{real.case_id}/../../secret.key",
        str(server.data_dir / "secret.key"),
        str(link.relative_to(server.data_dir)),
        "recordings/missing.webm",
    ]
    ids = await add_rows(server.data_dir, real, bad_paths)
    for recording_id, path in zip(ids, bad_paths, strict=True):
        resp = await console.get(f"/api/cases/{number}/recordings/{recording_id}/file")
        body = await resp.read()
        assert secret not in body, path
        assert await error_code(resp, 404) == "recording_file_missing", path
    # Encoded dots and slashes in the address reach no file either.
    for trick in ("..%2F..%2Fsecret.key", "%2e%2e", "1%2F..%2F..%2Fsecret.key"):
        resp = await console.get(f"/api/cases/{number}/recordings/{trick}/file")
        assert resp.status == 404, trick
        assert secret not in await resp.read()
    assert "recordings/missing.webm is missing" in server.log()
    assert "../secret.key is outside" in server.log()


async def stored_rows(data_dir: Path) -> list[Recording]:
    engine = db.create_engine(db.sqlite_url(data_dir))
    try:
        async with db.session_factory(engine)() as session:
            rows = (await session.execute(select(Recording).order_by(Recording.id))).scalars()
            return list(rows)
    finally:
        await engine.dispose()


async def add_rows(data_dir: Path, like: Recording, paths: list[str]) -> list[int]:
    engine = db.create_engine(db.sqlite_url(data_dir))
    try:
        async with db.session_factory(engine)() as session, session.begin():
            rows = [
                Recording(
                    case_id=like.case_id,
                    sitting_id=like.sitting_id,
                    participant_id=like.participant_id,
                    path=path,
                    started_at=like.started_at,
                    ended_at=like.ended_at,
                    codecs=like.codecs,
                    size=like.size,
                    sha256=like.sha256,
                    duration=like.duration,
                )
                for path in paths
            ]
            session.add_all(rows)
            await session.flush()
            return [row.id for row in rows]
    finally:
        await engine.dispose()
