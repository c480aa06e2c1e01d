"""The benchmark's cheap client: the clip cut into RTP once, headers per send, counting."""

from __future__ import annotations

import struct

from bench.media import MAGIC, TRAILER
from bench.rtp_clip import (
    MAX_PAYLOAD,
    RtpCount,
    audio_packet,
    media_payload_type,
    media_sections,
    packetize_video,
    split_sizes,
    vp8_packets,
)


def test_split_sizes_are_even_and_bounded() -> None:
    for length in (1, 16, 1195, 1196, 1197, 5000, 31_337):
        sizes = split_sizes(length, 1196)
        assert sum(sizes) == length
        assert max(sizes) <= 1196
        assert max(sizes) - min(sizes) <= 1
        assert len(sizes) == -(-length // 1196)


def _send(frame: bytes, keyframe: bool, seq: int = 65534) -> list[bytes]:
    chunks = packetize_video([frame], [0] if keyframe else [])[0]
    return vp8_packets(
        chunks,
        payload_type=97,
        seq=seq,
        timestamp=1234,
        ssrc=0xDEADBEEF,
        picture_id=0x7FFF,
        sender_id=42,
        sent=12.5,
    )


def test_packets_carry_the_frame_and_a_whole_trailer_in_the_last() -> None:
    frame = bytes(range(256)) * 20 + b"\x01\x02\x03"  # 5123 bytes: 5 packets
    packets = _send(frame, keyframe=True)
    assert len(packets) == 5
    assert all(len(p) - 12 <= MAX_PAYLOAD for p in packets)
    body = b""
    for i, packet in enumerate(packets):
        b0, b1, seq, ts, ssrc = struct.unpack_from("!BBHII", packet)
        assert b0 == 0x80 and ts == 1234 and ssrc == 0xDEADBEEF
        assert b1 == (0x80 | 97 if i == len(packets) - 1 else 97)  # marker on the last only
        assert seq == (65534 + i) % 65536  # wraps
        descriptor = packet[12:16]
        assert descriptor == bytes([0x90 if i == 0 else 0x80, 0x80, 0xFF, 0xFF])
        body += packet[16:]
    assert body[: len(frame)] == frame
    magic, sender_id, sent = TRAILER.unpack(body[len(frame) :])
    assert (magic, sender_id, sent) == (MAGIC, 42, 12.5)
    assert len(packets[-1]) - 16 >= TRAILER.size


def test_a_tiny_frame_is_one_packet() -> None:
    packets = _send(b"\x00" * 10, keyframe=False)
    assert len(packets) == 1
    assert packets[0][1] & 0x80
    assert len(packets[0]) == 12 + 4 + 10 + TRAILER.size


def test_counting_frames_gaps_and_the_trailer() -> None:
    count = RtpCount("video", expected_sender=42)
    frame = bytes(3000)
    first = _send(frame, keyframe=True, seq=100)
    second = _send(frame, keyframe=False, seq=100 + len(first))
    for packet in first:
        count.add(packet)
    for packet in second[1:]:  # the second frame's first packet is lost
        count.add(packet)
    count.add(first[0])  # a late repeat: counted as a packet, nothing else
    assert count.packets == len(first) + len(second)
    assert len(count.arrivals) == 2
    assert count.lost == 1
    assert len(count.latencies) == 2 and count.wrong_sender == 0
    other = RtpCount("video", expected_sender=7)
    other.add(first[-1])
    assert other.wrong_sender == 1


def test_audio_packets_are_frames() -> None:
    count = RtpCount("audio")
    for n in range(3):
        count.add(audio_packet(b"opus", payload_type=111, seq=n, timestamp=960 * n, ssrc=5))
    assert count.packets == 3 and len(count.arrivals) == 3 and count.lost == 0


SDP = """v=0
o=- 1 1 IN IP4 0.0.0.0
s=-
t=0 0
m=audio 9 UDP/TLS/RTP/SAVPF 111
a=mid:0
a=rtpmap:111 opus/48000/2
a=ssrc:1111 cname:x
m=video 9 UDP/TLS/RTP/SAVPF 98 97
a=mid:1
a=rtpmap:97 VP8/90000
a=rtpmap:98 rtx/90000
a=ssrc-group:FID 2222 3333
a=ssrc:2222 cname:x
a=ssrc:3333 cname:x
"""


def test_sdp_sections_give_ssrcs_and_the_media_payload_type() -> None:
    audio, video = media_sections(SDP)
    assert (audio.kind, audio.mid, audio.ssrcs) == ("audio", "0", [1111])
    assert (video.kind, video.mid, video.ssrcs) == ("video", "1", [2222, 3333])
    assert media_payload_type(audio) == 111
    assert media_payload_type(video) == 97  # rtx is skipped


def test_the_aiortc_receiver_counts_a_frame_that_is_not_the_clips_as_altered() -> None:
    from types import SimpleNamespace

    from bench.client import RECEIVERS, CountingQueue, TrackStats

    clip = [b"\x10\x02\x00frame-one" * 20, b"\x30\x01\x00frame-two" * 20]
    RECEIVERS.clip_frames = frozenset(clip)
    try:
        stats = TrackStats(subscriber="r/a", publisher="r/b", kind="video", publisher_sender_id=7)
        queue = CountingQueue(stats, {})
        for body in (clip[0], clip[1], clip[1][:-1] + b"X"):
            frame = SimpleNamespace(data=body + TRAILER.pack(MAGIC, 7, 0.0))
            queue.put((None, frame))
        assert (stats.altered, stats.wrong_sender, len(stats.arrivals)) == (1, 0, 3)
    finally:
        RECEIVERS.clear()


def test_a_cheap_receiver_checks_every_payload_against_the_clip() -> None:
    from bench import rtp_clip

    frame = bytes(range(256)) * 10
    video = packetize_video([frame], [0])
    opus = [b"\xfc" + bytes(range(60))]
    rtp_clip.learn_payloads(video, opus)
    try:
        packets = _send(frame, keyframe=True)
        # As a forwarding server sends them: a one-byte header extension added (X bit), the
        # picture id rewritten in the same width.
        forwarded = []
        for packet in packets:
            ext = b"\xbe\xde\x00\x01" + b"\x10\x07\x00\x00"
            descriptor = packet[12:14] + b"\x81\x23"
            forwarded.append(
                bytes([packet[0] | 0x10]) + packet[1:12] + ext + descriptor + packet[16:]
            )
        count = RtpCount("video", expected_sender=42)
        for packet in forwarded:
            count.add(packet)
        assert (count.checked, count.altered, count.wrong_sender) == (len(packets), 0, 0)
        # One flipped byte in the middle of a frame is caught.
        bad = bytearray(forwarded[0])
        bad[30] ^= 0xFF
        bad[2:4] = ((((bad[2] << 8) | bad[3]) + len(packets)) % 65536).to_bytes(2, "big")
        count.add(bytes(bad))
        assert count.altered == 1
        audio = RtpCount("audio")
        audio.add(audio_packet(opus[0], payload_type=111, seq=1, timestamp=0, ssrc=5))
        audio.add(audio_packet(opus[0][:-1] + b"x", payload_type=111, seq=2, timestamp=0, ssrc=5))
        assert (audio.checked, audio.altered) == (2, 1)
    finally:
        rtp_clip.KNOWN_PAYLOADS.clear()
