"""A publisher is asked for the bitrate its slowest subscriber can take (REMB), with real peers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, unpack_remb_fci

from rooms import aiortc_hooks
from rooms.sfu import MediaConfig
from tests.integration.test_loss_recovery import DirectPeer, Room, flowing_room
from tests.support.peer import wait_for

pytestmark = pytest.mark.integration


class FixedEstimate:
    """Stands in for an aiortc receiver's bandwidth estimator: reports ``bitrate`` now and then
    (aiortc sends a REMB whenever its estimator returns one)."""

    def __init__(self, bitrate: int) -> None:
        self.bitrate = bitrate
        self.calls = 0

    def add(self, abs_send_time: int, arrival_time_ms: int, payload_size: int, ssrc: int) -> Any:
        self.calls += 1
        return (self.bitrate, [ssrc]) if self.calls % 10 == 0 else None


def estimate_from(subscriber: DirectPeer, publisher: str, bitrate: int) -> FixedEstimate:
    """Make ``subscriber``'s receiver of ``publisher``'s video report ``bitrate``."""
    receiver = next(
        t.receiver
        for t in subscriber.pc.getTransceivers()
        if subscriber.owner_of_mid.get(t.mid or "") == publisher and t.kind == "video"
    )
    estimate = FixedEstimate(bitrate)
    receiver._RTCRtpReceiver__remote_bitrate_estimator = estimate  # test-only: aiortc's private
    return estimate


def record_remb(publisher: DirectPeer) -> list[tuple[int, list[int]]]:
    """Every REMB that reaches ``publisher``'s camera sender."""
    seen: list[tuple[int, list[int]]] = []
    sender = publisher.video_sender()
    original = sender._handle_rtcp_packet

    async def _handle_rtcp_packet(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            seen.append(unpack_remb_fci(packet.fci))
        await original(packet)

    sender._handle_rtcp_packet = _handle_rtcp_packet
    return seen


@pytest.fixture
async def room() -> AsyncIterator[Room]:
    async with flowing_room(MediaConfig(remb_interval=0.5)) as room:
        yield room


async def test_the_publishers_remb_follows_its_slowest_subscriber(room: Room) -> None:
    mediator = room.peers["mediator"]
    remb = record_remb(mediator)
    audio = room.sfu.config.remb.audio_bps
    assert await wait_for(lambda: len(remb) > 0, 5), "the publisher got no REMB at all"
    camera_ssrc = aiortc_hooks.sender_ssrc(mediator.video_sender())
    assert all(ssrcs == [camera_ssrc] for _, ssrcs in remb)

    consumer = estimate_from(room.peers["consumer"], "mediator", 1_600_000)
    business = estimate_from(room.peers["business"], "mediator", 300_000)
    assert await wait_for(lambda: remb[-1][0] == 300_000 + audio, 5), remb[-5:]

    business.bitrate = 2_000_000  # the business's link recovers: the consumer is now slowest
    assert await wait_for(lambda: remb[-1][0] == 1_600_000 + audio, 5), remb[-5:]

    consumer.bitrate = 20_000  # far too little: held at the floor
    assert await wait_for(lambda: remb[-1][0] == room.sfu.config.remb.floor_bps + audio, 5)
    assert room.sfu.counters.remb_received > 0 and room.sfu.counters.remb_sent > 0
