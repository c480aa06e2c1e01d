"""Playback files over HTTP, and the worker process that makes them.

The case's own mediator asks for a sitting's playback file once the sitting has ended; the job
goes into the case record and a worker process (:mod:`recordings.playback_worker`) is started
if none is running. The console polls the job list for progress and plays the MP4 when done.

:class:`WorkerLauncher` keeps at most one worker per server process. The worker exits when the
queue is empty; if a job was queued while it was exiting, the launcher sees the queue is not
empty and starts another. At start-up it starts one if jobs are waiting (queued, or left
running by a worker that died), and at shutdown it stops it with ``SIGTERM`` (the running job
goes back to the queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases import db
from cases import playback_jobs as jobs
from cases.models import PlaybackJob, PlaybackStatus
from recordings.playback_worker import DATABASE_ENV, PLAYBACK_DIR
from server import api_schemas as s
from server.api import office_case, respond
from server.auth import current_mediator
from server.database import database_url
from server.errors import ApiError
from server.keys import DATABASE, SETTINGS

logger = logging.getLogger(__name__)

RESTART_BACKOFF = 5.0
"""Seconds before starting a worker again after one failed (exit code not 0)."""
STOP_TIMEOUT = 10.0
ROOT = Path(__file__).resolve().parent.parent
"""The checkout: the worker runs as ``python -m recordings.playback_worker`` from here."""


class WorkerLauncher:
    """Starts the playback worker process when there is work, one at a time."""

    def __init__(
        self, data_dir: Path, database: str, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        self.data_dir = data_dir
        self.database = database
        self.sessions = sessions
        self.process: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._closing = False
        self.started = 0
        """How many worker processes were started (for tests and the log)."""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def ensure_running(self) -> None:
        if self._closing or self.running:
            return
        env = dict(os.environ)
        env[DATABASE_ENV] = self.database
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "recordings.playback_worker",
            "--data-dir",
            str(self.data_dir),
            "--until-idle",
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            cwd=str(ROOT),
        )
        self.started += 1
        logger.info("playback worker started (pid %s)", self.process.pid)
        self._watcher = asyncio.ensure_future(self._watch(self.process))

    async def _watch(self, process: asyncio.subprocess.Process) -> None:
        code = await process.wait()
        if self._closing:
            return
        if code != 0:
            logger.error("the playback worker exited with %s; starting it again soon", code)
            await asyncio.sleep(RESTART_BACKOFF)
        try:
            async with self.sessions() as session:
                waiting = await jobs.pending(session)
        except Exception:
            logger.exception("could not read the playback queue")
            return
        if waiting:
            await self.ensure_running()

    async def start_if_pending(self) -> None:
        async with self.sessions() as session:
            waiting = await jobs.pending(session)
        if waiting:
            logger.info("%d playback job(s) waiting", waiting)
            await self.ensure_running()

    async def close(self) -> None:
        self._closing = True
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher


PLAYBACK = web.AppKey("playback", WorkerLauncher)


async def playback_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    launcher = WorkerLauncher(
        settings.data_dir, database_url(settings), db.session_factory(app[DATABASE])
    )
    app[PLAYBACK] = launcher
    try:
        await launcher.start_if_pending()
    except Exception:
        logger.exception("could not look at the playback queue at start-up")
    yield
    await launcher.close()


def _url(number: str, job: PlaybackJob) -> str | None:
    if job.status != PlaybackStatus.DONE.value:
        return None
    return f"/api/cases/{quote(number, safe='')}/playback/{job.id}/file"


def job_out(number: str, job: PlaybackJob) -> s.PlaybackJobOut:
    return s.PlaybackJobOut(
        id=job.id,
        sitting_id=job.sitting_id,
        status=job.status,
        progress=job.progress,
        requested_by=job.requested_by,
        attempts=job.attempts,
        error=job.error,
        size=job.size,
        sha256=job.sha256,
        duration=job.duration,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        url=_url(number, job),
    )


def _int(request: web.Request, name: str, code: str, what: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit():
        raise ApiError(404, code, f"no {what} {raw!r} in this case")
    return int(raw)


async def request_playback(request: web.Request) -> web.Response:
    """``POST /api/cases/{number}/sittings/{sitting_id}/playback``"""
    mediator = await current_mediator(request)
    number = request.match_info["number"]
    sitting_id = _int(request, "sitting_id", "sitting_not_found", "sitting")
    async with db.session_factory(request.app[DATABASE])() as session, session.begin():
        case = await office_case(session, mediator, number, own=True)
        try:
            job = await jobs.request(session, case.id, sitting_id, actor=mediator.display_name)
        except jobs.PlaybackJobError as exc:
            status = 404 if exc.code == "sitting_not_found" else 409
            raise ApiError(status, exc.code, exc.message) from None
        out = job_out(number, job)
    await request.app[PLAYBACK].ensure_running()
    return respond(out, status=202)


async def list_playback(request: web.Request) -> web.Response:
    """``GET /api/cases/{number}/playback``"""
    mediator = await current_mediator(request)
    number = request.match_info["number"]
    async with db.session_factory(request.app[DATABASE])() as session:
        case = await office_case(session, mediator, number, own=True)
        rows = await jobs.jobs_of_case(session, case.id)
    return respond(s.PlaybackJobList(jobs=[job_out(number, job) for job in rows]))


async def playback_file(request: web.Request) -> web.StreamResponse:
    """``GET /api/cases/{number}/playback/{job_id}/file``: the MP4, with range requests."""
    mediator = await current_mediator(request)
    job_id = _int(request, "job_id", "playback_not_found", "playback file")
    async with db.session_factory(request.app[DATABASE])() as session:
        case = await office_case(session, mediator, request.match_info["number"], own=True)
        job = (
            await session.execute(
                select(PlaybackJob).where(PlaybackJob.id == job_id, PlaybackJob.case_id == case.id)
            )
        ).scalar_one_or_none()
    if job is None:
        raise ApiError(404, "playback_not_found", f"no playback file {job_id} in this case")
    if job.status != PlaybackStatus.DONE.value or not job.path:
        raise ApiError(
            409,
            "playback_not_ready",
            f"playback file {job_id} is {job.status}: wait until it is done",
        )
    data_dir = request.app[SETTINGS].data_dir
    root = (data_dir / PLAYBACK_DIR).resolve()
    path = (data_dir / job.path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        logger.error("playback job %s: its file %s is missing or outside %s", job.id, path, root)
        raise ApiError(404, "playback_file_missing", f"playback file {job_id} is not on the server")
    headers = {
        "Content-Type": "video/mp4",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'inline; filename="{case.number}-sitting-{job.sitting_id}.mp4"',
        "Cache-Control": "private, no-store",
    }
    return web.FileResponse(path, headers=headers)
