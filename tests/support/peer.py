"""A real aiortc client of the room: Socket.IO signaling, synthetic camera and microphone.

Each client's video shows a pattern that names its sender (two halves, dark or bright, see
:data:`PATTERNS`); a receiving client decodes every frame and classifies who sent it, so a test
can assert that the SFU delivered the right person's video, not just some video.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import socketio
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from av import AudioFrame, VideoFrame

from rooms import aiortc_hooks
from signaling import schemas

PATTERNS: dict[str, tuple[int, int]] = {
    "mediator": (30, 220),
    "consumer": (220, 30),
    "business": (220, 220),
    "screen": (30, 30),
}
"""Luma of the left and right halves of each role's synthetic video."""

WIDTH, HEIGHT, FPS = 320, 240, 30


def classify(frame: VideoFrame) -> str | None:
    """Which role's pattern a decoded frame shows (``None`` if it matches none)."""
    luma = frame.to_ndarray(format="gray")
    h, w = luma.shape
    left = float(luma[h // 4 : 3 * h // 4, w // 8 : 3 * w // 8].mean())
    right = float(luma[h // 4 : 3 * h // 4, 5 * w // 8 : 7 * w // 8].mean())
    for role, (want_left, want_right) in PATTERNS.items():
        if abs(left - want_left) < 40 and abs(right - want_right) < 40:
            return role
    return None


class PatternVideoTrack(MediaStreamTrack):
    """Video at 30 fps whose frames name the sender."""

    kind = "video"

    def __init__(self, role: str) -> None:
        super().__init__()
        left, right = PATTERNS[role]
        yuv = np.full((HEIGHT * 3 // 2, WIDTH), 128, dtype=np.uint8)
        yuv[:HEIGHT, : WIDTH // 2] = left
        yuv[:HEIGHT, WIDTH // 2 :] = right
        self._yuv = yuv
        self._start: float | None = None
        self._count = 0

    async def recv(self) -> VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._count / FPS
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        frame = VideoFrame.from_ndarray(self._yuv, format="yuv420p")
        frame.pts = self._count * (90000 // FPS)
        frame.time_base = fractions.Fraction(1, 90000)
        self._count += 1
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """A 440 Hz tone, 20 ms frames of 48 kHz mono."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._start: float | None = None
        self._count = 0
        samples = np.arange(960)
        self._base = samples

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._count * 0.02
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        t = (self._base + self._count * 960) / 48000
        pcm = (np.sin(2 * math.pi * 440 * t) * 8000).astype(np.int16).reshape(1, -1)
        frame = AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = 48000
        frame.pts = self._count * 960
        frame.time_base = fractions.Fraction(1, 48000)
        self._count += 1
        return frame


@dataclass
class RemoteMedia:
    """What one client received from one remote participant."""

    video_frames: int = 0
    video_by_sender: dict[str | None, int] = field(default_factory=dict)
    video_times: list[float] = field(default_factory=list)
    audio_frames: int = 0
    audio_peak: int = 0
    first_video_at: float | None = None


class RoomClient:
    """One participant driven by a test."""

    def __init__(self, base_url: str, token: str, role: str, room_id: str = "demo") -> None:
        self.base_url = base_url
        self.token = token
        self.role = role
        self.room_id = room_id
        self.sio = socketio.AsyncClient(reconnection=False)
        self.pc: RTCPeerConnection | None = None
        self.events: list[tuple[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.schema_violations: list[str] = []
        """Server events that did not match their documented schema (``signaling.schemas``)."""
        self.remote: dict[str, RemoteMedia] = {}
        self.joined: dict[str, Any] | None = None
        self.view: dict[str, Any] | None = None
        """The latest ``room_view`` (or ``joined``): the room as this client may see it."""
        self.chats: list[dict[str, Any]] = []
        self.video_track: PatternVideoTrack | None = None
        self.audio_track: ToneAudioTrack | None = None
        self.screen_track: PatternVideoTrack | None = None
        """Set before joining to share a screen (the mediator)."""
        self._tasks: list[asyncio.Task[Any]] = []
        self._track_owner: dict[str, str] = {}
        self._publish: dict[str, str | None] = {}
        self._offer_lock = asyncio.Lock()
        self.offers = 0
        for event in ("joined", "room_view", "chat", "dismissed", "evidence_added", "replaced"):
            self.sio.on(event, self._recorder(event))
        self.sio.on("error", self._on_error)
        self.sio.on("offer", self._on_offer)

    def _check(self, event: str, data: Any) -> None:
        try:
            schemas.FACTS[event].model_validate(data)
        except Exception as exc:
            self.schema_violations.append(f"{event}: {exc}")

    def _recorder(self, event: str) -> Any:
        async def _record(data: Any) -> None:
            self._check(event, data)
            self.events.append((event, data))
            if event == "joined":
                self.joined = data
                self.chats = list(data.get("chat", []))
            if event in ("joined", "room_view"):
                self.view = data
            if event == "chat":
                self.chats.append(data["message"])

        return _record

    async def _on_error(self, data: dict[str, Any]) -> None:
        self._check("error", data)
        self.errors.append(data)

    async def connect(self, *, room_id: str | None = None, token: str | None = None) -> None:
        aiortc_hooks.restrict_host_addresses(["127.0.0.1"])
        room = room_id or self.room_id
        await self.sio.connect(
            # The room in the address too, as the page does: with several nodes, any of them
            # forwards the connection to the room's node.
            f"{self.base_url}?room_id={room}",
            auth={"token": token or self.token, "room_id": room},
            transports=["websocket"],
            wait_timeout=10,
        )

    async def join(self, *, video: bool = True, audio: bool = True) -> dict[str, Any]:
        if video and self.video_track is None:
            self.video_track = PatternVideoTrack(self.role)
        if audio and self.audio_track is None:
            self.audio_track = ToneAudioTrack()
        ack: dict[str, Any] = await self.sio.call(
            "join", {"audio": audio, "video": video}, timeout=20
        )
        return ack

    async def call(self, event: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a command; return its ack."""
        ack: dict[str, Any] = await self.sio.call(event, payload or {}, timeout=20)
        return ack

    def me(self) -> dict[str, Any]:
        assert self.view is not None, "not joined"
        me: dict[str, Any] = self.view["self"]
        return me

    def seen(self, participant_id: str) -> dict[str, Any] | None:
        """Another participant as this client's latest view shows them (room or lobby)."""
        if self.view is None:
            return None
        for p in self.view["participants"] + self.view["lobby"]:
            if p["id"] == participant_id:
                return dict(p)
        return None

    async def packets_from(self, owner: str, kind: str | None = None) -> int:
        """RTP packets received so far on the mids that carry ``owner``'s media."""
        if self.pc is None:
            return 0
        total = 0
        for transceiver in self.pc.getTransceivers():
            if self._track_owner.get(transceiver.mid or "") != owner:
                continue
            if kind is not None and transceiver.kind != kind:
                continue
            report = await transceiver.receiver.getStats()
            total += sum(
                int(getattr(stats, "packetsReceived", 0))
                for stats in report.values()
                if getattr(stats, "type", "") == "inbound-rtp"
            )
        return total

    async def camera_on(self) -> None:
        """Turn the camera on after joining without one (no renegotiation)."""
        self.video_track = PatternVideoTrack(self.role)
        assert self.pc is not None
        for transceiver in self.pc.getTransceivers():
            if transceiver.mid == self._publish.get("video"):
                transceiver.sender.replaceTrack(self.video_track)
        await self.sio.call("set_media_state", {"audio": True, "video": True}, timeout=10)

    async def _on_offer(self, offer: dict[str, Any]) -> None:
        self._check("offer", offer)
        async with self._offer_lock:
            self.offers += 1
            if self.pc is None:
                # MAX_BUNDLE: aiortc's default policy leaves later m-lines of a kind on a
                # transport of their own that the bundled media never reaches.
                self.pc = RTCPeerConnection(
                    RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
                )
                self.pc.on("track", self._on_track)
            self._publish = offer["publish"]
            for mid, info in offer["tracks"].items():
                # A shared screen is counted apart from its owner's camera.
                suffix = ":screen" if info["kind"] == "screen" else ""
                self._track_owner[mid] = info["participant_id"] + suffix
            await self.pc.setRemoteDescription(
                RTCSessionDescription(sdp=offer["sdp"], type="offer")
            )
            for transceiver in self.pc.getTransceivers():
                if transceiver.mid == self._publish.get("audio"):
                    transceiver.direction = "sendonly"
                    if transceiver.sender.track is None and self.audio_track is not None:
                        transceiver.sender.replaceTrack(self.audio_track)
                elif transceiver.mid == self._publish.get("video"):
                    transceiver.direction = "sendonly"
                    if transceiver.sender.track is None and self.video_track is not None:
                        transceiver.sender.replaceTrack(self.video_track)
                elif transceiver.mid == self._publish.get("screen"):
                    transceiver.direction = "sendonly"
                    if transceiver.sender.track is None and self.screen_track is not None:
                        transceiver.sender.replaceTrack(self.screen_track)
            answer = await self.pc.createAnswer()
            await self.pc.setLocalDescription(answer)
            local = self.pc.localDescription
            await self.sio.emit(
                "answer", {"type": "answer", "sdp": local.sdp, "revision": offer["revision"]}
            )

    def _on_track(self, track: MediaStreamTrack) -> None:
        assert self.pc is not None
        mid = next((t.mid for t in self.pc.getTransceivers() if t.receiver.track is track), None)
        owner = self._track_owner.get(mid or "", f"unknown-{mid}")
        media = self.remote.setdefault(owner, RemoteMedia())
        self._tasks.append(asyncio.ensure_future(self._consume(track, media)))

    async def _consume(self, track: MediaStreamTrack, media: RemoteMedia) -> None:
        with contextlib.suppress(Exception):
            while True:
                frame = await track.recv()
                if isinstance(frame, VideoFrame):
                    now = time.monotonic()
                    if media.first_video_at is None:
                        media.first_video_at = now
                    sender = classify(frame)
                    media.video_frames += 1
                    media.video_by_sender[sender] = media.video_by_sender.get(sender, 0) + 1
                    media.video_times.append(now)
                else:
                    media.audio_frames += 1
                    pcm = frame.to_ndarray()
                    media.audio_peak = max(media.audio_peak, int(np.abs(pcm).max()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await self.sio.disconnect()
        if self.pc is not None:
            await self.pc.close()
            self.pc = None

    async def drop_media(self) -> None:
        """Forget the peer connection (as a reloaded page does), keep the counters' owner map."""
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        if self.pc is not None:
            await self.pc.close()
            self.pc = None

    def fps(self, owner: str, window: float) -> float:
        """Frames per second received from ``owner`` over the last ``window`` seconds."""
        times = self.remote.get(owner, RemoteMedia()).video_times
        now = time.monotonic()
        return sum(1 for t in times if now - t <= window) / window


async def wait_for(predicate: Any, timeout: float, interval: float = 0.1) -> bool:  # noqa: ASYNC109
    """Poll ``predicate()`` until true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return bool(predicate())


async def enter_room(mediator: RoomClient, *parties: RoomClient) -> None:
    """Bring parties through the lobby: they join and consent, the mediator admits them.

    ``mediator`` must have joined. Each party must be connected (``connect()``) already.
    """
    for party in parties:
        assert await party.join() == {"ok": True}
        assert await party.call("consent", {"accept": True}) == {"ok": True}
        assert await wait_for(lambda p=party: mediator.seen(p.role) is not None, 10)
        ack = await mediator.call("admit", {"participant_id": party.role})
        assert ack == {"ok": True}, ack
        assert await wait_for(lambda p=party: p.view and p.me()["stage"] == "room", 10)
