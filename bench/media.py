"""Pre-encoded synthetic media for the benchmark's clients: encode once, loop as ``av.Packet``.

A client that encoded live would cost ~5 ms of CPU per 640×480 VP8 frame and drown the 2-core
machine the server is measured on. Instead a short clip is encoded once at start (VP8 with
PyAV's libvpx, Opus with libopus) and every client loops it: its tracks' ``recv()`` return
``av.Packet`` objects, which aiortc's ``RTCRtpSender`` packetizes as they are
(``encoder.pack(packet)``), with no encoder at all.

Each video frame carries two markers a receiver can read:

- a **trailer** appended to the VP8 frame (:data:`TRAILER`: magic, sender id, send time on
  ``time.perf_counter()``). An SFU that forwards payload bytes delivers it untouched; libvpx
  ignores bytes after the last partition (checked: decoding with and without the trailer gives
  identical pictures), so a decode/re-encode server still decodes the stream — but its re-encoded
  output no longer carries the trailer;
- a **barcode** of the clip position (8 blocks of 32×32 pixels, dark or bright, top left, and
  their complement below), which survives re-encoding: a receiver that decodes the frame can
  read which clip frame it shows, and tell a misread.
"""

from __future__ import annotations

import asyncio
import fractions
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

WIDTH, HEIGHT, FPS = 640, 480, 30
VIDEO_CLOCK = 90000
AUDIO_RATE = 48000
AUDIO_PTIME = 0.020
AUDIO_SAMPLES = int(AUDIO_RATE * AUDIO_PTIME)

MAGIC = b"BNCH"
TRAILER = struct.Struct("!4sId")
"""magic, sender id (uint32), send time (``time.perf_counter()``, float64): 16 bytes."""

BARCODE_BITS = 8
_BAR_ROWS = ((8, 40), (48, 80))
"""The position's bits on the first row, their complement on the second (a misread shows)."""
_BAR_X0, _BAR_STEP, _BAR_W = 8, 40, 32

LATE_RESET_S = 0.2
"""A track more than this late on its schedule skips frames (as a camera would) rather than
bursting to catch up; the skips are counted so a reader sees that the clients lagged."""


@dataclass(frozen=True)
class VideoClip:
    frames: list[bytes]
    """Raw VP8 frames, one per clip position."""
    keyframes: list[int]
    """Clip positions that hold a keyframe."""
    bitrate_kbps: float
    encode_seconds: float


@dataclass(frozen=True)
class AudioClip:
    packets: list[bytes]
    """Raw Opus packets of 20 ms each."""


def _barcode(luma: np.ndarray, index: int) -> None:
    for row, value in enumerate((index, ~index)):
        y0, y1 = _BAR_ROWS[row]
        for bit in range(BARCODE_BITS):
            x = _BAR_X0 + bit * _BAR_STEP
            luma[y0:y1, x : x + _BAR_W] = 235 if (value >> bit) & 1 else 16


def luma_plane(picture: av.VideoFrame) -> np.ndarray:
    """The Y plane of a decoded yuv420p frame, without a conversion."""
    plane = picture.planes[0]
    rows = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)
    return rows[: picture.height, : picture.width]


def read_barcode(luma: np.ndarray) -> int | None:
    """The clip position shown by a decoded frame (its luma plane), or None if unreadable."""
    values = []
    for y0, y1 in _BAR_ROWS:
        y = (y0 + y1) // 2
        value = 0
        for bit in range(BARCODE_BITS):
            x = _BAR_X0 + bit * _BAR_STEP + _BAR_W // 2
            if int(luma[y - 4 : y + 4, x - 4 : x + 4].mean()) > 128:
                value |= 1 << bit
        values.append(value)
    if values[0] ^ values[1] != (1 << BARCODE_BITS) - 1:
        return None
    return values[0]


CLIP_SECONDS = 8.0
"""Clip length: a probe can tell sends of one position apart only if no gap in what it receives
lasts longer than this (see ``bench.client.SendLog``)."""
CLIP_BITRATE = 1_000_000
KEYFRAME_INTERVAL = 2.0
_CACHE_VERSION = 2


def cached_video_clip(cache_dir: Path | None) -> VideoClip:
    """:func:`encode_video_clip` with the defaults, kept in ``cache_dir`` between runs (the
    encode takes 10–30 s on a busy 2-core machine); ``None`` encodes afresh."""
    key = (
        f"vp8-{WIDTH}x{HEIGHT}-{FPS}fps-{CLIP_SECONDS:g}s-{CLIP_BITRATE}bps-"
        f"kf{KEYFRAME_INTERVAL:g}s-av{av.__version__}-v{_CACHE_VERSION}.npz"
    )
    path = cache_dir / key if cache_dir is not None else None
    if path is not None and path.exists():
        try:
            with np.load(path, allow_pickle=False) as saved:
                blob = saved["data"].tobytes()
                ends = np.cumsum(saved["lengths"]).tolist()
                starts = [0, *ends[:-1]]
                return VideoClip(
                    frames=[blob[a:b] for a, b in zip(starts, ends, strict=True)],
                    keyframes=[int(k) for k in saved["keyframes"]],
                    bitrate_kbps=float(saved["bitrate_kbps"]),
                    encode_seconds=0.0,
                )
        except (OSError, KeyError, ValueError):
            pass  # unreadable cache: encode again
    clip = encode_video_clip(CLIP_SECONDS, CLIP_BITRATE, KEYFRAME_INTERVAL)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(
            tmp,
            data=np.frombuffer(b"".join(clip.frames), dtype=np.uint8),
            lengths=np.array([len(f) for f in clip.frames], dtype=np.int64),
            keyframes=np.array(clip.keyframes, dtype=np.int64),
            bitrate_kbps=np.array(clip.bitrate_kbps),
        )
        tmp.replace(path)
    return clip


def encode_video_clip(
    seconds: float = CLIP_SECONDS,
    bitrate: int = CLIP_BITRATE,
    keyframe_interval: float = KEYFRAME_INTERVAL,
) -> VideoClip:
    """Encode a moving, noisy 640×480 pattern with a barcode per frame into VP8."""
    started = time.perf_counter()
    count = round(seconds * FPS)
    if count > 1 << BARCODE_BITS:
        raise ValueError(f"a clip holds at most {1 << BARCODE_BITS} frames (the barcode's range)")
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = WIDTH, HEIGHT
    codec.pix_fmt = "yuv420p"
    codec.bit_rate = bitrate
    codec.time_base = fractions.Fraction(1, FPS)
    codec.framerate = FPS
    codec.gop_size = round(keyframe_interval * FPS)
    codec.thread_count = 2
    codec.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "minrate": str(bitrate),
        "maxrate": str(bitrate),
        "bufsize": str(bitrate),
        "keyint_min": str(round(keyframe_interval * FPS)),
    }
    margin = 160
    yy, xx = np.mgrid[0 : HEIGHT + margin, 0 : WIDTH + margin]
    base = (128 + 70 * np.sin(xx / 23.0) * np.cos(yy / 31.0)).astype(np.int16)
    rng = np.random.default_rng(7)
    noise = [rng.integers(-10, 10, size=(HEIGHT, WIDTH), dtype=np.int16) for _ in range(5)]
    yuv = np.full((HEIGHT * 3 // 2, WIDTH), 128, dtype=np.uint8)
    packets: list[av.Packet] = []
    for i in range(count):
        dx, dy = (3 * i) % margin, (2 * i) % margin
        luma = np.clip(base[dy : dy + HEIGHT, dx : dx + WIDTH] + noise[i % 5], 0, 255)
        yuv[:HEIGHT] = luma.astype(np.uint8)
        _barcode(yuv, i)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = i
        if i % codec.gop_size == 0:
            frame.pict_type = av.video.frame.PictureType.I
        packets.extend(codec.encode(frame))
    packets.extend(codec.encode(None))
    if len(packets) != count:
        raise RuntimeError(f"libvpx gave {len(packets)} packets for {count} frames")
    frames = [bytes(p) for p in packets]
    keyframes = [i for i, p in enumerate(packets) if p.is_keyframe]
    if not keyframes or keyframes[0] != 0:
        raise RuntimeError(f"the clip must start with a keyframe (keyframes at {keyframes})")
    kbps = sum(len(f) for f in frames) * 8 / seconds / 1000
    return VideoClip(frames, keyframes, kbps, time.perf_counter() - started)


def encode_audio_clip(seconds: float = 1.0, frequency: float = 440.0) -> AudioClip:
    """Encode a tone (a whole number of periods per clip, so it loops cleanly) into Opus."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = AUDIO_RATE
    codec.layout = "mono"
    codec.format = "s16"
    codec.bit_rate = 32000
    codec.time_base = fractions.Fraction(1, AUDIO_RATE)
    count = round(seconds / AUDIO_PTIME)
    packets: list[av.Packet] = []
    for i in range(count):
        t = (np.arange(AUDIO_SAMPLES) + i * AUDIO_SAMPLES) / AUDIO_RATE
        pcm = (np.sin(2 * np.pi * frequency * t) * 8000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = i * AUDIO_SAMPLES
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        packets.extend(codec.encode(frame))
    packets.extend(codec.encode(None))
    return AudioClip([bytes(p) for p in packets[:count]])


class SendLogLike(Protocol):
    def add(self, position: int, sent: float) -> None: ...


class _PacedTrack(MediaStreamTrack):
    """Yields one item per ``interval`` seconds on a fixed schedule from the first ``recv()``."""

    def __init__(self, interval: float) -> None:
        super().__init__()
        self._interval = interval
        self._start: float | None = None
        self._count = 0
        self.sent = 0
        self.skipped = 0
        """Slots skipped because the event loop woke the track too late (client overload)."""

    async def _next_slot(self) -> int:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._count * self._interval
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > LATE_RESET_S:
            behind = int((now - due) / self._interval)
            self._count += behind
            self.skipped += behind
        slot = self._count
        self._count += 1
        self.sent += 1
        return slot


class ClipVideoTrack(_PacedTrack):
    """Loops a :class:`VideoClip` at 30 fps; each frame gets a trailer naming sender and time.

    A keyframe request from the far end (wired to :meth:`request_keyframe` by the client) makes
    the next frame the clip's next keyframe — as a live encoder would answer a PLI.
    """

    kind = "video"

    def __init__(self, clip: VideoClip, sender_id: int, send_log: SendLogLike) -> None:
        super().__init__(1 / FPS)
        self._clip = clip
        self._sender_id = sender_id
        self._send_log = send_log
        """Told every (clip position, ``perf_counter()``) sent (for the probes' latency)."""
        self._pos = 0
        self._want_keyframe = False
        self.keyframe_requests = 0

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        self._want_keyframe = True

    async def recv(self) -> av.Packet:
        slot = await self._next_slot()
        clip = self._clip
        if self._want_keyframe:
            self._want_keyframe = False
            if self._pos not in clip.keyframes:
                later = [k for k in clip.keyframes if k > self._pos]
                self._pos = later[0] if later else clip.keyframes[0]
        pos = self._pos
        self._pos = (pos + 1) % len(clip.frames)
        now = time.perf_counter()
        self._send_log.add(pos, now)
        packet = av.Packet(clip.frames[pos] + TRAILER.pack(MAGIC, self._sender_id, now))
        packet.pts = slot * (VIDEO_CLOCK // FPS)
        packet.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return packet


class ClipAudioTrack(_PacedTrack):
    """Loops an :class:`AudioClip` in real time (one Opus packet per 20 ms)."""

    kind = "audio"

    def __init__(self, clip: AudioClip) -> None:
        super().__init__(AUDIO_PTIME)
        self._clip = clip

    async def recv(self) -> av.Packet:
        slot = await self._next_slot()
        packet = av.Packet(self._clip.packets[slot % len(self._clip.packets)])
        packet.pts = slot * AUDIO_SAMPLES
        packet.time_base = fractions.Fraction(1, AUDIO_RATE)
        return packet
