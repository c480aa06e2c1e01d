"""A real three-party call in headless Chromium: join, media both ways, leave, reload, refusal.

Assertions read facts from the page's ``window.__room`` snapshot (decoded frames, audio energy,
video size), polled with time limits; on a failure the snapshot and the raw WebRTC stats are
printed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

ROLES = ("mediator", "consumer", "business")
MEDIA_LIMIT_S = 30.0
Snapshot = dict[str, Any]
Server = Any  # conftest.Server: base_url, links, log_path


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


def wait_for(page: Page, check: Callable[[Snapshot], bool], what: str) -> Snapshot:
    """Poll ``window.__room`` until ``check`` holds; fail with a dump after MEDIA_LIMIT_S."""
    deadline = time.monotonic() + MEDIA_LIMIT_S
    while True:
        room = snapshot(page)
        if check(room):
            return room
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {MEDIA_LIMIT_S:.0f} s\n{debug_dump(page)}")
        page.wait_for_timeout(200)


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


def open_and_join(server: Server, new_page: Callable[..., Page], role: str, phone: bool = False) -> Page:
    page = new_page(phone=phone)
    page.goto(server.links[role])
    page.get_by_test_id("join-button").click()
    return page


def join_all(server: Server, new_page: Callable[..., Page]) -> dict[str, Page]:
    # The business is on a phone, as in real cases.
    return {role: open_and_join(server, new_page, role, phone=role == "business") for role in ROLES}


def others_of(role: str) -> list[str]:
    return [r for r in ROLES if r != role]


def test_three_parties_see_and_hear_each_other(server: Server, new_page: Callable[..., Page]) -> None:
    pages = join_all(server, new_page)
    for role, page in pages.items():
        wait_receiving(page, others_of(role))
        expect(page.get_by_test_id("connection-state")).to_have_text("已连接")
        for other in others_of(role):
            expect(page.get_by_test_id(f"tile-{other}")).to_be_visible()

    # Camera off: the others see a placeholder; back on: the picture again.
    pages["consumer"].get_by_test_id("toggle-video").click()
    for role in ("mediator", "business"):
        expect(pages[role].get_by_test_id("tile-consumer")).to_have_attribute("data-video", "off")
    pages["consumer"].get_by_test_id("toggle-video").click()
    for role in ("mediator", "business"):
        expect(pages[role].get_by_test_id("tile-consumer")).to_have_attribute("data-video", "on")

    # Microphone off: the others see the word for it.
    pages["business"].get_by_test_id("toggle-audio").click()
    expect(pages["mediator"].get_by_test_id("tile-business")).to_contain_text("已静音")


def test_tampered_link_is_refused_with_advice(server: Server, new_page: Callable[..., Page]) -> None:
    scheme, netloc, path, query, _ = urlsplit(server.links["consumer"])
    token = parse_qs(query)["t"][0]
    # A character in the middle of the signature (the last one may only carry padding bits).
    i = len(token) - 10
    tampered = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
    page = new_page()
    page.goto(urlunsplit((scheme, netloc, path, urlencode({"t": tampered}), "")))

    message = page.get_by_test_id("error-message")
    expect(message).to_be_visible()
    expect(message).to_have_attribute("data-code", "token_invalid")
    expect(message).to_have_text("这个链接无效：它被改动过，或来自其他系统。")
    expect(page.get_by_test_id("error-advice")).to_contain_text("调解员")
    expect(page.get_by_test_id("join-button")).not_to_be_visible()

    # The language toggle switches the words and is remembered across a reload.
    page.get_by_test_id("lang-toggle").click()
    expect(message).to_contain_text("not valid")
    page.reload()
    expect(page.get_by_test_id("error-message")).to_contain_text("not valid")

    # The right token in another room's address: refused as foreign.
    page.goto(urlunsplit((scheme, netloc, "/room/another-room", query, "")))
    expect(page.get_by_test_id("error-message")).to_have_attribute("data-code", "token_foreign")
    expect(page.get_by_test_id("join-button")).not_to_be_visible()


def test_leave_removes_the_tile_and_a_reload_brings_video_back(
    server: Server, new_page: Callable[..., Page]
) -> None:
    pages = join_all(server, new_page)
    for role, page in pages.items():
        wait_receiving(page, others_of(role))

    # The consumer leaves: their tile goes from the others' pages.
    pages["consumer"].get_by_test_id("leave-button").click()
    expect(pages["consumer"].get_by_test_id("rejoin-button")).to_be_visible()
    for role in ("mediator", "business"):
        expect(pages[role].get_by_test_id("tile-consumer")).to_have_count(0)
        wait_for(
            pages[role],
            lambda room: all(p["id"] != "consumer" for p in room["participants"]),
            "consumer gone from participants",
        )

    # The business reloads the page and enters again: the mediator sees them again.
    pages["business"].reload()
    pages["business"].get_by_test_id("join-button").click()
    wait_receiving(pages["business"], ["mediator"])
    wait_receiving(pages["mediator"], ["business"])


def test_camera_started_late_reaches_the_others(server: Server, new_page: Callable[..., Page]) -> None:
    mediator = open_and_join(server, new_page, "mediator")
    business = new_page(phone=True)
    business.goto(server.links["business"])
    business.get_by_test_id("join-without-media").click()

    tile = mediator.get_by_test_id("tile-business")
    expect(tile).to_have_attribute("data-video", "off")
    wait_receiving(business, ["mediator"])

    # Never started: turning them on opens the devices and puts them on the publish mids.
    business.get_by_test_id("toggle-video").click()
    business.get_by_test_id("toggle-audio").click()
    wait_for(business, lambda r: r["local"] == {"audio": True, "video": True}, "devices on")
    wait_receiving(mediator, ["business"])
    expect(tile).to_have_attribute("data-video", "on")


def test_phone_layout_is_one_hand_sized(server: Server, new_page: Callable[..., Page]) -> None:
    page = new_page(phone=True)
    page.goto(server.links["consumer"])

    def assert_tall_enough(testid: str) -> None:
        box = page.get_by_test_id(testid).bounding_box()
        assert box is not None, f"{testid} is not on screen"
        assert box["height"] >= 44, f"{testid} is {box['height']} px high"
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, f"{testid} overflows: {box}"

    for testid in ("join-button", "join-without-media", "name-input", "lang-toggle"):
        assert_tall_enough(testid)
    # The join button is on the first screen: no scrolling needed to enter.
    box = page.get_by_test_id("join-button").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 844, box
    assert_small_text_absent(page)

    page.get_by_test_id("join-button").click()
    expect(page.get_by_test_id("toggle-audio")).to_be_visible()
    for testid in ("toggle-audio", "toggle-video", "leave-button"):
        assert_tall_enough(testid)
    assert_small_text_absent(page)


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


# Last: it needs a server fix (see the report) and -x stops at the first failure.
def test_rejoin_after_leave_is_seen_again(server: Server, new_page: Callable[..., Page]) -> None:
    pages = {role: open_and_join(server, new_page, role) for role in ("mediator", "consumer")}
    wait_receiving(pages["mediator"], ["consumer"])

    pages["consumer"].get_by_test_id("leave-button").click()
    expect(pages["mediator"].get_by_test_id("tile-consumer")).to_have_count(0)
    pages["consumer"].get_by_test_id("rejoin-button").click()
    wait_receiving(pages["consumer"], ["mediator"])
    wait_receiving(pages["mediator"], ["consumer"])
