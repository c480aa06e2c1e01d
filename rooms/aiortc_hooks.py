# This module is where we touch aiortc's private names on purpose; mypy knows aiortc's public
# types only, so those two checks are off here and nowhere else.
# mypy: disable-error-code="attr-defined,method-assign"
"""Every reach into aiortc's and aioice's private names, in one place.

The SFU forwards RTP packets instead of decoded frames, which aiortc has no public API for. These
functions are the whole contact surface; :func:`check_compatibility` runs at start-up and in a unit
test, and fails loudly if the pinned aiortc (see ``pyproject.toml``) changes under us.

What we rely on (aiortc 1.16.0, aioice 0.13.0):
- aioice's ``StunProtocol.datagram_received`` tries to parse every datagram as STUN and queues
  the rest for ``RTCDtlsTransport.__run``, one coroutine hop per packet, which unprotects and
  parses it (``rtcdtlstransport.py``, ``_recv_next``). :class:`FastTransport` replaces
  ``datagram_received`` *on the protocol instances* of one server-side connection: a datagram
  whose first byte is 128..191 (RTP/RTCP, RFC 7983 §7) is unprotected with the DTLS transport's
  ``_rx_srtp`` session and handed to the SFU synchronously; STUN and DTLS take aioice's path.
  Forwarded packets are protected with ``_tx_srtp`` and sent on the nominated pair's socket
  (``Connection._nominated``), as ``RTCDtlsTransport._send_rtp`` and ``Connection.sendto`` do.
  ``_handle_rtp_data``/``_handle_rtcp_data`` are replaced on the instance too, so a packet that
  still takes aiortc's queue reaches the same handler and never a decoder.
- RTCP the SFU does not answer itself (receiver and sender reports, BYE, SDES) goes on to
  aiortc's ``RtpRouter.route_rtcp`` and the senders' and receivers' ``_handle_rtcp_packet``.
- A receiver's reports read ``__remote_streams`` (we put our own statistics there) and are sent
  from its ``__rtcp_ssrc``; NACK, PLI and REMB to publishers are built by the SFU with that SSRC.
- ``RTCRtpSender._handle_rtcp_packet`` turns PLI/FIR into ``_send_keyframe()``; we replace it on
  the instance so a request that reaches aiortc still goes to the publisher.
- Sender reports are built from ``__ntp_timestamp``, ``__rtp_timestamp``, ``__packet_count`` and
  ``__octet_count``: :func:`set_sender_report` sets them from the publisher's reports.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import aioice.ice
import pylibsrtp
from aiortc import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.rtcdtlstransport import RTCDtlsTransport, RtpRouter, State
from aiortc.rtp import RtcpPacket

PINNED_AIORTC = "1.16.0"

logger = logging.getLogger(__name__)

NTP_EPOCH_OFFSET = 2208988800
"""Seconds from 1900 (NTP) to 1970 (Unix)."""

_RECEIVER_PRIVATE = (
    "_RTCRtpReceiver__codecs",
    "_RTCRtpReceiver__remote_streams",
    "_RTCRtpReceiver__rtcp_ssrc",
)
_SENDER_PRIVATE = (
    "_RTCRtpSender__ntp_timestamp",
    "_RTCRtpSender__rtp_timestamp",
    "_RTCRtpSender__packet_count",
    "_RTCRtpSender__octet_count",
    "_ssrc",
    "_stream_id",
)
_DTLS_PRIVATE = ("_rx_srtp", "_tx_srtp", "_state", "_rtp_router", "_transport")
_METHODS = (
    (RTCRtpReceiver, "_send_rtcp"),
    (RTCRtpReceiver, "_handle_rtcp_packet"),
    (RTCRtpSender, "_send_keyframe"),
    (RTCRtpSender, "_handle_rtcp_packet"),
    (RTCDtlsTransport, "_handle_rtp_data"),
    (RTCDtlsTransport, "_handle_rtcp_data"),
    (RtpRouter, "route_rtp"),
    (RtpRouter, "route_rtcp"),
    (aioice.ice.StunProtocol, "datagram_received"),
    (aioice.ice.CandidatePair, "remote_addr"),
)


class IncompatibleAiortc(RuntimeError):
    """The installed aiortc is not the one these hooks were written against."""


def check_compatibility(receiver: RTCRtpReceiver, sender: RTCRtpSender) -> None:
    """Raise :class:`IncompatibleAiortc` if any private name we use is missing."""
    import aiortc

    problems = []
    if aiortc.__version__ != PINNED_AIORTC:
        problems.append(f"aiortc {aiortc.__version__} installed, hooks written for {PINNED_AIORTC}")
    problems += [f"RTCRtpReceiver.{n}" for n in _RECEIVER_PRIVATE if not hasattr(receiver, n)]
    problems += [f"RTCRtpSender.{n}" for n in _SENDER_PRIVATE if not hasattr(sender, n)]
    problems += [f"{cls.__name__}.{m}" for cls, m in _METHODS if not hasattr(cls, m)]
    dtls = receiver.transport
    problems += [f"RTCDtlsTransport.{n}" for n in _DTLS_PRIVATE if not hasattr(dtls, n)]
    connection = getattr(dtls.transport, "_connection", None)
    if connection is None:
        problems.append("RTCIceTransport._connection")
    else:
        problems += [
            f"aioice.ice.Connection.{n}"
            for n in ("_protocols", "_nominated")
            if not hasattr(connection, n)
        ]
    if not hasattr(State, "CONNECTED"):
        problems.append("aiortc.rtcdtlstransport.State.CONNECTED")
    transceiver_names = RTCRtpTransceiver.__init__.__code__.co_names
    problems += [
        f"RTCRtpTransceiver.{n}"
        for n in ("_codecs", "_headerExtensions")
        if n not in transceiver_names
    ]
    if not callable(getattr(aioice.ice, "get_host_addresses", None)):
        problems.append("aioice.ice.get_host_addresses")
    if not callable(getattr(aioice.ice.Connection, "get_component_candidates", None)):
        problems.append("aioice.ice.Connection.get_component_candidates")
    if not isinstance(getattr(aioice.ice, "StunProtocol", None), type):
        problems.append("aioice.ice.StunProtocol")
    if problems:
        raise IncompatibleAiortc("rooms/aiortc_hooks.py no longer fits: " + "; ".join(problems))


RtpBytesHandler = Callable[[bytes, int], None]
"""``(decrypted RTP packet, arrival time in ms since 1900)``: called synchronously."""
RtcpHandler = Callable[[list[Any]], list[Any]]
"""Gets the parsed RTCP packets of one compound; returns those aiortc should still see."""


class FastTransport:
    """The synchronous SRTP path of one server-side peer connection (bundled: one transport).

    Receives: :meth:`attach` (after each ICE gathering) routes RTP/RTCP datagrams to
    ``on_rtp`` (through the receiver handlers registered with :meth:`add_receiver`) and
    ``on_rtcp``. Sends: :meth:`send_rtp` and :meth:`send_rtcp` protect and send at once.
    """

    def __init__(self, dtls: RTCDtlsTransport, on_rtcp: RtcpHandler) -> None:
        self.dtls = dtls
        self._on_rtcp = on_rtcp
        self._connection: Any = dtls.transport._connection
        self._nominated: dict[int, Any] = self._connection._nominated
        self._receivers: dict[Any, RtpBytesHandler] = {}
        self._by_ssrc: dict[int, RtpBytesHandler | None] = {}
        self._attached: set[int] = set()
        self._pair: Any = None
        self._sendto: Callable[[bytes, Any], None] | None = None
        self._addr: Any = None
        self._tx: Any = None
        self._socket_transport: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.drop_filter: Callable[[bytes], bool] | None = None
        """Test hook: a forwarded packet for which this returns True is not sent."""
        self.slow_packets = 0
        """SRTP/SRTCP packets that came through aiortc's queue instead (0 when all is well)."""
        self.peer_keyed = False
        """The peer has sent SRTP or SRTCP we could decrypt: it has its keys, so what we send
        is no longer dropped while its DTLS handshake finishes (aiortc drops SRTP until then)."""
        self.closed = False

        async def _handle_rtp_data(data: bytes, arrival_time_ms: int) -> None:
            self.slow_packets += 1
            self.peer_keyed = True
            self._deliver_rtp(data, arrival_time_ms)

        async def _handle_rtcp_data(data: bytes) -> None:
            self.slow_packets += 1
            self.peer_keyed = True
            self._deliver_rtcp(data)

        dtls._handle_rtp_data = _handle_rtp_data
        dtls._handle_rtcp_data = _handle_rtcp_data

    def add_receiver(self, receiver: RTCRtpReceiver, handler: RtpBytesHandler) -> None:
        """Send the RTP aiortc would route to ``receiver`` to ``handler`` instead."""
        self._receivers[receiver] = handler
        self._by_ssrc.clear()

    def attach(self) -> None:
        """Take over the datagrams of every socket the ICE agent has gathered so far."""
        for protocol in list(self._connection._protocols):
            if id(protocol) in self._attached:
                continue
            self._attached.add(id(protocol))
            protocol.datagram_received = self._interceptor(protocol.datagram_received)

    def _interceptor(self, original: Callable[[bytes, Any], None]) -> Callable[[bytes, Any], None]:
        dtls = self.dtls

        def datagram_received(data: bytes, addr: Any) -> None:
            # RFC 7983 §7: 128..191 is RTP or RTCP; STUN (0..3) and DTLS (20..63) go to aioice.
            rx = dtls._rx_srtp
            if rx is None or len(data) < 12 or not 127 < data[0] < 192:
                original(data, addr)
                return
            try:
                if 192 <= data[1] <= 208:  # RTCP packet types SR..PSFB (aiortc.rtp.is_rtcp)
                    plain = rx.unprotect_rtcp(data)
                    self.peer_keyed = True
                    self._deliver_rtcp(plain)
                else:
                    now = time.time()
                    plain = rx.unprotect(data)
                    self.peer_keyed = True
                    self._deliver_rtp(plain, int((now + NTP_EPOCH_OFFSET) * 1000))
            except pylibsrtp.Error:
                pass  # a replay or a packet we have no key for: dropped, as aiortc does
            except Exception:
                logger.exception("FastTransport: a datagram could not be handled")

        return datagram_received

    def _deliver_rtp(self, data: bytes, arrival_ms: int) -> None:
        ssrc = int.from_bytes(data[8:12], "big")
        try:
            handler = self._by_ssrc[ssrc]
        except KeyError:
            handler = self._learn(ssrc, data[1] & 0x7F)
        if handler is not None:
            handler(data, arrival_ms)

    def _learn(self, ssrc: int, payload_type: int) -> RtpBytesHandler | None:
        # aiortc's own routing (SSRC from the SDP, else an unambiguous payload type).
        # route_rtp reads only these two fields of its packet.
        probe: Any = SimpleNamespace(ssrc=ssrc, payload_type=payload_type)
        receiver = self.dtls._rtp_router.route_rtp(probe)
        handler = self._receivers.get(receiver)
        if handler is not None or len(self._by_ssrc) < 64:
            self._by_ssrc[ssrc] = handler
        return handler

    def _deliver_rtcp(self, data: bytes) -> None:
        try:
            packets = RtcpPacket.parse(data)
        except ValueError:
            return
        rest = self._on_rtcp(packets)
        if rest:
            task = asyncio.ensure_future(self._to_aiortc(rest))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _to_aiortc(self, packets: list[Any]) -> None:
        router = self.dtls._rtp_router
        for packet in packets:
            for recipient in router.route_rtcp(packet):
                await recipient._handle_rtcp_packet(packet)

    def _select(self) -> bool:
        pair = self._nominated.get(1)
        dtls = self.dtls
        if (
            pair is None
            or not self.peer_keyed
            or dtls._state is not State.CONNECTED
            or dtls._tx_srtp is None
        ):
            self._pair = None
            return False
        self._pair = pair
        self._socket_transport = pair.protocol.transport
        self._sendto = self._socket_transport.sendto
        self._addr = pair.remote_addr
        self._tx = dtls._tx_srtp
        return True

    def send_rtp(self, data: bytes) -> bool:
        """SRTP-protect one RTP packet and send it to the peer; False if not connected."""
        pair = self._nominated.get(1)
        if (pair is not self._pair or pair is None) and not self._select():
            return False
        if self.drop_filter is not None and self.drop_filter(data):
            return True
        assert self._sendto is not None
        self._sendto(self._tx.protect(data), self._addr)
        return True

    def send_rtcp(self, data: bytes) -> bool:
        """SRTCP-protect one RTCP compound packet and send it; False if not connected."""
        pair = self._nominated.get(1)
        if (pair is not self._pair or pair is None) and not self._select():
            return False
        assert self._sendto is not None
        self._sendto(self._tx.protect_rtcp(data), self._addr)
        return True

    def pending_bytes(self) -> int:
        """Bytes asyncio holds for the socket towards this peer (the kernel took no more yet).

        asyncio keeps datagrams the kernel would not take yet in an unbounded buffer; this is our
        per-subscriber queue, and the SFU keeps it bounded by dropping video.
        """
        transport = self._socket_transport
        if transport is None:
            return 0
        size: int = transport.get_write_buffer_size()
        return size

    def close(self) -> None:
        self.closed = True
        self._pair = None
        for task in list(self._tasks):
            task.cancel()


def receiver_codecs(receiver: RTCRtpReceiver) -> dict[int, Any]:
    """Payload type → negotiated ``RTCRtpCodecParameters`` of a receiver."""
    codecs: dict[int, Any] = receiver._RTCRtpReceiver__codecs
    return codecs


def receiver_rtcp_ssrc(receiver: RTCRtpReceiver) -> int | None:
    """The SSRC a receiver sends its RTCP from (set once negotiated)."""
    ssrc: int | None = receiver._RTCRtpReceiver__rtcp_ssrc
    return ssrc


def set_inbound_statistics(receiver: RTCRtpReceiver, ssrc: int, statistics: Any) -> None:
    """Make the receiver's reports and ``getStats`` read ``statistics`` for stream ``ssrc``
    (an object shaped like aiortc's ``StreamStatistics``)."""
    receiver._RTCRtpReceiver__remote_streams[ssrc] = statistics


def install_keyframe_hook(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call ``callback`` when the subscriber behind ``sender`` asks for a keyframe (PLI/FIR)."""
    sender._send_keyframe = callback


def header_extension_ids(transceiver: RTCRtpTransceiver) -> dict[str, int]:
    """Negotiated RTP header extensions of a transceiver: URI → id (empty before)."""
    return {ext.uri: ext.id for ext in transceiver._headerExtensions}


def set_sender_report(
    sender: RTCRtpSender, ntp_timestamp: int, rtp_timestamp: int, packets: int, octets: int
) -> None:
    """What the sender's next RTCP sender report says (RFC 3550 §6.4.1)."""
    sender._RTCRtpSender__ntp_timestamp = ntp_timestamp
    sender._RTCRtpSender__rtp_timestamp = rtp_timestamp
    sender._RTCRtpSender__packet_count = packets
    sender._RTCRtpSender__octet_count = octets


_original_get_host_addresses = aioice.ice.get_host_addresses


def restrict_host_addresses(addresses: Sequence[str] | None) -> None:
    """Make every ICE agent of this process gather host candidates on ``addresses`` only.

    aioice gathers on every interface but skips 127.0.0.1 (``aioice/ice.py``,
    ``get_host_addresses``); tests need loopback only, deployments may need one interface.
    ``None`` restores aioice's own choice.
    """
    if addresses is None:
        aioice.ice.get_host_addresses = _original_get_host_addresses
        return
    chosen = list(addresses)

    def _configured(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = _configured


def negotiated_codecs(transceiver: RTCRtpTransceiver) -> list[Any]:
    """The codecs a transceiver negotiated, preferred first (empty before negotiation)."""
    codecs: list[Any] = transceiver._codecs
    return codecs


def set_stream_id(sender: RTCRtpSender, stream_id: str) -> None:
    """Name the media stream a sender's track belongs to (its ``a=msid``); aiortc picks a uuid."""
    sender._stream_id = stream_id


def sender_ssrc(sender: RTCRtpSender) -> int:
    """The SSRC a sender announces in the SDP."""
    ssrc: int = sender._ssrc
    return ssrc


# -- the server's media ports and advertised addresses (aioice has no option for either) -----

_original_get_component_candidates = aioice.ice.Connection.get_component_candidates


def limit_host_ports(loop: asyncio.AbstractEventLoop, ports: range | None) -> None:
    """Bind every ICE host socket made on ``loop`` to a port of ``ports`` (``None``: undo).

    aioice binds host candidates to port 0 (``Connection.get_component_candidates``:
    ``loop.create_datagram_endpoint(lambda: StunProtocol(self), local_addr=(address, 0))``) and
    has no option for a range, so we wrap the loop's ``create_datagram_endpoint`` on the
    instance. Only sockets whose protocol is aioice's ``StunProtocol`` and that ask for port 0
    are moved; a TURN client's socket (``TurnClientUdpProtocol``) and anything else pass
    through. With MAX_BUNDLE one peer connection holds one port per host address, so a range
    of N ports holds N peer connections; when every port is taken the bind fails and aioice
    gathers no host candidate on that address (logged here as a warning).
    """
    original: Callable[..., Awaitable[Any]] = loop.__class__.create_datagram_endpoint.__get__(loop)
    if ports is None:
        if "create_datagram_endpoint" in vars(loop):
            del loop.create_datagram_endpoint
        return
    if len(ports) == 0:
        raise ValueError("the media port range is empty")
    cursor = [0]

    async def create_datagram_endpoint(
        protocol_factory: Callable[[], asyncio.BaseProtocol], *args: Any, **kwargs: Any
    ) -> Any:
        local_addr = kwargs.get("local_addr")
        if args or not isinstance(local_addr, tuple) or local_addr[1] != 0:
            return await original(protocol_factory, *args, **kwargs)
        protocol = protocol_factory()
        if not isinstance(protocol, aioice.ice.StunProtocol):
            return await original(lambda: protocol, *args, **kwargs)
        # Start after the port handed out last: a port just freed may still get stray packets.
        for i in range(len(ports)):
            port = ports[(cursor[0] + i) % len(ports)]
            try:
                result = await original(
                    lambda: protocol, **{**kwargs, "local_addr": (local_addr[0], port)}
                )
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                continue
            cursor[0] = (cursor[0] + i + 1) % len(ports)
            return result
        logger.warning(
            "every media port %d-%d on %s is taken: no ICE host candidate",
            ports.start,
            ports.stop - 1,
            local_addr[0],
        )
        raise OSError(errno.EADDRINUSE, "no free port in the media port range")

    # On the instance, not the class: other loops (a test's, a worker's) stay as they are.
    loop.__dict__["create_datagram_endpoint"] = create_datagram_endpoint


def advertise_host_addresses(mapping: Mapping[str, str] | None) -> None:
    """Announce host candidates bound on a private address under a public one (1:1 NAT).

    ``mapping``: bound address → advertised address; the key ``"*"`` maps every IPv4 host
    candidate. aioice names a host candidate after its socket's address; we rename it after
    gathering (``Connection.get_component_candidates``), in place, so the socket, the STUN
    checks and the candidate pairs go on using the real socket. ``None`` restores aioice's own.
    """
    if mapping is None:
        aioice.ice.Connection.get_component_candidates = _original_get_component_candidates
        return
    table = dict(mapping)

    async def get_component_candidates(
        self: aioice.ice.Connection,
        component: int,
        addresses: list[str],
        timeout: int = 5,  # noqa: ASYNC109 (aioice's signature)
    ) -> list[Any]:
        candidates: list[Any] = await _original_get_component_candidates(
            self, component, addresses, timeout
        )
        for candidate in candidates:
            if candidate.type != "host":
                continue
            public = table.get(candidate.host)
            if public is None and ":" not in candidate.host:
                public = table.get("*")
            if public is not None:
                candidate.host = public
        return candidates

    aioice.ice.Connection.get_component_candidates = get_component_candidates
