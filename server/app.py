"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from aiortc import RTCIceServer, RTCPeerConnection
from sqlalchemy.ext.asyncio import AsyncEngine

from rooms import aiortc_hooks
from rooms.registry import RoomRegistry
from rooms.sfu import ForwardingMode, MediaConfig
from server.config import Settings
from server.keys import DATABASE, GATEWAY, ROOMS, SETTINGS
from server.routes import setup_routes
from signaling.gateway import Gateway

logger = logging.getLogger(__name__)


def media_config(settings: Settings) -> MediaConfig:
    return MediaConfig(
        ice_servers=tuple(RTCIceServer(**server) for server in settings.ice_servers),
        video_codec=settings.video_codec,
        mode=ForwardingMode(settings.forwarding),
    )


async def _check_aiortc() -> None:
    """Fail at start-up, not mid-call, if the installed aiortc no longer fits our hooks."""
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video")
        aiortc_hooks.check_compatibility(transceiver.receiver, transceiver.sender)
    finally:
        await pc.close()


async def _rooms_ctx(app: web.Application) -> AsyncIterator[None]:
    await _check_aiortc()
    aiortc_hooks.restrict_host_addresses(app[SETTINGS].ice_hosts)
    yield
    await app[ROOMS].close_all()
    aiortc_hooks.restrict_host_addresses(None)


async def _database_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[DATABASE].dispose()


def create_app(settings: Settings, engine: AsyncEngine) -> web.Application:
    """Build the whole service for ``settings`` on an open database (see server.database)."""
    if not settings.secret:
        raise ValueError("settings.secret is empty: load it with server.config.load_secret()")
    app = web.Application()
    app[SETTINGS] = settings
    app[DATABASE] = engine
    app.cleanup_ctx.append(_database_ctx)
    registry = RoomRegistry(media_config(settings))
    app[ROOMS] = registry
    gateway = Gateway(registry, settings.secret, [dict(s) for s in settings.ice_servers])
    app[GATEWAY] = gateway
    gateway.attach(app)
    setup_routes(app)
    app.cleanup_ctx.append(_rooms_ctx)
    return app
