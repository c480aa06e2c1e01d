"""Pure forwarding logic, free of aiortc: keyframe detection and per-leg RTP renumbering.

A *leg* carries one publisher's stream (audio or video) to one subscriber. The subscriber sees a
single continuous stream on its leg even when the publisher behind it changes (a reload gives a
new SSRC, new random sequence numbers and timestamps): :class:`LegTimeline` maps each incoming
``(ssrc, sequence, timestamp)`` onto the leg's own numbering, and re-bases at every switch so the
subscriber sees no gap (RFC 3550 §5.1 lets both start anywhere, but a jump mid-stream reads as
loss or a clock step).
"""

from __future__ import annotations

from dataclasses import dataclass

SEQ_MOD = 1 << 16
TS_MOD = 1 << 32


def seq_newer(a: int, b: int) -> bool:
    """Whether 16-bit sequence number ``a`` comes after ``b`` (RFC 1982 serial arithmetic)."""
    return a != b and ((a - b) % SEQ_MOD) < SEQ_MOD // 2


def vp8_is_keyframe_start(payload: bytes) -> bool:
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


def h264_is_keyframe_start(payload: bytes) -> bool:
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


def is_keyframe_start(codec_mime: str, payload: bytes) -> bool:
    """Whether a video payload (codec ``video/VP8`` or ``video/H264``) starts a keyframe."""
    mime = codec_mime.lower()
    if mime == "video/vp8":
        return vp8_is_keyframe_start(payload)
    if mime == "video/h264":
        return h264_is_keyframe_start(payload)
    return False


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

    def rebase(self, ssrc: int, seq: int, ts: int, gap_ms: int | None = None) -> None:
        """Make ``(seq, ts)`` of source ``ssrc`` follow straight on from what the leg has sent.

        ``gap_ms``: the real time since the leg's last packet, when the leg resumes after a pause
        (a caucus, a mute), so the timestamps step as far as the clock did.
        """
        self.source_ssrc = ssrc
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
