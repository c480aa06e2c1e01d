"""Helpers for the room page's browser tests: ``window.__room`` polling, the lobby, a fresh case.

Every wait is bounded and polls facts from ``window.__room``; a failure prints the snapshot and
the WebRTC stats that matter.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import struct
import time
import urllib.request
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.server import RunningServer

ROLES = ("mediator", "consumer", "business")
MEDIA_LIMIT_S = 30.0
Snapshot = dict[str, Any]
NewPage = Callable[..., Page]  # the new_page fixture: new_page(phone=False) -> Page
PASSWORD_LINE = re.compile(r"Mediator console: .*\(user (?P<user>\S+), password (?P<password>\S+),")


def snapshot(page: Page) -> Snapshot:
    return page.evaluate("window.__room")  # type: ignore[no-any-return]


def debug_dump(page: Page) -> str:
    """The page's snapshot and the stats that matter, for a failure message."""
    stats = page.evaluate(
        """async () => (await window.__roomStats())
            .filter(s => ["inbound-rtp", "outbound-rtp", "candidate-pair", "transport"]
                         .includes(s.type))"""
    )
    return (
        f"url: {page.url}\n__room: {json.dumps(snapshot(page), ensure_ascii=False, indent=1)}\n"
        f"stats: {json.dumps(stats, indent=1)[:8000]}"
    )


def wait_for(
    page: Page, check: Callable[[Snapshot], bool], what: str, limit: float = MEDIA_LIMIT_S
) -> Snapshot:
    """Poll ``window.__room`` until ``check`` holds; fail with a dump after ``limit`` s."""
    deadline = time.monotonic() + limit
    while True:
        room = snapshot(page)
        if check(room):
            return room
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {limit:.0f} s\n{debug_dump(page)}")
        page.wait_for_timeout(200)


def frames(page: Page, pid: str) -> int:
    remote = snapshot(page)["remote"].get(pid) or {}
    return int(remote.get("framesDecoded", 0))


def wait_video_rising(page: Page, others: list[str]) -> None:
    """Every one of ``others`` is seen: video sized, and ``framesDecoded`` growing."""

    def sized(room: Snapshot) -> bool:
        return all(
            (r := room["remote"].get(pid)) and r["videoWidth"] > 0 and r["framesDecoded"] > 0
            for pid in others
        )

    first = wait_for(page, sized, f"video from {others}")
    wait_for(
        page,
        lambda room: all(
            pid in room["remote"]
            and room["remote"][pid]["framesDecoded"] > first["remote"][pid]["framesDecoded"]
            for pid in others
        ),
        f"video from {others} still flowing",
    )


def wait_receiving(page: Page, others: list[str]) -> None:
    """Every one of ``others`` is seen (video decoding, sized) and heard (audio energy rising)."""

    def flowing(room: Snapshot) -> bool:
        return all(
            (r := room["remote"].get(pid))
            and r["videoWidth"] > 0
            and r["framesDecoded"] > 0
            and r["audioEnergy"] > 0
            for pid in others
        )

    first = wait_for(page, flowing, f"media from {others}")

    def rising(room: Snapshot) -> bool:
        return all(
            room["remote"][pid]["framesDecoded"] > first["remote"][pid]["framesDecoded"]
            and room["remote"][pid]["audioEnergy"] > first["remote"][pid]["audioEnergy"]
            for pid in others
            if pid in room["remote"]
        ) and all(pid in room["remote"] for pid in others)

    wait_for(page, rising, f"media from {others} still flowing")


def wait_back_in(page: Page, what: str) -> None:
    """After its server went away: the page reconnected, joined again on a new peer connection
    (the stats start again from zero) and is in the room without a new admission."""
    wait_for(
        page,
        lambda r: (
            r["connection"] == "connected"
            and not r["reconnecting"]
            and r["pcState"]["connection"] == "connected"
        ),
        what,
    )
    assert snapshot(page)["view"] == "room", snapshot(page)["self"]


def others_of(role: str) -> list[str]:
    return [r for r in ROLES if r != role]


def open_and_join(links: dict[str, str], new_page: NewPage, role: str, phone: bool = False) -> Page:
    page = new_page(phone=phone)
    page.goto(links[role])
    page.get_by_test_id("join-button").click()
    return page


def through_lobby(mediator: Page, party: Page, role: str) -> None:
    """Bring a party who joined into the room: the mediator admits them, they accept the notice.

    A party admitted earlier in this sitting goes straight back in; one halfway through (admitted,
    or consented) gets only the missing step.
    """
    me = wait_for(party, lambda r: r["self"] is not None, f"{role} joined")["self"]
    if me["stage"] == "room":
        return
    if not me["admitted"]:
        mediator.get_by_test_id(f"admit-{role}").click()
    if me["consent"] != "accepted":
        party.get_by_test_id("consent-accept").click()
    wait_for(party, lambda r: r["view"] == "room", f"{role} in the room")


def join_all(links: dict[str, str], new_page: NewPage) -> dict[str, Page]:
    """The three in the room; the business on a phone, as in real cases."""
    pages = {role: open_and_join(links, new_page, role, phone=role == "business") for role in ROLES}
    for role in ("consumer", "business"):
        through_lobby(pages["mediator"], pages[role], role)
    return pages


# ---- a case of its own (a fresh sitting, phones on file) -----------------------------------


def console_login(server: RunningServer) -> urllib.request.OpenerDirector:
    """An HTTP client logged in as the demo mediator (its password is in the server's log)."""
    found = PASSWORD_LINE.search(server.log())
    assert found, f"no console password in the server log:\n{server.log()[-3000:]}"
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    credentials = {"username": found["user"], "password": found["password"]}
    api(opener, server, "POST", "/api/session", credentials)
    return opener


def api(
    opener: urllib.request.OpenerDirector,
    server: RunningServer,
    method: str,
    path: str,
    body: Any = None,
) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        server.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with opener.open(request, timeout=10) as response:
        return json.loads(response.read())


def new_sitting(
    server: RunningServer, *, consumer_phone: str, business_phone: str | None
) -> dict[str, str]:
    """A new case (consumer and business with these phones) with a sitting open: its links."""
    opener = console_login(server)
    category = api(opener, server, "GET", "/api/office")["categories"][0]
    new_case = {"title": "网购手机屏幕破裂退货纠纷", "category": category}
    case = api(opener, server, "POST", "/api/cases", new_case)
    number = case["number"]
    api(opener, server, "POST", f"/api/cases/{number}/parties",
        {"role": "consumer", "name": "陈先生", "phone": consumer_phone})  # fmt: skip
    business: dict[str, Any] = {"role": "business", "name": "某某数码专营店"}
    if business_phone:
        business["phone"] = business_phone
    api(opener, server, "POST", f"/api/cases/{number}/parties", business)
    issued = api(opener, server, "POST", f"/api/cases/{number}/invitations", {"valid_hours": 2})
    links = {inv["role"]: inv["link"] for inv in issued["invitations"]}
    # The links name the server's public URL; the test server's is the same loopback address.
    assert set(links) == set(ROLES), issued
    return links


def png_bytes(width: int = 96, height: int = 64) -> bytes:
    """A small real PNG (red and blue stripes), made here so the test needs no file."""
    rows = b"".join(
        b"\x00"
        + b"".join(
            (b"\xd0\x20\x20" if (x // 8) % 2 == 0 else b"\x20\x40\xd0") for x in range(width)
        )
        for _ in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# ---- accessibility checks ------------------------------------------------------------------


def assert_small_text_absent(page: Page) -> None:
    """No visible text smaller than 16 px."""
    small = page.evaluate(
        """() => [...document.querySelectorAll("body *")]
            .filter(el => el.checkVisibility() && [...el.childNodes].some(
                n => n.nodeType === Node.TEXT_NODE && n.textContent.trim()))
            .map(el => [el.dataset.testid || el.className || el.tagName,
                        parseFloat(getComputedStyle(el).fontSize)])
            .filter(([, size]) => size < 16)"""
    )
    assert small == [], f"text below 16 px: {small}"


_CONTRAST = """() => {
    const parse = (c) => {
        const m = c.match(/rgba?\\(([^)]+)\\)/);
        if (!m) return [0, 0, 0, 0];
        const [r, g, b, a = 1] = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
        return [r, g, b, a];
    };
    const over = (top, bottom) =>
        top.slice(0, 3).map((v, i) => v * top[3] + bottom[i] * (1 - top[3]));
    const background = (el) => {
        const layers = [];
        for (let n = el; n; n = n.parentElement) {
            const bg = parse(getComputedStyle(n).backgroundColor);
            if (bg[3] > 0) layers.push(bg);
            if (bg[3] === 1) break;
        }
        let color = [255, 255, 255];
        for (const layer of layers.reverse()) color = over(layer, color);
        return color;
    };
    const lum = ([r, g, b]) => {
        const f = (v) => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    return [...document.querySelectorAll("body *")]
        .filter(el => el.checkVisibility() && !el.closest("video, [disabled], .sr-only") &&
            [...el.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim()))
        .map(el => {
            const bg = background(el);
            const fg = over(parse(getComputedStyle(el).color), bg);
            const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
            return [el.dataset.testid || el.className || el.tagName, (a + 0.05) / (b + 0.05)];
        })
        .filter(([, ratio]) => ratio < 4.5)
        .map(([what, ratio]) => [what, Math.round(ratio * 100) / 100]);
}"""


def assert_contrast(page: Page) -> None:
    """Visible text (enabled controls) has a contrast ratio of at least 4.5:1 (WCAG AA)."""
    low = page.evaluate(_CONTRAST)
    assert low == [], f"text with contrast below 4.5:1: {low}"


def expect_room_view(page: Page) -> None:
    expect(page.get_by_test_id("toggle-audio")).to_be_visible()
