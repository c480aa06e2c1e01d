"""Browser tests: the real server as a subprocess, Debian's Chromium driven by Playwright.

One server for the whole run and one browser per module; each test gets fresh browser contexts
(one per person, like separate devices). Every wait is bounded and polls facts from
``window.__room``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.support.server import RunningServer, run_server

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


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[RunningServer]:
    """One server for the whole browser run (overrides the per-test one of tests/conftest.py).

    Browser tests share its demo room: each test's pages leave when their contexts close.
    """
    with run_server(tmp_path_factory.mktemp("e2e-server")) as running:
        yield running
        if request.session.testsfailed:
            print(f"\n--- server log ({running.log_path}) ---\n{running.log()[-6000:]}")


# Module scope, not session: while Playwright's sync API is open it marks its event loop as
# running in this thread, and the async tests collected after these could not start theirs.
@pytest.fixture(scope="module")
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
            lambda msg: (
                print(f"[console {msg.type}] {msg.text}")
                if msg.type in ("error", "warning")
                else None
            ),
        )
        return page

    yield make
    for context in contexts:
        context.close()
