from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from rooms.forwarding import (
    InboundStats,
    LegTimeline,
    find_one_byte_extension,
    h264_is_keyframe_start,
    is_keyframe_start,
    one_byte_extensions,
    parse_rtp,
    rewrite_vp8_picture_id,
    seq_newer,
    vp8_descriptor,
    vp8_is_keyframe_start,
)


def vp8(first: int, *rest: int, keyframe: bool) -> bytes:
    header = 0x10 if keyframe else 0x11  # VP8 payload header: P bit clear for a keyframe
    return bytes([first, *rest, header, 0, 0])


def test_vp8_keyframe_start_without_extensions() -> None:
    assert vp8_is_keyframe_start(vp8(0x10, keyframe=True))
    assert not vp8_is_keyframe_start(vp8(0x10, keyframe=False))


def test_vp8_continuation_packet_is_not_a_start() -> None:
    assert not vp8_is_keyframe_start(vp8(0x00, keyframe=True))  # S bit clear
    assert not vp8_is_keyframe_start(vp8(0x11, keyframe=True))  # partition 1


def test_vp8_with_15_bit_picture_id_tl0_and_keyidx() -> None:
    # X=1; I, L, T set; picture id with M bit (two bytes); TL0PICIDX; TID byte.
    assert vp8_is_keyframe_start(vp8(0x90, 0xE0, 0x80 | 0x12, 0x34, 0x07, 0x20, keyframe=True))
    assert not vp8_is_keyframe_start(vp8(0x90, 0xE0, 0x92, 0x34, 0x07, 0x20, keyframe=False))


def test_vp8_with_7_bit_picture_id() -> None:
    assert vp8_is_keyframe_start(vp8(0x90, 0x80, 0x12, keyframe=True))


def test_vp8_truncated_payloads_are_not_keyframes() -> None:
    for payload in (b"", b"\x90", b"\x90\x80", b"\x90\x80\x92"):
        assert not vp8_is_keyframe_start(payload)


def test_h264_idr_sps_stap_and_fu() -> None:
    assert h264_is_keyframe_start(bytes([0x65, 0]))  # IDR
    assert h264_is_keyframe_start(bytes([0x67, 0]))  # SPS
    assert not h264_is_keyframe_start(bytes([0x41, 0]))  # non-IDR slice
    stap = bytes([0x78, 0, 2, 0x67, 0, 0, 2, 0x68, 0])
    assert h264_is_keyframe_start(stap)
    assert h264_is_keyframe_start(bytes([0x7C, 0x85, 0]))  # FU-A start of an IDR
    assert not h264_is_keyframe_start(bytes([0x7C, 0x05, 0]))  # FU-A middle
    assert not h264_is_keyframe_start(bytes([0x7C, 0x81, 0]))  # FU-A start of non-IDR


def test_dispatch_by_codec() -> None:
    assert is_keyframe_start("video/VP8", vp8(0x10, keyframe=True))
    assert is_keyframe_start("video/H264", bytes([0x65]))
    assert not is_keyframe_start("audio/opus", b"\x10\x00")


def test_seq_newer_wraps() -> None:
    assert seq_newer(1, 0)
    assert seq_newer(0, 65535)
    assert not seq_newer(65535, 0)
    assert not seq_newer(5, 5)


def test_first_source_keeps_its_numbering() -> None:
    timeline = LegTimeline(clock_rate=90000)
    timeline.rebase(ssrc=1, seq=1000, ts=5000)
    assert timeline.map(1000, 5000) == (1000, 5000)
    assert timeline.map(1001, 8000) == (1001, 8000)


def test_switch_continues_sequence_and_steps_timestamp() -> None:
    timeline = LegTimeline(clock_rate=90000, switch_gap_ms=33)
    timeline.rebase(ssrc=1, seq=65534, ts=4_294_967_000)
    timeline.map(65534, 4_294_967_000)
    assert timeline.map(65535, 4_294_967_200) == (65535, 4_294_967_200)
    timeline.rebase(ssrc=2, seq=17, ts=123)
    seq, ts = timeline.map(17, 123)
    assert seq == 0  # 65535 + 1, wrapped
    assert ts == (4_294_967_200 + 2970) % (1 << 32)
    assert timeline.map(18, 3123) == (1, (ts + 3000) % (1 << 32))


def test_late_packet_maps_consistently_and_does_not_move_the_high_mark() -> None:
    timeline = LegTimeline(clock_rate=48000)
    timeline.rebase(ssrc=1, seq=10, ts=0)
    timeline.map(10, 0)
    timeline.map(12, 1920)
    assert timeline.map(11, 960) == (11, 960)  # a retransmission arriving late
    assert timeline.last_seq == 12


def test_vp8_descriptor_reads_the_picture_id_in_both_widths() -> None:
    long_id = vp8_descriptor(vp8(0x90, 0x80, 0x80 | 0x12, 0x34, keyframe=True))
    assert (long_id.keyframe_start, long_id.picture_id, long_id.picture_id_bits) == (
        True,
        0x1234,
        15,
    )
    short_id = vp8_descriptor(vp8(0x80, 0x80, 0x12, keyframe=False))
    assert (short_id.keyframe_start, short_id.picture_id, short_id.picture_id_bits) == (
        False,
        0x12,
        7,
    )
    assert vp8_descriptor(vp8(0x10, keyframe=True)).picture_id is None
    for payload in (b"", b"\x90", b"\x90\x80", b"\x90\x80\x92"):
        assert vp8_descriptor(payload) == vp8_descriptor(payload)  # no exception
        assert not vp8_descriptor(payload).keyframe_start


def test_vp8_picture_id_rewrite_keeps_the_width_and_the_rest() -> None:
    payload = vp8(0x90, 0x80, 0x80 | 0x12, 0x34, keyframe=True) + b"rest"
    rewritten = rewrite_vp8_picture_id(payload, vp8_descriptor(payload), 0x7FFF)
    assert vp8_descriptor(rewritten).picture_id == 0x7FFF
    assert rewritten[4:] == payload[4:] and rewritten[:2] == payload[:2]


def test_picture_ids_continue_across_a_switch() -> None:
    timeline = LegTimeline(clock_rate=90000)
    timeline.rebase(ssrc=1, seq=10, ts=0, picture_id=500)
    assert timeline.map_picture_id(500, 15) == 500
    assert timeline.map_picture_id(501, 15) == 501
    timeline.rebase(ssrc=2, seq=99, ts=7, picture_id=32767)
    assert timeline.map_picture_id(32767, 15) == 502
    assert timeline.map_picture_id(0, 15) == 503  # the publisher's id wrapped


def _extensions() -> HeaderExtensionsMap:
    ext = HeaderExtensionsMap()
    ext.configure(
        RTCRtpParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
                RTCRtpHeaderExtensionParameters(
                    id=2, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level"
                ),
            ]
        )
    )
    return ext


def test_parse_rtp_skips_csrcs_extensions_and_padding() -> None:
    packet = RtpPacket(payload_type=111, marker=1, sequence_number=7, timestamp=960, ssrc=42)
    packet.csrc = [5, 6]
    packet.extensions.mid = "0"
    packet.extensions.audio_level = (True, 30)
    packet.payload = b"opus-data"
    packet.padding_size = 3
    data = packet.serialize(_extensions())
    parsed = parse_rtp(data, 1234, audio_level_id=2)
    assert parsed is not None
    assert (parsed.payload_type, parsed.marker, parsed.seq, parsed.ts, parsed.ssrc) == (
        111,
        True,
        7,
        960,
        42,
    )
    assert bytes(parsed.payload) == b"opus-data"
    assert parsed.ext_value == bytes([0x80 | 30])  # the V flag and the level, as sent
    assert parse_rtp(data[:11], 0) is None
    assert parse_rtp(b"\x00" * 12, 0) is None  # not RTP version 2


def test_one_byte_extensions_round_trip() -> None:
    block = one_byte_extensions([(1, b"12"), (3, b"\x01\x02\x03")])
    assert len(block) % 4 == 0 and block[:2] == b"\xbe\xde"
    assert find_one_byte_extension(block, 4, len(block), 3) == b"\x01\x02\x03"
    assert find_one_byte_extension(block, 4, len(block), 1) == b"12"
    assert find_one_byte_extension(block, 4, len(block), 2) is None


def test_inbound_stats_count_loss_jitter_and_what_is_missing() -> None:
    stats = InboundStats(clockrate=90000, track_missing=True)
    assert not stats.add(65534, 0, 1000)
    assert not stats.add(65535, 3000, 1033)
    assert stats.add(2, 9000, 1100)  # 0 and 1 lost, across the wrap
    assert stats.missing == {0, 1}
    assert not stats.add(0, 6000, 1120)  # a retransmission fills one hole
    assert stats.missing == {1}
    assert stats.packets_expected == 5 and stats.packets_received == 4
    assert stats.packets_lost == 1
    assert stats.fraction_lost == 256 // 5
    assert stats.fraction_lost == 0  # per interval: nothing new since
    assert stats.max_seq == 2 and stats.cycles == 1 << 16
    assert stats.jitter >= 0
