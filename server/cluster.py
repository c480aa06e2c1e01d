"""Several nodes, one deployment: each room's traffic goes to the node that holds its media.

With ``--redis-url`` every node writes itself and its rooms into the room directory
(:mod:`rooms.directory`). A room's peer connections, its state and its participants' Socket.IO
sessions all live on one node; a request that reaches another node for that room — the
Socket.IO connection (the page names its room in the query), the room's HTTP endpoints
(``/api/rooms/<room>/…``, the link check) — is forwarded there as it is, websockets and
long-polling included, so the load balancer in front needs no knowledge of rooms. The media
itself goes straight to the room's node (its ICE candidates are that node's addresses).

Why not python-socketio's ``AsyncRedisManager`` (events published through Redis to whichever
node holds a participant's socket)? Because every event of every room would then pass through
Redis: a Redis outage or a slow link to it would stall live rooms, and the order of a
command's answer and the events it causes would depend on two channels. Forwarded, a room's
Socket.IO traffic never leaves its node, and a live room needs Redis for nothing at all.

When a node dies its key in Redis expires (:data:`rooms.directory.NODE_TTL_MS`); the
participants' pages lose their connection, reconnect through any node, and the first node
asked opens the room again from the case record (everything acknowledged is there).

Nodes trust each other with a token derived from the invitation secret they already share; a
forwarded request carries it with the client's address.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

from rooms.directory import (
    DirectoryUnavailable,
    Node,
    RoomDirectory,
    new_node_id,
)
from server.errors import json_error
from server.keys import GATEWAY, ROOMS, SETTINGS

logger = logging.getLogger(__name__)

NODE_HEADER = "X-Mediation-Node"
"""Carries the node-to-node token on a request one node forwards to another."""

# Headers that describe one hop, not the message (RFC 9110 §7.6.1), plus what aiohttp's client
# sets itself for a websocket.
_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
}
_WS_OWN = {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions"}
_ROOM_PATH = re.compile(r"^/api/rooms/([^/]+)/")


def node_token(secret: bytes) -> str:
    """What one node shows another: derived from the invitation secret all nodes share."""
    return hmac.new(secret, b"mediation-room node-to-node v1", hashlib.sha256).hexdigest()


def room_of(request: web.Request) -> str | None:
    """The room a request is about, if it must be served by the room's node."""
    path = request.path
    if path.startswith("/socket.io/"):
        return request.query.get("room_id") or None
    if path == "/api/invitations/inspect":
        return request.query.get("room") or None
    found = _ROOM_PATH.match(path)
    return found[1] if found else None


class Cluster:
    """This node's part in a deployment of several."""

    def __init__(self, directory: RoomDirectory, token: str) -> None:
        self.directory = directory
        self.token = token
        self.session: aiohttp.ClientSession | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self.forwarded = {"http": 0, "websocket": 0, "failed": 0}
        """Requests this node forwarded to a room's node (read by /metrics)."""
        self.rooms_lost = 0
        """Rooms another node took over while this one stalled."""

    @property
    def me(self) -> Node:
        return self.directory.me

    def from_peer(self, request: web.Request) -> bool:
        return hmac.compare_digest(request.headers.get(NODE_HEADER, ""), self.token)

    def _headers(self, request: web.Request) -> dict[str, str]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        # The address the client used, as a reverse proxy keeps it: Engine.IO compares a
        # browser's Origin with it, and links made there name it.
        headers["Host"] = request.host
        headers[NODE_HEADER] = self.token
        headers["X-Forwarded-For"] = request.remote or ""
        return headers

    async def forward(self, request: web.Request, node: Node) -> web.StreamResponse:
        """Serve ``request`` from ``node`` and hand its answer back unchanged."""
        assert self.session is not None
        url = node.url.rstrip("/") + request.rel_url.path_qs
        headers = self._headers(request)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            self.forwarded["websocket"] += 1
            return await self._forward_websocket(request, url, headers)
        self.forwarded["http"] += 1
        prepared: web.StreamResponse | None = None
        try:
            async with self.session.request(
                request.method,
                url,
                headers=headers,
                data=request.content if request.body_exists else None,
                allow_redirects=False,
            ) as upstream:
                answer = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                for name, value in upstream.headers.items():
                    if name.lower() not in _HOP:
                        answer.headers.add(name, value)
                prepared = answer
                await answer.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await answer.write(chunk)
                await answer.write_eof()
                return answer
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            if prepared is not None:
                raise  # half an answer went out; the client sees the connection drop
            return self._unreachable(node, exc)

    async def _forward_websocket(
        self, request: web.Request, url: str, headers: dict[str, str]
    ) -> web.StreamResponse:
        assert self.session is not None
        headers = {k: v for k, v in headers.items() if k.lower() not in _WS_OWN}
        try:
            upstream = await self.session.ws_connect(url, headers=headers, max_msg_size=0)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return self._unreachable(None, exc)
        downstream = web.WebSocketResponse(max_msg_size=0)
        await downstream.prepare(request)
        self._sockets.add(downstream)

        async def pump(
            source: AsyncIterator[aiohttp.WSMessage],
            send_str: Callable[[str], Awaitable[None]],
            send_bytes: Callable[[bytes], Awaitable[None]],
        ) -> None:
            async for msg in source:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    await send_str(msg.data)
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    await send_bytes(msg.data)
                else:
                    break

        pumps = [
            asyncio.ensure_future(pump(downstream, upstream.send_str, upstream.send_bytes)),
            asyncio.ensure_future(pump(upstream, downstream.send_str, downstream.send_bytes)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            await upstream.close()
            await downstream.close()
            self._sockets.discard(downstream)
        return downstream

    def _unreachable(self, node: Node | None, exc: BaseException) -> web.Response:
        self.forwarded["failed"] += 1
        logger.info("forwarding to %s failed: %s", node.node_id if node else "node", exc)
        return json_error(
            503,
            "room_unreachable",
            "the server that holds this room does not answer; try again in a few seconds",
        )

    async def call(self, node: Node, path: str, body: dict[str, Any]) -> None:
        """Ask another node to do something to one of its rooms (``POST /cluster/…``)."""
        assert self.session is not None
        async with self.session.post(
            node.url.rstrip("/") + path, json=body, headers={NODE_HEADER: self.token}
        ) as resp:
            if resp.status >= 400:
                raise RuntimeError(f"{node.node_id} answered {resp.status} to {path}")

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self.session is not None:
            await self.session.close()


CLUSTER = web.AppKey("cluster", Cluster)


@web.middleware
async def route_to_room_node(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Forward a room's request to the node that holds the room (several nodes only)."""
    cluster = request.app.get(CLUSTER)
    if cluster is None:
        return await handler(request)
    if cluster.from_peer(request):
        # Forwarded by another node: the client's address is the one it names.
        client = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        return await handler(request.clone(remote=client) if client else request)
    room_id = room_of(request)
    registry = request.app[ROOMS]
    if room_id is None or registry.has_room(room_id):
        return await handler(request)
    try:
        holder = await cluster.directory.owner(room_id)
        if holder is None and registry.draining:
            # Free, and this node opens nothing new: another node will.
            others = await cluster.directory.other_nodes()
            holder = others[hash(room_id) % len(others)] if others else None
    except DirectoryUnavailable:
        holder = None  # opening the room here will say that the directory is unreachable
    if holder is None or holder == cluster.me:
        return await handler(request)
    return await cluster.forward(request, holder)


# -- what one node asks another ---------------------------------------------------------------


async def on_room_node(
    app: web.Application,
    room_id: str,
    here: Callable[[], Awaitable[None]],
    path: str,
    body: dict[str, Any],
) -> None:
    """Run ``here`` if this node holds the room, else ask the node that does (if any)."""
    cluster = app.get(CLUSTER)
    if cluster is None or app[ROOMS].has_room(room_id):
        await here()
        return
    holder = await cluster.directory.owner(room_id)
    if holder is not None and holder != cluster.me:
        await cluster.call(holder, path, body)


async def on_every_node(
    app: web.Application, here: Callable[[], Awaitable[None]], path: str, body: dict[str, Any]
) -> None:
    """Run ``here`` on this node and ask every other live node to do the same."""
    await here()
    cluster = app.get(CLUSTER)
    if cluster is None:
        return
    for node in await cluster.directory.other_nodes():
        try:
            await cluster.call(node, path, body)
        except Exception as exc:
            logger.warning("node %s did not take %s: %s", node.node_id, path, exc)


def _peer_only(request: web.Request) -> None:
    cluster = request.app.get(CLUSTER)
    if cluster is None or not cluster.from_peer(request):
        raise web.HTTPNotFound()


async def _close_room(request: web.Request) -> web.Response:
    _peer_only(request)
    room_id = request.match_info["room_id"]
    if request.app[ROOMS].has_room(room_id):
        await request.app[GATEWAY].disconnect_room(room_id)
        await request.app[ROOMS].close_room(room_id)
    return web.json_response({"ok": True})


async def _disconnect_invitation(request: web.Request) -> web.Response:
    _peer_only(request)
    count = await request.app[GATEWAY].disconnect_invitation(request.match_info["invitation_id"])
    return web.json_response({"ok": True, "disconnected": count})


# -- wiring -----------------------------------------------------------------------------------


async def _cluster_ctx(app: web.Application) -> AsyncIterator[None]:
    cluster = app[CLUSTER]
    cluster.session = aiohttp.ClientSession(
        auto_decompress=False,
        timeout=aiohttp.ClientTimeout(total=None, connect=3, sock_read=60),
    )
    registry = app[ROOMS]
    gateway = app[GATEWAY]

    async def lost(room_ids: list[str]) -> None:
        cluster.rooms_lost += len(room_ids)
        for room_id in room_ids:
            await gateway.move_room(room_id)
            await registry.drop_room(room_id)

    await cluster.directory.start(lambda: [room.id for room in registry.rooms()], lost)
    logger.info("node %s (%s) in the room directory", cluster.me.node_id, cluster.me.url)
    yield
    await cluster.directory.stop()
    await cluster.close()
    await cluster.directory.redis.aclose()


def setup_cluster(app: web.Application) -> None:
    """With ``--redis-url``: join the deployment's room directory and route rooms' requests."""
    settings = app[SETTINGS]
    if not settings.redis_url:
        return
    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
    node_url = settings.node_url or f"http://{settings.host}:{settings.port}"
    directory = RoomDirectory(redis, settings.node_id or new_node_id(), node_url)
    app[CLUSTER] = Cluster(directory, node_token(settings.secret))
    app[ROOMS].directory = directory
    app.router.add_post("/cluster/rooms/{room_id}/close", _close_room)
    app.router.add_post("/cluster/invitations/{invitation_id}/disconnect", _disconnect_invitation)
    app.cleanup_ctx.append(_cluster_ctx)
