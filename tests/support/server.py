"""Run the real server as a subprocess on a free loopback port, as a user would."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    """A server subprocess with the demo room and its three links."""

    url: str
    links: dict[str, str]
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def token(self, role: str) -> str:
        return parse_qs(urlparse(self.links[role]).query)["t"][0]

    def secret(self) -> bytes:
        return (self.data_dir / "secret.key").read_bytes().strip()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def run_server(
    tmp: Path,
    *extra: str,
    timeout: float = 30.0,
    demo: bool = True,
    file_size_limit: int | None = None,
    demo_cases: int = 0,
    data_dir: Path | None = None,
) -> Iterator[RunningServer]:
    """Start ``mediation-room serve --demo`` on loopback; stop it (SIGTERM) at the end.

    ``demo=False`` starts the server on an existing data directory without seeding anything
    (a restart: the open sittings reopen as their participants come back); ``links`` is empty.
    ``demo_cases``: the example concluded cases ``--demo`` seeds for the dashboard (none by
    default: most tests want the demo case alone). ``file_size_limit`` (bytes, RLIMIT_FSIZE)
    makes any file the server writes past that size fail with EFBIG, like a full disk (Python
    ignores SIGXFSZ, so the write raises). ``data_dir``: another node's data directory (two
    nodes of one deployment share it: the signing key, evidence and recordings).
    """
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    data_dir = data_dir or tmp / "data"
    links_file = tmp / "links.json"
    log_path = tmp / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "server",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ice-host",
        "127.0.0.1",
        "--data-dir",
        str(data_dir),
        *(
            ["--demo", "--links-file", str(links_file), "--demo-cases", str(demo_cases)]
            if demo
            else []
        ),
        *extra,
    ]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MEDIATION_ROOM_") and k != "DATABASE_URL"
    }
    with open(log_path, "wb") as log:
        limit = file_size_limit

        def _limits() -> None:
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        process = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_limits if limit is not None else None,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {process.returncode}:\n{log_path.read_text()}"
                )
            if links_file.exists() or not demo:
                with (
                    contextlib.suppress(urllib.error.URLError, ConnectionError),
                    urllib.request.urlopen(url + "/healthz", timeout=2) as resp,
                ):
                    if resp.status == 200:
                        break
            if time.monotonic() > deadline:
                raise TimeoutError(f"server not ready in {timeout}s:\n{log_path.read_text()}")
            time.sleep(0.1)
        links = json.loads(links_file.read_text()) if demo else {}
        yield RunningServer(url, links, data_dir, process, log_path)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
