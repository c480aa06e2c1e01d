"""Every piece of application state, behind a typed key."""

from __future__ import annotations

from aiohttp import web

from rooms.registry import RoomRegistry
from server.config import Settings
from signaling.gateway import Gateway

SETTINGS = web.AppKey("settings", Settings)
ROOMS = web.AppKey("rooms", RoomRegistry)
GATEWAY = web.AppKey("gateway", Gateway)
