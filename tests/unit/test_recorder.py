"""The recorder's pure logic: reordering, RTP time, depacketizing VP8/H.264/Opus, bitstream headers.

Payloads come from aiortc's own encoders and packetizers (``encoder.encode(frame)``), as a
publisher's ``RTCRtpSender`` would send them.
"""

from __future__ import annotations

import fractions

import av
import numpy as np
import pytest
from aiortc.codecs import get_encoder
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from recordings.rtp import (
    H264Depacketizer,
    OpusDepacketizer,
    ReorderBuffer,
    RtpClock,
    RtpItem,
    Vp8Depacketizer,
    h264_dimensions,
    opus_samples,
    split_annexb,
    unwrap,
)


def item(seq: int, *, ts: int = 0, arrival: int = 0, marker: bool = False, payload: bytes = b"x"):
    return RtpItem(0x1234, seq & 0xFFFF, ts & 0xFFFFFFFF, marker, payload, arrival)


def seqs(released: list[tuple[RtpItem, bool]]) -> list[tuple[int, bool]]:
    return [(i.sequence_number, gap) for i, gap in released]


# -- sequence numbers and time -------------------------------------------------------------------


def test_unwrap_crosses_the_wrap_both_ways() -> None:
    assert unwrap(65535, 2, 16) == 65538
    assert unwrap(65538, 65534, 16) == 65534
    assert unwrap(0, 65535, 16) == -1
    assert unwrap(0xFFFFFF00, 0x10, 32) == 0x100000010
    assert unwrap(0x100000010, 0xFFFFFFF0, 32) == 0xFFFFFFF0


def test_rtp_clock_is_continuous_across_the_32_bit_wrap() -> None:
    clock = RtpClock(90000, 0xFFFFFFFF - 8999, at_ms=1000.0)
    times = [clock.to_ms((0xFFFFFFFF - 8999 + i * 3000) & 0xFFFFFFFF) for i in range(10)]
    assert times == pytest.approx([1000.0 + i * 1000 / 30 for i in range(10)])


def test_reorder_passes_in_order_packets_at_once() -> None:
    buffer = ReorderBuffer()
    out = []
    for seq in range(65533, 65540):  # across the wrap
        out += buffer.push(item(seq, arrival=seq))
    assert seqs(out) == [(s & 0xFFFF, s == 65533) for s in range(65533, 65540)]
    assert buffer.lost == 0


def test_reorder_puts_swapped_packets_back_in_order() -> None:
    buffer = ReorderBuffer()
    out = buffer.push(item(10))
    out += buffer.push(item(12))
    assert seqs(out) == [(10, True)]
    out += buffer.push(item(11))
    out += buffer.push(item(13))
    assert seqs(out) == [(10, True), (11, False), (12, False), (13, False)]
    assert buffer.lost == 0


def test_reorder_gives_up_on_a_lost_packet_after_the_window() -> None:
    buffer = ReorderBuffer(window_ms=200)
    out = buffer.push(item(1, arrival=0))
    out += buffer.push(item(3, arrival=10))
    out += buffer.push(item(4, arrival=100))
    assert seqs(out) == [(1, True)]
    out += buffer.push(item(5, arrival=215))  # 205 ms after packet 3 came: 2 is lost
    assert seqs(out) == [(1, True), (3, True), (4, False), (5, False)]
    assert buffer.lost == 1
    assert buffer.push(item(2, arrival=220)) == []  # too late now
    assert buffer.discarded == 1


def test_reorder_expires_by_time_without_new_packets() -> None:
    buffer = ReorderBuffer(window_ms=200)
    buffer.push(item(1, arrival=0))
    buffer.push(item(3, arrival=10))
    assert buffer.expire(100) == []
    assert seqs(buffer.expire(300)) == [(3, True)]


def test_reorder_bounds_what_it_holds() -> None:
    buffer = ReorderBuffer(window_ms=10_000, max_packets=4)
    buffer.push(item(1))
    out = []
    for seq in range(3, 9):
        out += buffer.push(item(seq))
    assert seqs(out)[0] == (3, True)
    assert buffer.lost == 1


def test_reorder_drops_duplicates_and_follows_a_restarted_counter() -> None:
    buffer = ReorderBuffer()
    buffer.push(item(100))
    assert buffer.push(item(100)) == []
    assert buffer.discarded == 1
    assert seqs(buffer.push(item(40000))) == [(40000, True)]
    assert seqs(buffer.push(item(40001))) == [(40001, False)]


# -- VP8 ---------------------------------------------------------------------------------------


def _noise_frames(count: int, width: int = 640, height: int = 480) -> list[av.VideoFrame]:
    rng = np.random.default_rng(1)
    frames = []
    for i in range(count):
        yuv = rng.integers(0, 255, size=(height * 3 // 2, width), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = i * 3000
        frame.time_base = fractions.Fraction(1, 90000)
        frames.append(frame)
    return frames


def _packetize(mime: str, frames: list[av.VideoFrame], keyframes: set[int] = frozenset()):
    """[(timestamp, [payload, ...]), ...] from aiortc's encoder for ``mime``."""
    encoder = get_encoder(RTCRtpCodecParameters(mimeType=mime, clockRate=90000, payloadType=96))
    out = []
    for i, frame in enumerate(frames):
        payloads, timestamp = encoder.encode(frame, force_keyframe=i in keyframes)
        out.append((timestamp, payloads))
    return out


def _items(encoded, *, skip: set[tuple[int, int]] = frozenset()) -> list[RtpItem]:
    """RTP items for encoded frames; ``(frame, packet)`` pairs in ``skip`` are lost."""
    items = []
    seq = 65000
    for f, (timestamp, payloads) in enumerate(encoded):
        for p, payload in enumerate(payloads):
            if (f, p) not in skip:
                items.append(
                    RtpItem(1, seq & 0xFFFF, timestamp, p == len(payloads) - 1, payload, f * 33)
                )
            seq += 1
    return items


def _run(depacketizer, items: list[RtpItem]):
    buffer = ReorderBuffer()
    frames = []
    for rtp in items:
        for released, gap in buffer.push(rtp):
            frames += depacketizer.push(released, gap)
    for released, gap in buffer.drain():
        frames += depacketizer.push(released, gap)
    return frames


@pytest.fixture(scope="module")
def vp8_encoded():
    return _packetize("video/VP8", _noise_frames(8), keyframes={5})


def test_vp8_frames_are_reassembled_exactly(vp8_encoded) -> None:
    assert all(len(payloads) > 3 for _, payloads in vp8_encoded)  # multi-packet frames
    frames = _run(Vp8Depacketizer(), _items(vp8_encoded))
    assert len(frames) == 8
    for frame, (timestamp, payloads) in zip(frames, vp8_encoded, strict=True):
        assert frame.timestamp == timestamp
        assert frame.data == b"".join(VpxPayloadDescriptor.parse(p)[1] for p in payloads)
    assert [f.keyframe for f in frames] == [True, False, False, False, False, True, False, False]
    assert (frames[0].width, frames[0].height) == (640, 480)
    decoder = av.CodecContext.create("vp8", "r")
    assert sum(len(decoder.decode(av.Packet(f.data))) for f in frames) == 8


def test_vp8_a_lost_packet_drops_frames_until_the_next_keyframe(vp8_encoded) -> None:
    depacketizer = Vp8Depacketizer()
    frames = _run(depacketizer, _items(vp8_encoded, skip={(2, 1)}))
    # Frame 2 is broken, 3 and 4 refer to it; frame 5 is a keyframe.
    assert [
        vp8_encoded.index(next(e for e in vp8_encoded if e[0] == f.timestamp)) for f in frames
    ] == [
        0,
        1,
        5,
        6,
        7,
    ]
    assert depacketizer.dropped_frames == 3


def test_vp8_a_frame_whose_first_packet_is_lost_is_not_emitted(vp8_encoded) -> None:
    frames = _run(Vp8Depacketizer(), _items(vp8_encoded, skip={(0, 0)}))
    assert frames[0].timestamp == vp8_encoded[5][0]


def test_vp8_padding_packets_only_count_for_continuity(vp8_encoded) -> None:
    items = _items(vp8_encoded[:2])
    padded = []
    seq = items[0].sequence_number
    for rtp in items:
        rtp.sequence_number = seq & 0xFFFF
        padded.append(rtp)
        seq += 1
        if rtp.marker:
            padded.append(RtpItem(1, seq & 0xFFFF, rtp.timestamp, False, b"", rtp.arrival_ms))
            seq += 1
    assert len(_run(Vp8Depacketizer(), padded)) == 2


# -- H.264 -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def h264_encoded():
    return _packetize("video/H264", _noise_frames(6), keyframes={4})


def _nal_types(data: bytes) -> list[int]:
    return [nal[0] & 0x1F for nal in split_annexb(data)]


def test_h264_access_units_come_out_as_annex_b(h264_encoded) -> None:
    kinds = {payloads[0][0] & 0x1F for _, payloads in h264_encoded}
    assert {24, 28} <= kinds  # STAP-A (SPS+PPS) and FU-A both exercised
    frames = _run(H264Depacketizer(), _items(h264_encoded))
    assert [f.keyframe for f in frames] == [True, False, False, False, True, False]
    assert _nal_types(frames[0].data)[:2] == [7, 8]
    assert 5 in _nal_types(frames[0].data)
    assert (frames[0].width, frames[0].height) == (640, 480)
    decoder = av.CodecContext.create("h264", "r")
    decoded = []
    for f in frames:
        decoded += decoder.decode(av.Packet(f.data))
    decoded += decoder.decode(None)
    assert len(decoded) == 6


def test_h264_loss_inside_a_fragmented_unit_waits_for_the_keyframe(h264_encoded) -> None:
    depacketizer = H264Depacketizer()
    frames = _run(depacketizer, _items(h264_encoded, skip={(1, 2)}))
    assert [f.timestamp for f in frames] == [h264_encoded[i][0] for i in (0, 4, 5)]
    assert depacketizer.waiting_keyframe is False


def test_h264_a_keyframe_without_parameter_sets_gets_the_last_ones(h264_encoded) -> None:
    # The second keyframe is sent without its STAP-A (SPS and PPS came with the first).
    stripped = []
    for timestamp, payloads in h264_encoded:
        keep = [p for p in payloads if not (timestamp == h264_encoded[4][0] and p[0] & 0x1F == 24)]
        stripped.append((timestamp, keep))
    frames = _run(H264Depacketizer(), _items(stripped))
    assert frames[4].keyframe
    assert any(p[0] & 0x1F == 24 for p in h264_encoded[4][1])
    assert not any(p[0] & 0x1F == 24 for p in stripped[4][1])
    assert _nal_types(frames[4].data)[:2] == [7, 8]


@pytest.mark.parametrize(
    ("width", "height", "profile"),
    [(320, 180, "baseline"), (640, 480, "main"), (1280, 720, "high"), (642, 362, "high444")],
)
def test_h264_dimensions_from_the_sps(width: int, height: int, profile: str) -> None:
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuv444p" if profile == "high444" else "yuv420p"
    codec.time_base = fractions.Fraction(1, 30)
    codec.options = {"profile": profile, "tune": "zerolatency"}
    frame = av.VideoFrame(width, height, codec.pix_fmt)
    data = b"".join(bytes(p) for p in codec.encode(frame)) + b"".join(
        bytes(p) for p in codec.encode(None)
    )
    sps = next(nal for nal in split_annexb(data) if nal[0] & 0x1F == 7)
    assert h264_dimensions(sps) == (width, height)


# -- Opus --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toc", "extra", "samples"),
    [
        (0b01111_0_00, b"", 960),  # config 15: hybrid 20 ms
        (0b11111_1_00, b"", 960),  # CELT 20 ms, stereo
        (0b00011_0_01, b"", 5760),  # SILK 60 ms, two frames
        (0b10000_0_11, bytes([3]), 360),  # CELT 2.5 ms, code 3 with three frames
    ],
)
def test_opus_duration_from_the_table_of_contents(toc: int, extra: bytes, samples: int) -> None:
    assert opus_samples(bytes([toc]) + extra + b"\x00" * 10) == samples


def test_opus_one_packet_is_one_frame() -> None:
    encoder = get_encoder(
        RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
    )
    pcm = np.zeros((1, 960), dtype=np.int16)
    frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
    frame.sample_rate = 48000
    frame.pts = 0
    payloads, _ = encoder.encode(frame)
    depacketizer = OpusDepacketizer()
    frames = depacketizer.push(RtpItem(1, 1, 0, False, payloads[0], 0), True)
    assert [(f.data, f.samples, f.channels, f.keyframe) for f in frames] == [
        (payloads[0], 960, 2, True)
    ]
    assert depacketizer.push(RtpItem(1, 2, 960, False, b"", 20), False) == []
