"""Invitation tokens: a join link's signed proof of one role in one room, until an expiry.

Format: ``v1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(secret, "v1." + claims))>``.
The claims are readable by anyone holding the link (the join page shows whom it is for); only
the signature needs the secret. A token is checked in this order, so the reason given is the
most useful one: shape, signature, expiry, room.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass

from cases.errors import TokenExpired, TokenForeign, TokenInvalid, TokenMalformed, TokenMissing

VERSION = "v1"
ROLES = ("mediator", "consumer", "business")


@dataclass(frozen=True, slots=True)
class Invitation:
    """What a valid token grants."""

    room_id: str
    """The room (one sitting of a case) the token opens."""
    participant_id: str
    """Stable id of the person in the room; a reload with the same token is the same person."""
    role: str
    """``mediator``, ``consumer`` or ``business``."""
    name: str
    """Display name on the invitation."""
    expires_at: int
    """Unix time after which the token is refused."""
    invitation_id: str | None = None
    """The stored invitation this token stands for (revocable); ``None`` for a link of a room
    that keeps no case record (benchmarks)."""


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, signed_part: str) -> str:
    return _b64encode(hmac.new(secret, signed_part.encode("ascii"), hashlib.sha256).digest())


def issue_token(secret: bytes, invitation: Invitation) -> str:
    """Sign ``invitation`` into a token for a join link."""
    if invitation.role not in ROLES:
        raise ValueError(f"unknown role {invitation.role!r}")
    claims = json.dumps(asdict(invitation), ensure_ascii=False, separators=(",", ":"))
    signed_part = f"{VERSION}.{_b64encode(claims.encode('utf-8'))}"
    return f"{signed_part}.{_sign(secret, signed_part)}"


def read_claims(token: str) -> Invitation:
    """Decode a token's claims *without* checking the signature (shape errors only)."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise TokenMalformed("the token does not have the expected shape")
    try:
        data = json.loads(_b64decode(parts[1]))
        invitation = Invitation(
            room_id=str(data["room_id"]),
            participant_id=str(data["participant_id"]),
            role=str(data["role"]),
            name=str(data["name"]),
            expires_at=int(data["expires_at"]),
            invitation_id=None if data.get("invitation_id") is None else str(data["invitation_id"]),
        )
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise TokenMalformed("the token's content cannot be read") from exc
    if invitation.role not in ROLES:
        raise TokenMalformed("the token names an unknown role")
    return invitation


def verify_token(
    secret: bytes | tuple[bytes, ...],
    token: str | None,
    room_id: str | None = None,
    now: float | None = None,
) -> Invitation:
    """Return the invitation a token grants, or raise the reason it is refused.

    ``secret`` may be several keys (the current one first, then those being rotated out): a
    token signed with any of them is accepted, so links handed out before a key rotation keep
    working until they expire. ``room_id`` is the room the client asks to enter (from the
    page's address); a token bound to another room is *foreign*.
    """
    if not token:
        raise TokenMissing("no invitation token was given")
    invitation = read_claims(token)
    signed_part, _, signature = token.rpartition(".")
    keys = (secret,) if isinstance(secret, bytes) else secret
    # Every key is tried (no early exit), so the time taken does not tell which one matched.
    matches = [hmac.compare_digest(_sign(key, signed_part), signature) for key in keys]
    if not any(matches):
        raise TokenInvalid(
            "the token's signature does not match: it was altered or not issued here"
        )
    if (time.time() if now is None else now) >= invitation.expires_at:
        raise TokenExpired("the invitation has expired")
    if room_id is not None and room_id != invitation.room_id:
        raise TokenForeign("the invitation is for another room")
    return invitation
