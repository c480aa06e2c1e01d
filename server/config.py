"""Settings, read once from the command line and the environment, then frozen."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "MEDIATION_ROOM_"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server is configured with."""

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    """Where the server keeps its files: the signing key, the embedded database, recordings."""
    secret: bytes = b""
    """Key that signs invitation links; from the environment or ``<data_dir>/secret.key``."""
    previous_secrets: tuple[bytes, ...] = ()
    """Keys being rotated out: links they signed are still accepted (never used to sign)."""
    public_url: str = ""
    """Base of the links the server prints, e.g. ``https://mediation.example.org``; defaults to
    ``http://<host>:<port>``."""
    ice_servers: tuple[dict[str, Any], ...] = ()
    """STUN/TURN servers for browsers and the SFU, as ``RTCIceServer`` dicts. None by default:
    the product contacts nothing beyond the machine unless configured to."""
    ice_hosts: tuple[str, ...] | None = None
    """Addresses the SFU gathers host candidates on; ``None`` means every interface."""
    database_url: str = ""
    """The case record's database (``postgresql://…``); empty: SQLite in ``data_dir``."""
    video_codec: str = "video/VP8"
    forwarding: str = "packet"
    token_ttl: int = 7 * 24 * 3600
    """How long a printed join link stays valid (seconds)."""
    office_config: Path | None = None
    """JSON file with the office's categories, holidays and deadlines (see server.office)."""
    demo: bool = False
    demo_cases: int = 30
    """With ``demo``: concluded example cases seeded once, so the dashboard has figures."""
    links_file: Path | None = None
    """Where ``--demo`` also writes its three links as JSON (for scripts and tests)."""
    stun_urls: tuple[str, ...] = ()
    """``stun:`` URLs handed to browsers and the SFU (see server.ice)."""
    turn_urls: tuple[str, ...] = ()
    """``turn:``/``turns:`` URLs; each participant gets them with a fresh credential."""
    turn_secret: bytes = b""
    """coturn's ``static-auth-secret`` (``use-auth-secret``): signs the TURN credentials."""
    turn_ttl: int = 6 * 3600
    """How long a TURN credential stays valid (seconds)."""
    media_ports: range | None = None
    """UDP ports the SFU's ICE host sockets bind to; ``None``: any the system gives."""
    ice_advertise: tuple[tuple[str, str], ...] = ()
    """``(bound address or "*", advertised address)``: host candidates announced under a public
    address (1:1 NAT)."""
    log_format: str = "text"
    """``text`` or ``json`` (one object per line, with room and case ids, no personal data)."""
    min_free_disk_mb: int = 512
    """``/readyz`` fails when the recordings' file system has less free space than this."""
    redis_url: str = ""
    """Redis of a deployment of several nodes: the room directory and Socket.IO's events
    between nodes (see server.cluster); ``/readyz`` and ``/metrics`` check it."""
    node_id: str = ""
    """This node's name in the room directory; empty: host, pid and a random tail."""
    node_url: str = ""
    """How the other nodes reach this one; empty: ``http://<host>:<port>``."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def secrets(self) -> tuple[bytes, ...]:
        """Every key a link may be signed with: the current one first."""
        return (self.secret, *self.previous_secrets)

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"


def load_secret(data_dir: Path, env: dict[str, str] | None = None) -> bytes:
    """The invitation signing key: ``MEDIATION_ROOM_SECRET`` if set, else the key file in
    ``data_dir`` — created with 32 random bytes, readable by the owner only, on first run."""
    from_env = (os.environ if env is None else env).get(ENV_PREFIX + "SECRET")
    if from_env:
        if len(from_env) < 16:
            raise ValueError(f"{ENV_PREFIX}SECRET is too short: use at least 16 characters")
        return from_env.encode("utf-8")
    path = data_dir / "secret.key"
    if path.exists():
        key = path.read_bytes().strip()
        if len(key) < 32:
            raise ValueError(f"{path} holds a key that is too short; delete it to make a new one")
        return key
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key + b"\n")
    return key


def load_previous_secrets(data_dir: Path, env: dict[str, str] | None = None) -> tuple[bytes, ...]:
    """Keys being rotated out: ``MEDIATION_ROOM_PREVIOUS_SECRET`` (several separated by commas)
    and ``<data_dir>/secret.previous.key`` (one per line). Links they signed keep working until
    they expire; new links are signed with the current key only."""
    keys: list[bytes] = []
    from_env = (os.environ if env is None else env).get(ENV_PREFIX + "PREVIOUS_SECRET", "")
    keys += [k.strip().encode("utf-8") for k in from_env.split(",") if k.strip()]
    path = data_dir / "secret.previous.key"
    if path.exists():
        keys += [line.strip() for line in path.read_bytes().splitlines() if line.strip()]
    for key in keys:
        if len(key) < 16:
            raise ValueError(
                "a previous secret is too short (at least 16 characters): "
                f"check {ENV_PREFIX}PREVIOUS_SECRET and {path}"
            )
    return tuple(keys)


def parse_ice_servers(text: str | None) -> tuple[dict[str, Any], ...]:
    """``MEDIATION_ROOM_ICE_SERVERS`` / ``--ice-servers``: a JSON list of RTCIceServer dicts, or
    a comma-separated list of ``stun:``/``turn:`` URLs."""
    if not text:
        return ()
    text = text.strip()
    if text.startswith("["):
        servers = json.loads(text)
        if not isinstance(servers, list) or not all(
            isinstance(s, dict) and "urls" in s for s in servers
        ):
            raise ValueError("ICE servers must be a JSON list of objects with 'urls'")
        return tuple(servers)
    return tuple({"urls": [url.strip()]} for url in text.split(",") if url.strip())


def parse_port_range(text: str | None) -> range | None:
    """``--media-ports 40000-40999`` → ``range(40000, 41000)``; empty → ``None``."""
    if not text:
        return None
    low, sep, high = text.strip().partition("-")
    if not sep or not low.isdigit() or not high.isdigit():
        raise ValueError(f"media ports must read LOW-HIGH, e.g. 40000-40999, not {text!r}")
    first, last = int(low), int(high)
    if not 1 <= first <= last <= 65535:
        raise ValueError(f"media port range {text!r} is not within 1-65535, low to high")
    return range(first, last + 1)


def parse_advertise(values: list[str] | None) -> tuple[tuple[str, str], ...]:
    """``--ice-advertise PUBLIC`` (every IPv4 host candidate) or ``PRIVATE=PUBLIC``."""
    pairs = []
    for value in values or []:
        private, sep, public = value.strip().partition("=")
        pairs.append((private, public) if sep else ("*", private))
    return tuple(pairs)
