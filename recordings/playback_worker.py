"""The playback worker: a process of its own that makes the queued playback files.

The server starts it when a job is queued (and at start-up when some are waiting); it takes
jobs from the case record (:mod:`cases.playback_jobs`) until none is left, then exits. It never
runs inside the media process: composing is ffmpeg at ``nice 19`` under this process, and the
speech detection that lights the captions decodes audio here, not beside the rooms.

For each job it reads the sitting's segments, checks every file against the SHA-256 on the
record (a file that changed is not composed: the job fails and says which), composes into
``<data dir>/playback/<case id>/``, hashes the result and puts it on the record with its
sources' hashes in the audit chain. Progress goes to the job row twice a second at most.

    python -m recordings.playback_worker --data-dir DATA [--until-idle]

The database comes from ``MEDIATION_ROOM_DATABASE_URL`` (the server passes it in the
environment, never on the command line where ``ps`` shows it), else SQLite in the data dir.
``SIGTERM`` puts the running job back in the queue and stops.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import av
from sqlalchemy.ext.asyncio import AsyncEngine

from cases import db
from cases import playback_jobs as jobs
from cases.models import PlaybackJob
from recordings.playback import PlaybackError, Segment, compose

logger = logging.getLogger(__name__)

PLAYBACK_DIR = "playback"
"""Under the data directory."""
DATABASE_ENV = "MEDIATION_ROOM_DATABASE_URL"
PROGRESS_EVERY = 0.5
"""Seconds between progress writes to the job's row."""
POLL = 2.0
"""Seconds between looks at the queue when not ``until_idle``."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _duration(path: Path) -> float:
    with av.open(str(path)) as container:
        return float((container.duration or 0) / av.time_base)


def _check_sources(data_dir: Path, rows: Sequence[jobs.SegmentRow]) -> list[Segment]:
    """The segments as files, each checked against its hash on the record."""
    root = (data_dir / "recordings").resolve()
    out = []
    for row in rows:
        path = (data_dir / row.path).resolve()
        if not path.is_relative_to(root):
            raise PlaybackError(f"recording {row.recording_id}: {row.path} is outside {root}")
        if not path.is_file():
            raise PlaybackError(
                f"recording {row.recording_id}: its file {row.path} is missing on this server"
            )
        if row.sha256 and _sha256(path) != row.sha256:
            raise PlaybackError(
                f"recording {row.recording_id}: {row.path} does not match the SHA-256 on "
                "record; it was not composed (check the case with `mediation-room` verify)"
            )
        out.append(Segment(path, row.label, row.started_at, row.duration))
    return out


class Worker:
    def __init__(self, engine: AsyncEngine, data_dir: Path) -> None:
        self.engine = engine
        self.data_dir = data_dir
        self.sessions = db.session_factory(engine)

    async def run_one(self) -> PlaybackJob | None:
        """Take and do one job; ``None`` when the queue is empty."""
        async with self.sessions() as session:
            job = await jobs.claim(session)
        if job is None:
            return None
        logger.info("playback job %s: case %s sitting %s", job.id, job.case_id, job.sitting_id)
        try:
            return await self._make(job)
        except asyncio.CancelledError:
            # Stopped (SIGTERM): the job goes back to the queue for the next worker.
            async with self.sessions() as session:
                await jobs.release(session, job.id)
            raise

    async def _make(self, job: PlaybackJob) -> PlaybackJob:
        async with self.sessions() as session:
            rows = await jobs.segments(session, job.sitting_id)
        out_dir = self.data_dir / PLAYBACK_DIR / str(job.case_id)
        out = out_dir / f"sitting-{job.sitting_id}-job-{job.id}.mp4"
        last = 0.0
        lost = False
        composing: asyncio.Task[Path] | None = None

        async def beat(fraction: float) -> None:
            nonlocal lost
            async with self.sessions() as session:
                if not await jobs.heartbeat(session, job.id, fraction) and not lost:
                    # Requeued or failed meanwhile (our heartbeat went stale): stop composing.
                    lost = True
                    if composing is not None:
                        composing.cancel()

        pending: set[asyncio.Task[None]] = set()

        def on_progress(fraction: float) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < PROGRESS_EVERY and fraction < 1.0:
                return
            last = now
            task = asyncio.ensure_future(beat(fraction))
            pending.add(task)
            task.add_done_callback(pending.discard)

        try:
            if not rows:
                raise PlaybackError("the sitting has no recorded segment left on the server")
            segments = await asyncio.to_thread(_check_sources, self.data_dir, rows)
            await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
            await beat(0.0)
            start = min(s.started_at for s in segments)
            composing = asyncio.ensure_future(
                compose(segments, out, start=start, on_progress=on_progress)
            )
            try:
                await composing
            except asyncio.CancelledError:
                if not lost:
                    raise
                logger.warning("playback job %s: taken from this worker (heartbeat lost)", job.id)
                return job
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            sha256 = await asyncio.to_thread(_sha256, out)
            duration = await asyncio.to_thread(_duration, out)
            size = out.stat().st_size
        except (PlaybackError, OSError, av.error.FFmpegError) as exc:
            logger.warning("playback job %s failed: %s", job.id, exc)
            async with self.sessions() as session:
                await jobs.fail(session, job.id, str(exc))
                failed = await session.get(PlaybackJob, job.id, populate_existing=True)
            assert failed is not None
            return failed
        async with self.sessions() as session:
            done = await jobs.finish(
                session,
                job.id,
                path=out.relative_to(self.data_dir).as_posix(),
                size=size,
                sha256=sha256,
                duration=duration,
                sources=rows,
            )
        logger.info("playback job %s done: %s (%d bytes, %.1f s)", job.id, out, size, duration)
        return done

    async def run(self, *, until_idle: bool) -> int:
        done = 0
        while True:
            job = await self.run_one()
            if job is not None:
                done += 1
                continue
            if until_idle:
                return done
            await asyncio.sleep(POLL)


def database_url(data_dir: Path) -> str:
    url = os.environ.get(DATABASE_ENV, "")
    return db.normalize_url(url) if url else db.sqlite_url(data_dir)


async def amain(data_dir: Path, *, until_idle: bool) -> int:
    engine = db.create_engine(database_url(data_dir))
    worker = Worker(engine, data_dir)
    task = asyncio.ensure_future(worker.run(until_idle=until_idle))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        done = await task
        logger.info("playback worker: %d job(s) done, the queue is empty", done)
        return 0
    except asyncio.CancelledError:
        logger.info("playback worker stopped; its job, if any, is queued again")
        return 0
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recordings.playback_worker")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument(
        "--until-idle", action="store_true", help="exit once no job is waiting (default: poll)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s playback-worker %(levelname)s %(message)s"
    )
    return asyncio.run(amain(args.data_dir, until_idle=args.until_idle))


if __name__ == "__main__":
    sys.exit(main())
