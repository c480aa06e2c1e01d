"""Database engine, sessions and schema migrations (Alembic, run from code, no alembic.ini)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event
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
