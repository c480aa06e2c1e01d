"""Databases for tests: a fresh SQLite file, and the real PostgreSQL with an emptied schema."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text

from cases import db

POSTGRES_URL = os.environ.get(
    "MEDIATION_ROOM_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")


async def fresh_database(backend: str, tmp_path: Path) -> str:
    """The URL of an empty database of ``backend`` (PostgreSQL: its public schema recreated)."""
    if backend == "sqlite":
        return db.sqlite_url(tmp_path)
    engine = db.create_engine(POSTGRES_URL)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()
    return POSTGRES_URL
