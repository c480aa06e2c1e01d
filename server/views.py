"""HTTP handlers: pages, the invitation check, health."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from cases.errors import InvitationError
from cases.invitations import verify_token
from rooms.errors import RoomElsewhere, RoomError
from server.errors import json_error
from server.keys import ROOMS, SETTINGS
from server.openapi import openapi_document

ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = ROOT / "static"
VENDOR = {
    # name served at /vendor/<name> → file installed from the npm registry by `./manage setup`
    "socket.io.min.js": ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js",
    "qrcode.mjs": ROOT / "node_modules" / "qrcode-generator" / "dist" / "qrcode.mjs",
}

NO_STORE = {"Cache-Control": "no-store"}


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers=NO_STORE)


async def room_page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "room.html", headers=NO_STORE)


async def console_page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "console.html", headers=NO_STORE)


async def verify_page(request: web.Request) -> web.StreamResponse:
    """The public check of a settlement agreement's verification code."""
    return web.FileResponse(STATIC_DIR / "verify.html", headers=NO_STORE)


async def vendor(request: web.Request) -> web.StreamResponse:
    """Third-party browser code, installed at set-up time; no CDN at run time."""
    path = VENDOR.get(request.match_info["name"])
    if path is None:
        return json_error(404, "not_found", "no such vendor file")
    if not path.exists():
        return json_error(
            500, "setup_incomplete", f"{path.name} is not installed: run `./manage setup` (npm ci)"
        )
    return web.FileResponse(path)


async def inspect_invitation(request: web.Request) -> web.Response:
    """Who a join link is for, or why it is refused — before the page asks for the camera."""
    settings = request.app[SETTINGS]
    try:
        invitation = verify_token(
            settings.secrets, request.query.get("t"), request.query.get("room") or None
        )
        room = await request.app[ROOMS].find_room(invitation.room_id)
        if room.record is not None:
            await room.record.admit(
                invitation.invitation_id,
                request.remote or "",
                request.headers.get("User-Agent", ""),
            )
    except InvitationError as exc:
        return json_error(403 if exc.code != "token_missing" else 400, exc.code, exc.message)
    except RoomElsewhere as exc:  # several nodes: the page asks again in a moment
        return json_error(503, exc.code, exc.message)
    except RoomError as exc:
        return json_error(404, exc.code, exc.message)
    return web.json_response(
        {
            "room_id": invitation.room_id,
            "role": invitation.role,
            "name": invitation.name,
            "expires_at": invitation.expires_at,
            "case_number": room.info.case_number,
            "title": room.info.title,
        },
        headers=NO_STORE,
    )


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "rooms": len(request.app[ROOMS].rooms())})
