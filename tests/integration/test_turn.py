"""coturn with the TURN REST scheme: the credentials ``server.ice`` makes are accepted while they
are valid, and refused once their time has passed or when signed with another secret.

A real ``turnserver`` on loopback (tests/support/turn.py); aioice's TURN client makes the
allocations. Every step is bounded.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aioice import stun
from aioice.turn import TurnTransport, create_turn_endpoint

from server.ice import IceServers, turn_credential
from tests.support.turn import TurnServer, run_turnserver

pytestmark = pytest.mark.integration

STEP_S = 10.0


@pytest.fixture
def turn(tmp_path: Path) -> Iterator[TurnServer]:
    with run_turnserver(tmp_path / "turn") as running:
        yield running


class Collect(asyncio.DatagramProtocol):
    """What arrives through the relay, and when the allocation is gone."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.closed = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait((data, addr))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def allocate(turn: TurnServer, username: str, password: str) -> tuple[TurnTransport, Collect]:
    return await asyncio.wait_for(
        create_turn_endpoint(
            Collect, (turn.host, turn.port), username=username, password=password, lifetime=600
        ),
        STEP_S,
    )


async def refused_code(turn: TurnServer, username: str, password: str) -> int:
    with pytest.raises(stun.TransactionFailed) as refused:
        await allocate(turn, username, password)
    code, _reason = refused.value.response.attributes["ERROR-CODE"]
    return int(code)


async def test_valid_credential_allocates_and_relays(turn: TurnServer) -> None:
    # Exactly what a participant gets in the join reply.
    (ice,) = IceServers(turn_urls=(turn.url(),), turn_secret=turn.secret).for_user("consumer-1")
    assert ice["urls"] == [turn.url()]
    transport, protocol = await allocate(turn, ice["username"], ice["credential"])
    try:
        relayed = transport.get_extra_info("sockname")
        assert relayed[0] == "127.0.0.1", relayed

        # Data goes through the relay both ways to a peer on loopback.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.bind(("127.0.0.1", 0))
            peer.settimeout(STEP_S)
            transport.sendto(b"ping", peer.getsockname())
            data, source = await asyncio.to_thread(peer.recvfrom, 2048)
            assert (data, source) == (b"ping", tuple(relayed))
            peer.sendto(b"pong", source)
            data, source = await asyncio.wait_for(protocol.received.get(), STEP_S)
            assert (data, source) == (b"pong", peer.getsockname())
    finally:
        transport.close()
        await asyncio.wait_for(protocol.closed, STEP_S)


async def test_expired_credential_is_refused(turn: TurnServer) -> None:
    # Made a day ago with a one-hour life: its expiry is 23 hours in the past.
    username, password = turn_credential(
        turn.secret, "consumer-1", ttl=3600, now=time.time() - 86400
    )
    assert int(username.split(":")[0]) < time.time()
    # coturn 4.6 answers 401 Unauthorized (its log: "Cannot find credentials of user <…>").
    assert await refused_code(turn, username, password) == 401

    # The same user with a fresh credential from the same secret is let in: only the time differs.
    username, password = turn_credential(turn.secret, "consumer-1", ttl=60)
    transport, protocol = await allocate(turn, username, password)
    transport.close()
    await asyncio.wait_for(protocol.closed, STEP_S)


async def test_credential_of_another_secret_is_refused(turn: TurnServer) -> None:
    username, password = turn_credential(b"not-the-secret", "consumer-1")
    assert await refused_code(turn, username, password) == 401
