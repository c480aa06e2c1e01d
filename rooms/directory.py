"""Which node holds each live room's media, when several nodes serve one deployment.

A room's peer connections live on one node. The directory in Redis records the node of each
room (``<prefix>room:<room id>`` → node id) and which nodes are alive (``<prefix>node:<node id>``
→ the node's internal URL, with a time to live the node renews every second). A room whose node
stopped renewing belongs to nobody: the next node that has to open it takes it over (compare
and set in one Lua script, so two nodes never both win).

Redis keeps nothing on disk here: after a Redis restart every node writes its own key and its
rooms again on its next heartbeat, so the directory comes back by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

PREFIX = "mediation-room:"
HEARTBEAT_S = 1.0
NODE_TTL_MS = 4000
"""A node that has not renewed its key for this long is taken for dead and its rooms move."""
SETTLE_S = 2.5
"""After Redis was unreachable (perhaps restarted empty), how long a node waits before it takes
a free room: long enough for every node to write its rooms back first."""

# KEYS[1] the room's key; ARGV[1] this node; ARGV[2] the node keys' prefix.
# Returns the room's node after the call: this node if the room was free, ours already, or held
# by a node whose key expired.
# Returns '' if this node's own key is missing: Redis lost its data (a restart) or this node
# stalled; the directory is being rebuilt and nothing is claimed.
_CLAIM = """
if redis.call('EXISTS', ARGV[2] .. ARGV[1]) == 0 then
  return ''
end
local owner = redis.call('GET', KEYS[1])
if (not owner) or owner == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1])
  return ARGV[1]
end
if redis.call('EXISTS', ARGV[2] .. owner) == 1 then
  return owner
end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
"""
# The room's key goes only if it is still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def new_node_id() -> str:
    """A name for this process: host, pid and a random tail (a restarted node is a new node)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class Node:
    node_id: str
    url: str
    """How the other nodes reach it (``http://10.0.0.5:8080``)."""


class DirectoryUnavailable(Exception):
    """Redis did not answer: nobody can tell which node holds a room just now."""


LostRooms = Callable[[list[str]], Awaitable[None]]


class RoomDirectory:
    """This node's view of the directory; every method is one or two Redis round trips."""

    def __init__(self, redis: Redis, node_id: str, node_url: str, prefix: str = PREFIX) -> None:
        self.redis = redis
        self.me = Node(node_id, node_url)
        self.prefix = prefix
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)
        self._task: asyncio.Task[None] | None = None
        self._down = False
        self._settle_until = 0.0
        self.beats = 0
        """Heartbeats written since start (for the tests and /readyz)."""

    @property
    def down(self) -> bool:
        """Whether Redis failed the last time this node asked it."""
        return self._down

    def _room_key(self, room_id: str) -> str:
        return f"{self.prefix}room:{room_id}"

    def _node_key(self, node_id: str) -> str:
        return f"{self.prefix}node:{node_id}"

    async def _node(self, node_id: str) -> Node | None:
        url = await self.redis.get(self._node_key(node_id))
        return None if url is None else Node(node_id, _text(url))

    async def owner(self, room_id: str) -> Node | None:
        """The live node that holds ``room_id``, or ``None`` (free, or its node died)."""
        try:
            held = await self.redis.get(self._room_key(room_id))
            if held is None:
                return None
            node_id = _text(held)
            return self.me if node_id == self.me.node_id else await self._node(node_id)
        except RedisError as exc:
            raise DirectoryUnavailable(str(exc)) from exc

    async def other_nodes(self) -> list[Node]:
        """The live nodes other than this one."""
        try:
            keys = [k async for k in self.redis.scan_iter(match=f"{self.prefix}node:*", count=100)]
            urls = await self.redis.mget(keys) if keys else []
        except RedisError as exc:
            raise DirectoryUnavailable(str(exc)) from exc
        start = len(f"{self.prefix}node:")
        return [
            Node(_text(key)[start:], _text(url))
            for key, url in zip(keys, urls, strict=True)
            if url is not None and _text(key)[start:] != self.me.node_id
        ]

    async def claim(self, room_id: str) -> Node:
        """Take ``room_id`` for this node unless a live node holds it; return the holder."""
        if self._down or time.monotonic() < self._settle_until:
            # Its holder may not have written it back yet: taking it now would open it twice.
            raise DirectoryUnavailable("the room directory is being rebuilt; try again")
        try:
            for _ in range(3):
                node_id = _text(
                    await self._claim(
                        keys=[self._room_key(room_id)],
                        args=[self.me.node_id, f"{self.prefix}node:"],
                    )
                )
                if node_id == "":
                    raise DirectoryUnavailable("the room directory is being rebuilt; try again")
                if node_id == self.me.node_id:
                    return self.me
                node = await self._node(node_id)
                if node is not None:
                    return node
                # Its key expired between the two calls: it is dead now; claim again.
        except RedisError as exc:
            self._down = True  # the next good heartbeat waits for the others to write back
            raise DirectoryUnavailable(str(exc)) from exc
        raise DirectoryUnavailable(f"room {room_id!r}: its node keeps changing")

    async def release(self, room_id: str) -> None:
        """The room closed here: it belongs to nobody."""
        try:
            await self._release(keys=[self._room_key(room_id)], args=[self.me.node_id])
        except RedisError:
            logger.warning("room %s: could not clear it from the directory (Redis)", room_id)

    async def beat(self, rooms: Iterable[str]) -> list[str]:
        """Renew this node's key and its rooms' entries; return the rooms another node took
        over meanwhile (this node stalled past the time to live)."""
        held = list(rooms)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self._node_key(self.me.node_id), self.me.url, px=NODE_TTL_MS, get=True)
            for room_id in held:
                await self._claim(  # queued in the pipeline, sent by execute()
                    keys=[self._room_key(room_id)],
                    args=[self.me.node_id, f"{self.prefix}node:"],
                    client=pipe,
                )
            results = await pipe.execute()
        if results[0] is None and self.beats > 0:
            # Our key was gone: Redis restarted empty (or we stalled). Give the other nodes a
            # moment to write their rooms back before this one takes any free room.
            self._settle_until = time.monotonic() + SETTLE_S
        self.beats += 1
        return [
            room_id
            for room_id, owner in zip(held, results[1:], strict=True)
            if _text(owner) != self.me.node_id
        ]

    async def start(self, rooms: Callable[[], Iterable[str]], lost: LostRooms) -> None:
        """Write this node's key now (so it can claim rooms at once), then heartbeat every
        second until :meth:`stop`; ``lost`` gets the rooms another node took over."""
        try:
            await self.beat(rooms())
        except (RedisError, OSError) as exc:
            self._down = True
            logger.warning(
                "Redis is unreachable (%s): this node opens rooms once it is back",
                type(exc).__name__,
            )
        self._task = asyncio.ensure_future(self._run(rooms, lost))

    async def _run(self, rooms: Callable[[], Iterable[str]], lost: LostRooms) -> None:
        while True:
            taken: list[str] = []
            try:
                taken = await self.beat(rooms())
                if self._down:
                    self._down = False
                    self._settle_until = time.monotonic() + SETTLE_S
                    logger.warning("Redis is reachable again; the room directory is rewritten")
            except (RedisError, OSError) as exc:
                if not self._down:  # once per outage, not every second
                    self._down = True
                    logger.warning(
                        "Redis is unreachable (%s): live rooms go on here; rooms of other "
                        "nodes cannot be found until it is back",
                        type(exc).__name__,
                    )
            if taken:
                logger.warning("rooms taken over by another node meanwhile: %s", taken)
                try:
                    await lost(taken)
                except Exception:
                    logger.exception("closing rooms another node took over failed")
            await asyncio.sleep(HEARTBEAT_S)

    async def stop(self) -> None:
        """Stop beating and leave the directory: this node's rooms are free at once."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        with contextlib.suppress(RedisError):
            await self.redis.delete(self._node_key(self.me.node_id))
