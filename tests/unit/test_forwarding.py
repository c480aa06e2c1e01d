from rooms.forwarding import (
    LegTimeline,
    h264_is_keyframe_start,
    is_keyframe_start,
    seq_newer,
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
