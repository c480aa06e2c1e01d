"""The SFU of one room: one server-side peer connection per participant, media forwarded as RTP.

Negotiation: the server is the only offerer. Each participant's connection has two *publish*
transceivers (audio, video; ``recvonly`` here) and, for every other participant, two ``sendonly``
transceivers that carry that participant's audio and video. A transceiver keeps its owner for the
life of the connection, so a participant who reloads comes back on the same mids of the others'
connections and nothing is renegotiated for them.

Forwarding (``ForwardingMode.PACKET``): each RTP packet a publisher sends is rewritten per
subscriber *leg* (SSRC, payload type, sequence number, timestamp, mid) and sent on that
subscriber's transport — no jitter buffer, no decoder, no encoder. ``ForwardingMode.RELAY`` is
aiortc's decode/re-encode ``MediaRelay``, kept only as the baseline the benchmark measures against.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

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
from aiortc.rtp import RtpPacket
from aiortc.sdp import candidate_from_sdp

from rooms import aiortc_hooks as hooks
from rooms.errors import NegotiationFailed, NoOfferPending, StaleAnswer
from rooms.forwarding import ForwardingCounters, LegTimeline, is_keyframe_start
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
    ext_map: Any = None
    send: Callable[[bytes], Awaitable[None]] | None = None
    forwarded_packets: int = 0
    dropped_packets: int = 0
    relayed: Any = None
    """Baseline only: the publisher track this leg's sender re-encodes."""

    @property
    def sender(self) -> RTCRtpSender:
        return self.transceiver.sender

    def rebase(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        """Number ``packet`` on from what the leg sent last (a new stream, or after a pause: then
        the timestamp steps as far as the clock did)."""
        gap_ms = arrival_time_ms - self.last_arrival_ms if self.resync else None
        self.timeline.rebase(packet.ssrc, packet.sequence_number, packet.timestamp, gap_ms=gap_ms)
        self.resync = False

    def prepare(self) -> None:
        """Read the negotiated parameters once the sender has started."""
        codecs = hooks.negotiated_codecs(self.transceiver)
        if not codecs:
            return
        self.payload_type = codecs[0].payloadType
        self.mid = self.transceiver.mid
        self.ssrc = hooks.sender_ssrc(self.sender)
        self.ext_map = hooks.sender_extensions_map(self.sender)
        self.send = hooks.rtp_sender_function(self.sender)
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
    ssrc: int | None = None
    codec_mime: str = ""
    clock_rate: int = 90000
    last_keyframe_request: float = 0.0
    received_packets: int = 0
    record_to: Any = None
    """The recorder this stream goes to while it is recorded (a side path: it only queues)."""

    async def on_rtp(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        """Forward one packet from the publisher to every leg (the hot path)."""
        receiver = self.transceiver.receiver
        if packet.ssrc != self.ssrc:
            codec = hooks.receiver_codecs(receiver).get(packet.payload_type)
            if codec is None:
                return
            self.ssrc = packet.ssrc
            self.codec_mime = codec.mimeType
            self.clock_rate = codec.clockRate
        self.received_packets += 1
        counters = self.sfu.counters
        counters.received_packets += 1
        counters.received_bytes += len(packet.payload)
        await hooks.receive_bookkeeping(receiver, packet, arrival_time_ms, self.clock_rate)
        recorder = self.record_to
        if recorder is not None:
            recorder.push(self.kind, packet, self.codec_mime, self.clock_rate, arrival_time_ms)
            counters.recorded_bytes += len(packet.payload)
        keyframe = self.kind == "video" and is_keyframe_start(self.codec_mime, packet.payload)
        want_keyframe = False
        for leg in self.legs:
            if (
                leg.ready
                and leg.allowed
                and not await self.sfu.forward(leg, packet, keyframe, arrival_time_ms)
            ):
                want_keyframe = True
        if want_keyframe:
            self.request_keyframe()

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe, at most once per configured interval."""
        if self.kind != "video" or self.ssrc is None:
            return
        now = time.monotonic()
        if now - self.last_keyframe_request < self.sfu.config.keyframe_request_interval:
            return
        self.last_keyframe_request = now
        self.sfu.counters.keyframe_requests += 1
        self.sfu.spawn(hooks.request_keyframe(self.transceiver.receiver, self.ssrc))


OfferSink = Callable[[str, dict[str, Any]], Awaitable[None]]


@dataclass(eq=False)
class Peer:
    """The server side of one participant's peer connection."""

    participant_id: str
    pc: RTCPeerConnection
    publish: dict[str, RTCRtpTransceiver] = field(default_factory=dict)
    outgoing: dict[tuple[str, str], Leg] = field(default_factory=dict)
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
        """Repeat keyframe requests for legs still waiting (a PLI can be lost or come too early)."""
        while True:
            await asyncio.sleep(self.config.keyframe_retry_interval)
            for source in self.sources.values():
                if any(leg.ready and leg.allowed and leg.waiting_keyframe for leg in source.legs):
                    source.request_keyframe()

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
            source = Source(self, participant_id, kind, track, transceiver, legs)
            source.record_to = self._recorder_for(participant_id, track)
            self.sources[(participant_id, track)] = source
            if self._relay is None:
                hooks.install_receive_hook(transceiver.receiver, source.on_rtp)
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

    async def forward(
        self, leg: Leg, packet: RtpPacket, keyframe: bool, arrival_time_ms: int = 0
    ) -> bool:
        """Send ``packet`` on ``leg``; return False when the leg needs a keyframe to go on."""
        timeline = leg.timeline
        if leg.kind == "video":
            if packet.ssrc != timeline.source_ssrc:
                leg.waiting_keyframe = True
            if leg.waiting_keyframe:
                if not keyframe:
                    leg.dropped_packets += 1
                    self.counters.dropped_packets += 1
                    return False
                leg.rebase(packet, arrival_time_ms)
                leg.waiting_keyframe = False
            elif hooks.pending_send_bytes(leg.sender.transport) > self.config.max_send_buffer:
                # The subscriber can't keep up: drop to the next keyframe, never queue more.
                leg.waiting_keyframe = True
                leg.dropped_packets += 1
                self.counters.dropped_packets += 1
                return False
        elif packet.ssrc != timeline.source_ssrc or leg.resync:
            leg.rebase(packet, arrival_time_ms)
        leg.last_arrival_ms = arrival_time_ms
        seq, ts = timeline.map(packet.sequence_number, packet.timestamp)
        out = RtpPacket(
            payload_type=leg.payload_type,
            marker=packet.marker,
            sequence_number=seq,
            timestamp=ts,
            ssrc=leg.ssrc,
            payload=packet.payload,
        )
        out.extensions.mid = leg.mid
        out.extensions.abs_send_time = packet.extensions.abs_send_time
        out.extensions.audio_level = packet.extensions.audio_level
        hooks.record_sent(leg.sender, out)
        assert leg.send is not None
        data = out.serialize(leg.ext_map)
        try:
            await leg.send(data)
        except ConnectionError:
            leg.dropped_packets += 1
            self.counters.dropped_packets += 1
            return True
        leg.forwarded_packets += 1
        self.counters.forwarded_packets += 1
        self.counters.forwarded_bytes += len(data)
        return True

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
        for leg in peer.outgoing.values():
            if not leg.ready:
                leg.prepare()
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
            "received_packets": sum(s.received_packets for s in self.sources.values()),
        }
