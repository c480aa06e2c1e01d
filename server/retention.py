"""The retention job: deletes the recordings of concluded cases once the office's period is over.

The rows, their hashes and the audit chain stay; each deleted file is a ``recording_deleted``
event (see ``cases.recordings.purge_recordings``). The server runs it at start-up and then every
``INTERVAL`` seconds when the office rules set ``recording_retention_days``; ``mediation-room
recordings purge`` runs it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from cases import db
from cases.models import Recording
from cases.recordings import purge_recordings
from server.keys import DATABASE, OFFICE, SETTINGS
from server.office import OfficeRules

logger = logging.getLogger(__name__)

INTERVAL = 6 * 3600.0
"""Seconds between runs: a day's lateness at most matters nothing for a period of months."""

ACTOR = "保存期限任务"
"""Who the audit chain says deleted the files (the retention job)."""


async def purge(
    engine: AsyncEngine, data_dir: Path, rules: OfficeRules, *, dry_run: bool = False
) -> list[Recording]:
    """Run the job once (nothing when the rules keep recordings forever)."""
    if rules.recording_retention_days is None:
        return []
    async with db.session_factory(engine)() as session:
        return await purge_recordings(
            session,
            data_dir,
            today=rules.today(),
            retention_days=rules.recording_retention_days,
            actor=ACTOR,
            dry_run=dry_run,
        )


async def _run_periodically(engine: AsyncEngine, data_dir: Path, rules: OfficeRules) -> None:
    while True:
        try:
            deleted = await purge(engine, data_dir, rules)
        except Exception:
            # A failed run (database away, say) must not end the job: the next one tries again.
            logger.exception("retention: the purge failed; trying again in %.0f s", INTERVAL)
        else:
            if deleted:
                logger.info(
                    "retention: deleted %d recording file(s) of %d case(s), %d bytes",
                    len(deleted),
                    len({r.case_id for r in deleted}),
                    sum(r.size or 0 for r in deleted),
                )
            else:
                logger.debug("retention: no recording is due")
        await asyncio.sleep(INTERVAL)


async def retention_ctx(app: web.Application) -> AsyncIterator[None]:
    """The job as a background task beside the server (only when a period is set)."""
    rules = app[OFFICE]
    if rules.recording_retention_days is None:
        yield
        return
    logger.info(
        "retention: recordings are deleted %d days after their case concludes",
        rules.recording_retention_days,
    )
    task = asyncio.create_task(_run_periodically(app[DATABASE], app[SETTINGS].data_dir, rules))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
