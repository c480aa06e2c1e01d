"""From RTP packets to encoded frames, for the recorder: reordering, depacketizing, time.

Pure logic, no I/O and no threads: the recorder's worker thread drives it, the unit tests drive it
directly. What comes out is what a container stores: whole VP8 frames (RFC 7741), H.264 access
units in Annex-B (RFC 6184: single NAL unit, STAP-A and FU-A packets), Opus packets (RFC 7587:
one RTP packet is one Opus packet). A frame missing a packet is never emitted: video then waits
for the next keyframe, since every later frame refers to the one that broke.

The payload formats themselves are parsed by aiortc's own code where it has some
(``VpxPayloadDescriptor.parse`` and ``h264_depayload``, aiortc 1.16.0 ``codecs/vpx.py`` and
``codecs/h264.py``); what aiortc does not need as a receiver — where a frame starts after a loss,
keyframe dimensions, the Opus table of contents — is here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from aiortc.codecs.h264 import h264_depayload
from aiortc.codecs.vpx import VpxPayloadDescriptor

RESTART_DISTANCE = 3000
"""A sequence number this far from the expected one is a sender that restarted its counter, not
a reordered packet (at 200 packets/s it would be 15 s late)."""

NAL_IDR, NAL_SEI, NAL_SPS, NAL_PPS, NAL_AUD = 5, 6, 7, 8, 9
NAL_STAP_A, NAL_FU_A = 24, 28


def unwrap(last: int, value: int, bits: int) -> int:
    """Extend the ``bits``-bit wrapping counter ``value`` to the integer nearest ``last``
    (an extended value of the same counter): 65535 then 2 is 65538 for a 16-bit counter."""
    modulus = 1 << bits
    delta = (value - last) % modulus
    if delta >= modulus >> 1:
        delta -= modulus
    return last + delta


@dataclass(slots=True)
class RtpItem:
    """What the recorder keeps of one RTP packet (the SFU may reuse its packet objects)."""

    ssrc: int
    sequence_number: int
    timestamp: int
    marker: bool
    payload: bytes
    arrival_ms: int


@dataclass(slots=True)
class EncodedFrame:
    """One frame as a container stores it."""

    timestamp: int
    """RTP timestamp (32 bits, as sent)."""
    data: bytes
    keyframe: bool
    arrival_ms: int
    """Arrival of the frame's last packet."""
    width: int = 0
    """Picture size, read from a video keyframe (0 otherwise)."""
    height: int = 0
    samples: int = 0
    """Opus: duration in 48 kHz samples, from the packet's table of contents."""
    channels: int = 0
    """Opus: 2 if the packet is coded stereo, else 1."""


class ReorderBuffer:
    """One SSRC's packets back in sequence order; a missing packet is waited for a bounded time.

    :meth:`push` returns the packets that can now go on, in order, each with a flag saying
    whether anything is missing just before it (a loss, or the very first packet).
    """

    def __init__(self, window_ms: int = 200, max_packets: int = 512) -> None:
        self.window_ms = window_ms
        """How long (arrival time) a gap is waited for before the packets after it go on."""
        self.max_packets = max_packets
        self.lost = 0
        """Packets never received (gaps given up on)."""
        self.discarded = 0
        """Duplicates and packets that came after their place was given up."""
        self._next: int | None = None
        self._highest = 0
        self._held: dict[int, RtpItem] = {}
        self._gap = True

    def push(self, item: RtpItem) -> list[tuple[RtpItem, bool]]:
        released: list[tuple[RtpItem, bool]] = []
        if self._next is None:
            ext = self._next = self._highest = item.sequence_number
        else:
            ext = unwrap(self._highest, item.sequence_number, 16)
            if abs(ext - self._next) > RESTART_DISTANCE:
                released = self.drain()
                self._next = self._highest = ext
                self._gap = True
            elif ext < self._next or ext in self._held:
                self.discarded += 1
                return []
        self._held[ext] = item
        self._highest = max(self._highest, ext)
        released += self._release(item.arrival_ms)
        return released

    def expire(self, now_ms: float) -> list[tuple[RtpItem, bool]]:
        """Give up on gaps older than the window (call it when no packet has come for a while)."""
        return self._release(now_ms) if self._held else []

    def drain(self) -> list[tuple[RtpItem, bool]]:
        """Release everything held, giving up on every gap."""
        return self._release(None)

    def _release(self, now_ms: float | None) -> list[tuple[RtpItem, bool]]:
        out: list[tuple[RtpItem, bool]] = []
        held = self._held
        if not held or self._next is None:
            return out
        while True:
            while self._next in held:
                out.append((held.pop(self._next), self._gap))
                self._gap = False
                self._next += 1
            if not held:
                return out
            first = min(held)
            if (
                now_ms is not None
                and len(held) <= self.max_packets
                and now_ms - held[first].arrival_ms < self.window_ms
            ):
                return out
            self.lost += first - self._next
            self._next = first
            self._gap = True


class RtpClock:
    """One stream's RTP timestamps as milliseconds on the recording's time line.

    The stream's first timestamp is placed at ``at_ms``; later ones follow at ``clock_rate``,
    unwrapped past the 32-bit wrap.
    """

    def __init__(self, clock_rate: int, timestamp: int, at_ms: float) -> None:
        self.clock_rate = clock_rate
        self._base = self._last = timestamp
        self._at_ms = at_ms

    def to_ms(self, timestamp: int) -> float:
        self._last = unwrap(self._last, timestamp, 32)
        return self._at_ms + (self._last - self._base) * 1000 / self.clock_rate


class _VideoDepacketizer:
    """Frames are the packets of one timestamp up to the marker bit, with nothing missing."""

    def __init__(self) -> None:
        self.waiting_keyframe = True
        """Nothing is emitted until a keyframe: at the start and after any loss."""
        self.dropped_frames = 0
        """Frames not emitted: incomplete, or not a keyframe while waiting for one."""
        self._timestamp: int | None = None
        self._parts: list[bytes] = []
        self._valid = False
        self._after_gap = True
        self._arrival_ms = 0
        self._broken: int | None = None
        """Timestamp of the frame a loss broke (counted once, not again for its remains)."""

    def reset(self) -> None:
        """The stream restarts (a new SSRC): whatever is half-assembled is lost."""
        self._lose()

    def _lose(self) -> None:
        if self._timestamp is not None:
            self.dropped_frames += 1
            self._broken = self._timestamp
        self._timestamp = None
        self._parts = []
        self.waiting_keyframe = True
        self._after_gap = True

    def push(self, item: RtpItem, gap: bool) -> list[EncodedFrame]:
        out: list[EncodedFrame] = []
        if gap:
            self._lose()
        if not item.payload:
            return out  # padding (bandwidth probing): it only counts for sequence continuity
        if self._timestamp is not None and item.timestamp != self._timestamp:
            # The previous frame ended without its marker bit but nothing is missing.
            out += self._finish(self._arrival_ms)
        if self._timestamp is None:
            self._timestamp = item.timestamp
            self._parts = []
            try:
                self._valid = self._starts_frame(item.payload, self._after_gap)
            except (ValueError, IndexError):
                self._valid = False
            self._after_gap = False
        self._arrival_ms = item.arrival_ms
        if self._valid:
            try:
                self._parts.append(self._depayload(item.payload))
            except (ValueError, IndexError):
                self._valid = False
        if item.marker:
            out += self._finish(item.arrival_ms)
        return out

    def _finish(self, arrival_ms: int) -> list[EncodedFrame]:
        assert self._timestamp is not None
        timestamp, parts, valid = self._timestamp, self._parts, self._valid
        self._timestamp = None
        self._parts = []
        frame = self._frame(timestamp, b"".join(parts), arrival_ms) if valid and parts else None
        if frame is None:
            if timestamp != self._broken:
                self.dropped_frames += 1
            self.waiting_keyframe = True
            return []
        if self.waiting_keyframe and not frame.keyframe:
            self.dropped_frames += 1
            return []
        self.waiting_keyframe = False
        return [frame]

    def _starts_frame(self, payload: bytes, after_gap: bool) -> bool:
        raise NotImplementedError

    def _depayload(self, payload: bytes) -> bytes:
        raise NotImplementedError

    def _frame(self, timestamp: int, data: bytes, arrival_ms: int) -> EncodedFrame | None:
        raise NotImplementedError


class Vp8Depacketizer(_VideoDepacketizer):
    """VP8 (RFC 7741): a frame starts at the packet with S=1 and partition index 0."""

    def _starts_frame(self, payload: bytes, after_gap: bool) -> bool:
        descriptor, _ = VpxPayloadDescriptor.parse(payload)
        return bool(descriptor.partition_start) and descriptor.partition_id == 0

    def _depayload(self, payload: bytes) -> bytes:
        _, data = VpxPayloadDescriptor.parse(payload)
        return data

    def _frame(self, timestamp: int, data: bytes, arrival_ms: int) -> EncodedFrame | None:
        if not data:
            return None
        # RFC 6386 §9.1: bit 0 of the frame tag is 0 for a keyframe, whose header then carries
        # a start code and the 14-bit width and height.
        keyframe = not data[0] & 1
        width = height = 0
        if keyframe:
            if len(data) < 10 or data[3:6] != b"\x9d\x01\x2a":
                return None
            width = int.from_bytes(data[6:8], "little") & 0x3FFF
            height = int.from_bytes(data[8:10], "little") & 0x3FFF
        return EncodedFrame(timestamp, data, keyframe, arrival_ms, width, height)


class H264Depacketizer(_VideoDepacketizer):
    """H.264 (RFC 6184, packetization mode 1); frames come out as Annex-B access units.

    A keyframe (an IDR picture) always comes out with its SPS and PPS: if the sender sent them
    earlier, the last ones seen are put in front, so a file can start at any keyframe.
    """

    def __init__(self) -> None:
        super().__init__()
        self._sps: bytes | None = None
        self._pps: bytes | None = None

    def _starts_frame(self, payload: bytes, after_gap: bool) -> bool:
        if not after_gap:
            return True  # the previous packet ended the previous frame
        # After a loss, only a packet that can begin an access unit will do: parameter sets,
        # SEI, an access unit delimiter, or the first slice of a picture.
        nal_type = payload[0] & 0x1F
        if nal_type == NAL_STAP_A:
            if len(payload) < 4:
                return False
            nal_type, first = payload[3] & 0x1F, payload[4:5]
        elif nal_type == NAL_FU_A:
            if len(payload) < 3 or not payload[1] & 0x80:
                return False
            nal_type, first = payload[1] & 0x1F, payload[2:3]
        else:
            first = payload[1:2]
        if nal_type in (NAL_SEI, NAL_SPS, NAL_PPS, NAL_AUD):
            return True
        # A slice header starts with first_mb_in_slice as ue(v): 0 is the single bit "1".
        return nal_type in (1, NAL_IDR) and bool(first) and bool(first[0] & 0x80)

    def _depayload(self, payload: bytes) -> bytes:
        return h264_depayload(payload)

    def _frame(self, timestamp: int, data: bytes, arrival_ms: int) -> EncodedFrame | None:
        types = set()
        for nal in split_annexb(data):
            nal_type = nal[0] & 0x1F
            types.add(nal_type)
            if nal_type == NAL_SPS:
                self._sps = nal
            elif nal_type == NAL_PPS:
                self._pps = nal
        keyframe = NAL_IDR in types
        width = height = 0
        if keyframe:
            if self._sps is None or self._pps is None:
                return None  # an IDR picture nobody can decode: wait for parameter sets
            if NAL_SPS not in types or NAL_PPS not in types:
                start = b"\x00\x00\x00\x01"
                data = start + self._sps + start + self._pps + data
            try:
                width, height = h264_dimensions(self._sps)
            except (ValueError, IndexError):
                return None
        return EncodedFrame(timestamp, data, keyframe, arrival_ms, width, height)


class OpusDepacketizer:
    """Opus (RFC 7587): one RTP packet is one Opus packet; a loss is a gap, nothing more."""

    waiting_keyframe = False
    dropped_frames = 0

    def reset(self) -> None:
        pass

    def push(self, item: RtpItem, gap: bool) -> list[EncodedFrame]:
        payload = item.payload
        if not payload:
            return []
        samples = opus_samples(payload)
        if not samples:
            return []
        channels = 2 if payload[0] & 0x04 else 1
        return [
            EncodedFrame(
                item.timestamp, payload, True, item.arrival_ms, samples=samples, channels=channels
            )
        ]


Depacketizer = Vp8Depacketizer | H264Depacketizer | OpusDepacketizer


def depacketizer_for(codec: str) -> Depacketizer:
    """A depacketizer for ``"vp8"``, ``"h264"`` or ``"opus"``."""
    if codec == "vp8":
        return Vp8Depacketizer()
    if codec == "h264":
        return H264Depacketizer()
    if codec == "opus":
        return OpusDepacketizer()
    raise ValueError(f"no depacketizer for {codec!r}")


def split_annexb(data: bytes) -> Iterator[bytes]:
    """The NAL units of an Annex-B byte stream, without their start codes."""
    start = data.find(b"\x00\x00\x01")
    while start != -1:
        start += 3
        end = data.find(b"\x00\x00\x01", start)
        nal = data[start:] if end == -1 else data[start:end]
        # A four-byte start code leaves its leading zero at the end of the previous unit
        # (a NAL unit never ends in a zero byte: its RBSP ends with a stop bit).
        nal = nal.rstrip(b"\x00") if end != -1 else nal
        if nal:
            yield nal
        start = end


def opus_samples(packet: bytes) -> int:
    """Duration of an Opus packet in 48 kHz samples, from its table of contents (RFC 6716
    §3.1); 0 if the packet is malformed."""
    toc = packet[0]
    config = toc >> 3
    if config < 12:  # SILK: 10, 20, 40, 60 ms
        size = (480, 960, 1920, 2880)[config & 3]
    elif config < 16:  # hybrid: 10, 20 ms
        size = (480, 960)[config & 1]
    else:  # CELT: 2.5, 5, 10, 20 ms
        size = (120, 240, 480, 960)[config & 3]
    code = toc & 3
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    else:
        count = packet[1] & 0x3F if len(packet) > 1 else 0
    return size * count


class _Bits:
    """A big-endian bit reader with Exp-Golomb codes (H.264 §7.2, §9.1)."""

    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self._left = len(data) * 8

    def u(self, n: int) -> int:
        if n > self._left:
            raise ValueError("SPS is truncated")
        self._left -= n
        return (self._value >> self._left) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad Exp-Golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def h264_dimensions(sps: bytes) -> tuple[int, int]:
    """Width and height of the pictures an SPS NAL unit describes (H.264 §7.3.2.1.1),
    after cropping."""
    rbsp = sps[1:].replace(b"\x00\x00\x03", b"\x00\x00")  # emulation prevention (§7.4.1)
    bits = _Bits(rbsp)
    profile_idc = bits.u(8)
    bits.u(16)  # constraint flags, level_idc
    bits.ue()  # seq_parameter_set_id
    chroma_format_idc = 1
    if profile_idc in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        chroma_format_idc = bits.ue()
        if chroma_format_idc == 3:
            bits.u(1)  # separate_colour_plane_flag
        bits.ue()  # bit_depth_luma_minus8
        bits.ue()  # bit_depth_chroma_minus8
        bits.u(1)  # qpprime_y_zero_transform_bypass_flag
        if bits.u(1):  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format_idc != 3 else 12):
                if bits.u(1):
                    last = following = 8
                    for _ in range(16 if i < 6 else 64):
                        if following:
                            following = (last + bits.se() + 256) % 256
                        last = following or last
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        bits.u(1)  # delta_pic_order_always_zero_flag
        bits.se()  # offset_for_non_ref_pic
        bits.se()  # offset_for_top_to_bottom_field
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.u(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = bits.ue() + 1
    height_units = bits.ue() + 1
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.u(1)  # mb_adaptive_frame_field_flag
    bits.u(1)  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = (2 - frame_mbs_only) * height_units * 16
    if bits.u(1):  # frame_cropping_flag
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        crop_x = 2 if chroma_format_idc in (1, 2) else 1
        crop_y = (2 if chroma_format_idc == 1 else 1) * (2 - frame_mbs_only)
        width -= (left + right) * crop_x
        height -= (top + bottom) * crop_y
    return width, height
