"""A whole mediation session in three Chromium pages: lobby, identity, admission, consent, call,
caucus, chat, evidence, end — plus what a party is not offered, and the keyboard.

Each test opens a sitting of a case of its own (created through the REST API, phones on file),
so the shared demo room of the other browser tests is left alone. The mediator is on a desktop,
the consumer and the business on 375×667 phones.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.room_support import (
    NewPage,
    assert_contrast,
    assert_small_text_absent,
    frames,
    new_sitting,
    png_bytes,
    snapshot,
    wait_for,
    wait_video_rising,
)
from tests.support.server import RunningServer as Server

pytestmark = pytest.mark.e2e

PHONE_SIZE = {"width": 375, "height": 667}
CONSUMER_PHONE = "13812345678"
BUSINESS_PHONE = "02787654321"  # a shop's landline: the last four digits are 4321


def open_page(new_page: NewPage, link: str, *, phone: bool) -> Page:
    page = new_page(phone=phone)
    if phone:
        page.set_viewport_size(PHONE_SIZE)
    page.goto(link)
    return page


def join(new_page: NewPage, link: str, *, phone: bool) -> Page:
    page = open_page(new_page, link, phone=phone)
    page.get_by_test_id("join-button").click()
    return page


def chat_texts(page: Page) -> list[str]:
    return chat_texts_of(snapshot(page))


def chat_texts_of(room: dict[str, object]) -> list[str]:
    chat = room["chat"]
    assert isinstance(chat, dict)
    return [m["text"] for m in chat["messages"]]


def test_a_whole_session_from_lobby_to_the_end(server: Server, new_page: NewPage) -> None:
    links = new_sitting(server, consumer_phone=CONSUMER_PHONE, business_phone=BUSINESS_PHONE)
    mediator = join(new_page, links["mediator"], phone=False)
    wait_for(mediator, lambda r: r["view"] == "room" and r["self"] is not None, "mediator in")
    consumer = join(new_page, links["consumer"], phone=True)
    business = join(new_page, links["business"], phone=True)

    # ---- the lobby: the parties wait; the mediator sees them arrive, with a cue
    for party in (consumer, business):
        expect(party.get_by_test_id("lobby-title")).to_have_text("等待调解员准入…")
        expect(party.get_by_test_id("consent-accept")).to_be_visible()
        expect(party.get_by_test_id("lobby-preview")).to_be_visible()
        assert snapshot(party)["remote"] == {}, "no media in the lobby"
    for role in ("consumer", "business"):
        row = mediator.get_by_test_id(f"lobby-{role}")
        expect(row).to_be_visible()
        expect(row.get_by_test_id(f"lobby-consent-{role}")).to_have_text("录音录像告知：尚未选择")
        expect(row.get_by_test_id(f"lobby-waiting-{role}")).to_contain_text("已等候")
    cues = snapshot(mediator)["lobbyCue"]
    assert cues >= 1, "the mediator's page gave no cue for the arrivals"
    assert "announce.lobby.arrived" in snapshot(mediator)["announcements"]
    assert_small_text_absent(mediator)
    assert_contrast(mediator)

    # ---- identity: the business types the last four digits of the phone on file
    business.get_by_test_id("identity-input").fill("0000")
    business.get_by_test_id("identity-submit").click()
    expect(business.get_by_test_id("identity-result")).to_have_text(
        "与登记的号码不一致。还可以再试 4 次。"
    )
    identity = mediator.get_by_test_id("lobby-identity-business")
    expect(identity).to_have_attribute("data-identity", "mismatch")
    business.get_by_test_id("identity-input").fill(BUSINESS_PHONE[-4:])
    business.get_by_test_id("identity-submit").click()
    expect(business.get_by_test_id("identity-result")).to_contain_text("核对一致")
    expect(identity).to_have_attribute("data-identity", "match")
    expect(identity).to_have_text("身份：手机后四位一致")

    # ---- admission and consent, in either order
    mediator.get_by_test_id("admit-consumer").click()
    expect(consumer.get_by_test_id("lobby-title")).to_have_text("调解员已准入")
    consumer.get_by_test_id("consent-accept").click()
    business.get_by_test_id("consent-accept").click()
    expect(business.get_by_test_id("consent-state")).to_have_text("您已同意。")
    expect(mediator.get_by_test_id("lobby-consent-business")).to_have_text("录音录像告知：已同意")
    mediator.get_by_test_id("admit-business").click()
    pages = {"mediator": mediator, "consumer": consumer, "business": business}
    for role, page in pages.items():
        others = [r for r in pages if r != role]
        wait_video_rising(page, others)
    expect(mediator.get_by_test_id("lobby-empty")).to_be_visible()
    expect(consumer.get_by_test_id("live-polite")).to_have_text("您已进入调解室。")

    # ---- caucus with the consumer: the business is cut off both ways
    mediator.get_by_test_id("caucus-consumer").click()
    notice = business.get_by_test_id("caucus-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("调解员正在与对方单独沟通")
    expect(business.get_by_test_id("caucus-timer")).to_contain_text("已进行 0:0")
    expect(business.get_by_test_id("live-assertive")).to_contain_text("单独沟通")
    expect(consumer.get_by_test_id("caucus-banner")).to_contain_text("调解员正在与您单独沟通")
    expect(mediator.get_by_test_id("caucus-banner")).to_contain_text("正在与消费者单独沟通")
    for role in ("mediator", "consumer"):
        # A placeholder, not a frozen last frame.
        expect(business.get_by_test_id(f"tile-{role}")).to_have_attribute("data-video", "paused")
    expect(mediator.get_by_test_id("tile-business")).to_have_attribute("data-video", "paused")
    expect(business.get_by_test_id("chat-input")).to_be_disabled()
    business.wait_for_timeout(1500)  # what was already on its way lands; stats poll each second
    cut_off = {pid: frames(business, pid) for pid in ("mediator", "consumer")}
    consumer_before = frames(consumer, "mediator")
    business.wait_for_timeout(2000)
    assert {pid: frames(business, pid) for pid in cut_off} == cut_off, "frames crossed the caucus"
    assert frames(consumer, "mediator") > consumer_before, "the caucus itself has no picture"
    # Chat within the caucus stays within it, marked as such.
    private = "这个价格我可以接受，但不想当着商家说。"
    consumer.get_by_test_id("open-chat").click()
    consumer.get_by_test_id("chat-input").fill(private)
    consumer.get_by_test_id("chat-input").press("Enter")
    mediator.get_by_test_id("tab-chat").click()
    in_caucus = mediator.locator("[data-testid=chat-message][data-caucus=true]")
    expect(in_caucus).to_contain_text(private)
    expect(in_caucus).to_contain_text("单独沟通 · 消费者")
    consumer.get_by_test_id("drawer-close").click()
    mediator.get_by_test_id("tab-people").click()

    # ---- end of the caucus: the business sees the others again
    mediator.get_by_test_id("caucus-end").click()
    expect(notice).to_be_hidden()
    wait_video_rising(business, ["mediator", "consumer"])
    wait_video_rising(mediator, ["business"])
    for role in ("mediator", "consumer"):
        expect(business.get_by_test_id(f"tile-{role}")).to_have_attribute("data-video", "on")
    expect(business.get_by_test_id("live-polite")).to_have_text("单独沟通已结束，回到三方调解。")

    # ---- chat: the consumer's messages reach both others, in order
    consumer.get_by_test_id("open-chat").click()
    sent = ["您好，这部手机收到时屏幕就是裂的。", "我希望退货退款。"]
    before = [private]
    for text in sent:
        consumer.get_by_test_id("chat-input").fill(text)
        consumer.get_by_test_id("chat-input").press("Enter")
    wait_for(
        consumer,
        lambda r: not r["chat"]["outbox"] and chat_texts_of(r) == before + sent,
        "both messages acknowledged",
    )
    expect(business.get_by_test_id("chat-unread")).to_have_text("2")  # the drawer is closed
    business.get_by_test_id("open-chat").click()
    expect(business.get_by_test_id("chat-unread")).to_be_hidden()
    mediator.get_by_test_id("tab-chat").click()
    for page, texts in ((mediator, before + sent), (business, sent)):
        expect(page.locator("[data-testid=chat-message] .chat-text")).to_have_text(texts)
        assert chat_texts(page) == texts  # the business never had the caucus's message
    business.get_by_test_id("drawer-close").click()

    # ---- evidence: the consumer uploads a photo, the mediator shows it, the business sees it
    consumer.get_by_test_id("tab-evidence").click()
    consumer.get_by_test_id("evidence-input").set_input_files(
        files=[{"name": "收据.png", "mimeType": "image/png", "buffer": png_bytes()}]
    )
    uploaded = wait_for(consumer, lambda r: len(r["evidence"]["list"]) == 1, "uploaded")
    evidence = uploaded["evidence"]["list"][0]
    assert evidence["content_type"] == "image/png", evidence
    mediator.get_by_test_id("tab-evidence").click()
    row = mediator.get_by_test_id(f"evidence-{evidence['id']}")
    expect(row).to_contain_text("收据.png")
    mediator.get_by_test_id(f"show-evidence-{evidence['id']}").click()
    expect(mediator.get_by_test_id(f"show-evidence-{evidence['id']}")).to_have_text("停止展示")
    viewer = business.get_by_test_id("evidence-viewer")
    expect(viewer).to_be_visible()
    expect(business.get_by_test_id("viewer-title")).to_contain_text("收据.png")
    wait_for(
        business,
        lambda r: (r["viewer"] or {}).get("status") == "ready" and r["viewer"]["kind"] == "image",
        "the business's viewer has the file",
    )
    image = business.get_by_test_id("viewer-image")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 96
    business.get_by_test_id("viewer-zoom-in").click()
    expect(image).to_have_attribute("data-scale", "1.50")
    assert "announce.evidence.shown" in snapshot(business)["announcements"]

    # A file that only looks like a photo is refused with words that say why.
    business.get_by_test_id("open-evidence").click()
    business.get_by_test_id("evidence-input").set_input_files(
        files=[{"name": "照片.png", "mimeType": "image/png", "buffer": b"MZ\x90\x00 not a png"}]
    )
    expect(business.get_by_test_id("upload-status")).to_have_text(
        "这种文件不能提交：只接受照片（JPEG、PNG、HEIC）和 PDF。"
    )

    # ---- the end: an outcome, a confirmation, and every page says so
    mediator.get_by_test_id("tab-people").click()
    mediator.get_by_test_id("end-sitting").click()
    dialog = mediator.get_by_test_id("end-dialog")
    expect(dialog).to_be_visible()
    # Settled needs a sealed agreement, terminated an accepted case: this one (only received)
    # ends undecided.
    mediator.get_by_test_id("outcome-undecided").check()
    mediator.get_by_test_id("end-note").fill("商家同意退货，全额退款。")
    mediator.get_by_test_id("end-confirm").click()
    for page in pages.values():
        expect(page.get_by_test_id("ended-message")).to_be_visible()
        expect(page.get_by_test_id("ended-message")).to_have_text("调解室已关闭")

    # ---- each party is asked for a rating on their own page; the mediator is not
    expect(consumer.get_by_test_id("satisfaction")).to_be_visible()
    expect(business.get_by_test_id("satisfaction")).to_be_visible()
    expect(mediator.get_by_test_id("satisfaction")).to_be_hidden()
    consumer.get_by_test_id("satisfaction-submit").click()  # no rating chosen: said, not sent
    expect(consumer.get_by_test_id("satisfaction-error")).to_be_visible()
    consumer.get_by_test_id("satisfaction-4").click()
    expect(consumer.get_by_test_id("satisfaction-4")).to_have_attribute("aria-checked", "true")
    consumer.get_by_test_id("satisfaction-comment").fill("调解员很耐心")
    consumer.get_by_test_id("satisfaction-submit").click()
    expect(consumer.get_by_test_id("satisfaction-thanks")).to_be_visible()
    expect(consumer.get_by_test_id("satisfaction-yours")).to_contain_text("4")
    # The answer is on record: a reload of the link shows it instead of the form.
    consumer.reload()
    expect(consumer.get_by_test_id("satisfaction-yours")).to_contain_text("4")
    expect(consumer.get_by_test_id("satisfaction-submit")).to_have_count(0)
    # The business still has its own form, untouched by the consumer's answer.
    expect(business.get_by_test_id("satisfaction-submit")).to_be_visible()


def test_a_party_is_not_offered_the_mediators_controls(server: Server, new_page: NewPage) -> None:
    links = new_sitting(server, consumer_phone=CONSUMER_PHONE, business_phone=None)
    mediator = join(new_page, links["mediator"], phone=False)
    consumer = join(new_page, links["consumer"], phone=True)
    mediator.get_by_test_id("admit-consumer").click()
    consumer.get_by_test_id("consent-accept").click()
    wait_for(consumer, lambda r: r["view"] == "room", "consumer in the room")

    mediator_only = ["host-controls", "caucus-consumer", "lock-room", "end-sitting", "tab-people"]
    for testid in mediator_only:
        expect(mediator.get_by_test_id(testid)).to_be_visible()
        expect(consumer.get_by_test_id(testid)).to_be_hidden()
    expect(consumer.get_by_test_id("open-people")).to_be_hidden()
    expect(consumer.get_by_test_id("screen-share")).to_be_hidden()
    expect(consumer.get_by_test_id("raise-hand")).to_be_visible()
    expect(mediator.get_by_test_id("raise-hand")).to_be_hidden()
    # No mute, admit or remove buttons anywhere on the party's page.
    expect(consumer.locator("[data-action=mute]")).to_have_count(0)
    expect(consumer.locator("[data-action=remove]")).to_have_count(0)

    # Their own evidence: they may look at it, not show it to anyone.
    consumer.get_by_test_id("open-evidence").click()
    consumer.get_by_test_id("evidence-input").set_input_files(
        files=[{"name": "订单截图.png", "mimeType": "image/png", "buffer": png_bytes()}]
    )
    listed = wait_for(consumer, lambda r: len(r["evidence"]["list"]) == 1, "uploaded")
    evidence_id = listed["evidence"]["list"][0]["id"]
    expect(consumer.get_by_test_id(f"preview-evidence-{evidence_id}")).to_be_visible()
    expect(consumer.get_by_test_id(f"show-evidence-{evidence_id}")).to_be_hidden()

    # The party raises a hand; the mediator sees it and lowers it; the party is told.
    consumer.get_by_test_id("drawer-close").click()
    consumer.get_by_test_id("raise-hand").click()
    expect(consumer.get_by_test_id("raise-hand")).to_have_attribute("aria-pressed", "true")
    expect(mediator.get_by_test_id("person-hand-consumer")).to_be_visible()
    mediator.get_by_test_id("lower-hand-consumer").click()
    expect(consumer.get_by_test_id("raise-hand")).to_have_attribute("aria-pressed", "false")
    expect(consumer.get_by_test_id("live-polite")).to_have_text("您的举手已放下。")

    # Muted by the mediator: the mic button says so and asks to speak; the mediator sees it.
    mediator.get_by_test_id("mute-audio-consumer").click()
    mic = consumer.get_by_test_id("toggle-audio")
    expect(mic).to_have_attribute("data-blocked", "true")
    expect(mic).to_contain_text("申请发言")
    expect(consumer.get_by_test_id("blocked-banner")).to_contain_text("调解员已将您静音")
    mic.click()
    expect(mediator.get_by_test_id("person-unmute-consumer")).to_have_text("请求解除静音")
    mediator.get_by_test_id("mute-audio-consumer").click()
    expect(mic).not_to_have_attribute("data-blocked", "true")
    expect(consumer.get_by_test_id("blocked-banner")).to_be_hidden()


def test_a_turned_away_party_sees_the_reason(server: Server, new_page: NewPage) -> None:
    links = new_sitting(server, consumer_phone=CONSUMER_PHONE, business_phone=BUSINESS_PHONE)
    mediator = join(new_page, links["mediator"], phone=False)
    business = join(new_page, links["business"], phone=True)
    mediator.get_by_test_id("reject-business").click()
    expect(mediator.get_by_test_id("reason-dialog")).to_be_visible()
    expect(mediator.get_by_test_id("reason-title")).to_contain_text("拒绝 商家 某某数码专营店")
    mediator.get_by_test_id("reason-confirm").click()  # no reason yet: asked for one
    expect(mediator.get_by_test_id("reason-error")).to_be_visible()
    mediator.get_by_test_id("reason-input").fill("来人不是本案商家的负责人")
    mediator.get_by_test_id("reason-confirm").click()
    expect(mediator.get_by_test_id("reason-dialog")).to_be_hidden()

    expect(business.get_by_test_id("dismissed-title")).to_have_text("调解员没有准许您进入调解室")
    expect(business.get_by_test_id("dismissed-reason")).to_have_text(
        "原因：来人不是本案商家的负责人"
    )
    expect(business.get_by_test_id("live-assertive")).to_contain_text("没有准许")
    expect(mediator.get_by_test_id("lobby-business")).to_have_count(0)
    # The link is withdrawn: opening it again says so.
    business.reload()
    expect(business.get_by_test_id("error-message")).to_have_attribute("data-code", "token_revoked")


def tab_to(page: Page, testid: str, limit: int = 40) -> list[str]:
    """Press Tab until the element ``testid`` has the focus; return what was focused on the way."""
    seen: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement?.dataset?.testid ?? ''")
        seen.append(focused)
        if focused == testid:
            return seen
    pytest.fail(f"{testid} not reached with Tab; focus went through {seen}")


def focus_is_visible(page: Page) -> bool:
    return bool(
        page.evaluate(
            """() => { const s = getComputedStyle(document.activeElement);
                       return s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2; }"""
        )
    )


def test_keyboard_reaches_the_consent_and_the_chat(server: Server, new_page: NewPage) -> None:
    links = new_sitting(server, consumer_phone=CONSUMER_PHONE, business_phone=None)
    mediator = join(new_page, links["mediator"], phone=False)
    consumer = open_page(new_page, links["consumer"], phone=True)
    wait_for(consumer, lambda r: r["view"] == "join" and r["local"]["video"], "camera on")
    expect(consumer.get_by_test_id("name-input")).to_have_value("陈先生")
    consumer.get_by_test_id("name-input").focus()
    consumer.keyboard.press("Enter")  # Enter in the name field enters
    expect(consumer.get_by_test_id("consent-accept")).to_be_visible()
    assert_small_text_absent(consumer)
    assert_contrast(consumer)

    # The lobby in order: the notice's two buttons, then the identity check, each labelled.
    seen = tab_to(consumer, "consent-decline")
    assert "consent-accept" in seen and seen.index("consent-accept") < len(seen) - 1, seen
    assert focus_is_visible(consumer)
    expect(consumer.get_by_test_id("consent-decline")).to_have_accessible_name("不同意")
    expect(consumer.get_by_test_id("consent-accept")).to_have_accessible_name("同意并继续")
    tab_to(consumer, "identity-input")
    expect(consumer.get_by_test_id("identity-input")).to_have_accessible_name(
        "请输入案件中登记的您的手机号码的后四位"
    )
    consumer.keyboard.type(CONSUMER_PHONE[-4:])
    consumer.keyboard.press("Enter")
    expect(consumer.get_by_test_id("identity-result")).to_contain_text("核对一致")
    expect(consumer.get_by_test_id("live-polite")).to_contain_text("核对一致")

    # Accept with the keyboard; the mediator lets them in.
    consumer.keyboard.press("Shift+Tab")
    tab_to(consumer, "consent-accept")
    consumer.keyboard.press("Enter")
    expect(consumer.get_by_test_id("consent-state")).to_have_text("您已同意。")
    mediator.get_by_test_id("admit-consumer").click()
    wait_for(consumer, lambda r: r["view"] == "room", "consumer in the room")
    expect(consumer.get_by_test_id("live-polite")).to_have_text("您已进入调解室。")
    assert_small_text_absent(consumer)
    assert_contrast(consumer)

    # The room: the controls in order, the chat drawer opens from the keyboard.
    seen = tab_to(consumer, "open-chat")
    assert seen.index("toggle-audio") < seen.index("toggle-video") < seen.index("open-chat"), seen
    assert focus_is_visible(consumer)
    expect(consumer.get_by_test_id("open-chat")).to_have_accessible_name("聊天")
    consumer.keyboard.press("Enter")
    tab_to(consumer, "chat-input")
    chat_input = consumer.get_by_test_id("chat-input")
    expect(chat_input).to_have_accessible_name("输入消息")
    expect(consumer.get_by_test_id("chat-count")).to_have_text("0/500")
    consumer.keyboard.type("我用键盘发的消息")
    expect(consumer.get_by_test_id("chat-count")).to_have_text("8/500")
    consumer.keyboard.press("Enter")
    wait_for(
        consumer,
        lambda r: [m["text"] for m in r["chat"]["messages"]] == ["我用键盘发的消息"],
        "message sent",
    )
    assert_contrast(consumer)
    # Icon-only buttons have names too; Escape closes the drawer.
    expect(consumer.get_by_test_id("drawer-close")).to_have_accessible_name("关闭面板")
    consumer.keyboard.press("Escape")
    expect(consumer.get_by_test_id("side-panel")).to_be_hidden()
    expect(consumer.get_by_test_id("open-chat")).to_be_focused()  # back where it was opened


def test_a_dropped_party_comes_back_in_the_same_state(server: Server, new_page: NewPage) -> None:
    links = new_sitting(server, consumer_phone=CONSUMER_PHONE, business_phone=None)
    # The consumer comes first and waits; the mediator, arriving later, finds them waiting.
    consumer = join(new_page, links["consumer"], phone=True)
    consumer.get_by_test_id("consent-accept").click()
    expect(consumer.get_by_test_id("lobby-text")).to_contain_text("调解员准入后，您会自动进入")
    mediator = join(new_page, links["mediator"], phone=False)
    mediator.get_by_test_id("admit-consumer").click()
    wait_video_rising(consumer, ["mediator"])
    consumer.get_by_test_id("raise-hand").click()
    mediator.get_by_test_id("mute-audio-consumer").click()
    expect(consumer.get_by_test_id("toggle-audio")).to_have_attribute("data-blocked", "true")
    consumer.get_by_test_id("open-chat").click()
    consumer.get_by_test_id("chat-input").fill("网络不太好，我可能会掉线。")
    consumer.get_by_test_id("chat-input").press("Enter")
    wait_for(consumer, lambda r: len(r["chat"]["messages"]) == 1, "first message stored")

    # The phone loses its network: the page says so, the mediator sees it.
    consumer.context.set_offline(True)
    expect(consumer.get_by_test_id("self-reconnecting")).to_be_visible()
    expect(consumer.get_by_test_id("connection-state")).to_have_text("重新连接中")
    expect(mediator.get_by_test_id("person-reconnecting-consumer")).to_have_text("重新连接中…")
    expect(mediator.get_by_test_id("tile-consumer")).to_have_attribute("data-video", "reconnecting")
    # A message written meanwhile waits, and is sent once back.
    consumer.get_by_test_id("chat-input").fill("我回来了吗？")
    consumer.get_by_test_id("chat-input").press("Enter")
    assert [m["text"] for m in snapshot(consumer)["chat"]["outbox"]] == ["我回来了吗？"]

    # Back online: at once, straight into the room (no lobby), hand up and muted as before.
    consumer.context.set_offline(False)
    wait_video_rising(consumer, ["mediator"])
    back = snapshot(consumer)
    assert back["view"] == "room" and back["self"]["stage"] == "room", back["self"]
    assert back["self"]["hand_raised"] and back["self"]["audio_blocked"], back["self"]
    expect(consumer.get_by_test_id("self-reconnecting")).to_be_hidden()
    expect(consumer.get_by_test_id("connection-state")).to_have_text("已连接")
    expect(consumer.get_by_test_id("live-polite")).to_have_text("已重新连接。")
    expect(mediator.get_by_test_id("person-reconnecting-consumer")).to_be_hidden()
    wait_video_rising(mediator, ["consumer"])
    # The history came back with `joined`, and the waiting message went out exactly once.
    both = ["网络不太好，我可能会掉线。", "我回来了吗？"]
    wait_for(consumer, lambda r: chat_texts_of(r) == both and not r["chat"]["outbox"], "resent")
    mediator.get_by_test_id("tab-chat").click()
    expect(mediator.locator("[data-testid=chat-message] .chat-text")).to_have_text(both)


def test_a_locked_room_and_a_removed_party(server: Server, new_page: NewPage) -> None:
    links = new_sitting(server, consumer_phone=CONSUMER_PHONE, business_phone=BUSINESS_PHONE)
    mediator = join(new_page, links["mediator"], phone=False)
    consumer = join(new_page, links["consumer"], phone=True)
    mediator.get_by_test_id("admit-consumer").click()
    consumer.get_by_test_id("consent-accept").click()
    wait_for(consumer, lambda r: r["view"] == "room", "consumer in the room")

    # The mediator shares a screen (Chromium's fake capture UI picks one): the consumer sees it
    # large, beside the cameras; stopping takes it away.
    mediator.get_by_test_id("screen-share").click()
    expect(mediator.get_by_test_id("screen-share")).to_have_attribute("aria-pressed", "true")
    screen = consumer.get_by_test_id("tile-screen")
    expect(screen).to_be_visible()
    expect(screen).to_contain_text("王调解员 共享的屏幕")
    wait_for(
        consumer,
        lambda r: r["remote"].get("mediator", {}).get("screenFramesDecoded", 0) > 0,
        "the shared screen decoded",
    )
    mediator.get_by_test_id("screen-share").click()
    expect(screen).to_be_hidden()

    # Locked: a party never let in is refused, told why, and can try again later.
    mediator.get_by_test_id("lock-room").click()
    expect(mediator.get_by_test_id("lock-room")).to_have_attribute("aria-pressed", "true")
    expect(consumer.get_by_test_id("locked-badge")).to_be_visible()
    expect(consumer.get_by_test_id("live-polite")).to_have_text("调解室已锁定。")
    business = join(new_page, links["business"], phone=True)
    message = business.get_by_test_id("error-message")
    expect(message).to_have_attribute("data-code", "room_locked")
    expect(message).to_have_text("调解员已锁定调解室，暂时不能进入。")
    mediator.get_by_test_id("lock-room").click()
    expect(mediator.get_by_test_id("lock-room")).to_have_attribute("aria-pressed", "false")
    business.get_by_test_id("retry-button").click()
    business.get_by_test_id("join-button").click()
    expect(business.get_by_test_id("lobby-title")).to_have_text("等待调解员准入…")
    expect(mediator.get_by_test_id("lobby-business")).to_be_visible()

    # Removed, with a reason the party reads.
    mediator.get_by_test_id("remove-consumer").click()
    expect(mediator.get_by_test_id("reason-title")).to_have_text("请 消费者 陈先生 离开调解室")
    mediator.get_by_test_id("reason-input").fill("多次打断对方发言")
    mediator.get_by_test_id("reason-confirm").click()
    expect(consumer.get_by_test_id("dismissed-title")).to_have_text("调解员已请您离开调解室")
    expect(consumer.get_by_test_id("dismissed-reason")).to_have_text("原因：多次打断对方发言")
    expect(mediator.get_by_test_id("person-consumer")).to_have_count(0)
