"""A room's recording: one :class:`recordings.recorder.ParticipantRecorder` per participant.

The recorders sit beside the forwarding path: the SFU hands each one the packets of the
participant it records (:attr:`rooms.sfu.Source.record_to`) — only while the room says that
participant may be recorded (not muted by the mediator, not in a caucus the mediator chose not
to record). Their worker threads report closed segments and failures; this class brings those
reports back to the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from recordings.recorder import ParticipantRecorder, SegmentInfo

logger = logging.getLogger(__name__)

SEGMENT_SECONDS = 300.0
"""A segment is cut at the first keyframe after this long (bounded files, bounded loss)."""

SegmentSink = Callable[[SegmentInfo], Awaitable[None]]
FailureSink = Callable[[str, str], Awaitable[None]]
KeyframeAsk = Callable[[str], None]


class RoomRecording:
    """The recorders of one recording of a room (from start to stop)."""

    def __init__(
        self,
        directory: Path,
        on_segment: SegmentSink,
        on_failure: FailureSink,
        ask_keyframe: KeyframeAsk,
        *,
        segment_seconds: float = SEGMENT_SECONDS,
    ) -> None:
        self.directory = directory
        self.recorders: dict[str, ParticipantRecorder] = {}
        self._on_segment = on_segment
        self._on_failure = on_failure
        self._ask_keyframe = ask_keyframe
        self._segment_seconds = segment_seconds
        self._loop = asyncio.get_running_loop()
        self._tasks: set[asyncio.Task[Any]] = set()
        """Reports of closed segments on their way into the case record."""
        self._failures: set[asyncio.Task[Any]] = set()
        """Reports of failures: they take the room's lock, so :meth:`stop` does not wait for
        them (it runs under that lock)."""

    def recorder(self, participant_id: str) -> ParticipantRecorder:
        """The participant's recorder, made on first use (a participant entering later)."""
        recorder = self.recorders.get(participant_id)
        if recorder is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            recorder = ParticipantRecorder(
                self.directory,
                participant_id,
                segment_seconds=self._segment_seconds,
                on_segment=lambda info: self._hop(self._on_segment(info), self._tasks),
                on_failure=lambda reason: self._hop(
                    self._on_failure(participant_id, reason), self._failures
                ),
                on_keyframe_needed=lambda: self._ask_from_thread(participant_id),
            )
            self.recorders[participant_id] = recorder
        return recorder

    def _ask_from_thread(self, participant_id: str) -> None:
        self._loop.call_soon_threadsafe(self._ask_keyframe, participant_id)

    def _hop(self, coro: Awaitable[None], tasks: set[asyncio.Task[Any]]) -> None:
        """From a recorder's worker thread onto the event loop."""

        def _start() -> None:
            task = asyncio.ensure_future(coro)
            tasks.add(task)
            task.add_done_callback(lambda t: self._done(t, tasks))

        self._loop.call_soon_threadsafe(_start)

    def _done(self, task: asyncio.Task[Any], tasks: set[asyncio.Task[Any]]) -> None:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("recording report failed: %r", task.exception())

    async def stop(self) -> list[SegmentInfo]:
        """Stop every recorder; wait until their last segments are closed and reported."""
        segments: list[SegmentInfo] = []
        for recorder in self.recorders.values():
            segments += await recorder.stop()
        # The reports of the last segments were scheduled from the workers: let them land
        # (not the failure reports: they wait for the room's lock, which our caller holds).
        await asyncio.sleep(0)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        return segments

    def stats(self) -> dict[str, Any]:
        return {
            pid: {
                "written_frames": r.written_frames,
                "dropped_packets": r.dropped_packets,
                "failed": r.failed,
            }
            for pid, r in self.recorders.items()
        }
