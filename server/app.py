"""The application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from aiortc import RTCPeerConnection
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cases import db
from cases.models import Case, Sitting
from recordings.transcript import SittingRecord
from rooms import aiortc_hooks
from rooms.registry import RoomLoader, RoomRegistry
from rooms.room import RoomInfo, RoomRecord
from rooms.sfu import ForwardingMode, MediaConfig
from server.cluster import route_to_room_node, setup_cluster
from server.config import Settings
from server.errors import api_errors
from server.health import setup_health
from server.ice import IceServers
from server.keys import DATABASE, GATEWAY, OFFICE, ROOMS, SETTINGS
from server.logs import set_case_lookup
from server.metrics import setup_metrics
from server.office import load_office_rules
from server.playback_api import playback_ctx
from server.retention import retention_ctx
from server.routes import setup_routes
from signaling.gateway import Gateway

logger = logging.getLogger(__name__)


def ice_servers(settings: Settings) -> IceServers:
    return IceServers(
        static=settings.ice_servers,
        stun_urls=settings.stun_urls,
        turn_urls=settings.turn_urls,
        turn_secret=settings.turn_secret,
        turn_ttl=settings.turn_ttl,
    )


def media_config(settings: Settings) -> MediaConfig:
    servers = ice_servers(settings)
    return MediaConfig(
        ice_servers=servers.for_sfu(),
        # Fresh TURN credentials for each server-side peer connection.
        ice_servers_factory=servers.for_sfu if settings.turn_secret else None,
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
    settings = app[SETTINGS]
    loop = asyncio.get_running_loop()
    aiortc_hooks.restrict_host_addresses(settings.ice_hosts)
    aiortc_hooks.limit_host_ports(loop, settings.media_ports)
    aiortc_hooks.advertise_host_addresses(dict(settings.ice_advertise) or None)
    yield
    await app[ROOMS].close_all()
    aiortc_hooks.restrict_host_addresses(None)
    aiortc_hooks.limit_host_ports(loop, None)
    aiortc_hooks.advertise_host_addresses(None)


def sitting_loader(engine: AsyncEngine) -> RoomLoader:
    """Reopens a room from its open sitting in the case record (after a restart, say)."""
    sessions = db.session_factory(engine)

    async def load(room_id: str) -> tuple[RoomInfo, RoomRecord] | None:
        async with sessions() as session:
            row = (
                await session.execute(
                    select(Sitting, Case)
                    .join(Case, Case.id == Sitting.case_id)
                    .where(Sitting.room_id == room_id, Sitting.closed_at.is_(None))
                    .order_by(Sitting.id.desc())
                    .limit(1)
                )
            ).first()
        if row is None:
            return None
        sitting, case = row
        info = RoomInfo(
            room_id=room_id,
            case_number=case.number,
            title=case.title,
            case_id=case.id,
            sitting_id=sitting.id,
        )
        return info, SittingRecord(sessions, case.id, sitting.id)

    return load


async def _database_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[DATABASE].dispose()


def create_app(settings: Settings, engine: AsyncEngine) -> web.Application:
    """Build the whole service for ``settings`` on an open database (see server.database)."""
    if not settings.secret:
        raise ValueError("settings.secret is empty: load it with server.config.load_secret()")
    app = web.Application(middlewares=[route_to_room_node, api_errors], client_max_size=1024**2)
    app[SETTINGS] = settings
    app[DATABASE] = engine
    app[OFFICE] = load_office_rules(settings.office_config)
    app.cleanup_ctx.append(_database_ctx)
    registry = RoomRegistry(
        media_config(settings),
        loader=sitting_loader(engine),
        recordings_dir=settings.data_dir / "recordings",
    )
    app[ROOMS] = registry
    set_case_lookup(
        lambda room_id: (
            registry.get_room(room_id).info.case_id if registry.has_room(room_id) else None
        )
    )
    servers = ice_servers(settings)
    gateway = Gateway(registry, settings.secrets, servers.for_user)
    app[GATEWAY] = gateway
    gateway.attach(app)
    setup_cluster(app)
    setup_routes(app)
    setup_health(app)
    setup_metrics(app)
    app.cleanup_ctx.append(_rooms_ctx)
    app.cleanup_ctx.append(retention_ctx)
    app.cleanup_ctx.append(playback_ctx)
    return app
