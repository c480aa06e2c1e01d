"""The room directory against a real (private) Redis: who holds a room, take-over of a dead
node's rooms, and the rebuild after Redis restarts empty."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from rooms import directory as d
from rooms.directory import DirectoryUnavailable, RoomDirectory
from tests.support.private_redis import PrivateRedis, private_redis

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def rds() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@pytest_asyncio.fixture
async def redis(rds: PrivateRedis) -> AsyncIterator[Redis]:
    client = Redis.from_url(rds.url, socket_connect_timeout=1, socket_timeout=1)
    await client.flushall()
    yield client
    await client.aclose()


async def test_one_holder_and_a_dead_nodes_rooms_move(redis: Redis) -> None:
    a = RoomDirectory(redis, "a", "http://a")
    b = RoomDirectory(redis, "b", "http://b")
    await a.beat([])
    await b.beat([])
    # Both ask at once: exactly one wins, and both agree on who.
    got = await asyncio.gather(a.claim("r1"), b.claim("r1"))
    assert got[0] == got[1] and got[0].node_id in ("a", "b")
    holder, other = (a, b) if got[0].node_id == "a" else (b, a)
    assert await other.owner("r1") == holder.me
    assert await holder.claim("r1") == holder.me  # asking again changes nothing
    # The other node may not release what it does not hold.
    await other.release("r1")
    assert await other.owner("r1") == holder.me
    assert [n.node_id for n in await other.other_nodes()] == [holder.me.node_id]

    # The holder stops beating (killed): once its key expires the room is free to take.
    await redis.delete(f"{d.PREFIX}node:{holder.me.node_id}")
    assert await other.owner("r1") is None
    assert await other.claim("r1") == other.me
    # The old holder wakes up: its next heartbeat reports the room as lost.
    assert await holder.beat(["r1"]) == ["r1"]
    assert await holder.owner("r1") == other.me

    await other.release("r1")
    assert await holder.owner("r1") is None


async def test_after_redis_restarts_empty_rooms_are_written_back_before_anyone_takes_them(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(d, "SETTLE_S", 0.5)
    a = RoomDirectory(redis, "a", "http://a")
    b = RoomDirectory(redis, "b", "http://b")
    await a.beat([])
    await b.beat([])
    assert await a.claim("r1") == a.me
    await redis.flushall()  # what a restart without persistence leaves
    # b's key is gone too: it claims nothing until it has written itself back …
    with pytest.raises(DirectoryUnavailable):
        await b.claim("r1")
    await b.beat([])
    # … and then waits a moment for the other nodes' heartbeats.
    with pytest.raises(DirectoryUnavailable):
        await b.claim("r1")
    assert await a.beat(["r1"]) == []  # a writes its room back
    await asyncio.sleep(0.6)
    assert await b.claim("r1") == a.me


async def test_an_unreachable_redis_is_a_clear_error(rds: PrivateRedis) -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    lost = RoomDirectory(client, "x", "http://x")
    with pytest.raises(DirectoryUnavailable):
        await lost.owner("r1")
    with pytest.raises(DirectoryUnavailable):
        await lost.claim("r1")
    await client.aclose()
