"""The benchmark's synthetic participants: aiortc peers that send pre-encoded media and count
what they receive without decoding it.

Protocol handling follows ``tests/support/peer.py`` (connect with the invitation token, ``join``,
answer every server offer with ``MAX_BUNDLE``, ICE on loopback only).

Receive side, **in this (client) process only**: aiortc's ``RTCRtpReceiver`` reassembles each
frame in its jitter buffer and puts it on a queue for its decoder thread. Each receiver's queue is
replaced by a :class:`CountingQueue`, which records the frame's arrival time right there on the
event loop thread and reads the sender's trailer from the frame's last bytes; nothing is decoded
and nothing reaches the remote track (nobody reads it), so no thread hop per frame either. The
decoder thread (``aiortc.rtcrtpreceiver.decoder_worker``, replaced by :func:`install`) only waits
for the end — except on the few *probe* tracks, where it decodes every frame and reads the
barcode of the clip position: that measures latency through a server that re-encodes (where the
trailer is gone) the same way as through one that forwards.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import queue
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import aioice.ice
import aiortc.rtcrtpreceiver
import av
import socketio
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.media import (
    MAGIC,
    TRAILER,
    AudioClip,
    ClipAudioTrack,
    ClipVideoTrack,
    VideoClip,
    luma_plane,
    read_barcode,
)
from rooms import aiortc_hooks

ROLES = ("mediator", "consumer", "business")


class SendLog:
    """Every clip position one sender sent, in order, with its send time (for probe latency).

    Appended on the event loop thread, read by probe decode threads (list appends are atomic).
    """

    def __init__(self) -> None:
        self.times: list[float] = []
        self.by_position: dict[int, list[int]] = {}

    def add(self, position: int, sent: float) -> None:
        index = len(self.times)
        self.times.append(sent)  # first, so a reader never finds an index without its time
        self.by_position.setdefault(position, []).append(index)

    def match(self, position: int, after: int | None, now: float) -> int | None:
        """The send that a received frame showing ``position`` was.

        Frames arrive in order (a server may drop or repeat some, never reorders), so it is the
        first send of ``position`` from the previously matched one on; for a track's first frame,
        when no backlog can exist yet, the latest send so far. This stays right however large the
        latency grows, as long as no single gap in what a track receives exceeds the clip length.
        """
        sends = self.by_position.get(position)
        if not sends:
            return None
        if after is None:
            i = len(sends) - 1
            while i >= 0 and self.times[sends[i]] > now:
                i -= 1
        else:
            i = bisect.bisect_left(sends, after)
        if i < 0 or i >= len(sends) or self.times[sends[i]] > now:
            return None
        return sends[i]


@dataclass(eq=False)
class TrackStats:
    """What one subscriber received on one remote track."""

    subscriber: str
    """``<room>/<role>`` of the receiving client."""
    publisher: str
    """``<room>/<role>`` the server says the track carries."""
    kind: str
    publisher_sender_id: int
    probe: bool = False
    arrivals: list[float] = field(default_factory=list)
    """``perf_counter()`` of every reassembled frame."""
    latencies: list[tuple[float, float]] = field(default_factory=list)
    """(arrival, seconds since the sender sent it) from the trailer."""
    probe_latencies: list[tuple[float, float]] = field(default_factory=list)
    """(decoded at, seconds since the sender sent it) from the barcode (probe tracks only)."""
    no_trailer: int = 0
    wrong_sender: int = 0
    altered: int = 0
    """Frames whose bytes (before the trailer) are not exactly one of the clip's frames."""
    decode_errors: int = 0
    unreadable_barcode: int = 0
    unmatched_barcode: int = 0
    probe_position: int | None = None


class CountingQueue:
    """Stands in for a receiver's decoder queue: counts each reassembled frame on the event loop
    thread as aiortc hands it over, reads the trailer, and passes frames on to a decoding thread
    for probe tracks only. Nothing is decoded otherwise and nothing reaches the remote track.
    """

    def __init__(self, stats: TrackStats, send_logs: dict[int, SendLog]) -> None:
        self.stats = stats
        self.send_logs = send_logs
        self.closed = threading.Event()
        self.decode_q: queue.Queue[Any] | None = queue.Queue() if stats.probe else None

    def put(self, task: Any) -> None:
        if task is None:
            self.closed.set()
            if self.decode_q is not None:
                self.decode_q.put(None)
            return
        now = time.perf_counter()
        stats = self.stats
        stats.arrivals.append(now)
        if stats.kind != "video":
            return
        data: bytes = task[1].data
        if len(data) >= TRAILER.size:
            magic, sender_id, sent = TRAILER.unpack_from(data, len(data) - TRAILER.size)
        else:
            magic, sender_id, sent = b"", 0, 0.0
        if magic == MAGIC:
            stats.latencies.append((now, now - sent))
            if sender_id != stats.publisher_sender_id:
                stats.wrong_sender += 1
            if RECEIVERS.clip_frames and data[: -TRAILER.size] not in RECEIVERS.clip_frames:
                stats.altered += 1
        else:
            stats.no_trailer += 1
        if self.decode_q is not None:
            self.decode_q.put(data)

    def decode_loop(self) -> None:
        """Probe tracks: decode every frame, read the barcode, match it to its send."""
        assert self.decode_q is not None
        stats = self.stats
        decoder = av.CodecContext.create("libvpx", "r")
        while True:
            data = self.decode_q.get()
            if data is None:
                return
            try:
                pictures = decoder.decode(av.Packet(data))
            except av.FFmpegError:
                stats.decode_errors += 1
                continue
            send_log = self.send_logs.get(stats.publisher_sender_id)
            for picture in pictures:
                position = read_barcode(luma_plane(picture))
                done = time.perf_counter()
                if position is None or send_log is None:
                    stats.unreadable_barcode += 1
                    continue
                index = send_log.match(position, stats.probe_position, done)
                if index is None:
                    stats.unmatched_barcode += 1
                    continue
                stats.probe_position = index
                stats.probe_latencies.append((done, done - send_log.times[index]))


class Receivers:
    """The send logs of the current run's senders (probe tracks match against them), and the
    clip's frames (every received frame must be one of them, byte for byte)."""

    def __init__(self) -> None:
        self.send_logs: dict[int, SendLog] = {}
        self.clip_frames: frozenset[bytes] = frozenset()

    def clear(self) -> None:
        self.send_logs.clear()
        self.clip_frames = frozenset()


RECEIVERS = Receivers()


def _bench_decoder_worker(
    loop: asyncio.AbstractEventLoop,
    input_q: Any,
    output_q: asyncio.Queue[Any],
    decode_error: threading.Event,
) -> None:
    """Stands in for ``aiortc.rtcrtpreceiver.decoder_worker`` (same signature, same exit)."""
    if isinstance(input_q, CountingQueue):
        if input_q.decode_q is not None:
            input_q.decode_loop()
        else:
            input_q.closed.wait()
    else:
        # A receiver whose queue was not swapped (should not happen): drain, decode nothing.
        while input_q.get() is not None:
            pass
    with contextlib.suppress(RuntimeError):
        asyncio.run_coroutine_threadsafe(output_q.put(None), loop)


def install(receive_buffer: int = 0) -> None:
    """Count instead of decode in every aiortc receiver of this process (call once, early);
    ICE on loopback only; with ``receive_buffer``, ask that big a socket receive buffer for every
    ICE socket of this process (the kernel caps it at ``net.core.rmem_max``)."""
    aiortc.rtcrtpreceiver.decoder_worker = _bench_decoder_worker  # type: ignore[assignment]
    aiortc_hooks.restrict_host_addresses(["127.0.0.1"])
    if receive_buffer > 0:
        original = aioice.ice.StunProtocol.connection_made

        def connection_made(self: Any, transport: Any) -> None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            original(self, transport)

        aioice.ice.StunProtocol.connection_made = connection_made  # type: ignore[method-assign]


class BenchClient:
    """One participant: Socket.IO signaling, one peer connection, pre-encoded camera and mic."""

    def __init__(
        self,
        base_url: str,
        room_id: str,
        role: str,
        token: str,
        sender_id: int,
        video_clip: VideoClip,
        audio_clip: AudioClip,
        sender_ids: dict[str, int],
        probes: set[tuple[str, str]],
    ) -> None:
        self.base_url = base_url
        self.room_id = room_id
        self.role = role
        self.name = f"{room_id}/{role}"
        self.token = token
        self.sender_id = sender_id
        send_log = SendLog()
        RECEIVERS.send_logs[sender_id] = send_log
        if not RECEIVERS.clip_frames:  # one clip for every sender of the run
            RECEIVERS.clip_frames = frozenset(bytes(frame) for frame in video_clip.frames)
        self.video = ClipVideoTrack(video_clip, sender_id, send_log)
        self.audio = ClipAudioTrack(audio_clip)
        self._sender_ids = sender_ids
        """``<room>/<role>`` → sender id of every client (to check who a track carries)."""
        self._probes = probes
        self.sio = socketio.AsyncClient(reconnection=False)
        self.pc: RTCPeerConnection | None = None
        self.tracks: list[TrackStats] = []
        self.errors: list[Any] = []
        self.join_started: float | None = None
        self.joined_at: float | None = None
        self._owner: dict[str, str] = {}
        self._screens: set[str] = set()
        self._lock = asyncio.Lock()
        self.sio.on("offer", self._on_offer)
        self.sio.on("error", self._on_error)

    async def _on_error(self, data: Any) -> None:
        self.errors.append(data)

    async def connect(self) -> None:
        await self.sio.connect(
            self.base_url,
            auth={"token": self.token, "room_id": self.room_id},
            transports=["websocket"],
            wait_timeout=20,
        )

    async def join(self) -> None:
        """Join; a party consents at once (the mediator admits it: :meth:`admit`)."""
        self.join_started = time.perf_counter()
        await self._command("join", {"audio": True, "video": True})
        if self.role != "mediator":
            await self._command("consent", {"accept": True})
        self.joined_at = time.perf_counter()

    async def admit(self, participant_id: str) -> None:
        """The mediator lets a party in from the lobby."""
        await self._command("admit", {"participant_id": participant_id})

    async def start_recording(self) -> None:
        """The mediator records everyone in the room (the ``record`` mode)."""
        await self._command("start_recording", {})

    async def _command(self, event: str, payload: dict[str, Any]) -> None:
        ack = await self.sio.call(event, payload, timeout=30)
        if not isinstance(ack, dict) or not ack.get("ok", False):
            raise RuntimeError(f"{self.name}: {event} refused: {ack}")

    async def _on_offer(self, offer: dict[str, Any]) -> None:
        try:
            await self._answer(offer)
        except Exception as exc:
            self.errors.append(f"offer handling failed: {exc!r}")

    async def _answer(self, offer: dict[str, Any]) -> None:
        async with self._lock:
            if self.pc is None:
                self.pc = RTCPeerConnection(
                    RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
                )
                self.pc.on("track", self._on_track)
            publish = offer["publish"]
            for mid, info in offer["tracks"].items():
                if info["kind"] == "screen":
                    self._screens.add(mid)  # nobody shares a screen in the benchmark
                self._owner[mid] = f"{self.room_id}/{info['participant_id']}"
            await self.pc.setRemoteDescription(
                RTCSessionDescription(sdp=offer["sdp"], type="offer")
            )
            for transceiver in self.pc.getTransceivers():
                if transceiver.mid == publish.get("audio"):
                    transceiver.direction = "sendonly"
                    if transceiver.sender.track is None:
                        transceiver.sender.replaceTrack(self.audio)
                elif transceiver.mid == publish.get("video"):
                    transceiver.direction = "sendonly"
                    if transceiver.sender.track is None:
                        transceiver.sender.replaceTrack(self.video)
                        # A PLI from the server reaches the sender's _send_keyframe(), which only
                        # flags its (unused) encoder: answer it from the clip instead.
                        transceiver.sender._send_keyframe = self.video.request_keyframe
            answer = await self.pc.createAnswer()
            await self.pc.setLocalDescription(answer)
            local = self.pc.localDescription
            await self.sio.emit(
                "answer", {"type": "answer", "sdp": local.sdp, "revision": offer["revision"]}
            )

    def _on_track(self, track: Any) -> None:
        assert self.pc is not None
        mid = next((t.mid for t in self.pc.getTransceivers() if t.receiver.track is track), None)
        if mid in self._screens:
            return
        owner = self._owner.get(mid or "", f"{self.room_id}/unknown-{mid}")
        stats = TrackStats(
            subscriber=self.name,
            publisher=owner,
            kind=track.kind,
            publisher_sender_id=self._sender_ids.get(owner, -1),
            probe=track.kind == "video" and (self.name, owner) in self._probes,
        )
        self.tracks.append(stats)
        receiver = next(t.receiver for t in self.pc.getTransceivers() if t.receiver.track is track)
        # aiortc starts the receiver's decoder thread on this queue once the transport connects
        # (after the "track" event); private name of aiortc 1.16.0, pinned in pyproject.toml.
        receiver._RTCRtpReceiver__decoder_queue = CountingQueue(stats, RECEIVERS.send_logs)

    # -- what loadgen reads (the cheap client has the same methods) ------------------------------

    def flowing_video(self) -> int:
        """Remote video tracks that delivered at least one frame."""
        return sum(1 for t in self.tracks if t.kind == "video" and t.arrivals)

    def counters(self) -> dict[str, int]:
        return {
            "sender_skipped": self.video.skipped + self.audio.skipped,
            "keyframe_requests": self.video.keyframe_requests,
            "video_sent": self.video.sent,
        }

    def packets_received(self) -> int:
        """RTP packets received on every remote track (aiortc's receive statistics)."""
        if self.pc is None:
            return 0
        total = 0
        for transceiver in self.pc.getTransceivers():
            streams = transceiver.receiver._RTCRtpReceiver__remote_streams
            total += sum(s.packets_received for s in streams.values())
        return total

    def track_dumps(self) -> list[dict[str, Any]]:
        return [asdict(t) for t in self.tracks]

    def extra_errors(self) -> list[str]:
        return []

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.sio.disconnect(), 5)
        if self.pc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pc.close(), 10)
            self.pc = None
