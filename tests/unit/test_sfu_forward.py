"""The forwarding policy of one leg, with a fake transport: keyframe waits, switches, drops.

Everything here is our own logic; the real aiortc path is covered by the integration tests.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from rooms import aiortc_hooks, sfu
from rooms.forwarding import LegTimeline
from rooms.sfu import Leg, MediaConfig, Sfu

EXTENSIONS = HeaderExtensionsMap()
EXTENSIONS.configure(
    RTCRtpParameters(
        headerExtensions=[
            RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid")
        ]
    )
)


class FakeSend:
    def __init__(self) -> None:
        self.sent: list[RtpPacket] = []

    async def __call__(self, data: bytes) -> None:
        self.sent.append(RtpPacket.parse(data, EXTENSIONS))


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Bytes 'waiting in the socket buffer', as the test sets them."""
    state = {"bytes": 0}
    monkeypatch.setattr(aiortc_hooks, "pending_send_bytes", lambda transport: state["bytes"])
    monkeypatch.setattr(aiortc_hooks, "record_sent", lambda sender, packet: None)
    return state


async def _no_offer(participant_id: str, offer: dict[str, Any]) -> None:
    return None


def make_leg(kind: str) -> tuple[Leg, FakeSend]:
    send = FakeSend()
    transceiver: Any = SimpleNamespace(sender=SimpleNamespace(transport=None))
    leg = Leg(
        subscriber=SimpleNamespace(participant_id="mediator"),  # type: ignore[arg-type]
        publisher_id="consumer",
        publisher_role="consumer",
        kind=kind,
        track=kind,
        transceiver=transceiver,
        timeline=LegTimeline(clock_rate=90000 if kind == "video" else 48000),
        waiting_keyframe=kind == "video",
        ready=True,
        payload_type=100,
        mid="3",
        ssrc=0xABCD,
        ext_map=EXTENSIONS,
        send=send,
    )
    return leg, send


def packet(ssrc: int, seq: int, ts: int, payload: bytes = b"\x10\x00\x01") -> RtpPacket:
    return RtpPacket(payload_type=96, sequence_number=seq, timestamp=ts, ssrc=ssrc, payload=payload)


@pytest.fixture
def room_sfu() -> Sfu:
    return Sfu("r", MediaConfig(max_send_buffer=1000), _no_offer)


async def test_video_waits_for_a_keyframe_then_flows(room_sfu: Sfu, queued: dict[str, int]) -> None:
    leg, send = make_leg("video")
    assert not await room_sfu.forward(leg, packet(1, 100, 0), keyframe=False)
    assert send.sent == []
    assert await room_sfu.forward(leg, packet(1, 101, 3000), keyframe=True)
    assert await room_sfu.forward(leg, packet(1, 102, 6000), keyframe=False)
    assert [(p.ssrc, p.payload_type, p.sequence_number) for p in send.sent] == [
        (0xABCD, 100, 101),
        (0xABCD, 100, 102),
    ]
    assert send.sent[0].extensions.mid == "3"  # the subscriber's mid, not the publisher's


async def test_a_new_publisher_stream_continues_the_legs_numbering(
    room_sfu: Sfu, queued: dict[str, int]
) -> None:
    leg, send = make_leg("video")
    await room_sfu.forward(leg, packet(1, 500, 9000), keyframe=True)
    await room_sfu.forward(leg, packet(1, 501, 12000), keyframe=False)
    # The publisher reloads: new SSRC, new random numbering. Held until its keyframe.
    assert not await room_sfu.forward(leg, packet(2, 7, 77), keyframe=False)
    assert await room_sfu.forward(leg, packet(2, 8, 3077), keyframe=True)
    assert [p.sequence_number for p in send.sent] == [500, 501, 502]
    assert send.sent[2].timestamp == 12000 + 2970


async def test_a_full_send_buffer_drops_video_to_the_next_keyframe(
    room_sfu: Sfu, queued: dict[str, int]
) -> None:
    leg, send = make_leg("video")
    await room_sfu.forward(leg, packet(1, 1, 0), keyframe=True)
    queued["bytes"] = 5000  # the subscriber's link is backed up
    assert not await room_sfu.forward(leg, packet(1, 2, 3000), keyframe=False)
    queued["bytes"] = 0
    assert not await room_sfu.forward(leg, packet(1, 3, 6000), keyframe=False)  # still held
    assert await room_sfu.forward(leg, packet(1, 4, 9000), keyframe=True)
    assert [p.sequence_number for p in send.sent] == [1, 2]  # no gap seen by the subscriber
    assert leg.dropped_packets == 2


async def test_audio_is_never_held(room_sfu: Sfu, queued: dict[str, int]) -> None:
    leg, send = make_leg("audio")
    queued["bytes"] = 10_000
    assert await room_sfu.forward(leg, packet(5, 40, 960, b"\x01\x02"), keyframe=False)
    assert await room_sfu.forward(leg, packet(6, 9, 5, b"\x01\x02"), keyframe=False)
    assert [p.sequence_number for p in send.sent] == [40, 41]


async def test_a_paused_leg_resumes_numbering_on_from_where_it_stopped(
    queued: dict[str, int],
) -> None:
    allowed = {"on": True}
    sfu_ = Sfu("r", MediaConfig(), _no_offer, lambda pub, sub, track: allowed["on"])
    audio, sent_audio = make_leg("audio")
    video, sent_video = make_leg("video")
    sfu_._legs[("consumer", "audio")] = [audio]
    sfu_._legs[("consumer", "video")] = [video]
    await sfu_.forward(audio, packet(5, 100, 48_000), False, arrival_time_ms=1_000)
    await sfu_.forward(video, packet(6, 200, 90_000), True, arrival_time_ms=1_000)
    allowed["on"] = False  # a caucus starts: the sources go on, the legs forward nothing
    sfu_.apply_policy()
    assert not audio.allowed and not video.allowed
    allowed["on"] = True  # 3 s later it ends
    sfu_.apply_policy()
    assert audio.allowed and audio.resync and video.waiting_keyframe
    await sfu_.forward(audio, packet(5, 250, 48_000 + 150 * 960), False, arrival_time_ms=4_000)
    assert not await sfu_.forward(video, packet(6, 290, 360_000), False, arrival_time_ms=4_000)
    assert await sfu_.forward(video, packet(6, 291, 363_000), True, arrival_time_ms=4_000)
    # No gap for the subscriber to repair; the clock stepped as far as the wall clock did.
    assert [p.sequence_number for p in sent_audio.sent] == [100, 101]
    assert sent_audio.sent[1].timestamp == 48_000 + 3 * 48_000
    assert [p.sequence_number for p in sent_video.sent] == [200, 201]
    assert sent_video.sent[1].timestamp == 90_000 + 3 * 90_000


def test_module_exposes_forwarding_modes() -> None:
    assert {m.value for m in sfu.ForwardingMode} == {"packet", "relay"}
