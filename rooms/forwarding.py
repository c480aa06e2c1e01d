"""Pure forwarding logic, free of aiortc: keyframe detection and per-leg RTP renumbering.

A *leg* carries one publisher's stream (audio or video) to one subscriber. The subscriber sees a
single continuous stream on its leg even when the publisher behind it changes (a reload gives a
new SSRC, new random sequence numbers and timestamps): :class:`LegTimeline` maps each incoming
``(ssrc, sequence, timestamp)`` onto the leg's own numbering, and re-bases at every switch so the
subscriber sees no gap (RFC 3550 §5.1 lets both start anywhere, but a jump mid-stream reads as
loss or a clock step).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

SEQ_MOD = 1 << 16
TS_MOD = 1 << 32
PICTURE_ID_MOD = 1 << 15


def seq_newer(a: int, b: int) -> bool:
    """Whether 16-bit sequence number ``a`` comes after ``b`` (RFC 1982 serial arithmetic)."""
    return a != b and ((a - b) % SEQ_MOD) < SEQ_MOD // 2


def vp8_is_keyframe_start(payload: bytes | memoryview) -> bool:
    """Whether an RTP VP8 payload starts a keyframe (RFC 7741 §4.2 descriptor, §4.3 header)."""
    if len(payload) < 1:
        return False
    first = payload[0]
    start = first & 0x10
    partition = first & 0x07
    if not start or partition != 0:
        return False
    pos = 1
    if first & 0x80:  # X: extension byte follows
        if len(payload) <= pos:
            return False
        ext = payload[pos]
        pos += 1
        if ext & 0x80:  # I: picture id, 7 or 15 bits
            if len(payload) <= pos:
                return False
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K: TID/Y/KEYIDX byte
            pos += 1
    if len(payload) <= pos:
        return False
    # VP8 payload header: the P bit (lowest of the first byte) is 0 for a keyframe.
    return (payload[pos] & 0x01) == 0


_H264_IDR = 5
_H264_SPS = 7
_H264_STAP_A = 24
_H264_FU_A = 28


def h264_is_keyframe_start(payload: bytes | memoryview) -> bool:
    """Whether an RTP H.264 payload (RFC 6184) starts an IDR picture or carries an SPS."""
    if len(payload) < 1:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type in (_H264_IDR, _H264_SPS):
        return True
    if nal_type == _H264_STAP_A:
        pos = 1
        while pos + 2 < len(payload):
            size = int.from_bytes(payload[pos : pos + 2], "big")
            pos += 2
            if pos < len(payload) and (payload[pos] & 0x1F) in (_H264_IDR, _H264_SPS):
                return True
            pos += size
        return False
    if nal_type == _H264_FU_A and len(payload) >= 2:
        fu_header = payload[1]
        return bool(fu_header & 0x80) and (fu_header & 0x1F) in (_H264_IDR, _H264_SPS)
    return False


def is_keyframe_start(codec_mime: str, payload: bytes | memoryview) -> bool:
    """Whether a video payload (codec ``video/VP8`` or ``video/H264``) starts a keyframe."""
    mime = codec_mime.lower()
    if mime == "video/vp8":
        return vp8_is_keyframe_start(payload)
    if mime == "video/h264":
        return h264_is_keyframe_start(payload)
    return False


@dataclass(frozen=True, slots=True)
class Vp8Descriptor:
    """What the forwarding path needs from a VP8 payload descriptor (RFC 7741 §4.2)."""

    keyframe_start: bool
    picture_id: int | None
    """The picture id, or ``None`` when the descriptor carries none."""
    picture_id_offset: int = 0
    """Offset of the picture id's first byte in the payload."""
    picture_id_bits: int = 0
    """7 or 15."""


def vp8_descriptor(payload: bytes | memoryview) -> Vp8Descriptor:
    """The keyframe flag and picture id of one RTP VP8 payload."""
    size = len(payload)
    if size < 1:
        return Vp8Descriptor(False, None)
    first = payload[0]
    pos = 1
    picture_id: int | None = None
    id_pos = id_bits = 0
    if first & 0x80:  # X: extension byte follows
        if size <= pos:
            return Vp8Descriptor(False, None)
        ext = payload[pos]
        pos += 1
        if ext & 0x80:  # I: picture id, 7 or 15 bits
            if size <= pos:
                return Vp8Descriptor(False, None)
            id_pos = pos
            if payload[pos] & 0x80:
                if size <= pos + 1:
                    return Vp8Descriptor(False, None)
                picture_id = ((payload[pos] & 0x7F) << 8) | payload[pos + 1]
                id_bits = 15
                pos += 2
            else:
                picture_id = payload[pos]
                id_bits = 7
                pos += 1
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K: TID/Y/KEYIDX byte
            pos += 1
    keyframe = bool(first & 0x10) and (first & 0x07) == 0 and size > pos and not payload[pos] & 1
    return Vp8Descriptor(keyframe, picture_id, id_pos, id_bits)


def rewrite_vp8_picture_id(
    payload: bytes | memoryview, descriptor: Vp8Descriptor, value: int
) -> bytes:
    """``payload`` with its picture id replaced by ``value`` (kept in the same width)."""
    out = bytearray(payload)
    pos = descriptor.picture_id_offset
    if descriptor.picture_id_bits == 15:
        out[pos] = 0x80 | ((value >> 8) & 0x7F)
        out[pos + 1] = value & 0xFF
    else:
        out[pos] = value & 0x7F
    return bytes(out)


_EXTENSION_HEADER = struct.Struct("!HH")


def one_byte_extensions(elements: list[tuple[int, bytes]]) -> bytes:
    """An RTP header extension block in the one-byte form (RFC 8285 §4.2), padded to 32 bits."""
    body = b"".join(bytes([(ext_id << 4) | (len(value) - 1)]) + value for ext_id, value in elements)
    body += b"\x00" * (-len(body) % 4)
    return _EXTENSION_HEADER.pack(0xBEDE, len(body) // 4) + body


def find_one_byte_extension(data: bytes, start: int, end: int, wanted: int) -> bytes | None:
    """The value of extension ``wanted`` in the one-byte elements ``data[start:end]``."""
    pos = start
    while pos < end:
        head = data[pos]
        if head == 0:  # padding
            pos += 1
            continue
        ext_id = head >> 4
        if ext_id == 15:  # reserved: stop parsing (RFC 8285 §4.2)
            return None
        length = (head & 0x0F) + 1
        if ext_id == wanted:
            return data[pos + 1 : pos + 1 + length]
        pos += 1 + length
    return None


@dataclass(slots=True)
class InboundStats:
    """Reception statistics of one publisher stream, as RTCP receiver reports need them
    (RFC 3550 §6.4.1, appendix A.3 and A.8), and the sequence numbers still missing (for NACKs).

    Shaped like aiortc's ``StreamStatistics`` (``packets_received``, ``max_seq``,
    ``fraction_lost``, ``packets_lost``, ``jitter``) so aiortc's receiver reports read it.
    """

    clockrate: int
    track_missing: bool = False
    """Keep the set of missing sequence numbers (video: the server NACKs upstream loss)."""
    base_seq: int | None = None
    max_seq: int | None = None
    cycles: int = 0
    packets_received: int = 0
    missing: set[int] = field(default_factory=set)
    _jitter_q4: int = 0
    _last_transit: int | None = None
    _expected_prior: int = 0
    _received_prior: int = 0

    def add(self, seq: int, timestamp: int, arrival_ms: int) -> bool:
        """Count one packet; return True when it revealed new missing packets."""
        self.packets_received += 1
        max_seq = self.max_seq
        if max_seq is None:
            self.base_seq = self.max_seq = seq
            self._last_transit = arrival_ms * self.clockrate // 1000 - timestamp
            return False
        delta = (seq - max_seq) % SEQ_MOD
        if delta == 0 or delta >= SEQ_MOD // 2:  # a duplicate, a late or a resent packet
            if self.missing:
                self.missing.discard(seq)
            return False
        if seq < max_seq:
            self.cycles += SEQ_MOD
        self.max_seq = seq
        transit = arrival_ms * self.clockrate // 1000 - timestamp
        if self._last_transit is not None:
            d = abs(transit - self._last_transit)
            self._jitter_q4 += d - ((self._jitter_q4 + 8) >> 4)
        self._last_transit = transit
        if delta == 1 or not self.track_missing:
            return False
        for i in range(1, min(delta, 256)):
            self.missing.add((max_seq + i) % SEQ_MOD)
        oldest = (seq - 512) % SEQ_MOD
        for old in [m for m in self.missing if not seq_newer(m, oldest)]:
            self.missing.discard(old)
        return True

    @property
    def fraction_lost(self) -> int:
        """Lost since the last call, in 1/256 (each receiver report reads it once)."""
        expected_interval = self.packets_expected - self._expected_prior
        self._expected_prior = self.packets_expected
        received_interval = self.packets_received - self._received_prior
        self._received_prior = self.packets_received
        lost_interval = expected_interval - received_interval
        if expected_interval <= 0 or lost_interval <= 0:
            return 0
        return (lost_interval << 8) // expected_interval

    @property
    def jitter(self) -> int:
        return self._jitter_q4 >> 4

    @property
    def packets_expected(self) -> int:
        if self.max_seq is None or self.base_seq is None:
            return 0
        return self.cycles + self.max_seq - self.base_seq + 1

    @property
    def packets_lost(self) -> int:
        # RFC 3550 §6.4.1: a signed 24-bit field.
        return max(-0x800000, min(0x7FFFFF, self.packets_expected - self.packets_received))


@dataclass(slots=True)
class LegTimeline:
    """Maps a publisher's RTP numbering onto one leg's continuous numbering."""

    clock_rate: int
    """RTP clock of the codec (90 000 for video, 48 000 for Opus)."""
    switch_gap_ms: int = 33
    """Timestamp step put between the last packet of an old source and the first of a new one."""
    source_ssrc: int | None = None
    seq_offset: int = 0
    ts_offset: int = 0
    last_seq: int | None = None
    """Highest sequence number sent on the leg so far."""
    last_ts: int = 0
    """Timestamp of the packet that carried ``last_seq``."""
    picture_id_offset: int = 0
    """Added to the VP8 picture id (mod 2**15) so a decoder sees pictures follow on."""
    last_picture_id: int | None = None

    def rebase(
        self,
        ssrc: int,
        seq: int,
        ts: int,
        gap_ms: int | None = None,
        picture_id: int | None = None,
    ) -> None:
        """Make ``(seq, ts)`` of source ``ssrc`` follow straight on from what the leg has sent.

        ``gap_ms``: the real time since the leg's last packet, when the leg resumes after a pause
        (a caucus, a mute), so the timestamps step as far as the clock did. ``picture_id``: the
        VP8 picture id of the packet, numbered on from the leg's last one likewise.
        """
        self.source_ssrc = ssrc
        if picture_id is not None and self.last_picture_id is not None:
            self.picture_id_offset = (self.last_picture_id + 1 - picture_id) % PICTURE_ID_MOD
        elif picture_id is not None:
            self.picture_id_offset = 0
        if self.last_seq is None:
            self.seq_offset = 0
            self.ts_offset = 0
            return
        step_ms = max(self.switch_gap_ms, gap_ms or 0)
        next_seq = (self.last_seq + 1) % SEQ_MOD
        next_ts = (self.last_ts + self.clock_rate * step_ms // 1000) % TS_MOD
        self.seq_offset = (next_seq - seq) % SEQ_MOD
        self.ts_offset = (next_ts - ts) % TS_MOD

    def map(self, seq: int, ts: int) -> tuple[int, int]:
        """The leg's ``(sequence, timestamp)`` for an incoming packet of the current source."""
        out_seq = (seq + self.seq_offset) % SEQ_MOD
        out_ts = (ts + self.ts_offset) % TS_MOD
        if self.last_seq is None or seq_newer(out_seq, self.last_seq):
            self.last_seq = out_seq
            self.last_ts = out_ts
        return out_seq, out_ts

    def map_picture_id(self, picture_id: int, bits: int) -> int:
        """The leg's VP8 picture id for an incoming one of ``bits`` (7 or 15) bits."""
        out = (picture_id + self.picture_id_offset) % (1 << bits)
        last = self.last_picture_id
        # Serial comparison in 15 bits (a 7-bit id wraps often; keep the newest seen).
        if last is None or (out - last) % PICTURE_ID_MOD < PICTURE_ID_MOD // 2:
            self.last_picture_id = out
        return out


@dataclass(slots=True)
class ForwardingCounters:
    """Running totals of a server's media path, read by the metrics exporter at scrape time.

    Plain ints bumped on the hot path (no lock: one event loop owns them, a scrape only reads).
    They only ever grow, so rooms and legs that come and go never make a counter step back.
    """

    received_packets: int = 0
    received_bytes: int = 0
    """RTP payload bytes received from publishers."""
    forwarded_packets: int = 0
    forwarded_bytes: int = 0
    """Bytes of serialized RTP handed to the subscribers' transports (before SRTP)."""
    dropped_packets: int = 0
    keyframe_requests: int = 0
    """PLIs sent to publishers (after rate limiting)."""
    recorded_bytes: int = 0
    """RTP payload bytes handed to the recorders."""
    reconnects: int = 0
    """Peer connections made for a participant this room had connected before."""
    retransmitted_packets: int = 0
    """Packets sent again to a subscriber that asked for them (RTCP NACK, RFC 4585 §6.2.1)."""
    upstream_nacks: int = 0
    """NACKs sent to publishers for packets lost on their way to the server."""
    remb_received: int = 0
    """Bandwidth estimates (REMB) received from subscribers."""
    remb_sent: int = 0
    """Bitrate requests (REMB) sent to publishers."""


_FIXED_HEADER = struct.Struct("!BBHII")


@dataclass(slots=True)
class RtpIn:
    """One decrypted RTP packet from a publisher, read just far enough to forward it."""

    data: bytes
    header_size: int
    """Where the payload starts (after CSRCs and header extensions)."""
    end: int
    """Where the payload ends (before any padding, RFC 3550 §5.1)."""
    payload_type: int
    marker: bool
    seq: int
    ts: int
    ssrc: int
    arrival_ms: int
    payload: memoryview
    ext_value: bytes | None = None
    """The value the legs put in their per-packet header extension: abs-send-time (video,
    restamped) or the publisher's audio level (audio)."""
    keyframe: bool = False
    vp8: Vp8Descriptor | None = None


def parse_rtp(data: bytes, arrival_ms: int, audio_level_id: int = 0) -> RtpIn | None:
    """Read an RTP packet's fixed header (RFC 3550 §5.1), skip its CSRCs and extensions; with
    ``audio_level_id``, take that one-byte extension's value (RFC 6464). ``None`` if malformed."""
    size = len(data)
    if size < 12:
        return None
    first, second, seq, ts, ssrc = _FIXED_HEADER.unpack_from(data)
    if first >> 6 != 2:
        return None
    pos = 12 + 4 * (first & 0x0F)
    level = None
    if first & 0x10:
        if size < pos + 4:
            return None
        profile, words = _EXTENSION_HEADER.unpack_from(data, pos)
        start = pos + 4
        pos = start + 4 * words
        if audio_level_id and profile == 0xBEDE and pos <= size:
            level = find_one_byte_extension(data, start, pos, audio_level_id)
    end = size - data[-1] if first & 0x20 else size
    if pos > end:
        return None
    payload = memoryview(data)[pos:end]
    marker = bool(second & 0x80)
    return RtpIn(data, pos, end, second & 0x7F, marker, seq, ts, ssrc, arrival_ms, payload, level)
