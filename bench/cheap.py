"""Cheap benchmark participants: aiortc does the handshake, the media is done by hand.

A full aiortc peer costs ~0.2 cores per three-party room on the client side (per-packet
coroutines, jitter buffer, NACK/REMB bookkeeping), so the 2-core machine the server is measured
on could not load it. A *cheap* peer keeps everything a server sees of a real one — Socket.IO or
Janus signaling, an aiortc ``RTCPeerConnection`` with real ICE, DTLS and SRTP keys, the same SDP
(its senders hold a :class:`SilentTrack`, so aiortc announces their SSRCs and answers RTCP, but
never sends RTP itself) — and then, once DTLS is up, takes the media into its own hands:

- **send**: :class:`ClipStreamer` loops the pre-packetized clip (``bench/rtp_clip.py``): per
  packet one ``struct.pack`` of header + VP8 descriptor, the SRTP ``protect`` of the peer
  connection's own DTLS-derived session, and ``sendto`` on the nominated ICE pair's socket; a
  frame's packets go out together, as aiortc's sender sends them. A PLI/FIR reaching the aiortc
  sender (RTCP still goes through aiortc) makes the next frame the clip's next keyframe.
- **receive**: the ICE socket's ``datagram_received`` hands SRTP (not RTCP) datagrams straight
  to :class:`CheapPeer` — no STUN parse, no queue, no coroutine — which unprotects and counts
  them per SSRC (:class:`bench.rtp_clip.RtpCount`). STUN (consent checks), DTLS and RTCP still
  go to aioice/aiortc. Until DTLS is up the hook sits one level higher, on the DTLS transport's
  ``_handle_rtp_data``, so the first packets are counted too.

No jitter buffer, no NACK, no receiver reports, no REMB leave these receivers; on loopback or
a veth pair nothing is lost, so nothing is missed. Private names of the pinned aiortc 1.16.0 /
aioice 0.13 (the same ones ``rooms/aiortc_hooks.py`` relies on) are used here.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aioice.ice
import aiortc.rtcrtpreceiver
import pylibsrtp
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpSender, clock
from aiortc.mediastreams import MediaStreamError

from bench.media import AUDIO_PTIME, AUDIO_SAMPLES, FPS, LATE_RESET_S, VIDEO_CLOCK, AudioClip
from bench.rtp_clip import (
    SEQ_MOD,
    TS_MOD,
    RtpCount,
    VideoFrameChunks,
    audio_packet,
    learn_payloads,
    vp8_packets,
)
from rooms import aiortc_hooks

_SINKS: dict[Any, Callable[[bytes], None]] = {}
"""aioice ``StunProtocol`` → the cheap peer that takes its SRTP datagrams."""
_installed = False


def install(hosts: list[str]) -> None:
    """In this (client) process: ICE on ``hosts`` only, aiortc receivers that never decode,
    and the datagram hook (:data:`_SINKS`). Call once, early."""
    global _installed
    aiortc_hooks.restrict_host_addresses(hosts)
    aiortc.rtcrtpreceiver.decoder_worker = _idle_decoder_worker  # type: ignore[assignment]
    if _installed:
        return
    _installed = True
    original = aioice.ice.StunProtocol.datagram_received

    def datagram_received(self: Any, data: bytes, addr: tuple[Any, ...]) -> None:
        # SRTP: first byte 128..191 (RFC 7983), second byte not an RTCP type (192..208).
        sink = _SINKS.get(self)
        if sink is not None and 127 < data[0] < 192 and not 191 < data[1] < 209:
            sink(data)
            return
        original(self, data, addr)

    aioice.ice.StunProtocol.datagram_received = datagram_received  # type: ignore[method-assign]


def _idle_decoder_worker(
    loop: asyncio.AbstractEventLoop, input_q: Any, output_q: Any, decode_error: Any = None
) -> None:
    """Stands in for aiortc's decoder thread: nothing reaches the receivers, decode nothing."""
    while input_q.get() is not None:
        pass
    with contextlib.suppress(RuntimeError):
        asyncio.run_coroutine_threadsafe(output_q.put(None), loop)


class SilentTrack(MediaStreamTrack):
    """A track that never yields: aiortc announces and keys its sender, which then sends no RTP."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._never: asyncio.Future[None] | None = None

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        self._never = asyncio.get_running_loop().create_future()
        await self._never
        raise MediaStreamError


# -- the media path of one peer connection -----------------------------------------------------


@dataclass
class MediaPath:
    """Where a connected peer connection's media goes: its SRTP sessions and ICE socket."""

    tx: pylibsrtp.Session
    rx: pylibsrtp.Session
    transport: asyncio.DatagramTransport
    addr: tuple[str, int]
    protocol: Any


def dtls_transport(pc: RTCPeerConnection) -> Any:
    for transceiver in pc.getTransceivers():
        if transceiver.sender.transport is not None:
            return transceiver.sender.transport
    raise RuntimeError("no DTLS transport yet")


class CheapPeer:
    """One peer connection whose RTP is counted (receive) and sent (:class:`ClipStreamer`) by
    hand; see the module docstring."""

    def __init__(self, pc: RTCPeerConnection) -> None:
        self.pc = pc
        self.counts: dict[int, RtpCount] = {}
        """Received RTP per SSRC (filled in by :meth:`expect`; others go to ``unknown``)."""
        self.unknown = RtpCount("unknown")
        self.srtp_errors = 0
        self.path: MediaPath | None = None
        self._rx: pylibsrtp.Session | None = None
        self._hooked_dtls = False

    def expect(self, ssrc: int, kind: str, sender_id: int) -> RtpCount:
        count = self.counts.get(ssrc)
        if count is None:
            count = self.counts[ssrc] = RtpCount(kind, expected_sender=sender_id)
        return count

    @property
    def packets_received(self) -> int:
        return sum(c.packets for c in self.counts.values()) + self.unknown.packets

    def hook_dtls(self) -> None:
        """Count RTP from the first packet on (call once the remote description is set)."""
        if self._hooked_dtls:
            return
        dtls = dtls_transport(self.pc)
        self._hooked_dtls = True

        async def handle_rtp_data(data: bytes, arrival_time_ms: int) -> None:
            self._count(data)

        dtls._handle_rtp_data = handle_rtp_data

    async def connected(self, seconds: float) -> MediaPath:
        """Wait (bounded) for DTLS, then take the socket's SRTP datagrams directly."""
        deadline = time.monotonic() + seconds
        while True:
            with contextlib.suppress(RuntimeError):
                dtls = dtls_transport(self.pc)
                if dtls.state == "connected":
                    break
                if dtls.state in ("closed", "failed"):
                    raise ConnectionError(f"DTLS {dtls.state}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"not connected within {seconds:.0f} s")
            await asyncio.sleep(0.02)
        connection = dtls.transport._connection
        pair = connection._nominated[1]
        self.path = MediaPath(
            tx=dtls._tx_srtp,
            rx=dtls._rx_srtp,
            transport=pair.protocol.transport,
            addr=pair.remote_addr,
            protocol=pair.protocol,
        )
        self._rx = dtls._rx_srtp
        _SINKS[pair.protocol] = self._on_srtp
        return self.path

    def _on_srtp(self, data: bytes) -> None:
        assert self._rx is not None
        try:
            plain = self._rx.unprotect(data)
        except pylibsrtp.Error:
            self.srtp_errors += 1
            return
        self._count(plain)

    def _count(self, packet: bytes) -> None:
        if len(packet) < 12:
            return
        ssrc = int.from_bytes(packet[8:12], "big")
        count = self.counts.get(ssrc)
        (count or self.unknown).add(packet)

    def close(self) -> None:
        if self.path is not None:
            _SINKS.pop(self.path.protocol, None)


class ClipStreamer:
    """One publisher's camera and microphone: the pre-packetized clip, paced in real time."""

    def __init__(
        self,
        video: list[VideoFrameChunks],
        audio: AudioClip,
        sender_id: int,
        send_log: Any | None = None,
    ) -> None:
        self._video = video
        learn_payloads(video, audio.packets)  # so this process's receivers can check theirs
        self._keyframes = [i for i, f in enumerate(video) if f.keyframe]
        self._audio = audio
        self.sender_id = sender_id
        self._send_log = send_log
        self._want_keyframe = False
        self.sent = 0
        """Video frames sent."""
        self.skipped = 0
        """Frame and audio slots skipped because the event loop woke too late."""
        self.keyframe_requests = 0
        self.send_errors = 0
        self._tasks: list[asyncio.Task[None]] = []

    def request_keyframe(self) -> None:
        """A PLI/FIR from the far end (wired to the aiortc sender's ``_send_keyframe``)."""
        self.keyframe_requests += 1
        self._want_keyframe = True

    def start(
        self,
        path: MediaPath,
        video: tuple[RTCRtpSender, int] | None,
        audio: tuple[RTCRtpSender, int] | None,
    ) -> None:
        """Send on ``path`` with the (aiortc sender, payload type) of each publish slot."""
        if video is not None:
            self._tasks.append(asyncio.ensure_future(self._run_video(path, *video)))
        if audio is not None:
            self._tasks.append(asyncio.ensure_future(self._run_audio(path, *audio)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _run_video(self, path: MediaPath, sender: RTCRtpSender, pt: int) -> None:
        loop = asyncio.get_running_loop()
        ssrc = sender._ssrc
        seq = random.randrange(SEQ_MOD)
        ts = random.randrange(TS_MOD)
        picture_id = random.randrange(1 << 15)
        protect, sendto, addr = path.tx.protect, path.transport.sendto, path.addr
        step = VIDEO_CLOCK // FPS
        pos = 0
        packets_sent = octets = 0
        start = loop.time()
        n = 0
        while True:
            delay = start + n / FPS - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif -delay > LATE_RESET_S:
                behind = int(-delay * FPS)
                n += behind
                ts = (ts + behind * step) % TS_MOD
                self.skipped += behind
            if self._want_keyframe:
                self._want_keyframe = False
                if not self._video[pos].keyframe:
                    later = [k for k in self._keyframes if k > pos]
                    pos = later[0] if later else self._keyframes[0]
            now = time.perf_counter()
            if self._send_log is not None:
                self._send_log.add(pos, now)
            packets = vp8_packets(
                self._video[pos],
                payload_type=pt,
                seq=seq,
                timestamp=ts,
                ssrc=ssrc,
                picture_id=picture_id,
                sender_id=self.sender_id,
                sent=now,
            )
            try:
                for packet in packets:
                    data = protect(packet)
                    sendto(data, addr)
                    octets += len(packet) - 12
            except (pylibsrtp.Error, OSError, AttributeError):
                self.send_errors += 1
            packets_sent += len(packets)
            # Keep the aiortc sender's reports true (RTCP SR: the server translates them).
            sender._RTCRtpSender__ntp_timestamp = clock.current_ntp_time()
            sender._RTCRtpSender__rtp_timestamp = ts
            sender._RTCRtpSender__packet_count = packets_sent
            sender._RTCRtpSender__octet_count = octets
            seq = (seq + len(packets)) % SEQ_MOD
            ts = (ts + step) % TS_MOD
            picture_id = (picture_id + 1) & 0x7FFF
            pos = (pos + 1) % len(self._video)
            n += 1
            self.sent += 1

    async def _run_audio(self, path: MediaPath, sender: RTCRtpSender, pt: int) -> None:
        loop = asyncio.get_running_loop()
        ssrc = sender._ssrc
        seq = random.randrange(SEQ_MOD)
        ts = random.randrange(TS_MOD)
        protect, sendto, addr = path.tx.protect, path.transport.sendto, path.addr
        payloads = self._audio.packets
        start = loop.time()
        n = 0
        octets = 0
        while True:
            delay = start + n * AUDIO_PTIME - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif -delay > LATE_RESET_S:
                behind = int(-delay / AUDIO_PTIME)
                n += behind
                ts = (ts + behind * AUDIO_SAMPLES) % TS_MOD
                self.skipped += behind
            payload = payloads[n % len(payloads)]
            packet = audio_packet(payload, payload_type=pt, seq=seq, timestamp=ts, ssrc=ssrc)
            try:
                sendto(protect(packet), addr)
            except (pylibsrtp.Error, OSError, AttributeError):
                self.send_errors += 1
            octets += len(payload)
            n += 1
            if n % 50 == 0:
                sender._RTCRtpSender__ntp_timestamp = clock.current_ntp_time()
                sender._RTCRtpSender__rtp_timestamp = ts
                sender._RTCRtpSender__packet_count = n
                sender._RTCRtpSender__octet_count = octets
            seq = (seq + 1) % SEQ_MOD
            ts = (ts + AUDIO_SAMPLES) % TS_MOD


class CheapTracks:
    """What ``bench/loadgen.py`` reads of a client whose media takes the cheap path (ours and
    Janus's): its remote tracks' counts and its streamer's counters."""

    name: str
    streamer: ClipStreamer
    _remote: list[tuple[str, str, int, RtpCount]]
    """(publisher, kind, publisher's sender id, count) of every remote track."""

    def flowing_video(self) -> int:
        return sum(1 for _, kind, _, c in self._remote if kind == "video" and c.arrivals)

    def counters(self) -> dict[str, int]:
        return {
            "sender_skipped": self.streamer.skipped,
            "keyframe_requests": self.streamer.keyframe_requests,
            "video_sent": self.streamer.sent,
        }

    def track_dumps(self) -> list[dict[str, Any]]:
        return [track_record(self.name, pub, kind, sid, c) for pub, kind, sid, c in self._remote]


def track_record(
    subscriber: str, publisher: str, kind: str, sender_id: int, count: RtpCount
) -> dict[str, Any]:
    """One remote track in the shape ``bench/sfu.py`` summarizes (``TrackStats`` + packets)."""
    return {
        "subscriber": subscriber,
        "publisher": publisher,
        "kind": kind,
        "publisher_sender_id": sender_id,
        "probe": False,
        "arrivals": count.arrivals,
        "latencies": count.latencies,
        "probe_latencies": [],
        "no_trailer": count.no_trailer,
        "wrong_sender": count.wrong_sender,
        "decode_errors": 0,
        "unreadable_barcode": 0,
        "unmatched_barcode": 0,
        "packets": count.packets,
        "bytes": count.bytes,
        "lost": count.lost,
        "checked_packets": count.checked,
        "altered_packets": count.altered,
    }
