"""Recording in three Chromium pages and in the console: the mediator starts it, everyone sees the
red indicator and its time running, a caucus pauses it, stopping removes it; then the case page
lists the segments and its player loads one.

A case and sitting of its own (through the REST API), so the shared demo room is left alone. The
mediator is on a desktop, the consumer and the business on phones.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.room_support import (
    PASSWORD_LINE,
    NewPage,
    new_sitting,
    snapshot,
    through_lobby,
    wait_for,
    wait_video_rising,
)
from tests.support.i18n_check import i18n_problems
from tests.support.server import RunningServer as Server

pytestmark = pytest.mark.e2e

PHONE_SIZE = {"width": 390, "height": 844}
TIME = re.compile(r"^\d+:\d\d$")


def join(new_page: NewPage, link: str, *, phone: bool) -> Page:
    page = new_page(phone=phone)
    if phone:
        page.set_viewport_size(PHONE_SIZE)
    page.goto(link)
    page.get_by_test_id("join-button").click()
    return page


def timer_text(page: Page) -> str:
    return page.get_by_test_id("recording-timer").inner_text().strip()


def expect_in_viewport(page: Page, testid: str) -> None:
    """Visible and on screen without scrolling (a phone shows it at once)."""
    box = page.get_by_test_id(testid).bounding_box()
    size = page.viewport_size
    assert box and size, (box, size)
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], (testid, box, size)


def test_everyone_sees_the_recording_and_the_console_plays_it(
    server: Server, new_page: NewPage
) -> None:
    links = new_sitting(server, consumer_phone="13812345678", business_phone="02787654321")
    mediator = join(new_page, links["mediator"], phone=False)
    wait_for(mediator, lambda r: r["view"] == "room", "mediator in the room")
    consumer = join(new_page, links["consumer"], phone=True)
    # Before consenting, a party is told that a private talk may be recorded too.
    expect(consumer.get_by_test_id("consent")).to_contain_text("单独沟通")
    expect(consumer.get_by_test_id("consent")).to_contain_text("也可以选择录制")
    expect(consumer.get_by_test_id("lobby-recording")).to_be_hidden()
    through_lobby(mediator, consumer, "consumer")
    wait_video_rising(mediator, ["consumer"])
    for page in (mediator, consumer):
        expect(page.get_by_test_id("recording-banner")).to_be_hidden()

    # ---- the mediator starts it: a red indicator with the time
    expect(mediator.get_by_test_id("recording-include-caucus")).not_to_be_checked()
    mediator.get_by_test_id("recording-start").click()
    for page in (mediator, consumer):
        banner = page.get_by_test_id("recording-banner")
        expect(banner).to_be_visible()
        expect(banner).to_have_attribute("data-state", "on")
        expect(page.get_by_test_id("recording-label")).to_have_text("录制中")
        expect(page.get_by_test_id("recording-timer")).to_have_text(TIME)
        expect_in_viewport(page, "recording-banner")
    room = wait_for(consumer, lambda r: r["room"]["recording"] is not None, "recording on")
    assert "announce.recording.started" in room["announcements"], room["announcements"]
    expect(consumer.get_by_test_id("live-assertive")).to_have_text("调解员已开始录音录像。")
    expect(consumer.get_by_test_id("recording-banner-stop")).to_be_hidden()

    # ---- a party arriving meanwhile learns it in the lobby, and is recorded once in
    business = join(new_page, links["business"], phone=True)
    expect(business.get_by_test_id("lobby-recording")).to_be_visible()
    expect(business.get_by_test_id("lobby-recording")).to_contain_text("正在录音录像")
    expect(business.get_by_test_id("live-assertive")).to_have_text("本次调解正在录音录像。")
    through_lobby(mediator, business, "business")
    wait_video_rising(mediator, ["business"])
    parties = {"consumer": consumer, "business": business}
    pages = {"mediator": mediator, **parties}
    expect(business.get_by_test_id("recording-banner")).to_have_attribute("data-state", "on")
    expect(business.get_by_test_id("recording-timer")).to_have_text(TIME)
    expect_in_viewport(business, "recording-banner")

    expect(mediator.get_by_test_id("recording-start")).to_be_hidden()
    expect(mediator.get_by_test_id("recording-stop")).to_be_visible()
    expect(mediator.get_by_test_id("recording-include-caucus")).to_be_disabled()
    # A refusal is said in words beside the buttons (here: a start from a stale button).
    mediator.get_by_test_id("recording-start").dispatch_event("click")
    expect(mediator.get_by_test_id("recording-error")).to_have_text("已经在录制了。")
    expect(mediator.get_by_test_id("recording-error")).to_have_attribute(
        "data-code", "already_recording"
    )
    expect(mediator.get_by_test_id("notice")).to_be_hidden()  # said once, not twice
    # The time runs.
    first = timer_text(business)
    expect(business.get_by_test_id("recording-timer")).not_to_have_text(first, timeout=5000)
    # The phone's drawer covers the banners: it says so too.
    business.get_by_test_id("open-chat").click()
    expect(business.get_by_test_id("side-recording")).to_be_visible()
    expect(business.get_by_test_id("side-recording-label")).to_have_text("录制中")
    expect(business.get_by_test_id("side-recording-timer")).to_have_text(TIME)
    business.get_by_test_id("drawer-close").click()
    expect(mediator.get_by_test_id("side-recording")).to_be_hidden()  # desktop: the banner says it

    # ---- a caucus is not recorded: paused on every page, then on again
    mediator.get_by_test_id("caucus-consumer").click()
    for page in pages.values():
        expect(page.get_by_test_id("recording-banner")).to_have_attribute("data-state", "paused")
        expect(page.get_by_test_id("recording-label")).to_have_text("已暂停（单独沟通不录制）")
        expect(page.get_by_test_id("recording-timer")).to_be_hidden()
    expect(consumer.get_by_test_id("live-polite")).to_contain_text("录音录像已暂停")
    expect(business.get_by_test_id("live-polite")).to_have_text("单独沟通不录制，录音录像已暂停。")
    expect_in_viewport(business, "recording-banner")
    mediator.get_by_test_id("caucus-end").click()
    for page in pages.values():
        expect(page.get_by_test_id("recording-banner")).to_have_attribute("data-state", "on")
        expect(page.get_by_test_id("recording-label")).to_have_text("录制中")
    expect(business.get_by_test_id("live-polite")).to_contain_text("录音录像已恢复")

    # ---- stopping removes it everywhere
    case_number = snapshot(mediator)["room"]["case_number"]
    mediator.get_by_test_id("recording-stop").click()
    for page in pages.values():
        expect(page.get_by_test_id("recording-banner")).to_be_hidden()
    for page in parties.values():
        expect(page.get_by_test_id("live-polite")).to_have_text("录音录像已停止。")
    expect(mediator.get_by_test_id("recording-start")).to_be_visible()
    expect(mediator.get_by_test_id("recording-error")).to_be_hidden()
    for page in pages.values():
        problems = i18n_problems(page, r"(?:recording|announce)\.[a-z_.]+")
        assert problems == {"onlyZh": [], "onlyEn": [], "missing": [], "keysOnScreen": []}

    # ---- the console: the case page lists the segments and plays one
    console = new_page(phone=False)
    found = PASSWORD_LINE.search(server.log())
    assert found, server.log()[-3000:]
    console.goto(f"{server.url}/console")
    console.get_by_test_id("login-username").fill(found["user"])
    console.get_by_test_id("login-password").fill(found["password"])
    console.get_by_test_id("login-submit").click()
    expect(console.get_by_test_id("new-case-button")).to_be_visible()
    console.goto(f"{server.url}/console#/case/{case_number}")
    rows = console.get_by_test_id("recording")
    expect(rows.first).to_be_visible()
    for role in ("mediator", "consumer", "business"):
        expect(
            console.locator(f'[data-testid=recording][data-participant="{role}"]')
        ).not_to_have_count(0)
    expect(rows.first.get_by_test_id("recording-hash")).to_have_text(
        re.compile(r"SHA-256 [0-9a-f]{12}…")
    )
    expect(rows.first.get_by_test_id("recording-duration")).to_contain_text("时长 0:")
    expect(console.get_by_test_id("recording-sealed")).to_have_count(0)
    # A segment with video (not only the sound): the consumer's first.
    row = (
        console.locator('[data-testid=recording][data-participant="consumer"]')
        .filter(has_not_text="仅声音")
        .first
    )
    row.get_by_test_id("recording-play").click()
    expect(row.get_by_test_id("recording-play")).to_have_attribute("aria-pressed", "true")
    player = console.get_by_test_id("recording-player")
    expect(player).to_be_visible()
    console.wait_for_function(
        """() => {
            const v = document.querySelector('[data-testid="recording-player"]');
            return v.readyState >= 2 && v.videoWidth > 0;
        }""",
        timeout=15_000,
    )
    expect(console.get_by_test_id("recording-player-error")).to_be_hidden()
    href = console.get_by_test_id("recording-download").get_attribute("href")
    assert href and re.fullmatch(rf"/api/cases/{case_number}/recordings/\d+/file", href), href
    problems = i18n_problems(console, r"console\.[a-z_.]+")
    assert problems == {"onlyZh": [], "onlyEn": [], "missing": [], "keysOnScreen": []}

    # ---- the sitting ends; its playback file is made in the background and plays here
    playback = console.get_by_test_id("playback")
    expect(playback).to_be_visible()
    item = playback.get_by_test_id("playback-item")
    expect(item).to_have_count(1)
    # While the sitting is open the server refuses, and the page says what to do.
    item.get_by_test_id("playback-make").click()
    expect(item.get_by_role("alert")).to_have_text("这一场调解还没有结束。结束后再生成回放文件。")
    console.get_by_test_id("sitting-close").click()
    console.get_by_test_id("sitting-close-confirm").click()
    expect(console.locator('[data-testid=sitting][data-open="false"]')).to_have_count(1)
    item.get_by_test_id("playback-make").click()
    expect(item.get_by_role("alert")).to_have_count(0)
    # Queued or running (with a progress bar), then done: the worker is a separate process.
    expect(item).to_have_attribute("data-status", re.compile("queued|running|done"))
    expect(item).to_have_attribute("data-status", "done", timeout=120_000)
    expect(item.get_by_test_id("playback-hash")).to_have_text(re.compile(r"SHA-256 [0-9a-f]{12}…"))
    href = item.get_by_test_id("playback-download").get_attribute("href")
    assert href and re.fullmatch(rf"/api/cases/{case_number}/playback/\d+/file", href), href
    item.get_by_test_id("playback-play").click()
    expect(console.get_by_test_id("playback-player-box")).to_be_visible()
    console.wait_for_function(
        """() => {
            const v = document.querySelector('[data-testid="playback-player"]');
            return v.readyState >= 2 && v.videoWidth === 1280 && v.duration > 2;
        }""",
        timeout=15_000,
    )
    problems = i18n_problems(console, r"console\.[a-z_.]+")
    assert problems == {"onlyZh": [], "onlyEn": [], "missing": [], "keysOnScreen": []}
