"""The server-side recorder: one participant's media, as received, into WebM or Matroska files.

Nothing is decoded or re-encoded: the RTP packets a participant publishes are put back into
frames (:mod:`recordings.rtp`) and those frames are muxed as they are — VP8 + Opus into WebM,
H.264 + Opus into Matroska — in segments of bounded length.

API::

    recorder = ParticipantRecorder(
        directory, participant_id,
        segment_seconds=300.0,         # a target: a segment ends at the first keyframe after it
        queue_limit=2000,              # packets waiting for the worker; beyond, push() drops
        on_segment=...,                # SegmentInfo of each closed segment
        on_failure=...,                # the reason, once, when a write fails (the recorder stops)
        on_keyframe_needed=...,        # ask the publisher for a keyframe (PLI); at most 1/s
    )
    recorder.push("video", packet, "video/VP8", 90000, arrival_ms)   # per decrypted RTP packet
    segments = await recorder.stop()                                 # flush, close, join

    find_unsealed(directory)     # segments a crash left open
    seal(path, participant_id)   # remux one of them into a proper file (blocking: use a thread)

**Threads.** :meth:`ParticipantRecorder.push` runs on the caller's thread (the event loop, in the
SFU's forwarding path): it copies five fields of the packet into a tuple and puts it on a
queue — about 2 µs, never blocking, never raising; when ``queue_limit`` packets are waiting it
drops the packet and counts it (``dropped_packets``). Everything else — reordering,
depacketizing, muxing, file I/O, fsync, hashing — runs on one worker thread per recorder, which
takes what is queued in batches every :data:`BATCH_SECONDS` (one wake-up per batch, not per
packet). The callbacks ``on_segment``, ``on_failure`` and ``on_keyframe_needed`` are called
**from that worker thread**: hop to the loop with ``loop.call_soon_threadsafe``. A slow disk
fills the queue and costs packets, never the loop's time; a failed write (ENOSPC, EIO,
permissions) stops the recorder, which closes what it can, leaves the open segment's marker for
:func:`seal` and calls ``on_failure(reason)``; later pushes are dropped. Always ``stop()`` a
recorder: its (daemon) thread runs until then.

**What to push.** Every RTP packet of the participant's camera and microphone after SRTP, with
the packet's negotiated codec (``"video/VP8"``, ``"video/H264"``, ``"audio/opus"``; anything
else — ``video/rtx`` retransmissions, padding-only streams — is ignored) and clock rate. One
recorder records one video stream: a screen share is another recorder (another
``participant_id``), since a second video SSRC reads as a restarted publisher.
Statistics: ``dropped_packets``, ``lost_packets`` (sequence gaps), ``dropped_frames``
(incomplete or waiting for a keyframe), ``written_frames``, ``failed``, ``segments``.

**The time line.** Each stream's RTP timestamps are unwrapped and counted in its clock rate from
its first packet, which is placed at that packet's arrival time; audio and video of one
participant thus share the arrival clock and stay in sync to within their difference in network
and sender delay (a frame or two). ``arrival_ms`` may be any millisecond clock that both kinds
share (aiortc's ``arrival_time_ms`` is one); wall time is read once, at the first push, to name
files and date segments. A new SSRC (the publisher restarted) starts its stream again at its
own arrival time, never before what was written, so the file goes on with a gap and monotonic
timestamps; so does a stream whose RTP time drifts from its arrival time by more than
:data:`RESYNC_MS` (a sender whose clock paused or jumped).

**Segments.** A file starts at the participant's first video keyframe. Audio that came just
before it (at most :data:`VIDEO_WAIT_MS`) is kept at its true offset, so the first words are not
lost; with no video keyframe within that wait the segment is audio-only. A segment ends at the
first video keyframe after ``segment_seconds`` (keyframes are requested from then on; an
audio-only segment ends at any frame). Its tracks are fixed when it opens, so video appearing in
an audio-only segment (the camera came on) or audio in a video-only one also starts a new
segment at the next keyframe, and video silent for :data:`VIDEO_IDLE_MS` (the camera went off)
ends the segment and audio goes on alone: libavformat's interleaver holds every packet of the
other streams while a VP8 stream has none queued (``mux.c``: VP8/VP9 streams are never counted
as "non-interleaved"), which would keep audio in memory, out of the file, for as long as the
camera stays off. Names: ``<participant_id>-<UTC start yyyymmddThhmmssZ>-<n>.webm`` (``.mkv``
for H.264), ``n`` counting from 1 in this recorder.

**Crash safety.** A ``<segment>.open`` marker is written (and fsynced) before a segment's file
and removed after the file is closed, fsynced and hashed. The muxer closes a Matroska cluster
every :data:`CLUSTER_MS` and writes it through to the OS at once (``flush_packets``); the worker
fsyncs every :data:`FSYNC_SECONDS`. After a ``kill -9`` a segment holds everything up to about
2 s before the kill (the interleaving hold, :data:`HOLD_MS`, plus one cluster); ffprobe and
decoders read it — it lacks only the duration and the cues, which :func:`seal` restores.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import hashlib
import heapq
import json
import logging
import math
import os
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import av
from aiortc.rtp import RtpPacket

from recordings.rtp import Depacketizer, EncodedFrame, ReorderBuffer, RtpClock, RtpItem
from recordings.rtp import depacketizer_for as _depacketizer_for

logger = logging.getLogger(__name__)

CODECS = {"video/vp8": "vp8", "video/h264": "h264", "audio/opus": "opus"}
"""What the recorder records (MIME type, lower case, to codec); other packets are ignored."""
_KIND = {"vp8": "video", "h264": "video", "opus": "audio"}

REORDER_WINDOW_MS = 200
"""How long a missing packet is waited for (it may come late, or be retransmitted)."""
HOLD_MS = 500
"""Frames wait this long (arrival time) before they are muxed, so that audio and video go into
the file in time order even when one kind arrives a little later than the other."""
VIDEO_WAIT_MS = 2000
"""At the start, audio waits at most this long for a video keyframe to share its file."""
VIDEO_IDLE_MS = 2000
"""Video silent this long ends the segment; audio goes on in an audio-only one."""
RESYNC_MS = 3000
"""A stream whose RTP time strays this far from its arrival time is placed again."""
KEYFRAME_REQUEST_MS = 1000
FSYNC_SECONDS = 2.0
TICK_SECONDS = 0.1
BATCH_SECONDS = 0.05
"""The worker takes packets in batches, every 50 ms while they come."""
BATCH_LIMIT = 1000
CLUSTER_MS = 1000

MUX_OPTIONS = {
    # Close a cluster every second and hand it to the OS at once: a killed process leaves
    # whole clusters behind, up to the last second.
    "cluster_time_limit": str(CLUSTER_MS),
    "cluster_size_limit": str(2 << 20),
    "flush_packets": "1",
    # Our frames come in time order already; don't let libavformat sit on a stream's packets
    # waiting for another stream that has gone quiet (it still does for VP8, see above).
    "max_interleave_delta": "500000",
}
_MS = fractions.Fraction(1, 1000)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")
MARKER_SUFFIX = ".open"

_Item = tuple[str, int, int, int, int, bytes, str, int, int]
"""What :meth:`ParticipantRecorder.push` queues: kind, ssrc, sequence number, timestamp, marker,
payload, MIME type, clock rate, arrival time."""


@dataclass(frozen=True)
class SegmentInfo:
    """One closed segment file, as the case record keeps it."""

    path: Path
    participant_id: str
    started_at: datetime
    """UTC time of the segment's first frame."""
    ended_at: datetime
    """UTC: ``started_at + duration``."""
    codecs: str
    """The tracks, video first: ``"vp8+opus"``, ``"h264+opus"``, ``"opus"``, ``"vp8"``."""
    duration: float
    """Seconds, as the file says."""
    size: int
    """Bytes."""
    sha256: str
    """Hex digest of the whole file."""
    sealed_after_crash: bool = False
    """The recorder died with the segment open and :func:`seal` closed it."""


@dataclass(slots=True)
class _Frame:
    pts: float
    """Milliseconds on the recording's time line."""
    kind: str
    codec: str
    frame: EncodedFrame


class _Stream:
    """One kind of the participant's media: reordering, depacketizing and its clock."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.codec: str | None = None
        self.ssrc: int | None = None
        self.clock_rate = 0
        self.reorder = ReorderBuffer(REORDER_WINDOW_MS)
        self.depacketizer: Depacketizer | None = None
        self.clock: RtpClock | None = None
        self.last_pts = -math.inf
        self.last_arrival_ms = -math.inf
        self.lost = 0
        self.discarded = 0
        self.resyncs = 0
        self._retired: set[int] = set()

    def push(self, item: RtpItem, codec: str, clock_rate: int) -> list[_Frame]:
        self.last_arrival_ms = item.arrival_ms
        frames: list[_Frame] = []
        if item.ssrc != self.ssrc or codec != self.codec:
            if item.ssrc in self._retired:
                self.discarded += 1  # a straggler from before the publisher restarted
                return frames
            frames = self._restart(item, codec, clock_rate)
        return frames + self._frames(self.reorder.push(item))

    def _restart(self, item: RtpItem, codec: str, clock_rate: int) -> list[_Frame]:
        frames = self.flush() if self.depacketizer is not None else []
        if self.ssrc is not None and self.ssrc != item.ssrc:
            self._retired.add(self.ssrc)
        self.lost += self.reorder.lost
        self.discarded += self.reorder.discarded
        self.reorder = ReorderBuffer(REORDER_WINDOW_MS)
        if codec != self.codec or self.depacketizer is None:
            self.depacketizer = _depacketizer_for(codec)
        else:
            self.depacketizer.reset()
        self.ssrc, self.codec, self.clock_rate = item.ssrc, codec, clock_rate
        # Never before what this stream already wrote: the time line stays monotonic.
        self.clock = RtpClock(clock_rate, item.timestamp, max(item.arrival_ms, self.last_pts + 1))
        return frames

    def flush(self) -> list[_Frame]:
        return self._frames(self.reorder.drain())

    def expire(self, now_ms: float) -> list[_Frame]:
        return self._frames(self.reorder.expire(now_ms))

    @property
    def waiting_keyframe(self) -> bool:
        return self.depacketizer is not None and self.depacketizer.waiting_keyframe

    @property
    def lost_packets(self) -> int:
        return self.lost + self.reorder.lost

    def _frames(self, released: list[tuple[RtpItem, bool]]) -> list[_Frame]:
        out: list[_Frame] = []
        if not released:
            return out
        depacketizer = self.depacketizer
        assert depacketizer is not None and self.codec is not None
        for item, gap in released:
            for frame in depacketizer.push(item, gap):
                out.append(_Frame(self._place(frame), self.kind, self.codec, frame))
        return out

    def _place(self, frame: EncodedFrame) -> float:
        assert self.clock is not None
        pts = self.clock.to_ms(frame.timestamp)
        if abs(frame.arrival_ms - pts) > RESYNC_MS:
            at = max(frame.arrival_ms, self.last_pts + 1)
            self.clock = RtpClock(self.clock_rate, frame.timestamp, at)
            self.resyncs += 1
            pts = at
        pts = max(pts, self.last_pts + 1)
        self.last_pts = pts
        return pts


class _Segment:
    """One open file: the container, its tracks and its crash marker."""

    def __init__(
        self,
        directory: Path,
        participant_id: str,
        index: int,
        started_at: datetime,
        origin_ms: float,
        video: _Frame | None,
        audio_channels: int | None,
    ) -> None:
        self.participant_id = participant_id
        self.started_at = started_at
        self.origin_ms = origin_ms
        self.video_codec = video.codec if video is not None else None
        self.has_audio = audio_channels is not None
        self.wants_cut = False
        """A kind of media the segment has no track for turned up: cut at the next keyframe."""
        self.last_video_pts = -math.inf
        self.last_audio_pts = -math.inf
        self.audio_alone_since: float | None = None
        """Since when audio has been written with no video (the camera may be off)."""
        self.end_ms = 0
        self._last_pts = {"video": -1, "audio": -1}
        self.codecs = "+".join(
            name for name in (self.video_codec, "opus" if self.has_audio else None) if name
        )
        extension, container_format = "webm", "webm"
        if self.video_codec == "h264":
            extension, container_format = "mkv", "matroska"
        stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
        safe_id = _SAFE_NAME.sub("_", participant_id).lstrip(".") or "participant"
        directory.mkdir(parents=True, exist_ok=True)
        while True:
            path = directory / f"{safe_id}-{stamp}-{index}.{extension}"
            marker = marker_path(path)
            if path.exists():
                index += 1
                continue
            try:
                _write_marker(marker, participant_id, started_at)
            except FileExistsError:
                index += 1
                continue
            break
        self.index = index
        self.path = path
        self.marker = marker
        try:
            _fsync_directory(directory)
            self._file = _create_file(path)
        except BaseException:
            marker.unlink(missing_ok=True)
            raise
        try:
            self._container = av.open(
                self._file, "w", format=container_format, container_options=MUX_OPTIONS
            )
            self._container.metadata["title"] = participant_id
            self._container.metadata["creation_time"] = started_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            self._streams: dict[str, Any] = {}
            if video is not None:
                self._streams["video"] = self._container.add_mux_stream(
                    video.codec, width=video.frame.width, height=video.frame.height
                )
            if audio_channels is not None:
                # An Opus track needs its header (OpusHead) as codec private data; a mux-only
                # stream has no way to set it, so the libopus encoder is opened just to write
                # it. It never encodes anything.
                audio = self._container.add_stream("libopus", rate=48000)
                audio.layout = "stereo" if audio_channels == 2 else "mono"
                self._streams["audio"] = audio
        except BaseException:
            # Nothing is recorded in it yet: leave no trace for seal() to find.
            self._file.close()
            path.unlink(missing_ok=True)
            marker.unlink(missing_ok=True)
            raise
        self.synced_at = time.monotonic()

    def write(self, frame: _Frame) -> None:
        pts = round(frame.pts - self.origin_ms)
        last = self._last_pts[frame.kind]
        if pts <= last:
            pts = last + 1
        self._last_pts[frame.kind] = pts
        packet = av.Packet(frame.frame.data)
        packet.stream = self._streams[frame.kind]
        packet.time_base = _MS
        packet.pts = packet.dts = pts
        packet.is_keyframe = frame.frame.keyframe
        duration = 0
        if frame.kind == "audio":
            duration = round(frame.frame.samples / 48)
            packet.duration = duration
            if (
                self.audio_alone_since is None
                or frame.pts - self.last_audio_pts > VIDEO_IDLE_MS  # both were silent
            ):
                self.audio_alone_since = frame.pts
            self.last_audio_pts = frame.pts
        else:
            self.last_video_pts = frame.pts
            self.audio_alone_since = None
        self._container.mux(packet)
        self.end_ms = max(self.end_ms, pts + duration)

    def sync(self) -> None:
        """Push what the OS holds of this file to the disk."""
        os.fsync(self._file.fileno())
        self.synced_at = time.monotonic()

    def close(self) -> SegmentInfo:
        """Finish the file (duration, cues), make it durable, hash it, remove the marker."""
        self._container.close()
        os.fsync(self._file.fileno())
        self._file.close()
        size, digest = file_digest(self.path)
        self.marker.unlink()
        _fsync_directory(self.path.parent)
        duration = self.end_ms / 1000
        return SegmentInfo(
            path=self.path,
            participant_id=self.participant_id,
            started_at=self.started_at,
            ended_at=self.started_at + timedelta(seconds=duration),
            codecs=self.codecs,
            duration=duration,
            size=size,
            sha256=digest,
        )

    def abandon(self) -> None:
        """After a failure: release what can be released; the marker stays for :func:`seal`."""
        with contextlib.suppress(Exception):
            self._container.close()
        with contextlib.suppress(Exception):
            self._file.close()


class _Session:
    """Everything the worker thread does, without the thread: streams, time line, segments."""

    def __init__(
        self,
        directory: Path,
        participant_id: str,
        segment_ms: float,
        on_segment: Callable[[SegmentInfo], None] | None,
        on_keyframe_needed: Callable[[], None] | None,
    ) -> None:
        self.directory = directory
        self.participant_id = participant_id
        self.segment_ms = segment_ms
        self.on_segment = on_segment
        self.on_keyframe_needed = on_keyframe_needed
        self.anchor: tuple[float, int] | None = None
        """(wall time, arrival_ms) of the first packet: how the time line maps to UTC."""
        self.segments: list[SegmentInfo] = []
        self.written_frames = 0
        self.dropped_frames = 0
        self.ignored_packets = 0
        self.failed: str | None = None
        self.streams = {"audio": _Stream("audio"), "video": _Stream("video")}
        self._heap: list[tuple[float, int, _Frame]] = []
        self._order = 0
        self._pending: list[_Frame] = []
        self._segment: _Segment | None = None
        self._index = 1
        self._audio_channels: int | None = None
        self._now_ms = -math.inf
        self._now_at = 0.0
        self._want_keyframe = False
        self._keyframe_requested_ms = -math.inf

    # -- input -----------------------------------------------------------------------------

    def handle(self, item: _Item) -> None:
        kind, ssrc, seq, timestamp, marker, payload, mime, clock_rate, arrival_ms = item
        codec = CODECS.get(mime.lower())
        if codec is None or _KIND[codec] != kind or clock_rate <= 0:
            self.ignored_packets += 1
            return
        if arrival_ms > self._now_ms:
            self._now_ms = arrival_ms
            self._now_at = time.monotonic()
        rtp = RtpItem(ssrc, seq, timestamp, bool(marker), payload, arrival_ms)
        for frame in self.streams[kind].push(rtp, codec, clock_rate):
            self._queue(frame)
        self._release(self._now_ms - HOLD_MS)

    def tick(self, now: float) -> None:
        """Housekeeping while packets come or not: gaps given up, frames released, fsync,
        keyframe requests."""
        if self._now_at:
            now_ms = self._now_ms + (now - self._now_at) * 1000
            for stream in self.streams.values():
                for frame in stream.expire(now_ms):
                    self._queue(frame)
            self._release(now_ms - HOLD_MS)
        segment = self._segment
        if segment is not None and now - segment.synced_at >= FSYNC_SECONDS:
            segment.sync()
        self.request_keyframe()

    def request_keyframe(self) -> None:
        """Ask for a keyframe if one is wanted, at most once per second (arrival time)."""
        video = self.streams["video"]
        video_flowing = self._now_ms - video.last_arrival_ms < VIDEO_IDLE_MS
        if (
            (self._want_keyframe or (video.waiting_keyframe and video_flowing))
            and self._now_ms - self._keyframe_requested_ms >= KEYFRAME_REQUEST_MS
            and self.on_keyframe_needed is not None
        ):
            self._want_keyframe = False
            self._keyframe_requested_ms = self._now_ms
            try:
                self.on_keyframe_needed()
            except Exception:
                logger.exception("ParticipantRecorder(%s) on_keyframe_needed", self.participant_id)

    def finish(self, *, flush: bool = True) -> None:
        """Write what is still held (unless ``flush`` is false) and close the open segment."""
        if flush:
            for stream in self.streams.values():
                for frame in stream.flush():
                    self._queue(frame)
            self._release(math.inf)
            if self._segment is None and self._pending:
                self._open(self._pending[0].pts, None)
        else:
            self.dropped_frames += len(self._heap) + len(self._pending)
        self._heap.clear()
        self._pending.clear()
        self._close()

    def abort(self, reason: str) -> None:
        """A write failed: keep what is on disk, close what can be closed."""
        self.failed = reason
        with contextlib.suppress(Exception):
            self._close()

    # -- the time line ---------------------------------------------------------------------

    def _queue(self, frame: _Frame) -> None:
        if frame.kind == "audio":
            self._audio_channels = frame.frame.channels
        self._order += 1
        heapq.heappush(self._heap, (frame.pts, self._order, frame))

    def _release(self, horizon: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= horizon:
            self._route(heapq.heappop(heap)[2])

    def _route(self, frame: _Frame) -> None:
        segment = self._segment
        keyframe = frame.frame.keyframe
        if frame.kind == "video":
            if segment is None or segment.video_codec != frame.codec:
                # A file (or a file with video) can only start at a keyframe.
                if not keyframe:
                    self.dropped_frames += 1
                    self._want_keyframe = True
                    return
                origin = frame.pts
                if segment is None and self._pending:
                    origin = self._pending[0].pts
                self._open(origin, frame)
                return
            due = segment.wants_cut or frame.pts - segment.origin_ms >= self.segment_ms
            if due and keyframe:
                self._open(frame.pts, frame)
                return
            if due:
                self._want_keyframe = True
        else:
            if segment is None:
                self._pending.append(frame)
                if frame.pts - self._pending[0].pts >= VIDEO_WAIT_MS:
                    self._open(self._pending[0].pts, None)
                return
            if not segment.has_audio:
                segment.wants_cut = True
                self._want_keyframe = True
                self.dropped_frames += 1
                return
            if segment.video_codec is None:
                if frame.pts - segment.origin_ms >= self.segment_ms:
                    self._open(frame.pts, None, first=frame)
                    return
            elif (
                segment.audio_alone_since is not None
                and frame.pts - segment.last_audio_pts <= VIDEO_IDLE_MS
                and frame.pts - segment.audio_alone_since >= VIDEO_IDLE_MS
            ):
                # The camera went off while the microphone goes on.
                self._open(frame.pts, None, first=frame)
                return
        self._write(frame)

    # -- files -----------------------------------------------------------------------------

    def _open(self, origin_ms: float, video: _Frame | None, first: _Frame | None = None) -> None:
        """Close the open segment (if any) and start the next at ``origin_ms``, with
        ``video``'s track (a keyframe, written first) and audio if there has been any; the
        audio waiting for the first keyframe and ``first`` go in next."""
        self._close()
        anchor = self.anchor or (time.time(), round(origin_ms))
        started_at = datetime.fromtimestamp(anchor[0] + (origin_ms - anchor[1]) / 1000, UTC)
        segment = _Segment(
            self.directory,
            self.participant_id,
            self._index,
            started_at,
            origin_ms,
            video,
            self._audio_channels,
        )
        self._index = segment.index + 1
        self._segment = segment
        logger.info("ParticipantRecorder(%s) segment %s", self.participant_id, segment.path.name)
        pending, self._pending = self._pending, []
        for frame in pending:
            if segment.has_audio:
                self._write(frame)
        if video is not None:
            self._write(video)
        if first is not None:
            self._write(first)

    def _write(self, frame: _Frame) -> None:
        assert self._segment is not None
        self._segment.write(frame)
        self.written_frames += 1

    def _close(self) -> None:
        segment, self._segment = self._segment, None
        if segment is None:
            return
        try:
            info = segment.close()
        except BaseException:
            logger.warning(
                "ParticipantRecorder(%s) could not close %s; left for seal()",
                self.participant_id,
                segment.path,
            )
            segment.abandon()
            raise
        self._finished(info)

    def _finished(self, info: SegmentInfo) -> None:
        self.segments.append(info)
        logger.info(
            "ParticipantRecorder(%s) closed %s: %.1f s, %d bytes",
            self.participant_id,
            info.path.name,
            info.duration,
            info.size,
        )
        if self.on_segment is not None:
            try:
                self.on_segment(info)
            except Exception:
                logger.exception("ParticipantRecorder(%s) on_segment", self.participant_id)


class ParticipantRecorder:
    """Records the media one participant publishes; see the module's docstring."""

    def __init__(
        self,
        directory: Path,
        participant_id: str,
        *,
        segment_seconds: float = 300.0,
        queue_limit: int = 2000,
        on_segment: Callable[[SegmentInfo], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
        on_keyframe_needed: Callable[[], None] | None = None,
    ) -> None:
        if not participant_id:
            raise ValueError("participant_id is empty")
        if segment_seconds <= 0:
            raise ValueError("segment_seconds must be positive")
        self.directory = Path(directory)
        self.participant_id = participant_id
        self.queue_limit = queue_limit
        self._on_failure = on_failure
        self._session = _Session(
            self.directory,
            participant_id,
            segment_seconds * 1000,
            on_segment,
            on_keyframe_needed,
        )
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._accepting = True
        self._dropped = 0
        self._discarded = 0
        self._deadline: float | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"recorder-{participant_id}", daemon=True
        )
        self._thread.start()

    # -- the event loop's side -------------------------------------------------------------

    def push(
        self, kind: str, packet: RtpPacket, codec_mime: str, clock_rate: int, arrival_ms: int
    ) -> None:
        """Queue one RTP packet of ``kind`` ("audio" or "video"); never blocks, never raises."""
        if not self._accepting or self._queue.qsize() >= self.queue_limit:
            self._dropped += 1
            return
        try:
            if self._session.anchor is None:
                self._session.anchor = (time.time(), arrival_ms)
            self._queue.put(
                (
                    kind,
                    packet.ssrc,
                    packet.sequence_number,
                    packet.timestamp,
                    packet.marker,
                    packet.payload,
                    codec_mime,
                    clock_rate,
                    arrival_ms,
                )
            )
        except Exception:
            self._dropped += 1

    async def stop(self, timeout: float = 10.0) -> list[SegmentInfo]:  # noqa: ASYNC109
        """Write what is queued (for at most ``timeout`` seconds, then drop the rest), close
        the open segment, join the worker; return every segment closed."""
        self._accepting = False
        if self._deadline is None:
            self._deadline = time.monotonic() + timeout
            self._queue.put(None)
        await asyncio.to_thread(self._thread.join)
        return self.segments

    @property
    def dropped_packets(self) -> int:
        """Packets not recorded because the queue was full, or after a stop or a failure."""
        return self._dropped + self._discarded

    @property
    def written_frames(self) -> int:
        return self._session.written_frames

    @property
    def dropped_frames(self) -> int:
        """Frames not written: incomplete, waiting for a keyframe, or with no track to go in."""
        session = self._session
        return session.dropped_frames + sum(
            s.depacketizer.dropped_frames for s in session.streams.values() if s.depacketizer
        )

    @property
    def lost_packets(self) -> int:
        """Packets the publisher sent that never reached the recorder (sequence gaps)."""
        return sum(s.lost_packets for s in self._session.streams.values())

    @property
    def failed(self) -> str | None:
        """Why the recorder stopped itself, or ``None``."""
        return self._session.failed

    @property
    def segments(self) -> list[SegmentInfo]:
        return list(self._session.segments)

    # -- the worker thread -----------------------------------------------------------------

    def _run(self) -> None:
        session = self._session
        next_tick = 0.0
        try:
            while True:
                batch: list[_Item | None] = []
                try:
                    batch.append(self._queue.get(timeout=TICK_SECONDS))
                    while len(batch) < BATCH_LIMIT:
                        batch.append(self._queue.get_nowait())
                except queue.Empty:
                    pass
                for position, item in enumerate(batch):
                    if item is None:
                        session.finish()
                        return
                    if self._deadline is not None and time.monotonic() > self._deadline:
                        # stop() ran out of time: what is left goes.
                        self._discard_queue(len(batch) - position)
                        session.finish(flush=False)
                        return
                    session.handle(item)
                if batch:
                    session.request_keyframe()
                now = time.monotonic()
                if now >= next_tick:
                    session.tick(now)
                    next_tick = now + TICK_SECONDS
                if batch:
                    # Let packets gather: the loop's put() wakes this thread only when it
                    # waits, so this is one wake-up per batch instead of one per packet.
                    time.sleep(BATCH_SECONDS)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            logger.exception("ParticipantRecorder(%s) failed", self.participant_id)
            self._accepting = False
            session.abort(reason)
            self._discard_queue(0)
            if self._on_failure is not None:
                try:
                    self._on_failure(reason)
                except Exception:
                    logger.exception("ParticipantRecorder(%s) on_failure", self.participant_id)

    def _discard_queue(self, already: int) -> None:
        discarded = already
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            discarded += 1
        self._discarded += discarded


# -- after a crash ---------------------------------------------------------------------------


def marker_path(path: Path) -> Path:
    """The crash marker of segment ``path``: present while the segment is open."""
    return path.with_name(path.name + MARKER_SUFFIX)


def find_unsealed(directory: Path) -> list[Path]:
    """Segments a crash left open in ``directory`` (those whose marker is still there)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(
        marker.with_name(marker.name[: -len(MARKER_SUFFIX)])
        for marker in directory.glob("*" + MARKER_SUFFIX)
    )


def seal(path: Path, participant_id: str | None = None) -> SegmentInfo | None:
    """Remux a segment a crash left open (stream copy) into a proper file with its duration
    and cues, replacing it atomically, and remove its marker. Returns its info, or ``None`` if
    nothing playable is in it; the file is then kept aside as ``<name>.damaged``. The
    participant is read from the marker unless given. Blocking: call it in a thread."""
    path = Path(path)
    marker = marker_path(path)
    recorded = _read_marker(marker)
    started_at = recorded[1] if recorded else _start_from_name(path)
    if participant_id is None:
        participant_id = recorded[0] if recorded else path.name.split("-", 1)[0]
    if not path.exists():
        marker.unlink(missing_ok=True)
        return None
    container_format = "matroska" if path.suffix == ".mkv" else "webm"
    temporary = path.with_name(path.name + ".sealing")
    try:
        count, end_ms, codecs = _remux(path, temporary, container_format)
    except av.error.FFmpegError as exc:  # unreadable from the start: not even a header
        logger.warning("seal(%s): unreadable (%s)", path.name, exc)
        count, end_ms, codecs = 0, 0.0, ""
    if count == 0:
        temporary.unlink(missing_ok=True)
        os.replace(path, path.with_name(path.name + ".damaged"))
        marker.unlink(missing_ok=True)
        _fsync_directory(path.parent)
        return None
    os.replace(temporary, path)
    _fsync_directory(path.parent)
    marker.unlink(missing_ok=True)
    _fsync_directory(path.parent)
    size, digest = file_digest(path)
    started = started_at or datetime.fromtimestamp(path.stat().st_mtime, UTC)
    duration = end_ms / 1000
    logger.info("seal(%s): %d packets, %.1f s", path.name, count, duration)
    return SegmentInfo(
        path=path,
        participant_id=participant_id,
        started_at=started,
        ended_at=started + timedelta(seconds=duration),
        codecs=codecs,
        duration=duration,
        size=size,
        sha256=digest,
        sealed_after_crash=True,
    )


def _remux(source: Path, target: Path, container_format: str) -> tuple[int, float, str]:
    """Copy every whole packet of ``source`` into a new file; stop at the first unreadable
    one (where the process died). Returns the packets copied, the end in ms, the codecs."""
    count = 0
    end_ms = 0.0
    with av.open(str(source), "r") as source_container:
        streams = [s for s in source_container.streams if s.type in ("video", "audio")]
        streams.sort(key=lambda s: s.type != "video")
        codecs = "+".join(s.codec_context.name for s in streams)
        if not streams:
            return 0, 0.0, ""
        target.unlink(missing_ok=True)  # left by a seal that was itself interrupted
        with (
            _create_file(target) as file,
            av.open(file, "w", format=container_format) as target_container,
        ):
            target_container.metadata.update(source_container.metadata)
            mapping = {s.index: target_container.add_stream_from_template(s) for s in streams}
            last: dict[int, int] = {}
            packets = source_container.demux(streams)
            while True:
                try:
                    packet = next(packets)
                except (StopIteration, av.error.FFmpegError):
                    break
                if packet.pts is None or packet.dts is None or packet.size == 0:
                    continue
                if packet.is_corrupt or packet.dts <= last.get(packet.stream.index, -1):
                    continue
                time_base = packet.time_base
                assert time_base is not None
                last[packet.stream.index] = packet.dts
                end = (packet.pts + (packet.duration or 0)) * time_base
                end_ms = max(end_ms, float(end * 1000))
                packet.stream = mapping[packet.stream.index]
                target_container.mux(packet)
                count += 1
            if count == 0:
                return 0, 0.0, codecs
    with open(target, "rb") as synced:
        os.fsync(synced.fileno())
    return count, end_ms, codecs


def _create_file(path: Path) -> IO[bytes]:
    """A new file for a segment, unbuffered (libavformat buffers), readable by owner and group."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
    return os.fdopen(fd, "wb", buffering=0)


def file_digest(path: Path) -> tuple[int, str]:
    """Size and SHA-256 (hex) of a file."""
    with open(path, "rb") as file:
        digest = hashlib.file_digest(file, "sha256").hexdigest()
        return os.fstat(file.fileno()).st_size, digest


def _write_marker(marker: Path, participant_id: str, started_at: datetime) -> None:
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
    with os.fdopen(fd, "w") as file:
        json.dump({"participant_id": participant_id, "started_at": started_at.isoformat()}, file)
        file.flush()
        os.fsync(file.fileno())


def _read_marker(marker: Path) -> tuple[str, datetime] | None:
    """(participant id, start) from a segment's marker."""
    try:
        recorded = json.loads(marker.read_text())
        return str(recorded["participant_id"]), datetime.fromisoformat(recorded["started_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _start_from_name(path: Path) -> datetime | None:
    match = re.search(r"-(\d{8}T\d{6}Z)-\d+\.\w+$", path.name)
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
