"""Database engine, sessions and schema migrations (Alembic, run from code, no alembic.ini)."""

from __future__ import annotations

import enum
import logging
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def sqlite_url(data_dir: Path) -> str:
    """The embedded default: one SQLite file in the data directory."""
    return f"sqlite+aiosqlite:///{(data_dir / 'mediation.db').resolve()}"


def normalize_url(url: str) -> str:
    """Accept the URLs people write (``postgresql://…``, ``sqlite:///…``) with async drivers."""
    parsed = make_url(url)
    driver = {
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
        "sqlite": "sqlite+aiosqlite",
    }.get(parsed.drivername, parsed.drivername)
    if driver not in ("postgresql+asyncpg", "sqlite+aiosqlite"):
        raise ValueError(
            f"unsupported database {parsed.drivername!r}: use postgresql://… or sqlite:///…"
        )
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: object, record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    # WAL: readers don't block the writer; synchronous=FULL: a commit survives power loss.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_connect(dbapi_connection: Any, record: object) -> None:
    # Let SQLAlchemy, not the driver, open transactions (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    _sqlite_pragmas(dbapi_connection, record)


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock at the start: two transactions that read "the last sequence
    # number" and then append can't interleave (SQLite has no SELECT … FOR UPDATE).
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str) -> AsyncEngine:
    """An async engine for ``url`` (already normalized)."""
    engine = create_async_engine(url, pool_pre_ping=not is_sqlite(url))
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


UNAVAILABLE_MESSAGE = "the case record's database cannot be reached just now; try again shortly"
"""What a client is told (HTTP 503 / a Socket.IO ack) with the code ``database_unavailable``."""

_DRIVER_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,  # 08xxx, and a connection closed mid-query
    asyncpg.exceptions.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.exceptions.AdminShutdownError,  # 57P01: pg_ctl stop
    asyncpg.exceptions.CrashShutdownError,  # 57P02
    asyncpg.exceptions.TooManyConnectionsError,  # 53300
    asyncpg.exceptions.InterfaceError,  # "connection is closed", …
)


def _raised_by_driver(exc: BaseException) -> bool:
    """Whether ``exc`` came out of the database driver or SQLAlchemy's pool (a socket error
    there is the database's; the same error class from elsewhere — a browser gone, a full disk —
    is not)."""
    return any(
        str(frame.f_globals.get("__name__", "")).startswith(("asyncpg", "sqlalchemy"))
        for frame, _ in traceback.walk_tb(exc.__traceback__)
    )


def _unavailable_one(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            # SQLite says "no such table" with an OperationalError too: that is a bug, not an
            # outage. Only PostgreSQL's connection-level ones (and a locked SQLite file) count.
            orig = exc.orig
            return orig is not None and (
                isinstance(orig.__cause__, _DRIVER_CONNECTION_ERRORS)
                or "database is locked" in str(orig)
                or "unable to open database file" in str(orig)
            )
        return False
    if isinstance(exc, sa_exc.TimeoutError):  # the pool had no connection to give in time
        return True
    if isinstance(exc, _DRIVER_CONNECTION_ERRORS):
        return True
    if isinstance(exc, (OSError, TimeoutError)):  # refused, reset, unreachable; connect timeout
        return _raised_by_driver(exc)
    return False


_QUIET_SECONDS = 60.0
_last_logged: float | None = None


def log_unavailable(log: logging.Logger, what: str, exc: BaseException) -> None:
    """One warning when the database becomes unreachable, then at most one a minute while it
    stays so — not one stack trace per request."""
    global _last_logged
    now = time.monotonic()
    if _last_logged is not None and now - _last_logged < _QUIET_SECONDS:
        return
    _last_logged = now
    # The class only: a driver's message may carry the URL with its user name.
    log.warning(
        "the database is unreachable (%s) on %s: answering database_unavailable "
        "until it is back (repeats muted for %gs)",
        type(exc).__name__,
        what,
        _QUIET_SECONDS,
    )


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database can't be reached (down, restarting, refusing, its
    connection lost) — a 503 "try again shortly", not a bug — rather than anything else.

    Looks along the exception's causes: a handler may wrap the driver's error in its own.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _unavailable_one(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


class SchemaState(enum.StrEnum):
    CURRENT = "current"
    EMPTY = "empty"
    BEHIND = "behind"
    AHEAD = "ahead"


@dataclass(frozen=True)
class SchemaStatus:
    state: SchemaState
    revision: str | None
    head: str


def _status(connection: Connection) -> SchemaStatus:
    current = MigrationContext.configure(connection).get_current_revision()
    script = ScriptDirectory.from_config(_alembic_config())
    head = head_revision()
    if current == head:
        state = SchemaState.CURRENT
    elif current is None:
        state = SchemaState.EMPTY
    elif current in {rev.revision for rev in script.walk_revisions()}:
        state = SchemaState.BEHIND
    else:
        state = SchemaState.AHEAD
    return SchemaStatus(state, current, head)


async def schema_status(engine: AsyncEngine) -> SchemaStatus:
    """Whether the database's schema is the one this code expects."""
    async with engine.connect() as conn:
        return await conn.run_sync(_status)


async def upgrade(engine: AsyncEngine, target: str = "head") -> None:
    """Migrate the schema up to ``target``."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.upgrade(_alembic_config(c), target))


async def downgrade(engine: AsyncEngine, target: str = "base") -> None:
    """Migrate the schema down to ``target`` (``base``: empty)."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(_alembic_config(c), target))
