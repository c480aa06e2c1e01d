"""The route table, and nothing else."""

from __future__ import annotations

from aiohttp import web

from server import views


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", views.index)
    app.router.add_get("/room/{room_id}", views.room_page)
    app.router.add_get("/vendor/socket.io.min.js", views.socket_io_client)
    app.router.add_get("/api/invitations/inspect", views.inspect_invitation)
    app.router.add_get("/healthz", views.healthz)
    app.router.add_static("/static/", views.STATIC_DIR, follow_symlinks=False)
