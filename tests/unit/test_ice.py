"""TURN REST credentials, checked against an independent HMAC computation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess

import pytest

from server.config import parse_port_range
from server.ice import IceServers, turn_credential

SECRET = b"coturn-static-auth-secret"


def test_credential_is_hmac_sha1_of_the_username_with_the_expiry_first() -> None:
    username, password = turn_credential(SECRET, "consumer", ttl=3600, now=1_700_000_000)
    assert username == "1700003600:consumer"
    # The computation coturn does (turn_rest_api / static-auth-secret), made here by hand.
    expected = base64.b64encode(
        hmac.new(SECRET, b"1700003600:consumer", hashlib.sha1).digest()
    ).decode()
    assert password == expected
    assert len(base64.b64decode(password)) == 20


def test_credential_matches_openssl() -> None:
    """A second, independent implementation: the openssl command line."""
    username, password = turn_credential(SECRET, "business", ttl=60, now=1000)
    out = subprocess.run(  # openssl: part of every Debian system
        ["openssl", "dgst", "-sha1", "-hmac", SECRET.decode(), "-binary"],
        input=username.encode(),
        capture_output=True,
        check=True,
    ).stdout
    assert base64.b64encode(out).decode() == password


def test_another_secret_or_user_gives_another_credential() -> None:
    _, password = turn_credential(SECRET, "consumer", now=0)
    assert turn_credential(b"other", "consumer", now=0)[1] != password
    assert turn_credential(SECRET, "business", now=0)[1] != password
    with pytest.raises(ValueError):
        turn_credential(SECRET, "a:b")


def test_servers_for_a_user_carry_fresh_credentials_for_the_turn_urls_only() -> None:
    urls = (
        "turn:turn.example.org:3478?transport=udp",
        "turn:turn.example.org:3478?transport=tcp",
        "turns:turn.example.org:443?transport=tcp",
    )
    servers = IceServers(
        stun_urls=("stun:turn.example.org:3478",), turn_urls=urls, turn_secret=SECRET, turn_ttl=600
    )
    stun, turn = servers.for_user("consumer", now=100)
    assert stun == {"urls": ["stun:turn.example.org:3478"]}
    assert turn["urls"] == list(urls)
    assert turn["username"] == "700:consumer"
    assert turn["credential"] == turn_credential(SECRET, "consumer", 600, now=100)[1]
    assert [s.urls for s in servers.for_sfu()] == [["stun:turn.example.org:3478"], list(urls)]
    assert IceServers().for_user("x") == []
    assert not IceServers().configured


def test_port_range_parsing() -> None:
    assert parse_port_range("40000-40099") == range(40000, 40100)
    assert parse_port_range("") is None
    for bad in ("40000", "5-4", "0-10", "1-70000"):
        with pytest.raises(ValueError):
            parse_port_range(bad)
