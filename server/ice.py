"""STUN/TURN servers for browsers and the SFU, with short-lived TURN credentials.

The credentials follow the TURN REST API scheme that coturn implements with
``use-auth-secret`` / ``static-auth-secret`` (draft-uberti-behave-turn-rest-00 §2.2): the
username is ``"<expiry unix time>:<user id>"`` and the password is
``base64(HMAC-SHA1(shared secret, username))``. coturn recomputes the HMAC and refuses the
username once its time has passed, so nothing is stored and a leaked credential dies by itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from aiortc import RTCIceServer

DEFAULT_TURN_TTL = 6 * 3600
"""How long a TURN credential stays valid (seconds): longer than any sitting."""


def turn_credential(
    secret: bytes, user_id: str, ttl: int = DEFAULT_TURN_TTL, now: float | None = None
) -> tuple[str, str]:
    """``(username, password)`` for ``user_id``, valid ``ttl`` seconds from ``now``."""
    if ":" in user_id:
        raise ValueError("a TURN REST user id cannot contain ':'")
    expiry = int(time.time() if now is None else now) + ttl
    username = f"{expiry}:{user_id}"
    digest = hmac.new(secret, username.encode("utf-8"), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class IceServers:
    """The deployment's ICE servers: static ones plus STUN and TURN URLs."""

    static: tuple[dict[str, Any], ...] = ()
    """``--ice-servers``: RTCIceServer dicts given as they are (with their own credentials)."""
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    """e.g. ``turn:turn.example.org:3478?transport=udp``, ``…?transport=tcp`` and
    ``turns:turn.example.org:443?transport=tcp``; they get one credential together."""
    turn_secret: bytes = b""
    """coturn's ``static-auth-secret``; without it the TURN URLs are given with no credential."""
    turn_ttl: int = DEFAULT_TURN_TTL

    @property
    def configured(self) -> bool:
        return bool(self.static or self.stun_urls or self.turn_urls)

    def for_user(self, user_id: str, now: float | None = None) -> list[dict[str, Any]]:
        """The ``iceServers`` of one peer connection (a browser's, or the SFU's own)."""
        servers = [dict(server) for server in self.static]
        if self.stun_urls:
            servers.append({"urls": list(self.stun_urls)})
        if self.turn_urls:
            turn: dict[str, Any] = {"urls": list(self.turn_urls)}
            if self.turn_secret:
                turn["username"], turn["credential"] = turn_credential(
                    self.turn_secret, user_id.replace(":", "_"), self.turn_ttl, now
                )
            servers.append(turn)
        return servers

    def for_sfu(self) -> tuple[RTCIceServer, ...]:
        """The server's own peer connections' servers, as aiortc takes them.

        aiortc uses the first STUN and the first TURN URL it understands only (no fallback) and
        ignores ``turns:…?transport=udp`` / ``turn:…?transport=tls``: list UDP first.
        """
        return tuple(RTCIceServer(**server) for server in self.for_user("sfu"))
