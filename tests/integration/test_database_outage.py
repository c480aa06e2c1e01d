"""PostgreSQL restart: requests fail with a clear 503 while it is down and succeed after.

A private PostgreSQL instance (its own directory, port and socket; never the machine's shared
server) is stopped and started under a running server subprocess."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from tests.support.peer import RoomClient
from tests.support.private_postgres import PrivatePostgres, private_postgres
from tests.support.server import ROOT, RunningServer, run_server

pytestmark = pytest.mark.integration

CASE = {"title": "空调不制冷", "category": "家用电器", "claim": "退款", "amount_in_dispute": "9"}


def cli(*args: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDIATION_ROOM_")}
    done = subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in clean.items() if k != "DATABASE_URL"},
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr


async def until(
    probe: Callable[[], Awaitable[tuple[int, Any]]], status: int, seconds: float
) -> tuple[int, Any]:
    """Repeat ``probe`` until it answers ``status`` (or the time is up: the last answer)."""
    deadline = time.monotonic() + seconds
    while True:
        got = await probe()
        if got[0] == status or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.3)


async def test_postgresql_restart_answers_503_then_recovers(tmp_path: Any) -> None:
    with private_postgres() as pg:
        cli("db", "upgrade", "--database-url", pg.url)
        with run_server(tmp_path / "node", "--database-url", pg.url) as server:
            await outage(server, pg)


async def outage(server: RunningServer, pg: PrivatePostgres) -> None:
    found = re.search(r"user demo, password (\S+),", server.log())
    assert found, server.log()
    mediator = RoomClient(server.url, server.token("mediator"), "mediator")
    async with aiohttp.ClientSession(server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        resp = await http.post("/api/session", json={"username": "demo", "password": found[1]})
        assert resp.status == 200, await resp.text()

        async def cases() -> tuple[int, Any]:
            async with http.get("/api/cases") as resp:
                return resp.status, await resp.json()

        async def ready() -> tuple[int, Any]:
            async with http.get("/readyz") as resp:
                return resp.status, await resp.json()

        status, before = await cases()
        assert status == 200, before
        await mediator.connect()
        assert await mediator.join() == {"ok": True}
        assert (await mediator.call("chat", {"text": "before"}))["ok"] is True

        await asyncio.to_thread(pg.stop)
        try:
            status, body = await until(cases, 503, 10)
            assert status == 503, body
            assert body["code"] == "database_unavailable"
            assert "try again" in body["message"]
            assert "Traceback" not in str(body) and "postgres@" not in str(body)
            status, body = await until(ready, 503, 10)
            assert status == 503 and body["failing"] == ["database"], body
            # A command that writes the case record: the same code in its ack; the room stays.
            ack = await mediator.call("chat", {"text": "during"})
            assert ack["ok"] is False and ack["error"]["code"] == "database_unavailable", ack
            for _ in range(20):  # a burst of requests while it is down …
                assert (await cases())[0] == 503
            assert (await http.get("/healthz")).status == 200
        finally:
            await asyncio.to_thread(pg.start)

        started = time.monotonic()
        status, after = await until(cases, 200, 15)
        assert status == 200, after
        recovered_in = time.monotonic() - started
        assert recovered_in < 15
        assert (await until(ready, 200, 15))[0] == 200
        ack = await mediator.call("chat", {"text": "after"})
        assert ack["ok"] is True, ack
        # A write after recovery is on record.
        resp = await http.post("/api/cases", json=CASE)
        assert resp.status == 201, await resp.text()
        number = (await resp.json())["number"]
        status, listed = await cases()
        assert number in [c["number"] for c in listed["cases"]]
        assert {c["number"] for c in before["cases"]} <= {c["number"] for c in listed["cases"]}
        await mediator.close()
        # Nothing acknowledged is lost; the refused message was never written; the chain holds.
        async with http.get("/api/cases/DEMO-2026-0001/record") as resp:
            assert resp.status == 200, await resp.text()
            record = await resp.json()
        written = str(record["transcript"])
        assert "before" in written and "after" in written and "during" not in written, written
        assert record["audit_intact"] is True

    log = server.log()
    # … is one warning, not a storm, and no stack trace.
    assert log.count("the database is unreachable") == 1, log
    assert "Traceback" not in log, log
