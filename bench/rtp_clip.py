"""The cheap client's RTP, free of aiortc: the clip packetized once, headers written per send,
received packets counted from their first 12 bytes.

The clip (``bench/media.py``) is cut into RTP payloads once per process
(:func:`packetize_video`): each frame plus the 16-byte latency trailer is split into nearly equal
chunks of at most :data:`MAX_PAYLOAD` bytes (as aiortc's packetizer does), each chunk behind a
4-byte VP8 payload descriptor (RFC 7741 §4.2: X=1, S on the frame's first packet, I=1 with a
15-bit picture id, the id that Chrome and aiortc send). Per send only the RTP header and the
picture id are packed (one ``struct`` call), the send time goes into the trailer of the frame's
last packet, and the result is SRTP-protected and handed to ``sendto``. The equal split keeps
the whole trailer in the last packet (every chunk is at least ``len // n`` ≥ 16 bytes), so a
receiver reads it from the marker packet alone, without reassembling the frame.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field

from bench.media import MAGIC, TRAILER

MAX_PAYLOAD = 1200
"""RTP payload bytes per packet, descriptor included (aiortc's packets are about this size)."""
VP8_DESCRIPTOR = 4
RTP_HEADER = struct.Struct("!BBHII")
"""V/P/X/CC, M/PT, sequence number, timestamp, SSRC (RFC 3550 §5.1), no CSRC, no extension."""
VP8_HEADER = struct.Struct("!BBHIIBBH")
"""The RTP header followed by the VP8 payload descriptor (X|S, I, M|picture id)."""
SEQ_MOD = 1 << 16
TS_MOD = 1 << 32


@dataclass(frozen=True, slots=True)
class VideoFrameChunks:
    """One clip frame as RTP payload chunks without their descriptor; the last chunk lacks the
    trailer's 16 bytes, which are packed at send time."""

    chunks: tuple[bytes, ...]
    keyframe: bool


def split_sizes(length: int, max_chunk: int) -> list[int]:
    """``length`` bytes in the fewest chunks of at most ``max_chunk``, sizes differing by ≤ 1
    (the larger first)."""
    count = max(1, -(-length // max_chunk))
    base, extra = divmod(length, count)
    return [base + (1 if i < extra else 0) for i in range(count)]


def packetize_video(
    frames: list[bytes], keyframes: list[int], max_payload: int = MAX_PAYLOAD
) -> list[VideoFrameChunks]:
    """Cut every clip frame (plus room for the trailer) into payload chunks, once."""
    out = []
    keys = set(keyframes)
    room = max_payload - VP8_DESCRIPTOR
    for index, frame in enumerate(frames):
        sizes = split_sizes(len(frame) + TRAILER.size, room)
        chunks = []
        pos = 0
        for size in sizes:
            chunks.append(frame[pos : pos + size])
            pos += size
        # The last chunk ran past the frame into the trailer's room: it holds the frame's tail
        # only, and the sender appends the trailer (all 16 bytes, see the module docstring).
        assert len(chunks[-1]) == sizes[-1] - TRAILER.size
        out.append(VideoFrameChunks(tuple(chunks), index in keys))
    return out


def vp8_packets(
    frame: VideoFrameChunks,
    *,
    payload_type: int,
    seq: int,
    timestamp: int,
    ssrc: int,
    picture_id: int,
    sender_id: int,
    sent: float,
) -> list[bytes]:
    """The RTP packets (unprotected) of one frame; the last has the marker bit and the trailer."""
    packets = []
    last = len(frame.chunks) - 1
    pid = 0x8000 | (picture_id & 0x7FFF)
    for i, chunk in enumerate(frame.chunks):
        marker = 0x80 if i == last else 0
        header = VP8_HEADER.pack(
            0x80,
            marker | payload_type,
            (seq + i) % SEQ_MOD,
            timestamp,
            ssrc,
            0x90 if i == 0 else 0x80,
            0x80,
            pid,
        )
        if i == last:
            packets.append(header + chunk + TRAILER.pack(MAGIC, sender_id, sent))
        else:
            packets.append(header + chunk)
    return packets


def audio_packet(
    payload: bytes, *, payload_type: int, seq: int, timestamp: int, ssrc: int
) -> bytes:
    """One Opus RTP packet (unprotected); every audio packet is a frame of its own."""
    return RTP_HEADER.pack(0x80, payload_type, seq % SEQ_MOD, timestamp % TS_MOD, ssrc) + payload


KNOWN_PAYLOADS: set[bytes] = set()
"""Every media payload the clip can produce (video chunks without their VP8 descriptor, Opus
packets): a received payload that is not one of them was altered on the way."""


def learn_payloads(video: list[VideoFrameChunks], audio_packets: list[bytes]) -> None:
    """Make the clip's payloads known to this process's receivers (idempotent)."""
    for frame in video:
        KNOWN_PAYLOADS.update(frame.chunks)
    KNOWN_PAYLOADS.update(audio_packets)


def media_body(packet: bytes, kind: str) -> bytes:
    """The media bytes of a decrypted RTP packet as the sender put them in: after the header,
    its CSRCs and header extension (a forwarding server adds its own), after the VP8 payload
    descriptor (a forwarding server rewrites the picture id in it), before padding and, on a
    frame's last packet, before the benchmark's trailer."""
    start = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:
        start += 4 + 4 * ((packet[start + 2] << 8) | packet[start + 3])
    end = len(packet) - (packet[-1] if packet[0] & 0x20 else 0)
    if kind == "video":
        first = packet[start]
        size = 1
        if first & 0x80:
            flags = packet[start + 1]
            size = 2
            if flags & 0x80:  # I: picture id, 7 or 15 bits
                size += 2 if packet[start + size] & 0x80 else 1
            if flags & 0x40:  # L: TL0PICIDX
                size += 1
            if flags & 0x30:  # T or K: TID/KEYIDX
                size += 1
        start += size
        if packet[1] & 0x80:
            end -= TRAILER.size
    return packet[start:end]


@dataclass(eq=False, slots=True)
class RtpCount:
    """What a receiver counted on one SSRC: packets, bytes, frames (marker bits for video,
    every packet for audio), sequence gaps, and the trailer's latency on video frames."""

    kind: str
    packets: int = 0
    bytes: int = 0
    lost: int = 0
    """Sequence numbers skipped (a later packet arrived first; reordering counts as loss)."""
    last_seq: int | None = None
    arrivals: list[float] = field(default_factory=list)
    latencies: list[tuple[float, float]] = field(default_factory=list)
    expected_sender: int = -1
    """Sender id the trailers should name (the track's publisher)."""
    wrong_sender: int = 0
    no_trailer: int = 0
    checked: int = 0
    """Packets whose media bytes were compared with the clip's (when :data:`KNOWN_PAYLOADS`
    is filled)."""
    altered: int = 0
    """Of those, packets whose media bytes are not exactly one of the clip's payloads."""

    def add(self, packet: bytes) -> None:
        """Count one decrypted RTP packet (its header starts at byte 0)."""
        self.packets += 1
        self.bytes += len(packet)
        seq = (packet[2] << 8) | packet[3]
        last = self.last_seq
        if last is not None and seq != (last + 1) % SEQ_MOD:
            ahead = (seq - last) % SEQ_MOD
            if ahead < SEQ_MOD // 2:
                self.lost += ahead - 1
            else:
                return  # late or repeated: not the newest packet, nothing else to count
        self.last_seq = seq
        if KNOWN_PAYLOADS and self.kind in ("audio", "video"):
            self.checked += 1
            if media_body(packet, self.kind) not in KNOWN_PAYLOADS:
                self.altered += 1
        if self.kind == "audio":
            self.arrivals.append(time.perf_counter())
        elif packet[1] & 0x80:
            now = time.perf_counter()
            self.arrivals.append(now)
            end = len(packet) - (packet[-1] if packet[0] & 0x20 else 0)  # minus RTP padding
            start = end - TRAILER.size
            if start >= 12 and packet[start : start + 4] == MAGIC:
                _, sender_id, sent = TRAILER.unpack_from(packet, start)
                self.latencies.append((now, now - sent))
                if sender_id != self.expected_sender:
                    self.wrong_sender += 1
            else:
                self.no_trailer += 1


# -- SDP reading -------------------------------------------------------------------------------


@dataclass
class MediaSection:
    kind: str
    mid: str | None
    payload_types: list[int]
    """In the m-line's order: in an answer, the first is the one both ends use."""
    ssrcs: list[int]
    codecs: dict[int, str]
    """payload type → ``rtpmap`` name (``VP8``, ``opus``, ``rtx``, ...)."""


def media_sections(sdp: str) -> list[MediaSection]:
    sections: list[MediaSection] = []
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            parts = line[2:].split()
            pts = [int(p) for p in parts[3:] if p.isdigit()]
            sections.append(MediaSection(parts[0], None, pts, [], {}))
        elif not sections:
            continue
        elif line.startswith("a=mid:"):
            sections[-1].mid = line[6:]
        elif line.startswith("a=ssrc:"):
            ssrc = int(line[7:].split()[0])
            if ssrc not in sections[-1].ssrcs:
                sections[-1].ssrcs.append(ssrc)
        elif line.startswith("a=rtpmap:"):
            pt, _, rest = line[9:].partition(" ")
            sections[-1].codecs[int(pt)] = rest.split("/")[0]
    return sections


def media_payload_type(section: MediaSection) -> int:
    """The payload type media goes out with: the first non-rtx/red/fec format of an answer."""
    for pt in section.payload_types:
        if section.codecs.get(pt, "").lower() not in ("rtx", "red", "ulpfec", "flexfec-03"):
            return pt
    raise ValueError(f"no media payload type in m-line {section.mid}")
