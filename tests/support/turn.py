"""Debian's coturn (``turnserver``) on loopback with a shared secret, as the TURN tests use it.

The server runs with the TURN REST scheme (``use-auth-secret``) that ``server.ice`` signs
credentials for, listens and relays on 127.0.0.1 only, and may relay to loopback peers (the SFU
and the browsers are on 127.0.0.1 here; never in production, see deploy/turnserver.conf). No
system configuration file, database, pid file or log is touched: everything is in ``tmp``.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aioice import stun

TURNSERVER = "turnserver"
REALM = "mediation.test"


def free_udp_tcp_port() -> int:
    """A loopback port free for both UDP and TCP (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no loopback port free for both UDP and TCP")


@dataclass
class TurnServer:
    """A running ``turnserver`` on 127.0.0.1."""

    port: int
    secret: bytes
    realm: str
    secret_file: Path
    """The secret in a file, for ``mediation-room serve --turn-secret-file``."""
    log_path: Path
    process: subprocess.Popen[bytes]
    host: str = "127.0.0.1"

    def url(self, transport: str = "udp") -> str:
        return f"turn:{self.host}:{self.port}?transport={transport}"

    def log(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        out = self.log_path.with_suffix(".out")
        return text + (out.read_text(errors="replace") if out.exists() else "")


def _answers_binding(port: int, wait: float) -> bool:
    """Whether a STUN Binding request to 127.0.0.1:``port`` (UDP) gets a response."""
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(wait)
        try:
            sock.sendto(bytes(request), ("127.0.0.1", port))
            data = sock.recv(2048)
        except OSError:  # timeout, or ICMP port unreachable while it starts
            return False
    try:
        response = stun.parse_message(data)
    except ValueError:
        return False
    return response.transaction_id == request.transaction_id


@contextlib.contextmanager
def run_turnserver(tmp: Path, timeout: float = 15.0) -> Iterator[TurnServer]:
    """Start ``turnserver`` with a fresh secret on a free port; stop it (killed if need be)."""
    binary = shutil.which(TURNSERVER)
    if binary is None:
        raise RuntimeError("turnserver is missing: ./manage setup --browser installs coturn")
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_udp_tcp_port()
    secret = secrets.token_hex(24)
    secret_file = tmp / "turn-secret"
    secret_file.write_text(secret + "\n")
    secret_file.chmod(0o600)
    log_path = tmp / "turnserver.log"
    cmd = [
        binary,
        "-n",  # no configuration file: not /etc/turnserver.conf of the package
        "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1",
        f"--listening-port={port}",
        "--use-auth-secret",
        f"--static-auth-secret={secret}",
        f"--realm={REALM}",
        "--allow-loopback-peers",  # the peers (the SFU, the other browser) are on 127.0.0.1
        "--no-multicast-peers",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        "--no-rfc5780",
        f"--log-file={log_path}",
        "--simple-log",  # exactly that file name (no pid or date appended)
        "--no-stdout-log",
        "--verbose",  # sessions and allocations in the log (a failure shows what coturn saw)
        f"--pidfile={tmp / 'turnserver.pid'}",
        f"--db={tmp / 'turndb'}",  # not /var/lib/turn/turndb
    ]
    with open(log_path.with_suffix(".out"), "wb") as out:
        process = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    server = TurnServer(port, secret.encode(), REALM, secret_file, log_path, process)
    try:
        deadline = time.monotonic() + timeout
        while not _answers_binding(port, 0.2):
            if process.poll() is not None:
                raise RuntimeError(f"turnserver exited with {process.returncode}:\n{server.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"turnserver not answering in {timeout}s:\n{server.log()}")
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
