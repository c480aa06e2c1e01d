"""The SFU's private hooks into aiortc must fit the installed aiortc, or fail loudly here."""

import aioice.ice
import pytest
from aiortc import RTCPeerConnection

from rooms import aiortc_hooks


async def test_hooks_fit_the_installed_aiortc() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="sendrecv")
        aiortc_hooks.check_compatibility(transceiver.receiver, transceiver.sender)
        assert aiortc_hooks.negotiated_codecs(transceiver) == []
        assert isinstance(aiortc_hooks.sender_ssrc(transceiver.sender), int)
    finally:
        await pc.close()


async def test_a_missing_private_name_is_reported() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("audio")
        del transceiver.sender._RTCRtpSender__packet_count
        with pytest.raises(aiortc_hooks.IncompatibleAiortc, match="__packet_count"):
            aiortc_hooks.check_compatibility(transceiver.receiver, transceiver.sender)
    finally:
        await pc.close()


async def test_a_missing_name_of_the_datagram_path_is_reported() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video")
        dtls = transceiver.receiver.transport
        del dtls._rx_srtp
        del dtls.transport._connection._nominated
        with pytest.raises(aiortc_hooks.IncompatibleAiortc) as raised:
            aiortc_hooks.check_compatibility(transceiver.receiver, transceiver.sender)
        assert "RTCDtlsTransport._rx_srtp" in str(raised.value)
        assert "Connection._nominated" in str(raised.value)
    finally:
        dtls._rx_srtp = None
        dtls.transport._connection._nominated = {}
        await pc.close()


async def test_the_fast_path_takes_srtp_only_and_leaves_stun_and_dtls_to_aioice() -> None:
    pc = RTCPeerConnection()
    aiortc_hooks.restrict_host_addresses(["127.0.0.1"])
    try:
        transceiver = pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        dtls = transceiver.receiver.transport
        seen: list[str] = []
        fast = aiortc_hooks.FastTransport(dtls, lambda packets: seen.append("rtcp") or [])
        fast.attach()
        fast.attach()  # idempotent: one interceptor per socket
        [protocol] = dtls.transport._connection._protocols
        passed: list[bytes] = []
        original = protocol.datagram_received
        protocol.datagram_received = original  # what aioice would call
        aioice_side = fast._interceptor(lambda data, addr: passed.append(data))
        aioice_side(b"\x00\x01" + b"\x00" * 18, ("127.0.0.1", 9))  # STUN
        aioice_side(b"\x16" + b"\x00" * 20, ("127.0.0.1", 9))  # DTLS
        aioice_side(b"\x80" + b"\x00" * 20, ("127.0.0.1", 9))  # SRTP before any key: aioice's
        assert len(passed) == 3
        # Not connected yet: nothing is sent and nothing fails.
        assert not fast.send_rtp(b"\x80" * 20)
        assert fast.pending_bytes() == 0
    finally:
        aiortc_hooks.restrict_host_addresses(None)
        await pc.close()


def test_host_addresses_can_be_restricted_and_restored() -> None:
    aiortc_hooks.restrict_host_addresses(["127.0.0.1", "::1"])
    try:
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1", "::1"]
    finally:
        aiortc_hooks.restrict_host_addresses(None)
    assert "127.0.0.1" not in aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)


async def test_host_sockets_take_ports_from_the_range_and_turn_sockets_do_not() -> None:
    import asyncio
    import socket

    from tests.support.server import free_port

    loop = asyncio.get_running_loop()
    base = free_port()
    ports = range(base, base + 2)
    aiortc_hooks.restrict_host_addresses(["127.0.0.1"])
    aiortc_hooks.limit_host_ports(loop, ports)
    connections = [aioice.ice.Connection(ice_controlling=True) for _ in range(3)]
    try:
        for connection in connections[:2]:
            await connection.gather_candidates()
        bound = sorted(c.local_candidates[0].port for c in connections[:2])
        assert bound == list(ports)
        # The range is full: the third gets no host candidate rather than a random port.
        await connections[2].gather_candidates()
        assert connections[2].local_candidates == []
        # Any other datagram socket (a TURN client's, say) still gets a port of the system's.
        other, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
        )
        assert other.get_extra_info("sockname")[1] not in ports
        other.close()
    finally:
        aiortc_hooks.limit_host_ports(loop, None)
        aiortc_hooks.restrict_host_addresses(None)
        for connection in connections:
            await connection.close()
    assert "create_datagram_endpoint" not in vars(loop)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", ports.start))  # released on close


async def test_host_candidates_can_be_advertised_under_another_address() -> None:
    aiortc_hooks.restrict_host_addresses(["127.0.0.1"])
    aiortc_hooks.advertise_host_addresses({"127.0.0.1": "203.0.113.7"})
    connection = aioice.ice.Connection(ice_controlling=True)
    try:
        await connection.gather_candidates()
        [candidate] = connection.local_candidates
        assert (candidate.type, candidate.host) == ("host", "203.0.113.7")
        # The socket itself stays on the real address.
        assert connection._protocols[0].transport.get_extra_info("sockname")[0] == "127.0.0.1"
    finally:
        aiortc_hooks.advertise_host_addresses(None)
        aiortc_hooks.restrict_host_addresses(None)
        await connection.close()
    assert (
        aioice.ice.Connection.get_component_candidates
        is aiortc_hooks._original_get_component_candidates
    )
