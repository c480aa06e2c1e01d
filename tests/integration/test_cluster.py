"""Two nodes of one deployment: real PostgreSQL and Redis (private instances on loopback), two
server processes sharing them and one data directory, real aiortc clients.

- Clients that reach different nodes end up in one room on the room's node and exchange media;
  a chat message sent through one node reaches the participants who came through the other.
- ``kill -9`` of the node that holds the room: the clients are back in the room on the other
  node within 15 s with media flowing, and the transcript shows the interruption with every
  acknowledged message kept.
- A Redis restart: live rooms go on meanwhile, a newcomer is told to retry (not refused for
  good), and afterwards everything finds its way again by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio

from tests.integration.test_database_outage import cli
from tests.support.peer import RoomClient, enter_room, wait_for
from tests.support.private_postgres import private_postgres
from tests.support.private_redis import PrivateRedis, private_redis
from tests.support.server import RunningServer, run_server

pytestmark = pytest.mark.integration

ROLES = ("mediator", "consumer", "business")
KEY = "mediation-room:room:demo"


@contextlib.contextmanager
def two_nodes(tmp: Path) -> Iterator[tuple[RunningServer, RunningServer, PrivateRedis]]:
    """Node ``a`` (which opens the demo room) and node ``b``, one PostgreSQL, one Redis."""
    with private_postgres() as pg, private_redis() as rds:
        cli("db", "upgrade", "--database-url", pg.url)
        shared = ["--database-url", pg.url, "--redis-url", rds.url]
        with (
            run_server(tmp / "a", *shared, "--node-id", "a") as a,
            run_server(tmp / "b", *shared, "--node-id", "b", demo=False, data_dir=a.data_dir) as b,
        ):
            yield a, b, rds


async def joined_client(server: RunningServer, token: str, role: str) -> RoomClient:
    client = RoomClient(server.url, token, role)
    await client.connect()
    return client


async def flowing(client: RoomClient, owner: str, seconds: float = 10) -> bool:
    """Media from ``owner`` reaches ``client`` (the count moves)."""
    first = await client.packets_from(owner)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        if await client.packets_from(owner) > first + 10:
            return True
    return False


async def all_flowing(clients: dict[str, RoomClient]) -> None:
    for role, client in clients.items():
        for other in ROLES:
            if other != role:
                assert await flowing(client, other), f"{role} gets no media from {other}"


async def rejoin(server: RunningServer, token: str, role: str, deadline: float) -> RoomClient:
    """What a page does after its server vanished: connect (through whichever node the load
    balancer gives), join; retry until it works or the time is up."""
    last: Any = None
    while time.monotonic() < deadline:
        client = RoomClient(server.url, token, role)
        try:
            await client.connect()
            ack = await client.join()
            if ack.get("ok"):
                return client
            last = ack
        except Exception as exc:  # refused while the room's old node still counts as alive
            last = exc
        await client.close()
        await asyncio.sleep(0.5)
    raise AssertionError(f"{role} could not rejoin: {last!r}")


@contextlib.asynccontextmanager
async def console(server: RunningServer, password: str) -> AsyncIterator[aiohttp.ClientSession]:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(server.url, cookie_jar=jar) as http:
        resp = await http.post("/api/session", json={"username": "demo", "password": password})
        assert resp.status == 200, await resp.text()
        yield http


async def metric_becomes(server: RunningServer, name: str, value: float) -> bool:
    async with aiohttp.ClientSession() as http:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            text = await (await http.get(server.url + "/metrics")).text()
            found = re.search(rf"^{name} (\S+)$", text, re.M)
            if found and float(found[1]) == value:
                return True
            await asyncio.sleep(0.2)
    return False


async def chat(sender: RoomClient, text: str) -> None:
    ack = await sender.call("chat", {"text": text})
    assert ack["ok"] is True, ack


async def test_a_room_spans_nodes_and_survives_the_loss_of_its_node(tmp_path: Path) -> None:
    with two_nodes(tmp_path) as (a, b, rds):
        password = re.search(r"user demo, password (\S+),", a.log())
        assert password, a.log()
        # The mediator reaches node a, both parties node b (a round-robin balancer's doing).
        clients = {
            "mediator": await joined_client(a, a.token("mediator"), "mediator"),
            "consumer": await joined_client(b, a.token("consumer"), "consumer"),
            "business": await joined_client(b, a.token("business"), "business"),
        }
        try:
            assert await clients["mediator"].join() == {"ok": True}
            await enter_room(clients["mediator"], clients["consumer"], clients["business"])
            await all_flowing(clients)
            # The room lives on node a alone: its media, its state, every participant's session.
            async with redis.asyncio.Redis.from_url(rds.url) as r:
                assert await r.get(KEY) == b"a"
            async with aiohttp.ClientSession() as http:
                assert (await (await http.get(a.url + "/healthz")).json())["rooms"] == 1
                assert (await (await http.get(b.url + "/healthz")).json())["rooms"] == 0
                # b forwarded the parties' websockets (and their link checks) to a.
                metrics = await (await http.get(b.url + "/metrics")).text()
                forwarded = re.search(
                    r'^mediation_forwarded_requests_total\{kind="websocket"\} (\S+)$',
                    metrics,
                    re.M,
                )
                assert forwarded and float(forwarded[1]) >= 2, metrics

            # Chat across nodes, both ways.
            await chat(clients["consumer"], "经b节点发送")
            await chat(clients["mediator"], "经a节点发送")
            for client in clients.values():
                assert await wait_for(
                    lambda c=client: {"经b节点发送", "经a节点发送"} <= {m["text"] for m in c.chats},
                    5,
                ), client.role
            await chat(clients["business"], "断电前最后一句")

            # Node a dies without a word.
            a.process.kill()
            a.process.wait()
            killed = time.monotonic()
            for client in clients.values():
                await client.close()
            deadline = killed + 15
            back = {role: await rejoin(b, a.token(role), role, deadline) for role in ROLES}
            clients = back
            # Admitted before, admitted now: nobody waits in the lobby again.
            for client in back.values():
                assert await wait_for(
                    lambda c=client: c.view is not None and c.me()["stage"] == "room", 10
                ), client.role
            await all_flowing(back)
            recovered = time.monotonic() - killed
            assert recovered < 15, f"{recovered:.1f}s from kill -9 to media flowing again"
            async with redis.asyncio.Redis.from_url(rds.url) as r:
                assert await r.get(KEY) == b"b"
            # Everything acknowledged before the crash is in the room's history.
            history = {m["text"] for m in back["consumer"].chats}
            assert {"经b节点发送", "经a节点发送", "断电前最后一句"} <= history, history
        finally:
            for client in clients.values():
                await client.close()

        async with console(b, password[1]) as http:
            resp = await http.get("/api/cases/DEMO-2026-0001/record")
            assert resp.status == 200, await resp.text()
            record = await resp.json()
        texts = [e["text"] for e in record["transcript"]]
        cut = next((i for i, t in enumerate(texts) if t.startswith("服务中断：承载本次调解")), None)
        assert cut is not None, texts
        assert "断电前最后一句" in texts[:cut]
        # After it, the three come back (the same sitting, no second admission).
        assert sum("重新连接" in t for t in texts[cut + 1 :]) == 3, texts[cut:]
        assert record["audit_intact"] is True
    assert "Traceback" not in b.log(), b.log()
    print(f"recovered in {recovered:.1f}s")


async def test_redis_restart_live_rooms_go_on_and_routing_comes_back(tmp_path: Path) -> None:
    with two_nodes(tmp_path) as (a, b, rds):
        mediator = await joined_client(a, a.token("mediator"), "mediator")
        consumer = await joined_client(b, a.token("consumer"), "consumer")
        late: RoomClient | None = None
        try:
            assert await mediator.join() == {"ok": True}
            await enter_room(mediator, consumer)
            rds.stop()
            assert await metric_becomes(a, "mediation_directory_up", 0.0)
            # The live room needs no Redis: chat and media go on.
            await chat(consumer, "Redis停了")
            assert await wait_for(lambda: "Redis停了" in {m["text"] for m in mediator.chats}, 5)
            assert await flowing(mediator, "consumer")
            # A newcomer through the other node: told to try again, not refused for good.
            late = RoomClient(b.url, a.token("business"), "business")
            refusals: list[Any] = []
            late.sio.on("connect_error", lambda data: refusals.append(data))
            with pytest.raises(Exception, match="failed to connect"):
                await late.connect()
            assert refusals and refusals[0]["data"]["code"] == "room_elsewhere", refusals
            assert "try again" in refusals[0]["data"]["message"], refusals
            await late.close()
            async with aiohttp.ClientSession() as http:
                ready = await http.get(b.url + "/readyz")
                assert ready.status == 503
                assert "redis" in (await ready.json())["failing"]

            rds.start()  # empty: Redis keeps nothing on disk here
            late = await rejoin(b, a.token("business"), "business", time.monotonic() + 15)
            assert await wait_for(lambda: mediator.seen("business") is not None, 10)
            async with redis.asyncio.Redis.from_url(rds.url) as r:
                assert await r.get(KEY) == b"a"  # rewritten by node a's heartbeat
            assert await metric_becomes(a, "mediation_directory_up", 1.0)
            async with aiohttp.ClientSession() as http:
                for node in (a, b):
                    ready = await http.get(node.url + "/readyz")
                    assert ready.status == 200, await ready.text()
        finally:
            for client in (mediator, consumer, late):
                if client is not None:
                    await client.close()
    for node in (a, b):
        assert node.log().count("Redis is unreachable") <= 1, node.log()
        assert "Traceback" not in node.log(), node.log()
