"""The forwarding policy of one leg, with a fake transport: keyframe waits, switches, drops.

Everything here is our own logic; the real aiortc path is covered by the integration tests.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    HeaderExtensionsMap,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtpPacket,
    pack_remb_fci,
)

from rooms import aiortc_hooks, sfu
from rooms.forwarding import LegTimeline, RtpIn, one_byte_extensions, parse_rtp, vp8_descriptor
from rooms.sfu import Leg, MediaConfig, Sfu

EXTENSIONS = HeaderExtensionsMap()
EXTENSIONS.configure(
    RTCRtpParameters(
        headerExtensions=[
            RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
            RTCRtpHeaderExtensionParameters(
                id=2, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level"
            ),
            RTCRtpHeaderExtensionParameters(
                id=3, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
            ),
        ]
    )
)


class FakeOut:
    """A subscriber's transport: keeps what is sent; ``queued`` bytes 'wait in the socket'."""

    def __init__(self) -> None:
        self.sent: list[RtpPacket] = []
        self.raw: list[bytes] = []
        self.queued = 0

    def send_rtp(self, data: bytes) -> bool:
        self.raw.append(data)
        self.sent.append(RtpPacket.parse(data, EXTENSIONS))
        return True

    def pending_bytes(self) -> int:
        return self.queued


async def _no_offer(participant_id: str, offer: dict[str, Any]) -> None:
    return None


def make_leg(kind: str) -> tuple[Leg, FakeOut]:
    out = FakeOut()
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
        out=out,
        ext_plain=one_byte_extensions([(1, b"3")]),
        history=[None] * sfu.HISTORY_SIZE if kind == "video" else None,
    )
    return leg, out


def packet(
    ssrc: int,
    seq: int,
    ts: int,
    payload: bytes = b"\x10\x00\x01",
    keyframe: bool = False,
    arrival_ms: int = 0,
    vp8: bool = False,
) -> RtpIn:
    data = RtpPacket(
        payload_type=96, sequence_number=seq, timestamp=ts, ssrc=ssrc, payload=payload
    ).serialize()
    parsed = parse_rtp(data, arrival_ms)
    assert parsed is not None
    parsed.keyframe = keyframe
    if vp8:  # what the source reads once per packet for every leg
        parsed.vp8 = vp8_descriptor(payload)
    return parsed


@pytest.fixture
def room_sfu() -> Sfu:
    return Sfu("r", MediaConfig(max_send_buffer=1000), _no_offer)


async def test_video_waits_for_a_keyframe_then_flows(room_sfu: Sfu) -> None:
    leg, send = make_leg("video")
    assert not room_sfu.forward(leg, packet(1, 100, 0, keyframe=False))
    assert send.sent == []
    assert room_sfu.forward(leg, packet(1, 101, 3000, keyframe=True))
    assert room_sfu.forward(leg, packet(1, 102, 6000, keyframe=False))
    assert [(p.ssrc, p.payload_type, p.sequence_number) for p in send.sent] == [
        (0xABCD, 100, 101),
        (0xABCD, 100, 102),
    ]
    assert send.sent[0].extensions.mid == "3"  # the subscriber's mid, not the publisher's


async def test_a_new_publisher_stream_continues_the_legs_numbering(
    room_sfu: Sfu,
) -> None:
    leg, send = make_leg("video")
    room_sfu.forward(leg, packet(1, 500, 9000, keyframe=True))
    room_sfu.forward(leg, packet(1, 501, 12000, keyframe=False))
    # The publisher reloads: new SSRC, new random numbering. Held until its keyframe.
    assert not room_sfu.forward(leg, packet(2, 7, 77, keyframe=False))
    assert room_sfu.forward(leg, packet(2, 8, 3077, keyframe=True))
    assert [p.sequence_number for p in send.sent] == [500, 501, 502]
    assert send.sent[2].timestamp == 12000 + 2970


async def test_a_full_send_buffer_drops_video_to_the_next_keyframe(
    room_sfu: Sfu,
) -> None:
    leg, send = make_leg("video")
    room_sfu.forward(leg, packet(1, 1, 0, keyframe=True))
    send.queued = 5000  # the subscriber's link is backed up
    assert not room_sfu.forward(leg, packet(1, 2, 3000, keyframe=False))
    send.queued = 0
    assert not room_sfu.forward(leg, packet(1, 3, 6000, keyframe=False))  # still held
    assert room_sfu.forward(leg, packet(1, 4, 9000, keyframe=True))
    assert [p.sequence_number for p in send.sent] == [1, 2]  # no gap seen by the subscriber
    assert leg.dropped_packets == 2


async def test_audio_is_never_held(room_sfu: Sfu) -> None:
    leg, send = make_leg("audio")
    send.queued = 10_000
    assert room_sfu.forward(leg, packet(5, 40, 960, b"\x01\x02", keyframe=False))
    assert room_sfu.forward(leg, packet(6, 9, 5, b"\x01\x02", keyframe=False))
    assert [p.sequence_number for p in send.sent] == [40, 41]


async def test_a_paused_leg_resumes_numbering_on_from_where_it_stopped() -> None:
    allowed = {"on": True}
    sfu_ = Sfu("r", MediaConfig(), _no_offer, lambda pub, sub, track: allowed["on"])
    audio, sent_audio = make_leg("audio")
    video, sent_video = make_leg("video")
    sfu_._legs[("consumer", "audio")] = [audio]
    sfu_._legs[("consumer", "video")] = [video]
    sfu_.forward(audio, packet(5, 100, 48_000, keyframe=False, arrival_ms=1_000))
    sfu_.forward(video, packet(6, 200, 90_000, keyframe=True, arrival_ms=1_000))
    allowed["on"] = False  # a caucus starts: the sources go on, the legs forward nothing
    sfu_.apply_policy()
    assert not audio.allowed and not video.allowed
    allowed["on"] = True  # 3 s later it ends
    sfu_.apply_policy()
    assert audio.allowed and audio.resync and video.waiting_keyframe
    sfu_.forward(audio, packet(5, 250, 48_000 + 150 * 960, keyframe=False, arrival_ms=4_000))
    assert not sfu_.forward(video, packet(6, 290, 360_000, keyframe=False, arrival_ms=4_000))
    assert sfu_.forward(video, packet(6, 291, 363_000, keyframe=True, arrival_ms=4_000))
    # No gap for the subscriber to repair; the clock stepped as far as the wall clock did.
    assert [p.sequence_number for p in sent_audio.sent] == [100, 101]
    assert sent_audio.sent[1].timestamp == 48_000 + 3 * 48_000
    assert [p.sequence_number for p in sent_video.sent] == [200, 201]
    assert sent_video.sent[1].timestamp == 90_000 + 3 * 90_000


def test_module_exposes_forwarding_modes() -> None:
    assert {m.value for m in sfu.ForwardingMode} == {"packet", "relay"}


def vp8_payload(picture_id: int, keyframe: bool) -> bytes:
    """A VP8 payload descriptor with a 15-bit picture id, then a payload header."""
    return bytes([0x90, 0x80, 0x80 | picture_id >> 8, picture_id & 0xFF, 0 if keyframe else 1])


async def test_vp8_picture_ids_continue_when_the_publisher_changes(room_sfu: Sfu) -> None:
    leg, send = make_leg("video")
    room_sfu.forward(leg, packet(1, 10, 0, vp8_payload(700, True), keyframe=True, vp8=True))
    room_sfu.forward(leg, packet(1, 11, 3000, vp8_payload(701, False), vp8=True))
    room_sfu.forward(leg, packet(2, 900, 5, vp8_payload(12, True), keyframe=True, vp8=True))
    room_sfu.forward(leg, packet(2, 901, 3005, vp8_payload(13, False), vp8=True))
    ids = [((p.payload[2] & 0x7F) << 8) | p.payload[3] for p in send.sent]
    assert ids == [700, 701, 702, 703]
    assert all(p.payload[4:] == bytes([p.payload[4]]) for p in send.sent)  # rest untouched


async def test_video_carries_the_restamped_abs_send_time_and_audio_its_level(
    room_sfu: Sfu,
) -> None:
    video, sent_video = make_leg("video")
    video.ext_head, video.ext_tail, video.ext_value_len = _split_block([(1, b"3"), (3, b"000")])
    pkt = packet(1, 10, 0, keyframe=True)
    pkt.ext_value = b"\x01\x02\x03"
    room_sfu.forward(video, pkt)
    assert sent_video.sent[0].extensions.abs_send_time == 0x010203
    assert sent_video.sent[0].extensions.mid == "3"
    audio, sent_audio = make_leg("audio")
    audio.ext_head, audio.ext_tail, audio.ext_value_len = _split_block([(1, b"3"), (2, b"0")])
    pkt = packet(5, 1, 960, b"\x01")
    pkt.ext_value = bytes([0x80 | 40])
    room_sfu.forward(audio, pkt)
    room_sfu.forward(audio, packet(5, 2, 1920, b"\x01"))  # no level: the mid alone
    assert sent_audio.sent[0].extensions.audio_level == (True, 40)
    assert sent_audio.sent[1].extensions.audio_level is None
    assert sent_audio.sent[1].extensions.mid == "3"


def _split_block(elements: list[tuple[int, bytes]]) -> tuple[bytes, bytes, int]:
    block = one_byte_extensions(elements)
    at = 4 + sum(1 + len(v) for _, v in elements[:-1]) + 1
    size = len(elements[-1][1])
    return block[:at], block[at + size :], size


def _subscriber(room_sfu: Sfu, leg: Leg) -> Any:
    peer: Any = SimpleNamespace(participant_id="mediator", legs_by_ssrc={leg.ssrc: leg}, publish={})
    return peer


async def test_a_subscribers_nack_is_answered_from_the_legs_history(room_sfu: Sfu) -> None:
    leg, send = make_leg("video")
    for seq in range(100, 110):
        room_sfu.forward(leg, packet(1, seq, seq * 3000, keyframe=seq == 100))
    nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=77, media_ssrc=leg.ssrc)
    nack.lost = [103, 105, 50]  # 50 was never sent
    rest = room_sfu._on_rtcp(_subscriber(room_sfu, leg), [nack])
    assert rest == []
    assert send.raw[-2:] == [send.raw[3], send.raw[5]]  # the same bytes again
    assert leg.retransmitted_packets == 2
    assert room_sfu.counters.retransmitted_packets == 2


async def test_a_subscribers_pli_asks_the_publisher_and_reports_go_on_to_aiortc(
    room_sfu: Sfu,
) -> None:
    leg, _ = make_leg("video")
    asked: list[str] = []
    source: Any = SimpleNamespace(request_keyframe=lambda: asked.append("pli"))
    room_sfu.sources[("consumer", "video")] = source
    pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=77, media_ssrc=leg.ssrc)
    other = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=77, media_ssrc=12345)
    report = RtcpRrPacket(ssrc=77)
    rest = room_sfu._on_rtcp(_subscriber(room_sfu, leg), [pli, other, report])
    assert asked == ["pli"]
    assert rest == [other, report]


async def test_a_subscribers_remb_is_shared_among_the_video_legs_it_names(room_sfu: Sfu) -> None:
    camera, _ = make_leg("video")
    screen, _ = make_leg("video")
    screen.ssrc, screen.track = 0xBEEF, "screen"
    peer: Any = SimpleNamespace(
        participant_id="mediator",
        legs_by_ssrc={camera.ssrc: camera, screen.ssrc: screen},
        publish={},
    )
    remb = RtcpPsfbPacket(
        fmt=RTCP_PSFB_APP, ssrc=77, media_ssrc=0, fci=pack_remb_fci(800_000, [0xABCD, 0xBEEF])
    )
    assert room_sfu._on_rtcp(peer, [remb]) == []
    now = time.monotonic()
    assert room_sfu.feedback.stream_target(("consumer", "video"), ["mediator"], now) == 400_000
    assert room_sfu.feedback.stream_target(("consumer", "screen"), ["mediator"], now) == 400_000


async def test_each_leg_reports_the_publishers_clock_on_its_own_timeline(
    room_sfu: Sfu, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports: list[tuple[int, int, int, int]] = []
    monkeypatch.setattr(
        aiortc_hooks, "set_sender_report", lambda sender, *values: reports.append(values)
    )
    leg, _ = make_leg("video")
    room_sfu.forward(leg, packet(1, 500, 9000, b"\x10\x00\x01\x02", keyframe=True))
    room_sfu.forward(leg, packet(2, 7, 100, b"\x10\x00\x01", keyframe=True))  # a switch
    leg.sender_report(sfu.SenderReport(ssrc=2, ntp_timestamp=1 << 40, rtp_timestamp=100))
    assert reports[-1] == (1 << 40, 9000 + 2970, 2, 7)
    # A report of the old source says nothing about what the leg sends now.
    leg.sender_report(sfu.SenderReport(ssrc=1, ntp_timestamp=5 << 40, rtp_timestamp=9000))
    assert reports[-1][0] == sfu.ntp_from_ms(leg.last_arrival_ms)


class FakeFast:
    """A publisher's connection: keeps the RTCP the SFU sends upstream."""

    def __init__(self) -> None:
        self.rtcp: list[Any] = []

    def send_rtcp(self, data: bytes) -> bool:
        self.rtcp.extend(RtcpPacket.parse(data))
        return True


def make_source(room_sfu: Sfu, monkeypatch: pytest.MonkeyPatch) -> tuple[sfu.Source, FakeFast]:
    codec = SimpleNamespace(mimeType="video/VP8", clockRate=90000)
    monkeypatch.setattr(aiortc_hooks, "receiver_codecs", lambda receiver: {96: codec})
    monkeypatch.setattr(aiortc_hooks, "receiver_rtcp_ssrc", lambda receiver: 0x5EED)
    monkeypatch.setattr(aiortc_hooks, "set_inbound_statistics", lambda *args: None)
    fast = FakeFast()
    transceiver: Any = SimpleNamespace(receiver=SimpleNamespace())
    source = sfu.Source(room_sfu, "consumer", "video", "video", transceiver, [], fast=fast)  # type: ignore[arg-type]
    return source, fast


def rtp(seq: int, payload: bytes = b"\x10\x00\x01") -> bytes:
    packet = RtpPacket(payload_type=96, sequence_number=seq, timestamp=seq * 3000, ssrc=7)
    packet.payload = payload
    return packet.serialize()


async def test_upstream_loss_is_nacked_to_the_publisher(
    room_sfu: Sfu, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, fast = make_source(room_sfu, monkeypatch)
    for seq in (10, 11, 14):
        source.on_rtp(rtp(seq), 1000 + seq)
    [nack] = fast.rtcp
    assert isinstance(nack, RtcpRtpfbPacket) and nack.fmt == RTCP_RTPFB_NACK
    assert (nack.ssrc, nack.media_ssrc, sorted(nack.lost)) == (0x5EED, 7, [12, 13])
    source.on_rtp(rtp(12), 1030)  # resent: no longer missing
    source.on_rtp(rtp(16), 1040)
    assert sorted(fast.rtcp[-1].lost) == [13, 15]
    assert room_sfu.counters.upstream_nacks == 2
    assert source.stats is not None and source.stats.packets_received == 5


async def test_the_recorder_gets_packets_only_while_recording(
    room_sfu: Sfu, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, _ = make_source(room_sfu, monkeypatch)
    pushed: list[tuple[str, int, bytes]] = []
    recorder = SimpleNamespace(
        push=lambda kind, packet, mime, rate, ms: pushed.append(
            (kind, packet.sequence_number, packet.payload)
        )
    )
    source.on_rtp(rtp(1), 1000)
    source.record_to = recorder
    source.on_rtp(rtp(2, b"\x10\x00\x02"), 1033)
    source.record_to = None
    source.on_rtp(rtp(3), 1066)
    assert pushed == [("video", 2, b"\x10\x00\x02")]


async def test_a_keyframe_request_is_a_pli_for_the_publishers_stream(
    room_sfu: Sfu, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, fast = make_source(room_sfu, monkeypatch)
    source.request_keyframe()  # no stream yet: nothing to ask for
    source.on_rtp(rtp(1), 1000)
    source.request_keyframe()
    source.request_keyframe()  # within the interval: not repeated
    plis = [p for p in fast.rtcp if isinstance(p, RtcpPsfbPacket)]
    assert [(p.fmt, p.ssrc, p.media_ssrc) for p in plis] == [(RTCP_PSFB_PLI, 0x5EED, 7)]
