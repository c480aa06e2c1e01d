"""``/healthz`` (the process is up), ``/readyz`` (it can take rooms now) and draining.

A balancer sends new rooms only to a node whose ``/readyz`` answers 200. It answers 503, naming
each failing check, when the database does not answer, Redis (if configured) does not answer, the
file system of the recordings has less free space than ``--min-free-disk-mb``, or the node is
draining.

Draining (``POST /admin/drain``; ``DELETE`` to undo; ``GET`` for the state) is for rolling
upgrades: the node opens no room that is not live on it yet, its live rooms go on until they end,
and ``/readyz`` says ``draining``. The endpoint takes ``Authorization: Bearer <admin token>``, an
HMAC of the signing key (:func:`admin_token`; ``mediation-room drain`` computes and sends it), so
only someone holding the node's secret can drain it — a "local only" rule would not do behind a
proxy on the same host, where every request comes from 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.errors import json_error
from server.keys import DATABASE, ROOMS, SETTINGS

REDIS = web.AppKey("redis", Redis)
"""The Redis client of the checks (only when ``--redis-url`` is set); kept here, not in
``server.keys``, which would otherwise import this module back."""

CHECK_TIMEOUT = 2.0
"""Seconds a dependency has to answer a readiness check."""


@dataclass(frozen=True, slots=True)
class Check:
    """The outcome of one readiness check."""

    name: str
    ok: bool
    detail: str = ""
    seconds: float | None = None
    """How long the dependency took to answer (database, Redis)."""

    def view(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok}
        if self.detail:
            out["detail"] = self.detail
        if self.seconds is not None:
            out["seconds"] = round(self.seconds, 4)
        return out


async def check_database(engine: AsyncEngine, limit: float = CHECK_TIMEOUT) -> Check:
    """``SELECT 1`` on the case record's database."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(limit), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except TimeoutError:
        return Check("database", False, f"no answer within {limit:g}s")
    except Exception as exc:
        # The class only: a driver's message may carry the URL with its user name.
        return Check("database", False, f"unreachable ({type(exc).__name__})")
    return Check("database", True, seconds=time.monotonic() - started)


async def check_redis(app: web.Application, limit: float = CHECK_TIMEOUT) -> Check:
    """``PING`` to the configured Redis."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(limit):
            await app[REDIS].ping()
    except TimeoutError:
        return Check("redis", False, f"no answer within {limit:g}s")
    except Exception as exc:
        return Check("redis", False, f"unreachable ({type(exc).__name__})")
    return Check("redis", True, seconds=time.monotonic() - started)


def check_disk(directory: Path, min_free_mb: int) -> Check:
    """Free space where recordings are written (the nearest existing parent directory)."""
    path = directory
    while not path.exists() and path != path.parent:
        path = path.parent
    free_mb = shutil.disk_usage(path).free // (1024 * 1024)
    if free_mb < min_free_mb:
        return Check("disk", False, f"{free_mb} MB free for recordings, {min_free_mb} MB needed")
    return Check("disk", True, f"{free_mb} MB free")


async def readiness(app: web.Application) -> list[Check]:
    """Every readiness check of this node."""
    settings = app[SETTINGS]
    pending = [check_database(app[DATABASE])]
    if settings.redis_url:
        pending.append(check_redis(app))
    checks = list(await asyncio.gather(*pending))
    checks.append(check_disk(settings.data_dir / "recordings", settings.min_free_disk_mb))
    draining = app[ROOMS].draining
    checks.append(Check("draining", not draining, "taking no new rooms" if draining else ""))
    return checks


async def readyz(request: web.Request) -> web.Response:
    """``GET /readyz``: 200 when every check passes, else 503 naming the failing ones."""
    checks = await readiness(request.app)
    failing = [c.name for c in checks if not c.ok]
    body = {
        "ok": not failing,
        "failing": failing,
        "checks": {c.name: c.view() for c in checks},
        "rooms": len(request.app[ROOMS].rooms()),
    }
    return web.json_response(
        body, status=503 if failing else 200, headers={"Cache-Control": "no-store"}
    )


def admin_token(secret: bytes) -> str:
    """The bearer token of the admin endpoints, derived from the node's signing key."""
    return hmac.new(secret, b"mediation-room admin v1", hashlib.sha256).hexdigest()


def _authorized(request: web.Request) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    return hmac.compare_digest(token.strip(), admin_token(request.app[SETTINGS].secret))


def _drain_state(app: web.Application) -> dict[str, Any]:
    rooms = app[ROOMS].rooms()
    return {"draining": app[ROOMS].draining, "rooms": len(rooms)}


async def drain(request: web.Request) -> web.Response:
    """``POST /admin/drain`` starts draining, ``DELETE`` stops it, ``GET`` tells the state."""
    if not _authorized(request):
        return json_error(401, "unauthorized", "the admin token is missing or wrong")
    if request.method == "POST":
        request.app[ROOMS].draining = True
    elif request.method == "DELETE":
        request.app[ROOMS].draining = False
    return web.json_response(_drain_state(request.app), headers={"Cache-Control": "no-store"})


async def _redis_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[REDIS].aclose()


def setup_health(app: web.Application) -> None:
    """One Redis client for the checks, when a Redis URL is configured (it connects on use)."""
    url = app[SETTINGS].redis_url
    if url:
        app[REDIS] = Redis.from_url(
            url, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT
        )
        app.cleanup_ctx.append(_redis_ctx)
