"""ICE configuration reaching the browser, and the SFU's media ports and advertised address,
with real aiortc clients through a real server subprocess on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.peer import RoomClient, enter_room, wait_for
from tests.support.server import RunningServer, free_port, run_server

pytestmark = pytest.mark.integration

ROLES = ("mediator", "consumer", "business")


def udp_ports(pid: int) -> set[int]:
    """Local ports of the UDP sockets process ``pid`` holds (from /proc, no tools needed)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as fh:
            next(fh)
            for line in fh:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def server_candidates(client: RoomClient) -> list[tuple[str, int]]:
    """``(address, port)`` of every candidate in the server's latest offer to ``client``."""
    assert client.pc is not None and client.pc.remoteDescription is not None
    found = re.findall(
        r"^a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ host", client.pc.remoteDescription.sdp, re.M
    )
    return [(host, int(port)) for host, port in found]


async def test_join_reply_has_no_ice_servers_by_default(
    make_client: Callable[[str], RoomClient], server: RunningServer
) -> None:
    mediator = make_client("mediator")
    await mediator.connect()
    assert await mediator.join() == {"ok": True}
    assert await wait_for(lambda: mediator.joined is not None, 10)
    assert mediator.joined is not None
    assert mediator.joined["ice_servers"] == []


async def test_join_reply_carries_fresh_turn_credentials(tmp_path: Path) -> None:
    secret = "a-coturn-static-auth-secret"
    (tmp_path / "turn.secret").write_text(secret + "\n")
    # Nothing listens on these: the test only reads what the browser is told.
    port = free_port()
    turn_urls = [
        f"turn:127.0.0.1:{port}?transport=udp",
        f"turn:127.0.0.1:{port}?transport=tcp",
        f"turns:127.0.0.1:{port}?transport=tcp",
    ]
    args = ["--stun-url", f"stun:127.0.0.1:{port}", "--turn-ttl", "600"]
    for url in turn_urls:
        args += ["--turn-url", url]
    args += ["--turn-secret-file", str(tmp_path / "turn.secret")]
    with run_server(tmp_path / "run", *args) as server:
        replies = []
        for role in ("mediator", "consumer"):
            client = RoomClient(server.url, server.token(role), role)
            try:
                await client.connect()
                assert await client.join() == {"ok": True}
                assert await wait_for(lambda c=client: c.joined is not None, 10)
                assert client.joined is not None and not client.schema_violations
                replies.append((role, client.joined["ice_servers"]))
            finally:
                await client.close()
    passwords = set()
    for role, servers in replies:
        stun, turn = servers
        assert stun == {"urls": [f"stun:127.0.0.1:{port}"]}
        assert turn["urls"] == turn_urls
        expiry, user = turn["username"].split(":")
        assert user == role
        assert abs(int(expiry) - (time.time() + 600)) < 30
        # coturn's check, made here independently of server.ice.
        digest = hmac.new(secret.encode(), turn["username"].encode(), hashlib.sha1).digest()
        assert turn["credential"] == base64.b64encode(digest).decode()
        passwords.add(turn["credential"])
    assert len(passwords) == 2  # one per participant


async def test_media_ports_stay_in_the_range_and_media_flows(tmp_path: Path) -> None:
    base = free_port()
    ports = range(base, base + 10)
    extra = ("--media-ports", f"{ports.start}-{ports.stop - 1}")
    # The host candidates announce another address (as behind 1:1 NAT); the clients reach the
    # real socket peer-reflexively, as they would through the NAT.
    with run_server(tmp_path, *extra, "--ice-advertise", "127.0.0.1=127.0.0.2") as server:
        clients = [RoomClient(server.url, server.token(role), role) for role in ROLES]
        try:
            for client in clients:
                await client.connect()
            assert await clients[0].join() == {"ok": True}
            await enter_room(clients[0], *clients[1:])

            def flowing() -> bool:
                return all(
                    (m := c.remote.get(o)) is not None and m.video_frames > 5 and m.audio_frames
                    for c in clients
                    for o in ROLES
                    if o != c.role
                )

            assert await wait_for(flowing, 25), {c.role: c.remote for c in clients}
            for client in clients:
                candidates = server_candidates(client)
                assert candidates, "the offer carries no host candidate"
                assert all(host == "127.0.0.2" for host, _ in candidates), candidates
                assert all(port in ports for _, port in candidates), candidates
            media_ports = udp_ports(server.process.pid) & set(range(1024, 65536))
            assert len(media_ports & set(ports)) == 3  # one per participant (MAX_BUNDLE)
            assert media_ports <= set(ports), media_ports
        finally:
            for client in clients:
                await client.close()
