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
        del transceiver.sender._RTCRtpSender__rtp_history
        with pytest.raises(aiortc_hooks.IncompatibleAiortc, match="__rtp_history"):
            aiortc_hooks.check_compatibility(transceiver.receiver, transceiver.sender)
    finally:
        await pc.close()


def test_host_addresses_can_be_restricted_and_restored() -> None:
    aiortc_hooks.restrict_host_addresses(["127.0.0.1", "::1"])
    try:
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1", "::1"]
    finally:
        aiortc_hooks.restrict_host_addresses(None)
    assert "127.0.0.1" not in aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)
