"""Loss on one forwarding leg, with real aiortc peers: NACKs and keyframes repair it.

The SFU runs in this process (so the test can drop packets on one leg's send path and read the
SFU's counters); the three participants are real aiortc peer connections on loopback that send
the synthetic camera and microphone of ``tests.support.peer`` and decode what they receive.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from av import VideoFrame

from rooms import aiortc_hooks
from rooms.sfu import Leg, MediaConfig, Sfu
from tests.support.peer import PatternVideoTrack, ToneAudioTrack, classify, wait_for

pytestmark = pytest.mark.integration

ROLES = ("mediator", "consumer", "business")


@dataclass
class Received:
    """What one participant decoded from one other."""

    frames: int = 0
    right_sender: int = 0
    times: list[float] = field(default_factory=list)

    def fps(self, since: float, until: float) -> float:
        return sum(1 for t in self.times if since <= t < until) / (until - since)

    def longest_gap(self, since: float, until: float) -> float:
        times = [since] + [t for t in self.times if since <= t < until] + [until]
        return max(b - a for a, b in itertools.pairwise(times))


class DirectPeer:
    """A participant's aiortc peer connection, answering the in-process SFU's offers."""

    def __init__(self, role: str, sfu: Sfu) -> None:
        self.role = role
        self.sfu = sfu
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.pc.on("track", self._on_track)
        self.video = PatternVideoTrack(role)
        self.audio = ToneAudioTrack()
        self.received: dict[str, Received] = {}
        self.owner_of_mid: dict[str, str] = {}
        self.publish: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[Any]] = []

    async def on_offer(self, offer: dict[str, Any]) -> None:
        async with self._lock:
            self.publish = offer["publish"]
            for mid, info in offer["tracks"].items():
                self.owner_of_mid[mid] = info["participant_id"]
            await self.pc.setRemoteDescription(
                RTCSessionDescription(sdp=offer["sdp"], type="offer")
            )
            for transceiver in self.pc.getTransceivers():
                if transceiver.mid == self.publish.get("audio"):
                    transceiver.direction = "sendonly"
                    if transceiver.sender.track is None:
                        transceiver.sender.replaceTrack(self.audio)
                elif transceiver.mid == self.publish.get("video"):
                    transceiver.direction = "sendonly"
                    if transceiver.sender.track is None:
                        transceiver.sender.replaceTrack(self.video)
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            await self.sfu.apply_answer(self.role, self.pc.localDescription.sdp, offer["revision"])

    def _on_track(self, track: MediaStreamTrack) -> None:
        mid = next((t.mid for t in self.pc.getTransceivers() if t.receiver.track is track), None)
        owner = self.owner_of_mid.get(mid or "", f"unknown-{mid}")
        if track.kind == "video":
            received = self.received.setdefault(owner, Received())
            self._tasks.append(asyncio.ensure_future(self._consume(track, received, owner)))

    async def _consume(self, track: MediaStreamTrack, received: Received, owner: str) -> None:
        with contextlib.suppress(Exception):
            while True:
                frame = await track.recv()
                if isinstance(frame, VideoFrame):
                    received.frames += 1
                    received.right_sender += classify(frame) == owner
                    received.times.append(time.monotonic())

    def video_sender(self) -> Any:
        return next(
            t.sender for t in self.pc.getTransceivers() if t.mid == self.publish.get("video")
        )

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()


class Room:
    """An in-process SFU with three direct peers."""

    def __init__(self, config: MediaConfig) -> None:
        self.sfu = Sfu("loss", config, self._send_offer)
        self.peers: dict[str, DirectPeer] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def _send_offer(self, participant_id: str, offer: dict[str, Any]) -> None:
        # Delivered as over the network: later, not inside the SFU's own call.
        task = asyncio.ensure_future(self.peers[participant_id].on_offer(offer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def join(self, role: str) -> DirectPeer:
        peer = self.peers[role] = DirectPeer(role, self.sfu)
        await self.sfu.connect(role, role)
        return peer

    def leg(self, publisher: str, subscriber: str, track: str = "video") -> Leg:
        return self.sfu.peers[subscriber].outgoing[(publisher, track)]

    async def close(self) -> None:
        await self.sfu.close()
        for peer in self.peers.values():
            await peer.close()


@contextlib.asynccontextmanager
async def flowing_room(config: MediaConfig) -> AsyncIterator[Room]:
    """The three in an in-process SFU with ``config``, every one receiving the other two."""
    aiortc_hooks.restrict_host_addresses(["127.0.0.1"])
    room = Room(config)
    try:
        for role in ROLES:
            await room.join(role)
        assert await wait_for(
            lambda: all(
                room.peers[r].received.get(o, Received()).frames > 0
                for r in ROLES
                for o in ROLES
                if o != r
            ),
            20,
        ), {r: {o: v.frames for o, v in p.received.items()} for r, p in room.peers.items()}
        yield room
    finally:
        await room.close()
        aiortc_hooks.restrict_host_addresses(None)


@pytest.fixture
async def room() -> AsyncIterator[Room]:
    async with flowing_room(MediaConfig()) as room:
        yield room


class LossyLeg:
    """Drops a share of the packets the server sends on one leg (retransmissions included)."""

    def __init__(self, leg: Leg, share: float, seed: int = 8) -> None:
        self.ssrc = leg.ssrc.to_bytes(4, "big")
        self.share = share
        self.random = random.Random(seed)
        self.dropped: set[int] = set()
        self.delivered_after_drop: set[int] = set()

    def __call__(self, data: bytes) -> bool:
        if data[8:12] != self.ssrc:
            return False
        seq = int.from_bytes(data[2:4], "big")
        if self.random.random() < self.share:
            self.dropped.add(seq)
            return True
        if seq in self.dropped:
            self.delivered_after_drop.add(seq)
        return False


async def test_a_lossy_leg_is_repaired_by_retransmissions(room: Room) -> None:
    leg = room.leg("mediator", "business")
    business = room.peers["business"]
    fast = room.sfu.peers["business"].fast
    assert fast is not None
    lossy = LossyLeg(leg, share=0.1)
    fast.drop_filter = lossy
    retransmitted_before = leg.retransmitted_packets
    start = time.monotonic()
    await asyncio.sleep(8)
    end = time.monotonic()
    fast.drop_filter = None

    assert len(lossy.dropped) >= 20, "the test dropped too little to show anything"
    retransmitted = leg.retransmitted_packets - retransmitted_before
    assert retransmitted >= len(lossy.dropped) * 0.8, (retransmitted, len(lossy.dropped))
    # The subscriber got most of what was dropped in a resent copy, on the same numbers.
    assert len(lossy.delivered_after_drop) >= 0.7 * len(lossy.dropped)
    assert room.sfu.counters.retransmitted_packets >= retransmitted
    mediator_video = business.received["mediator"]
    # Nearly as smooth as the clean leg beside it (one process encodes and decodes everything
    # here, so neither reaches the 30 fps sent; a resent packet that is lost again holds aiortc's
    # jitter buffer until the subscriber's next NACK).
    fps = mediator_video.fps(start + 1, end)
    clean = business.received["consumer"].fps(start + 1, end)
    assert fps >= 0.6 * clean and fps >= 10, (fps, clean)
    assert mediator_video.longest_gap(start + 1, end) < 1.0
    assert mediator_video.right_sender >= 0.95 * mediator_video.frames
    # The other leg to the same subscriber was never touched and never needed a resend.
    assert room.leg("consumer", "business").retransmitted_packets == 0


async def test_media_takes_the_synchronous_datagram_path(room: Room) -> None:
    await asyncio.sleep(1)
    for role in ROLES:
        fast = room.sfu.peers[role].fast
        assert fast is not None and fast.peer_keyed
        # Nothing went through aioice's queue and aiortc's coroutine (it would still work).
        assert fast.slow_packets == 0, role
    assert room.sfu.counters.forwarded_packets > 0


def count_keyframe_requests(sender: Any) -> list[None]:
    """Each time the publisher's encoder is asked for a keyframe, one more item in the list."""
    asked: list[None] = []
    forced = sender._send_keyframe

    def count_keyframe() -> None:
        asked.append(None)
        forced()

    sender._send_keyframe = count_keyframe
    return asked


async def test_a_congested_leg_drops_to_a_keyframe_asked_of_the_publisher(room: Room) -> None:
    leg = room.leg("mediator", "business")
    business = room.peers["business"]
    fast = room.sfu.peers["business"].fast
    assert fast is not None
    keyframes = count_keyframe_requests(room.peers["mediator"].video_sender())
    requests_before = room.sfu.counters.keyframe_requests
    # Wait long enough that the next keyframe can only come on request (aiortc makes one
    # every ~3000 frames by itself).
    pending = fast.pending_bytes
    fast.pending_bytes = lambda: 10 * room.sfu.config.max_send_buffer  # type: ignore[method-assign]
    await asyncio.sleep(1.5)
    assert leg.waiting_keyframe
    frames_when_freed = business.received["mediator"].frames
    fast.pending_bytes = pending  # type: ignore[method-assign]
    freed = time.monotonic()
    assert await wait_for(
        lambda: business.received["mediator"].frames > frames_when_freed + 10, 5
    ), "video did not come back after the congestion"
    first_after = next(t for t in business.received["mediator"].times if t >= freed)
    assert first_after - freed < 1.5, f"video froze {first_after - freed:.1f}s after congestion"
    assert room.sfu.counters.keyframe_requests > requests_before
    assert len(keyframes) >= 1, "the publisher was never asked for a keyframe"
    assert not leg.waiting_keyframe
    # Sequence numbers went on without a gap: nothing for the subscriber to NACK.
    assert leg.retransmitted_packets == 0


async def test_a_subscribers_picture_loss_report_reaches_the_publisher(room: Room) -> None:
    business = room.peers["business"]
    keyframes = count_keyframe_requests(room.peers["mediator"].video_sender())
    await asyncio.sleep(room.sfu.config.keyframe_request_interval)
    receiver = next(
        t.receiver
        for t in business.pc.getTransceivers()
        if business.owner_of_mid.get(t.mid or "") == "mediator" and t.kind == "video"
    )
    leg = room.leg("mediator", "business")
    await receiver._send_rtcp_pli(leg.ssrc)  # what a decoder that lost a picture sends
    assert await wait_for(lambda: len(keyframes) >= 1, 3)
