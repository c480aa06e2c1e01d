"""A real three-party call in headless Chromium: join, media both ways, leave, reload, refusal.

Assertions read facts from the page's ``window.__room`` snapshot (decoded frames, audio energy,
video size), polled with time limits; on a failure the snapshot and the raw WebRTC stats are
printed.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import room_support as room
from tests.e2e.room_support import (
    NewPage,
    assert_small_text_absent,
    others_of,
    snapshot,
    through_lobby,
    wait_back_in,
    wait_for,
    wait_receiving,
)
from tests.support.i18n_check import i18n_problems
from tests.support.server import RunningServer as Server
from tests.support.server import run_server

pytestmark = pytest.mark.e2e


def open_and_join(server: Server, new_page: NewPage, role: str, phone: bool = False) -> Page:
    return room.open_and_join(server.links, new_page, role, phone=phone)


def join_all(server: Server, new_page: NewPage) -> dict[str, Page]:
    # The business is on a phone, as in real cases.
    return room.join_all(server.links, new_page)


def test_three_parties_see_and_hear_each_other(server: Server, new_page: NewPage) -> None:
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


def test_tampered_link_is_refused_with_advice(server: Server, new_page: NewPage) -> None:
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

    # Refused at connect time too (the token passed a stale check): the same words.
    page.route(
        "**/api/invitations/inspect?*",
        lambda route: route.fulfill(
            json={"room_id": "demo", "role": "consumer", "name": "李女士", "expires_at": 0,
                  "case_number": "X", "title": "X"}
        ),
    )  # fmt: skip
    page.get_by_test_id("lang-toggle").click()
    page.reload()
    page.get_by_test_id("join-button").click()
    expect(message).to_have_attribute("data-code", "token_invalid")
    expect(message).to_have_text("这个链接无效：它被改动过，或来自其他系统。")
    page.unroute("**/api/invitations/inspect?*")

    # The right token in another room's address: refused as foreign.
    page.goto(urlunsplit((scheme, netloc, "/room/another-room", query, "")))
    expect(page.get_by_test_id("error-message")).to_have_attribute("data-code", "token_foreign")
    expect(page.get_by_test_id("join-button")).not_to_be_visible()


def test_leave_rejoin_and_reload_bring_video_back(server: Server, new_page: NewPage) -> None:
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

    # ... and comes back with one tap: seen and heard again.
    pages["consumer"].get_by_test_id("rejoin-button").click()
    wait_receiving(pages["consumer"], ["mediator", "business"])
    for role in ("mediator", "business"):
        wait_receiving(pages[role], ["consumer"])

    # The business reloads the page and enters again: straight back into the room, no new
    # admission or consent; the others see them again.
    pages["business"].reload()
    pages["business"].get_by_test_id("join-button").click()
    back = wait_for(pages["business"], lambda r: r["self"] is not None, "business joined again")
    assert back["self"]["stage"] == "room" and back["view"] == "room", back["self"]
    wait_receiving(pages["business"], ["mediator", "consumer"])
    for role in ("mediator", "consumer"):
        wait_receiving(pages[role], ["business"])


def test_camera_started_late_reaches_the_others(server: Server, new_page: NewPage) -> None:
    mediator = open_and_join(server, new_page, "mediator")
    business = new_page(phone=True)
    business.goto(server.links["business"])
    business.get_by_test_id("join-without-media").click()
    through_lobby(mediator, business, "business")

    tile = mediator.get_by_test_id("tile-business")
    expect(tile).to_have_attribute("data-video", "off")
    wait_receiving(business, ["mediator"])

    # Never started: turning them on opens the devices and puts them on the publish mids.
    business.get_by_test_id("toggle-video").click()
    business.get_by_test_id("toggle-audio").click()
    wait_for(business, lambda r: r["local"] == {"audio": True, "video": True}, "devices on")
    wait_receiving(mediator, ["business"])
    expect(tile).to_have_attribute("data-video", "on")


@pytest.mark.parametrize("size", [(390, 844), (375, 667)])
def test_phone_layout_is_one_hand_sized(
    server: Server, new_page: NewPage, size: tuple[int, int]
) -> None:
    width, height = size
    page = new_page(phone=True)
    page.set_viewport_size({"width": width, "height": height})
    page.goto(server.links["consumer"])

    def assert_tall_enough(testid: str) -> None:
        box = page.get_by_test_id(testid).bounding_box()
        assert box is not None, f"{testid} is not on screen"
        assert box["height"] >= 44, f"{testid} is {box['height']} px high"
        assert box["width"] >= 44, f"{testid} is {box['width']} px wide"
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{testid} overflows: {box}"

    for testid in ("join-button", "join-without-media", "name-input", "lang-toggle"):
        assert_tall_enough(testid)
    # The join button is on the first screen: no scrolling needed to enter.
    box = page.get_by_test_id("join-button").bounding_box()
    assert box is not None and box["y"] + box["height"] <= height, box
    assert_small_text_absent(page)

    page.get_by_test_id("join-button").click()
    wait_for(page, lambda r: r["self"] is not None, "joined")
    if snapshot(page)["view"] == "lobby":  # not admitted yet in this sitting
        for testid in ("consent-accept", "consent-decline", "identity-input", "identity-submit"):
            page.get_by_test_id(testid).scroll_into_view_if_needed()
            assert_tall_enough(testid)
        assert_small_text_absent(page)
    through_lobby(open_and_join(server, new_page, "mediator"), page, "consumer")
    expect(page.get_by_test_id("toggle-audio")).to_be_visible()
    for testid in (
        "toggle-audio", "toggle-video", "raise-hand", "open-chat", "open-evidence", "leave-button"
    ):  # fmt: skip
        assert_tall_enough(testid)
    assert_small_text_absent(page)
    # The chat is a drawer on a phone: it fills the screen, its input within reach.
    page.get_by_test_id("open-chat").click()
    for testid in ("chat-input", "chat-send", "drawer-close"):
        assert_tall_enough(testid)
    box = page.get_by_test_id("chat-input").bounding_box()
    assert box is not None and box["y"] + box["height"] <= height, box
    assert_small_text_absent(page)


@contextlib.contextmanager
def restarted(before: Server, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The server again on the same port with the same signing key, so links stay valid.

    Without ``--demo``: that would end the demo's sitting and open a new one (where nobody is
    admitted yet); a restarted server reopens the open sitting from the case record instead.
    (``run_server`` picks a new port; the pages' reconnecting is the readiness check here.)
    """
    port = str(urlsplit(before.url).port)
    command = [
        sys.executable, "-m", "server", "serve",
        "--host", "127.0.0.1", "--port", port, "--ice-host", "127.0.0.1",
        "--data-dir", str(before.data_dir),
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_server_restart_reconnects_with_a_fresh_peer_connection(
    tmp_path: Path, new_page: NewPage
) -> None:
    with run_server(tmp_path) as before:
        pages = {
            "mediator": open_and_join(before, new_page, "mediator"),
            "consumer": open_and_join(before, new_page, "consumer", phone=True),
        }
        through_lobby(pages["mediator"], pages["consumer"], "consumer")
        wait_receiving(pages["mediator"], ["consumer"])
        wait_receiving(pages["consumer"], ["mediator"])
        before.process.kill()  # a crash: every connection drops at once
        before.process.wait()
    for page in pages.values():
        expect(page.get_by_test_id("connection-state")).to_have_text("重新连接中")

    # Socket.IO reconnects by itself; the page joins again and answers the new offer on a new
    # peer connection (the old one belonged to the dead server). The restarted server rebuilt
    # the sitting from its record: the consumer is back in the room without a new admission.
    with restarted(before, tmp_path / "restarted.log"):
        for page in pages.values():
            wait_back_in(page, "back in after the restart")
        wait_receiving(pages["mediator"], ["consumer"])
        wait_receiving(pages["consumer"], ["mediator"])
        for page in pages.values():
            expect(page.get_by_test_id("connection-state")).to_have_text("已连接")


def test_second_tab_replaces_the_first(server: Server, new_page: NewPage) -> None:
    first = open_and_join(server, new_page, "mediator")
    wait_for(first, lambda r: r["self"] is not None, "first tab in the room")
    second = open_and_join(server, new_page, "mediator")
    wait_for(second, lambda r: r["self"] is not None, "second tab in the room")

    expect(first.get_by_test_id("replaced-message")).to_be_visible()
    assert snapshot(first)["view"] == "replaced"
    # ... and it can take the place back.
    first.get_by_test_id("continue-here-button").click()
    expect(second.get_by_test_id("replaced-message")).to_be_visible()
    wait_for(first, lambda r: r["view"] == "room" and r["self"] is not None, "back in the room")


@pytest.mark.parametrize(
    ("error", "code", "words"),
    [("NotAllowedError", "denied", "许可"), ("NotFoundError", "notfound", "没有找到")],
)
def test_device_problem_is_explained_and_entering_without_works(
    server: Server, new_page: NewPage, error: str, code: str, words: str
) -> None:
    page = new_page(phone=True)
    # The fake devices always work: make getUserMedia fail the way a real browser does.
    page.add_init_script(
        "navigator.mediaDevices.getUserMedia = async () => {"
        f" throw new DOMException('refused in this test', '{error}'); }};"
    )
    page.goto(server.links["consumer"])
    problem = page.get_by_test_id("media-error")
    expect(problem).to_be_visible()
    expect(problem).to_have_attribute("data-code", code)
    expect(page.get_by_test_id("media-error-title")).to_contain_text(words)
    expect(page.get_by_test_id("media-error-advice")).to_contain_text("不开摄像头和麦克风")

    page.get_by_test_id("join-without-media").click()
    through_lobby(open_and_join(server, new_page, "mediator"), page, "consumer")
    wait_for(
        page,
        lambda r: r["view"] == "room" and r["local"] == {"audio": False, "video": False},
        "in the room without devices",
    )
    expect(page.get_by_test_id("toggle-video")).to_have_attribute("aria-pressed", "true")


def test_every_message_exists_in_both_languages(server: Server, new_page: NewPage) -> None:
    page = new_page()
    page.goto(server.links["consumer"])
    problems = i18n_problems(page)
    assert problems == {"onlyZh": [], "onlyEn": [], "missing": []}
    # Every key the page's scripts pass to t() exists too (a missing one shows the raw key).
    unknown = page.evaluate(
        r"""async () => {
            const { MESSAGES } = await import("/static/js/i18n.js");
            const names = ["main", "views", "panels", "state", "ui"];
            const sources = await Promise.all(
                names.map(n => fetch(`/static/js/${n}.js`).then(r => r.text())));
            const keys = sources.flatMap(src => [...src.matchAll(
                /(?:\bt\(|key: |announce\(s, )"([a-z_]+(?:\.[a-z_]+)+)"/g)].map(m => m[1]));
            return [...new Set(keys)].filter(k => !(k in MESSAGES["zh-CN"]));
        }"""
    )
    assert unknown == []
