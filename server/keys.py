"""Every piece of application state, behind a typed key."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from rooms.registry import RoomRegistry
from server.config import Settings
from server.office import OfficeRules
from signaling.gateway import Gateway

SETTINGS = web.AppKey("settings", Settings)
OFFICE = web.AppKey("office", OfficeRules)
DATABASE = web.AppKey("database", AsyncEngine)
ROOMS = web.AppKey("rooms", RoomRegistry)
GATEWAY = web.AppKey("gateway", Gateway)
