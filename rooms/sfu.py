"""The SFU of one room: one server-side peer connection per participant, media forwarded as RTP.

Negotiation: the server is the only offerer. Each participant's connection has two *publish*
transceivers (audio, video; ``recvonly`` here) and, for every other participant, two ``sendonly``
transceivers that carry that participant's audio and video. A transceiver keeps its owner for the
life of the connection, so a participant who reloads comes back on the same mids of the others'
connections and nothing is renegotiated for them.

Forwarding (``ForwardingMode.PACKET``): each RTP packet a publisher sends is rewritten per
subscriber *leg* (SSRC, payload type, sequence number, timestamp, VP8 picture id, header
extensions) and sent on that subscriber's transport — no jitter buffer, no decoder, no encoder.
It all happens synchronously in the socket's ``datagram_received`` (see
:class:`~rooms.aiortc_hooks.FastTransport`): SRTP unprotect, a look at the header with
``struct``, per leg a new header joined to the same payload bytes, SRTP protect, ``sendto``. No
coroutine and no aiortc ``RtpPacket`` per packet (the recorder, while recording, gets one).

The SFU also speaks RTCP for the streams it forwards: it answers subscribers' NACKs from each
leg's history, turns their PLI/FIR into a PLI to the publisher (repeated while a leg waits for a
keyframe), NACKs the publisher for packets lost on the way in, keeps aiortc's receiver reports
fed with its own statistics, moves each publisher's sender report onto every leg's timeline, and
tells each publisher the bitrate its slowest subscriber reported (REMB, :mod:`rooms.feedback`).
aiortc still does ICE, DTLS, the sender and receiver reports themselves, and the signaling.

``ForwardingMode.RELAY`` is aiortc's decode/re-encode ``MediaRelay``, kept only as the baseline
the benchmark measures against.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import struct
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    RtpPacket,
    pack_remb_fci,
    unpack_remb_fci,
)
from aiortc.sdp import candidate_from_sdp

from rooms import aiortc_hooks as hooks
from rooms.errors import NegotiationFailed, NoOfferPending, StaleAnswer
from rooms.feedback import BitrateFeedback, RembPolicy
from rooms.forwarding import (
    SEQ_MOD,
    TS_MOD,
    ForwardingCounters,
    InboundStats,
    LegTimeline,
    RtpIn,
    is_keyframe_start,
    one_byte_extensions,
    parse_rtp,
    rewrite_vp8_picture_id,
    vp8_descriptor,
)
from rooms.recording import RoomRecording

logger = logging.getLogger(__name__)

KINDS = ("audio", "video")
TRACKS: dict[str, tuple[str, ...]] = {"mediator": ("audio", "video", "screen")}
"""What each role publishes (by default ``audio`` and ``video``); ``screen`` is a second video."""


def tracks_of(role: str) -> tuple[str, ...]:
    return TRACKS.get(role, KINDS)


def kind_of(track: str) -> str:
    """The media kind of a track: ``audio``, or ``video`` for the camera and a shared screen."""
    return "audio" if track == "audio" else "video"


MayReceive = Callable[[str, str, str], bool]
"""``(publisher_id, subscriber_id, track)`` → whether the subscriber may receive it now."""
MayRecord = Callable[[str, str], bool]
"""``(publisher_id, track)`` → whether that stream may be recorded now."""


def _receive_everything(publisher_id: str, subscriber_id: str, track: str) -> bool:
    return True


def _record_everything(publisher_id: str, track: str) -> bool:
    return True


class ForwardingMode(enum.StrEnum):
    """How published media reaches subscribers."""

    PACKET = "packet"
    """Forward RTP packets unchanged but for their header (the product)."""
    RELAY = "relay"
    """Decode once, re-encode per subscriber with aiortc's MediaRelay (the benchmark baseline)."""


@dataclass(frozen=True, slots=True)
class MediaConfig:
    """Media settings shared by every room of a server."""

    ice_servers: tuple[RTCIceServer, ...] = ()
    """STUN/TURN servers handed to aiortc; empty by default so nothing leaves the machine."""
    ice_servers_factory: Callable[[], Sequence[RTCIceServer]] | None = None
    """When set, called for each new peer connection instead of ``ice_servers`` (fresh
    short-lived TURN credentials)."""
    counters: ForwardingCounters = field(default_factory=ForwardingCounters, compare=False)
    """The server's media totals, shared by every room (exported by ``server.metrics``)."""
    video_codec: str = "video/VP8"
    """The one video codec of every room (``video/VP8`` or ``video/H264``)."""
    audio_codec: str = "audio/opus"
    mode: ForwardingMode = ForwardingMode.PACKET
    keyframe_request_interval: float = 0.5
    """Least time between two keyframe requests sent to one publisher (seconds)."""
    keyframe_retry_interval: float = 1.0
    """While a leg waits for a keyframe, ask again this often (a request can be lost)."""
    max_send_buffer: int = 256 * 1024
    """Bytes queued towards one subscriber beyond which its video drops to the next keyframe."""
    remb: RembPolicy = field(default_factory=RembPolicy)
    """Bounds of the bitrate asked of publishers (see :mod:`rooms.feedback`)."""
    remb_interval: float = 1.0
    """How often each publisher is told its bitrate (sooner when a subscriber congests)."""

    def peer_ice_servers(self) -> list[RTCIceServer]:
        """The ICE servers of one new server-side peer connection (a list, never ``None``:
        aiortc adds a public STUN server when given ``None``)."""
        if self.ice_servers_factory is not None:
            return list(self.ice_servers_factory())
        return list(self.ice_servers)


class _IdleTrack(MediaStreamTrack):
    """A track that never yields: keeps a sender's own RTP loop parked while we forward for it."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def recv(self) -> Any:
        await self._never
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if not self._never.done():
            self._never.cancel()
        super().stop()


def quality_level(rtt_ms: float | None, loss_pct: float | None) -> str:
    """``good`` / ``fair`` / ``poor``, by the thresholds a conversation notices."""
    rtt, loss = rtt_ms or 0, loss_pct or 0
    if rtt < 250 and loss < 2:
        return "good"
    if rtt < 500 and loss < 8:
        return "fair"
    return "poor"


def _codec_preferences(kind: str, mime: str) -> list[Any]:
    caps = RTCRtpSender.getCapabilities(kind).codecs
    chosen = [c for c in caps if c.mimeType.lower() == mime.lower()]
    if not chosen:
        raise ValueError(f"aiortc does not offer {mime}")
    return chosen


MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
HISTORY_SIZE = 512
"""Forwarded video packets kept per leg for NACKs (~5 s of a 1 Mbit/s camera)."""
_RTP_HEADER = struct.Struct("!BBHII")


class PacketOut(Protocol):
    """Where a leg's packets go: the subscriber's :class:`~rooms.aiortc_hooks.FastTransport`."""

    def send_rtp(self, data: bytes) -> bool: ...

    def pending_bytes(self) -> int: ...


@dataclass(eq=False)
class Leg:
    """One publisher's stream (audio or video) towards one subscriber."""

    subscriber: Peer
    publisher_id: str
    publisher_role: str
    kind: str
    """Media kind: ``audio`` or ``video``."""
    track: str
    """Which of the publisher's tracks: ``audio``, ``video`` or ``screen``."""
    transceiver: RTCRtpTransceiver
    timeline: LegTimeline
    allowed: bool = True
    """The room's media policy lets this subscriber receive it (caucus, mute)."""
    resync: bool = False
    """The leg resumes after a pause: renumber from the next packet (audio) or keyframe."""
    last_arrival_ms: int = 0
    """Arrival time of the last packet sent on the leg (for the timestamp step on resuming)."""
    waiting_keyframe: bool = True
    """Video is held back until a keyframe starts (at join, after a switch or a drop)."""
    ready: bool = False
    """Set once the subscriber's answer is applied and the sender knows its parameters."""
    payload_type: int = 0
    mid: str | None = None
    ssrc: int = 0
    out: PacketOut | None = None
    ext_head: bytes = b""
    """The leg's header extensions up to the one value that changes per packet (abs-send-time
    for video, the audio level for audio)."""
    ext_tail: bytes = b""
    ext_plain: bytes = b""
    """The leg's header extensions for a packet without that value (the ``mid`` only)."""
    ext_value_len: int = 0
    """Bytes of the changing value (3 for abs-send-time, 1 for the audio level, 0: none)."""
    history: list[bytes | None] | None = None
    """Video packets as sent (before SRTP), by sequence number modulo :data:`HISTORY_SIZE`."""
    forwarded_packets: int = 0
    forwarded_octets: int = 0
    """Payload bytes sent (the sender report's octet count)."""
    dropped_packets: int = 0
    retransmitted_packets: int = 0
    relayed: Any = None
    """Baseline only: the publisher track this leg's sender re-encodes."""

    @property
    def sender(self) -> RTCRtpSender:
        return self.transceiver.sender

    def rebase(self, packet: RtpIn) -> None:
        """Number ``packet`` on from what the leg sent last (a new stream, or after a pause: then
        the timestamp steps as far as the clock did)."""
        gap_ms = packet.arrival_ms - self.last_arrival_ms if self.resync else None
        picture_id = packet.vp8.picture_id if packet.vp8 is not None else None
        self.timeline.rebase(
            packet.ssrc, packet.seq, packet.ts, gap_ms=gap_ms, picture_id=picture_id
        )
        self.resync = False

    def prepare(self, out: PacketOut | None) -> None:
        """Read the negotiated parameters once the subscriber's answer is applied."""
        codecs = hooks.negotiated_codecs(self.transceiver)
        if not codecs or out is None:
            return
        self.payload_type = codecs[0].payloadType
        self.mid = self.transceiver.mid
        self.ssrc = hooks.sender_ssrc(self.sender)
        ids = hooks.header_extension_ids(self.transceiver)
        mid = [(ids[MID_URI], (self.mid or "").encode())] if MID_URI in ids and self.mid else []
        value_uri = ABS_SEND_TIME_URI if self.kind == "video" else AUDIO_LEVEL_URI
        self.ext_plain = one_byte_extensions(mid) if mid else b""
        if value_uri in ids:
            self.ext_value_len = 3 if self.kind == "video" else 1
            block = one_byte_extensions([*mid, (ids[value_uri], b"\x00" * self.ext_value_len)])
            at = 4 + sum(1 + len(v) for _, v in mid) + 1
            self.ext_head, self.ext_tail = block[:at], block[at + self.ext_value_len :]
        else:
            self.ext_value_len = 0
        if self.kind == "video" and self.history is None:
            self.history = [None] * HISTORY_SIZE
        self.out = out
        self.ready = True
        logger.debug(
            "Leg(%s→%s %s) mid %s ssrc %s pt %s",
            self.publisher_id,
            self.subscriber.participant_id,
            self.kind,
            self.mid,
            self.ssrc,
            self.payload_type,
        )

    def sender_report(self, report: SenderReport | None) -> None:
        """Set what the leg's next RTCP sender report says: the publisher's last report moved
        onto the leg's timeline, or (before one) the wall clock of the last packet sent."""
        timeline = self.timeline
        if report is not None and report.ssrc == timeline.source_ssrc:
            ntp = report.ntp_timestamp
            rtp_ts = (report.rtp_timestamp + timeline.ts_offset) % TS_MOD
        elif timeline.last_seq is not None:
            ntp = ntp_from_ms(self.last_arrival_ms)
            rtp_ts = timeline.last_ts
        else:
            return
        hooks.set_sender_report(
            self.sender, ntp, rtp_ts, self.forwarded_packets, self.forwarded_octets
        )


def ntp_from_ms(ms: int) -> int:
    """A 64-bit NTP timestamp from milliseconds since 1900 (aiortc's ``clock.current_ms``)."""
    seconds, rest = divmod(ms, 1000)
    return ((seconds & 0xFFFFFFFF) << 32) | (rest << 32) // 1000


@dataclass(frozen=True, slots=True)
class SenderReport:
    """The sender information of a publisher's last RTCP SR (RFC 3550 §6.4.1)."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int


@dataclass(eq=False)
class Source:
    """The stream one publisher sends on one publish transceiver."""

    sfu: Sfu
    publisher_id: str
    kind: str
    track: str
    transceiver: RTCRtpTransceiver
    legs: list[Leg]
    """Every subscriber leg of this publisher and kind (kept across the publisher's reconnects)."""
    fast: hooks.FastTransport | None = None
    """The publisher's connection (RTCP upstream goes there)."""
    ssrc: int | None = None
    codec_mime: str = ""
    clock_rate: int = 90000
    vp8: bool = False
    audio_level_id: int = 0
    """The publisher's id of the audio level extension (0: not negotiated)."""
    stats: InboundStats | None = None
    report: SenderReport | None = None
    last_keyframe_request: float = 0.0
    received_packets: int = 0
    record_to: Any = None
    """The recorder this stream goes to while it is recorded (a side path: it only queues)."""

    def prepare(self) -> None:
        """Read the negotiated header extension ids once the publisher's answer is applied."""
        ids = hooks.header_extension_ids(self.transceiver)
        self.audio_level_id = ids.get(AUDIO_LEVEL_URI, 0) if self.kind == "audio" else 0

    def _new_stream(self, packet: RtpIn) -> bool:
        receiver = self.transceiver.receiver
        codec = hooks.receiver_codecs(receiver).get(packet.payload_type)
        if codec is None:
            return False
        self.ssrc = packet.ssrc
        self.codec_mime = codec.mimeType
        self.clock_rate = codec.clockRate
        self.vp8 = codec.mimeType.lower() == "video/vp8"
        self.report = None
        self.stats = InboundStats(codec.clockRate, track_missing=self.kind == "video")
        hooks.set_inbound_statistics(receiver, packet.ssrc, self.stats)
        return True

    def on_rtp(self, data: bytes, arrival_ms: int) -> None:
        """Forward one decrypted packet from the publisher to every leg (the hot path)."""
        packet = parse_rtp(data, arrival_ms, self.audio_level_id)
        if packet is None:
            return
        if packet.ssrc != self.ssrc and not self._new_stream(packet):
            return
        self.received_packets += 1
        counters = self.sfu.counters
        counters.received_packets += 1
        counters.received_bytes += packet.end - packet.header_size
        stats = self.stats
        assert stats is not None
        if stats.add(packet.seq, packet.ts, arrival_ms):
            self.send_nack()
        recorder = self.record_to
        if recorder is not None:
            self._record(recorder, packet)
        if self.kind == "video":
            payload = packet.payload
            if self.vp8:
                packet.vp8 = vp8_descriptor(payload[:8])
                packet.keyframe = packet.vp8.keyframe_start
            else:
                packet.keyframe = is_keyframe_start(self.codec_mime, payload)
            # abs-send-time (6.18 fixed-point seconds): restamped, the subscriber's estimate is
            # of the server → subscriber path.
            packet.ext_value = ((arrival_ms << 18) // 1000 & 0xFFFFFF).to_bytes(3, "big")
        want_keyframe = False
        forward = self.sfu.forward
        for leg in self.legs:
            if leg.ready and leg.allowed and not forward(leg, packet):
                want_keyframe = True
        if want_keyframe:
            self.request_keyframe()

    def _record(self, recorder: Any, packet: RtpIn) -> None:
        # The recorder is a side path and takes aiortc's packet object; made only while recording.
        rtp = RtpPacket(
            payload_type=packet.payload_type,
            marker=1 if packet.marker else 0,
            sequence_number=packet.seq,
            timestamp=packet.ts,
            ssrc=packet.ssrc,
            payload=bytes(packet.payload),
        )
        recorder.push(self.kind, rtp, self.codec_mime, self.clock_rate, packet.arrival_ms)
        self.sfu.counters.recorded_bytes += len(rtp.payload)

    def on_sender_report(self, report: SenderReport) -> None:
        """The publisher's RTCP SR: each leg's next report says the same, on its own timeline."""
        if report.ssrc != self.ssrc:
            return
        self.report = report
        for leg in self.legs:
            if leg.ready:
                leg.sender_report(report)

    def _rtcp_ssrc(self) -> int | None:
        return hooks.receiver_rtcp_ssrc(self.transceiver.receiver)

    def send_nack(self) -> None:
        """Ask the publisher to resend what is missing (RFC 4585 §6.2.1; aiortc's receiver asks
        for every missing packet at each new gap, and so do we)."""
        rtcp_ssrc, stats, fast = self._rtcp_ssrc(), self.stats, self.fast
        if rtcp_ssrc is None or stats is None or fast is None or self.ssrc is None:
            return
        nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=rtcp_ssrc, media_ssrc=self.ssrc)
        nack.lost = sorted(stats.missing, key=lambda seq: (seq - (stats.max_seq or 0)) % SEQ_MOD)
        if nack.lost and fast.send_rtcp(bytes(nack)):
            self.sfu.counters.upstream_nacks += 1

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe (a PLI), at most once per configured interval."""
        if self.kind != "video" or self.ssrc is None or self.fast is None:
            return
        now = time.monotonic()
        if now - self.last_keyframe_request < self.sfu.config.keyframe_request_interval:
            return
        rtcp_ssrc = self._rtcp_ssrc()
        if rtcp_ssrc is None:
            return
        self.last_keyframe_request = now
        self.sfu.counters.keyframe_requests += 1
        pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=rtcp_ssrc, media_ssrc=self.ssrc)
        self.fast.send_rtcp(bytes(pli))


OfferSink = Callable[[str, dict[str, Any]], Awaitable[None]]


@dataclass(eq=False)
class Peer:
    """The server side of one participant's peer connection."""

    participant_id: str
    pc: RTCPeerConnection
    publish: dict[str, RTCRtpTransceiver] = field(default_factory=dict)
    outgoing: dict[tuple[str, str], Leg] = field(default_factory=dict)
    fast: hooks.FastTransport | None = None
    """The connection's datagram path (packet mode)."""
    legs_by_ssrc: dict[int, Leg] = field(default_factory=dict)
    """This subscriber's legs by the SSRC the server sends them with (for their RTCP)."""
    remb_sent: int = 0
    """The bitrate last asked of this publisher."""
    revision: int = 0
    awaiting_answer: bool = False
    dirty: bool = False
    closed: bool = False
    received_totals: tuple[int, int] = (0, 0)
    """Packets received and lost from this publisher so far (for the loss over an interval)."""


class Sfu:
    """Peer connections and forwarding of one room."""

    def __init__(
        self,
        room_id: str,
        config: MediaConfig,
        send_offer: OfferSink,
        may_receive: MayReceive = _receive_everything,
        may_record: MayRecord = _record_everything,
    ) -> None:
        self.room_id = room_id
        self.config = config
        self.counters = config.counters
        self._send_offer = send_offer
        self._may_receive = may_receive
        self._may_record = may_record
        self.recording: RoomRecording | None = None
        """The room's recording while it runs (packet mode only)."""
        self.peers: dict[str, Peer] = {}
        self.sources: dict[tuple[str, str], Source] = {}
        self._legs: dict[tuple[str, str], list[Leg]] = {}
        self._roles: dict[str, str] = {}
        self._relay = MediaRelay() if config.mode is ForwardingMode.RELAY else None
        self.feedback = BitrateFeedback(config.remb)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ticker: asyncio.Task[None] | None = None

    # -- life cycle ------------------------------------------------------------------------

    def spawn(self, coro: Awaitable[Any]) -> None:
        """Run a side task, keeping a reference so it is neither collected nor forgotten."""
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("Sfu(%s) side task failed: %r", self.room_id, task.exception())

    async def close(self) -> None:
        """Close every peer connection of the room."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        for participant_id in list(self.peers):
            await self.disconnect(participant_id)
        for task in list(self._tasks):
            task.cancel()

    async def _tick(self) -> None:
        """Repeat keyframe requests for legs still waiting (a PLI can be lost or come too early),
        keep the legs' sender reports current and tell publishers their bitrate."""
        period = 0.5
        last_retry = last_remb = 0.0
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            if now - last_retry >= self.config.keyframe_retry_interval - 0.01:
                last_retry = now
                for source in list(self.sources.values()):
                    if any(
                        leg.ready and leg.allowed and leg.waiting_keyframe for leg in source.legs
                    ):
                        source.request_keyframe()
            for source in list(self.sources.values()):
                for leg in source.legs:
                    if leg.ready:
                        leg.sender_report(source.report)
            if now - last_remb >= self.config.remb_interval - 0.01:
                last_remb = now
                for peer in list(self.peers.values()):
                    if not peer.closed:
                        self.send_remb(peer)

    def apply_policy(self) -> None:
        """Ask the room again who may receive whom (after a caucus, a mute…).

        A leg that is paused simply forwards nothing; one that resumes renumbers from the next
        packet (audio) or keyframe (video, asked for at once), so the subscriber sees a stream
        that goes on, not a gap to repair.
        """
        for (publisher_id, track), legs in self._legs.items():
            resumed_video = False
            for leg in legs:
                allowed = self._may_receive(publisher_id, leg.subscriber.participant_id, track)
                if allowed and not leg.allowed:
                    leg.resync = True
                    if leg.kind == "video":
                        leg.waiting_keyframe = True
                        resumed_video = True
                leg.allowed = allowed
            source = self.sources.get((publisher_id, track))
            if resumed_video and source is not None:
                source.request_keyframe()
        for (publisher_id, track), source in self.sources.items():
            recorder = self._recorder_for(publisher_id, track)
            if recorder is not None and source.record_to is None and source.kind == "video":
                source.request_keyframe()  # a recording starts (or resumes) at a keyframe
            source.record_to = recorder

    def _recorder_for(self, publisher_id: str, track: str) -> Any:
        """The recorder a stream goes to now, if it is recorded (not a shared screen)."""
        if self.recording is None or track == "screen":
            return None
        if not self._may_record(publisher_id, track):
            return None
        return self.recording.recorder(publisher_id)

    def request_keyframe(self, publisher_id: str) -> None:
        """Ask a participant's camera for a keyframe (a recorder starting a segment)."""
        source = self.sources.get((publisher_id, "video"))
        if source is not None:
            source.request_keyframe()

    # -- participants ----------------------------------------------------------------------

    async def connect(self, participant_id: str, role: str) -> None:
        """Give a participant a fresh peer connection (replacing an older one) and offer it."""
        if self._ticker is None and self.config.mode is ForwardingMode.PACKET:
            self._ticker = asyncio.ensure_future(self._tick())
        if participant_id in self._roles:
            self.counters.reconnects += 1
        if participant_id in self.peers:
            await self.disconnect(participant_id)
        self._roles[participant_id] = role
        pc = RTCPeerConnection(
            RTCConfiguration(
                iceServers=self.config.peer_ice_servers(), bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
            )
        )
        peer = Peer(participant_id=participant_id, pc=pc)
        self.peers[participant_id] = peer
        self.feedback.forget_subscriber(participant_id)

        @pc.on("connectionstatechange")
        async def _on_state() -> None:
            logger.info(
                "Sfu(%s) peer %s connection %s", self.room_id, participant_id, pc.connectionState
            )

        for track in tracks_of(role):
            kind = kind_of(track)
            transceiver = pc.addTransceiver(kind, direction="recvonly")
            transceiver.setCodecPreferences(_codec_preferences(kind, self._mime(kind)))
            peer.publish[track] = transceiver
            legs = self._legs.setdefault((participant_id, track), [])
            if self._relay is None and peer.fast is None:
                # Bundled: every transceiver of the connection shares this DTLS transport.
                peer.fast = hooks.FastTransport(
                    transceiver.receiver.transport, self._rtcp_handler(peer)
                )
            source = Source(self, participant_id, kind, track, transceiver, legs, fast=peer.fast)
            source.record_to = self._recorder_for(participant_id, track)
            self.sources[(participant_id, track)] = source
            if peer.fast is not None:
                peer.fast.add_receiver(transceiver.receiver, source.on_rtp)
            # A new stream from this publisher: every leg holds its video for a keyframe.
            for leg in legs:
                leg.waiting_keyframe = kind == "video"

        for other in self.peers.values():
            if other is peer or other.closed:
                continue
            self._subscribe(peer, other.participant_id)
            if (participant_id, "audio") not in other.outgoing:
                self._subscribe(other, participant_id)
                await self.negotiate(other)
        await self.negotiate(peer)

    async def disconnect(self, participant_id: str) -> None:
        """Close a participant's peer connection; the others' legs from them stay, idle."""
        peer = self.peers.pop(participant_id, None)
        if peer is None:
            return
        peer.closed = True
        for track, transceiver in peer.publish.items():
            source = self.sources.get((participant_id, track))
            if source is not None and source.transceiver is transceiver:
                del self.sources[(participant_id, track)]
        for (publisher_id, track), leg in peer.outgoing.items():
            legs = self._legs.get((publisher_id, track))
            if legs is not None and leg in legs:
                legs.remove(leg)
        self.feedback.forget_subscriber(participant_id)
        if peer.fast is not None:
            peer.fast.close()
        await peer.pc.close()

    def _mime(self, kind: str) -> str:
        return self.config.video_codec if kind == "video" else self.config.audio_codec

    def _subscribe(self, subscriber: Peer, publisher_id: str) -> None:
        """Add the sendonly transceivers that carry ``publisher_id`` to ``subscriber``."""
        for track in tracks_of(self._roles.get(publisher_id, "")):
            kind = kind_of(track)
            # Packet mode parks the sender's own loop on a track that never yields. The relay
            # baseline swaps tracks in later, which a parked loop would never notice: it starts
            # with none (aiortc then polls every 20 ms).
            track_or_kind: MediaStreamTrack | str = kind if self._relay else _IdleTrack(kind)
            transceiver = subscriber.pc.addTransceiver(track_or_kind, direction="sendonly")
            transceiver.setCodecPreferences(_codec_preferences(kind, self._mime(kind)))
            # The browser's stream id then names the publisher (aiortc picks a random one).
            hooks.set_stream_id(transceiver.sender, publisher_id)
            leg = Leg(
                subscriber=subscriber,
                publisher_id=publisher_id,
                publisher_role=self._roles.get(publisher_id, ""),
                kind=kind,
                track=track,
                transceiver=transceiver,
                timeline=LegTimeline(clock_rate=90000 if kind == "video" else 48000),
                waiting_keyframe=kind == "video",
                allowed=self._may_receive(publisher_id, subscriber.participant_id, track),
            )
            subscriber.outgoing[(publisher_id, track)] = leg
            subscriber.legs_by_ssrc[hooks.sender_ssrc(transceiver.sender)] = leg
            self._legs.setdefault((publisher_id, track), []).append(leg)
            if self._relay is None:
                hooks.install_keyframe_hook(transceiver.sender, self._keyframe_hook(leg))
            else:
                self._relay_attach(leg)

    def _keyframe_hook(self, leg: Leg) -> Callable[[], None]:
        def _on_keyframe_request() -> None:
            source = self.sources.get((leg.publisher_id, leg.track))
            if source is not None and leg.allowed:
                source.request_keyframe()

        return _on_keyframe_request

    def _relay_attach(self, leg: Leg) -> None:
        """Baseline only: feed the leg's sender from the publisher's decoded track."""
        assert self._relay is not None
        source = self.sources.get((leg.publisher_id, leg.track))
        # The receiver's track exists once the publisher's answer is applied.
        track = source.transceiver.receiver.track if source is not None else None
        if track is not None and leg.relayed is not track:
            leg.relayed = track
            leg.sender.replaceTrack(self._relay.subscribe(track, buffered=False))

    # -- forwarding (the hot path) ---------------------------------------------------------

    def forward(self, leg: Leg, packet: RtpIn) -> bool:
        """Send ``packet`` on ``leg``; return False when the leg needs a keyframe to go on."""
        timeline = leg.timeline
        out = leg.out
        assert out is not None
        if leg.kind == "video":
            if packet.ssrc != timeline.source_ssrc:
                leg.waiting_keyframe = True
            if leg.waiting_keyframe:
                if not packet.keyframe:
                    leg.dropped_packets += 1
                    self.counters.dropped_packets += 1
                    return False
                leg.rebase(packet)
                leg.waiting_keyframe = False
            elif out.pending_bytes() > self.config.max_send_buffer:
                # The subscriber can't keep up: drop to the next keyframe, never queue more.
                leg.waiting_keyframe = True
                leg.dropped_packets += 1
                self.counters.dropped_packets += 1
                return False
        elif packet.ssrc != timeline.source_ssrc or leg.resync:
            leg.rebase(packet)
        leg.last_arrival_ms = packet.arrival_ms
        seq, ts = timeline.map(packet.seq, packet.ts)
        payload: bytes | memoryview = packet.payload
        vp8 = packet.vp8
        if vp8 is not None and vp8.picture_id is not None:
            picture_id = timeline.map_picture_id(vp8.picture_id, vp8.picture_id_bits)
            if picture_id != vp8.picture_id:
                payload = rewrite_vp8_picture_id(payload, vp8, picture_id)
        second = (0x80 if packet.marker else 0) | leg.payload_type
        value = packet.ext_value
        if value is not None and len(value) == leg.ext_value_len:
            header = _RTP_HEADER.pack(0x90, second, seq, ts, leg.ssrc)  # X: extensions follow
            data = b"".join((header, leg.ext_head, value, leg.ext_tail, payload))
        else:
            header = _RTP_HEADER.pack(0x90 if leg.ext_plain else 0x80, second, seq, ts, leg.ssrc)
            data = b"".join((header, leg.ext_plain, payload))
        history = leg.history
        if history is not None:
            history[seq % HISTORY_SIZE] = data
        if not out.send_rtp(data):
            leg.dropped_packets += 1
            self.counters.dropped_packets += 1
            if leg.kind == "video":
                # Not connected (yet): a decoder can only start again at a keyframe.
                leg.waiting_keyframe = True
                return False
            return True
        size = packet.end - packet.header_size
        leg.forwarded_packets += 1
        leg.forwarded_octets += size
        self.counters.forwarded_packets += 1
        self.counters.forwarded_bytes += len(data)
        return True

    def retransmit(self, leg: Leg, lost: Sequence[int]) -> None:
        """Answer a subscriber's NACK from the leg's history (packets older than it are gone)."""
        history, out = leg.history, leg.out
        if history is None or out is None:
            return
        for seq in lost:
            data = history[seq % HISTORY_SIZE]
            if data is not None and int.from_bytes(data[2:4], "big") == seq and out.send_rtp(data):
                leg.retransmitted_packets += 1
                self.counters.retransmitted_packets += 1

    # -- RTCP --------------------------------------------------------------------------------

    def _rtcp_handler(self, peer: Peer) -> Callable[[list[Any]], list[Any]]:
        def on_rtcp(packets: list[Any]) -> list[Any]:
            return self._on_rtcp(peer, packets)

        return on_rtcp

    def _on_rtcp(self, peer: Peer, packets: list[Any]) -> list[Any]:
        """Answer the feedback that concerns forwarded streams; return what aiortc should see
        (reports, for round-trip times and the receivers' LSR)."""
        rest = []
        for packet in packets:
            if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
                leg = peer.legs_by_ssrc.get(packet.media_ssrc)
                if leg is not None:
                    self.retransmit(leg, packet.lost)
                    continue
            elif isinstance(packet, RtcpPsfbPacket):
                if packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
                    leg = peer.legs_by_ssrc.get(packet.media_ssrc)
                    if leg is not None:
                        self._keyframe_hook(leg)()
                        continue
                elif packet.fmt == RTCP_PSFB_APP:
                    try:
                        bitrate, ssrcs = unpack_remb_fci(packet.fci)
                    except ValueError:
                        continue
                    self._on_remb(peer, bitrate, ssrcs)
                    continue
            elif isinstance(packet, RtcpSrPacket):
                for track in peer.publish:
                    source = self.sources.get((peer.participant_id, track))
                    if source is not None and source.ssrc == packet.ssrc:
                        info = packet.sender_info
                        source.on_sender_report(
                            SenderReport(packet.ssrc, info.ntp_timestamp, info.rtp_timestamp)
                        )
            rest.append(packet)
        return rest

    def _on_remb(self, subscriber: Peer, bitrate: int, ssrcs: Sequence[int]) -> None:
        """A subscriber's estimate of its downlink: shared among the video legs it names."""
        legs = [subscriber.legs_by_ssrc.get(ssrc) for ssrc in ssrcs]
        streams = [
            (leg.publisher_id, leg.track) for leg in legs if leg is not None and leg.kind == "video"
        ]
        if not streams:
            return
        self.counters.remb_received += 1
        self.feedback.on_estimate(subscriber.participant_id, streams, bitrate, time.monotonic())
        for publisher_id in {publisher_id for publisher_id, _ in streams}:
            publisher = self.peers.get(publisher_id)
            if publisher is not None and publisher.remb_sent:
                target = self.remb_target(publisher)
                if target is not None and target[0] < 0.9 * publisher.remb_sent:
                    self.send_remb(publisher)  # congestion: tell the publisher at once

    def remb_target(self, publisher: Peer) -> tuple[int, list[int]] | None:
        """The bitrate to ask of a publisher, and its video SSRCs (``None``: no video yet)."""
        now = time.monotonic()
        streams = []
        ssrcs = []
        has_audio = False
        for track in publisher.publish:
            source = self.sources.get((publisher.participant_id, track))
            if source is None or source.ssrc is None:
                continue
            if source.kind == "audio":
                has_audio = True
                continue
            subscribers = [
                leg.subscriber.participant_id for leg in source.legs if leg.ready and leg.allowed
            ]
            streams.append(((publisher.participant_id, track), subscribers))
            ssrcs.append(source.ssrc)
        if not ssrcs:
            return None
        return self.feedback.publisher_target(streams, has_audio, now), ssrcs

    def send_remb(self, publisher: Peer) -> None:
        """Tell a publisher the bitrate its subscribers can take (REMB).

        draft-alvestrand-rmcat-remb §2.2; the SSRCs are the publisher's video streams."""
        target = self.remb_target(publisher)
        video = next((s for t, s in publisher.publish.items() if kind_of(t) == "video"), None)
        if target is None or video is None or publisher.fast is None:
            return
        rtcp_ssrc = hooks.receiver_rtcp_ssrc(video.receiver)
        if rtcp_ssrc is None:
            return
        bitrate, ssrcs = target
        remb = RtcpPsfbPacket(
            fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(bitrate, ssrcs)
        )
        if publisher.fast.send_rtcp(bytes(remb)):
            publisher.remb_sent = bitrate
            self.counters.remb_sent += 1

    # -- negotiation -----------------------------------------------------------------------

    async def negotiate(self, peer: Peer) -> None:
        """Send ``peer`` a new offer, or mark it for one once the pending offer is answered."""
        if peer.closed:
            return
        if peer.awaiting_answer:
            peer.dirty = True
            return
        peer.dirty = False
        offer = await peer.pc.createOffer()
        await peer.pc.setLocalDescription(offer)
        if peer.fast is not None:
            peer.fast.attach()  # the sockets exist once gathering is done
        peer.revision += 1
        peer.awaiting_answer = True
        local = peer.pc.localDescription
        tracks = {
            leg.transceiver.mid: {
                "participant_id": leg.publisher_id,
                "role": leg.publisher_role,
                "kind": leg.track,
            }
            for leg in peer.outgoing.values()
            if leg.transceiver.mid is not None
        }
        await self._send_offer(
            peer.participant_id,
            {
                "type": local.type,
                "sdp": local.sdp,
                "revision": peer.revision,
                "publish": {kind: t.mid for kind, t in peer.publish.items() if t.mid},
                "tracks": tracks,
            },
        )

    async def apply_answer(self, participant_id: str, sdp: str, revision: int) -> None:
        """Apply a participant's answer to the server's pending offer."""
        peer = self.peers.get(participant_id)
        if peer is None or not peer.awaiting_answer:
            raise NoOfferPending("no offer is waiting for an answer")
        if revision != peer.revision:
            raise StaleAnswer(f"answer to offer {revision}, but offer {peer.revision} is pending")
        try:
            await peer.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        except Exception as exc:
            # aiortc raises ValueError/InvalidStateError/… on an unusable SDP; the offer stays
            # pending so a corrected answer can still be sent.
            raise NegotiationFailed(f"the answer could not be applied: {exc}") from exc
        peer.awaiting_answer = False
        if self._relay is not None:
            for track in tracks_of(self._roles.get(participant_id, "")):
                for leg in self._legs.get((participant_id, track), []):
                    self._relay_attach(leg)
        for track in peer.publish:
            source = self.sources.get((participant_id, track))
            if source is not None:
                source.prepare()
        for leg in peer.outgoing.values():
            if not leg.ready:
                leg.prepare(peer.fast)
                source = self.sources.get((leg.publisher_id, leg.track))
                if source is not None and leg.allowed:
                    source.request_keyframe()
        if peer.dirty:
            await self.negotiate(peer)

    async def add_candidate(
        self, participant_id: str, candidate: str | None, sdp_mid: str | None, index: int | None
    ) -> None:
        """Add one trickled remote ICE candidate (``None`` ends the candidates)."""
        peer = self.peers.get(participant_id)
        if peer is None:
            raise NoOfferPending("no peer connection to add a candidate to")
        if not candidate:
            return
        text = candidate.removeprefix("candidate:")
        try:
            parsed = candidate_from_sdp(text)
        except (AssertionError, ValueError, IndexError) as exc:
            raise NegotiationFailed(f"unreadable ICE candidate: {exc}") from exc
        parsed.sdpMid = sdp_mid
        parsed.sdpMLineIndex = index
        if parsed.ip.endswith(".local"):
            # mDNS names can't be resolved by aioice; the pair forms peer-reflexively instead.
            return
        try:
            await peer.pc.addIceCandidate(parsed)
        except Exception as exc:
            raise NegotiationFailed(f"the ICE candidate could not be added: {exc}") from exc

    # -- figures ---------------------------------------------------------------------------

    async def quality(self) -> dict[str, dict[str, Any]]:
        """Connection quality of each participant since the last call: the round trip to their
        browser and the share of packets lost, in either direction, as RTCP reports them."""
        out: dict[str, dict[str, Any]] = {}
        for participant_id, peer in list(self.peers.items()):
            if peer.closed or peer.pc.connectionState != "connected":
                continue
            received = lost = 0
            for transceiver in peer.publish.values():
                for stats in (await transceiver.receiver.getStats()).values():
                    if getattr(stats, "type", "") == "inbound-rtp":
                        received += int(stats.packetsReceived or 0)
                        lost += max(0, int(stats.packetsLost or 0))
            d_received = received - peer.received_totals[0]
            d_lost = lost - peer.received_totals[1]
            peer.received_totals = (received, lost)
            upstream = d_lost / (d_received + d_lost) if d_received + d_lost > 0 else None
            rtts: list[float] = []
            downstream: list[float] = []
            for leg in peer.outgoing.values():
                if not leg.ready or not leg.allowed:
                    continue
                for stats in (await leg.sender.getStats()).values():
                    if getattr(stats, "type", "") == "remote-inbound-rtp":
                        if stats.roundTripTime is not None:
                            rtts.append(float(stats.roundTripTime))
                        if stats.fractionLost is not None:
                            downstream.append(int(stats.fractionLost) / 256)
            losses = [x for x in (upstream, max(downstream, default=None)) if x is not None]
            if not losses and not rtts:
                continue
            rtt_ms = round(sorted(rtts)[len(rtts) // 2] * 1000) if rtts else None
            loss_pct = round(max(losses) * 100, 1) if losses else None
            out[participant_id] = {
                "level": quality_level(rtt_ms, loss_pct),
                "rtt_ms": rtt_ms,
                "loss_pct": loss_pct,
            }
        return out

    def stats(self) -> dict[str, Any]:
        """Counters for tests and the benchmark."""
        legs = [leg for legs in self._legs.values() for leg in legs]
        return {
            "peers": len(self.peers),
            "legs": len(legs),
            "forwarded_packets": sum(leg.forwarded_packets for leg in legs),
            "dropped_packets": sum(leg.dropped_packets for leg in legs),
            "retransmitted_packets": sum(leg.retransmitted_packets for leg in legs),
            "received_packets": sum(s.received_packets for s in self.sources.values()),
        }
