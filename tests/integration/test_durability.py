"""Nothing acknowledged is lost: a `kill -9` right after the acks keeps every entry."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from cases import db
from cases import repository as repo
from cases.models import Case
from tests.support.peer import RoomClient
from tests.support.server import run_server

pytestmark = pytest.mark.integration


async def test_kill_9_loses_no_acknowledged_entry(tmp_path: Path) -> None:
    with run_server(tmp_path) as server:
        password = re.search(r"user demo, password (\S+),", server.log())
        assert password, server.log()
        mediator = RoomClient(server.url, server.token("mediator"), "mediator")
        await mediator.connect()
        assert await mediator.join() == {"ok": True}
        # unsafe=True: aiohttp refuses cookies of IP-address hosts by default (browsers do not).
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(server.url, cookie_jar=jar) as http:
            resp = await http.post(
                "/api/session", json={"username": "demo", "password": password.group(1)}
            )
            assert resp.status == 200

            async def note(n: int) -> int:
                async with http.post(
                    "/api/cases/DEMO-2026-0001/notes", json={"text": f"笔录 {n}"}
                ) as r:
                    return r.status

            statuses = await asyncio.gather(*(note(n) for n in range(30)))
        assert statuses == [201] * 30
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        await mediator.close()

    engine = db.create_engine(db.sqlite_url(tmp_path / "data"))
    try:
        async with db.session_factory(engine)() as session:
            case = (await session.execute(select(Case))).scalar_one()
            entries = await repo.transcript(session, case.id)
            notes = sorted(e.text for e in entries if e.kind == "note")
            assert notes == sorted(f"笔录 {n}" for n in range(30))
            assert any(e.kind == "system" and "进入调解室" in e.text for e in entries)
            assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
            assert await repo.verify_case(session, case.id) == []
    finally:
        await engine.dispose()
