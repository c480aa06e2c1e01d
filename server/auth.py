"""Mediator sessions: a signed, HttpOnly, SameSite=Strict cookie.

CSRF: the API takes JSON bodies only (a cross-site form can't send ``application/json`` without a
CORS preflight, which this server never grants) and the cookie is ``SameSite=Strict``.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from aiohttp import web
from sqlalchemy import select

from cases import db
from cases.models import Mediator
from server.errors import ApiError
from server.keys import DATABASE, SETTINGS

COOKIE = "mr_session"
SESSION_TTL = 12 * 3600


def _sign(secret: bytes, body: str) -> str:
    return hmac.new(secret, b"session:" + body.encode(), hashlib.sha256).hexdigest()


def session_cookie(secret: bytes, mediator_id: int, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + SESSION_TTL)
    body = f"{mediator_id}.{expires}"
    return f"{body}.{_sign(secret, body)}"


def read_session_cookie(
    secret: bytes | tuple[bytes, ...], value: str | None, now: float | None = None
) -> int | None:
    """The mediator id a cookie vouches for, or ``None`` (absent, altered or expired).

    ``secret`` may be several keys (current first, then those being rotated out): a mediator
    logged in before a rotation stays logged in."""
    if not value:
        return None
    body, _, signature = value.rpartition(".")
    keys = (secret,) if isinstance(secret, bytes) else secret
    if not body or not any([hmac.compare_digest(_sign(k, body), signature) for k in keys]):
        return None
    try:
        mediator_id, expires = (int(part) for part in body.split("."))
    except ValueError:
        return None
    if (time.time() if now is None else now) >= expires:
        return None
    return mediator_id


async def current_mediator(request: web.Request) -> Mediator:
    """The logged-in mediator, or a 401 error body."""
    mediator_id = read_session_cookie(request.app[SETTINGS].secrets, request.cookies.get(COOKIE))
    if mediator_id is not None:
        async with db.session_factory(request.app[DATABASE])() as session:
            mediator = (
                await session.execute(
                    select(Mediator).where(Mediator.id == mediator_id, Mediator.active)
                )
            ).scalar_one_or_none()
        if mediator is not None:
            return mediator
    raise ApiError(401, "not_logged_in", "log in first (POST /api/session)")
