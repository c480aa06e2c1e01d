# This module is where we touch aiortc's private names on purpose; mypy knows aiortc's public
# types only, so those two checks are off here and nowhere else.
# mypy: disable-error-code="attr-defined,method-assign"
"""Every reach into aiortc's and aioice's private names, in one place.

The SFU forwards RTP packets instead of decoded frames, which aiortc has no public API for. These
functions are the whole contact surface; :func:`check_compatibility` runs at start-up and in a unit
test, and fails loudly if the pinned aiortc (see ``pyproject.toml``) changes under us.

What we rely on (aiortc 1.16.0):
- ``RTCDtlsTransport._handle_rtp_data`` routes each decrypted, parsed ``RtpPacket`` to
  ``receiver._handle_rtp_packet(packet, arrival_time_ms=...)`` (``rtcdtlstransport.py``); we
  replace that method *on the instance* so the receiver never depacketizes or decodes.
- A receiver's RTCP (receiver reports, NACKs, REMB) is fed from its private statistics, NACK
  generator and bitrate estimator; :func:`receive_bookkeeping` keeps them up to date.
- ``RTCRtpSender._handle_rtcp_packet`` answers a NACK from ``__rtp_history`` and turns PLI/FIR into
  ``_send_keyframe()``; we fill the history with what we forward and replace ``_send_keyframe``
  on the instance so the request goes to the publisher instead.
- Sender reports are built from ``__ntp_timestamp``, ``__rtp_timestamp``, ``__packet_count`` and
  ``__octet_count``; :func:`record_sent` keeps them true for the forwarded stream.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aioice.ice
from aiortc import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver, clock
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTP_HISTORY_SIZE,
    HeaderExtensionsMap,
    RtcpPsfbPacket,
    RtpPacket,
    pack_remb_fci,
)

PINNED_AIORTC = "1.16.0"

logger = logging.getLogger(__name__)

_RECEIVER_PRIVATE = (
    "_RTCRtpReceiver__codecs",
    "_RTCRtpReceiver__remote_streams",
    "_RTCRtpReceiver__nack_generator",
    "_RTCRtpReceiver__remote_bitrate_estimator",
    "_RTCRtpReceiver__rtcp_ssrc",
    "_RTCRtpReceiver__active_ssrc",
)
_SENDER_PRIVATE = (
    "_RTCRtpSender__rtp_history",
    "_RTCRtpSender__rtp_header_extensions_map",
    "_RTCRtpSender__ntp_timestamp",
    "_RTCRtpSender__rtp_timestamp",
    "_RTCRtpSender__packet_count",
    "_RTCRtpSender__octet_count",
    "_ssrc",
    "_stream_id",
)
_METHODS = (
    (RTCRtpReceiver, "_handle_rtp_packet"),
    (RTCRtpReceiver, "_send_rtcp_pli"),
    (RTCRtpReceiver, "_send_rtcp_nack"),
    (RTCRtpReceiver, "_send_rtcp"),
    (RTCRtpSender, "_send_keyframe"),
    (RTCRtpSender, "_handle_rtcp_packet"),
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
    if not callable(getattr(aioice.ice, "get_host_addresses", None)):
        problems.append("aioice.ice.get_host_addresses")
    if not callable(getattr(aioice.ice.Connection, "get_component_candidates", None)):
        problems.append("aioice.ice.Connection.get_component_candidates")
    if not isinstance(getattr(aioice.ice, "StunProtocol", None), type):
        problems.append("aioice.ice.StunProtocol")
    if problems:
        raise IncompatibleAiortc("rooms/aiortc_hooks.py no longer fits: " + "; ".join(problems))


RtpHandler = Callable[[RtpPacket, int], Awaitable[None]]


def install_receive_hook(receiver: RTCRtpReceiver, handler: RtpHandler) -> None:
    """Route the receiver's RTP to ``handler(packet, arrival_time_ms)`` instead of its decoder."""

    async def _handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        await handler(packet, arrival_time_ms)

    receiver._handle_rtp_packet = _handle_rtp_packet


def receiver_codecs(receiver: RTCRtpReceiver) -> dict[int, Any]:
    """Payload type → negotiated ``RTCRtpCodecParameters`` of a receiver."""
    codecs: dict[int, Any] = receiver._RTCRtpReceiver__codecs
    return codecs


async def receive_bookkeeping(
    receiver: RTCRtpReceiver, packet: RtpPacket, arrival_time_ms: int, clock_rate: int
) -> None:
    """Do what the receiver does for its RTCP before depacketizing: REMB, reports, NACKs.

    Mirrors ``RTCRtpReceiver._handle_rtp_packet`` up to the jitter buffer (RTX is never
    negotiated by this SFU, so there is nothing to unwrap).
    """
    estimator = receiver._RTCRtpReceiver__remote_bitrate_estimator
    rtcp_ssrc = receiver._RTCRtpReceiver__rtcp_ssrc
    if estimator is not None and packet.extensions.abs_send_time is not None:
        remb = estimator.add(
            abs_send_time=packet.extensions.abs_send_time,
            arrival_time_ms=arrival_time_ms,
            payload_size=len(packet.payload) + packet.padding_size,
            ssrc=packet.ssrc,
        )
        if rtcp_ssrc is not None and remb is not None:
            await receiver._send_rtcp(
                RtcpPsfbPacket(
                    fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(*remb)
                )
            )
    streams = receiver._RTCRtpReceiver__remote_streams
    stats = streams.get(packet.ssrc)
    if stats is None:
        stats = streams[packet.ssrc] = StreamStatistics(clock_rate)
    stats.add(packet)
    nack = receiver._RTCRtpReceiver__nack_generator
    if nack is not None and nack.add(packet):
        await receiver._send_rtcp_nack(packet.ssrc, sorted(nack.missing))


async def request_keyframe(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Send a PLI for ``media_ssrc`` to the publisher behind ``receiver``."""
    await receiver._send_rtcp_pli(media_ssrc)


def install_keyframe_hook(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call ``callback`` when the subscriber behind ``sender`` asks for a keyframe (PLI/FIR)."""
    sender._send_keyframe = callback


def sender_extensions_map(sender: RTCRtpSender) -> HeaderExtensionsMap:
    """The header extension ids negotiated for a sender (valid once it has started sending)."""
    ext_map: HeaderExtensionsMap = sender._RTCRtpSender__rtp_header_extensions_map
    return ext_map


def record_sent(sender: RTCRtpSender, packet: RtpPacket) -> None:
    """Keep a forwarded packet for NACKs and count it in the sender's reports."""
    sender._RTCRtpSender__rtp_history[packet.sequence_number % RTP_HISTORY_SIZE] = packet
    sender._RTCRtpSender__ntp_timestamp = clock.current_ntp_time()
    sender._RTCRtpSender__rtp_timestamp = packet.timestamp
    sender._RTCRtpSender__packet_count += 1
    sender._RTCRtpSender__octet_count += len(packet.payload)


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


def rtp_sender_function(sender: RTCRtpSender) -> Callable[[bytes], Awaitable[None]]:
    """The coroutine that SRTP-protects and sends one packet on the sender's transport."""
    send: Callable[[bytes], Awaitable[None]] = sender.transport._send_rtp
    return send


def pending_send_bytes(dtls_transport: Any) -> int:
    """Bytes waiting in the UDP socket's user-space buffer towards this transport's peer.

    asyncio keeps datagrams the kernel would not take yet in an unbounded buffer; this is our
    per-subscriber queue, and the SFU keeps it bounded by dropping video.
    """
    connection = dtls_transport.transport._connection
    pair = connection._nominated.get(1)
    if pair is None or pair.protocol.transport is None:
        return 0
    size: int = pair.protocol.transport.get_write_buffer_size()
    return size


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
