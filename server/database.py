"""Connecting the service to the case record's database, and refusing a schema that doesn't fit."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from cases import db
from server.config import Settings

logger = logging.getLogger(__name__)


class SchemaMismatch(RuntimeError):
    """The database's schema is not the one this code expects; the message says what to run."""


def database_url(settings: Settings) -> str:
    """The configured database, or the embedded SQLite file in the data directory."""
    if settings.database_url:
        return db.normalize_url(settings.database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return db.sqlite_url(settings.data_dir)


async def open_database(settings: Settings) -> AsyncEngine:
    """An engine on a database whose schema is current.

    The embedded SQLite default is migrated here, so ``serve`` just works; an external database
    is only checked: migrating a shared production database is an operator's explicit step.
    """
    url = database_url(settings)
    engine = db.create_engine(url)
    try:
        status = await db.schema_status(engine)
        if status.state is db.SchemaState.CURRENT:
            return engine
        if db.is_sqlite(url) and status.state in (db.SchemaState.EMPTY, db.SchemaState.BEHIND):
            logger.info("migrating the embedded database %s → %s", status.revision, status.head)
            await db.upgrade(engine)
            return engine
        where = "--database-url <the same URL>"
        if status.state is db.SchemaState.AHEAD:
            raise SchemaMismatch(
                f"the database's schema ({status.revision}) is newer than this version of "
                f"mediation-room knows ({status.head}): run the newer version, or restore a "
                "backup made for this one"
            )
        raise SchemaMismatch(
            f"the database's schema is {status.revision or 'empty'}, this version needs "
            f"{status.head}: run `mediation-room db upgrade {where}` first"
        )
    except BaseException:
        await engine.dispose()
        raise
