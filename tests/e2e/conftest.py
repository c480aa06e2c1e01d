"""Browser tests: the real server as a subprocess, Debian's Chromium driven by Playwright.

One server and one browser for the whole run; each test gets fresh browser contexts (one per
person, like separate devices). Every wait is bounded and polls facts from ``window.__room``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# From shared/notes/browser-e2e.md: fake devices, loopback ICE, no mDNS host candidates.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
START_LIMIT_S = 30.0
ROLES = ("mediator", "consumer", "business")


@dataclass(frozen=True)
class Server:
    """The running server: its address, the three demo join links, its log."""

    base_url: str
    links: dict[str, str]
    log_path: Path

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli() -> Path:
    """The ``mediation-room`` script of the environment running pytest."""
    return Path(sys.executable).parent / "mediation-room"


def _wait_until(check: Callable[[], bool], what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_LIMIT_S
    while not check():
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server did not get to {what} in {START_LIMIT_S:.0f} s")
        time.sleep(0.1)


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("server")
    port = _free_port()
    links_file = tmp / "links.json"
    log_path = tmp / "server.log"
    command = [
        str(_cli()), "serve", "--demo",
        "--host", "127.0.0.1", "--port", str(port),
        "--ice-host", "127.0.0.1",
        "--data-dir", str(tmp / "data"),
        "--links-file", str(links_file),
    ]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until(links_file.exists, "writing the demo links", proc)
        _wait_until(lambda: _healthy(base_url), "answering /healthz", proc)
        links = json.loads(links_file.read_text())
        assert set(links) == set(ROLES), links
        yield Server(base_url=base_url, links=links, log_path=log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if request.session.testsfailed:
            print(f"\n--- server log ({log_path}) ---\n" + log_path.read_text(errors="replace")[-6000:])


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (never `playwright install`)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """``new_page(phone=False)``: a page in a context of its own, camera and microphone granted."""
    contexts: list[BrowserContext] = []

    def make(phone: bool = False) -> Page:
        context = browser.new_context(
            permissions=["camera", "microphone"], **(PHONE if phone else DESKTOP)
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: print(f"[page error] {exc}"))
        page.on(
            "console",
            lambda msg: print(f"[console {msg.type}] {msg.text}")
            if msg.type in ("error", "warning")
            else None,
        )
        return page

    yield make
    for context in contexts:
        context.close()
