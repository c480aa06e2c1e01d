"""The settlement agreement in three Chromium pages: the mediator drafts it in the room, both
parties see every version live (what changed marked), each signs by drawing on a canvas with
synthetic pointer events, an edit voids a signature, the mediator seals it, and a party downloads
the PDF, whose text and pages are checked with poppler.

A case of its own (created through the REST API): the mediator and the consumer on desktops, the
business on a 390×844 phone.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.room_support import (
    NewPage,
    assert_contrast,
    assert_small_text_absent,
    new_sitting,
    snapshot,
    through_lobby,
    wait_for,
)
from tests.support.i18n_check import i18n_problems
from tests.support.pdf import pdf_text, require_poppler
from tests.support.server import RunningServer as Server

pytestmark = pytest.mark.e2e

AGREEMENT_LIMIT_S = 30.0
PDF_LIMIT_S = 120.0
# A signature as a finger writes it: a few strokes across the pad (fractions of its size).
STROKES = [
    [(0.08, 0.65), (0.16, 0.3), (0.24, 0.7), (0.32, 0.25), (0.4, 0.68)],
    [(0.5, 0.3), (0.58, 0.72), (0.7, 0.35), (0.82, 0.7), (0.92, 0.4)],
]
_DRAW = """([strokes, pointerType]) => {
    const pad = document.querySelector('[data-testid="agreement-canvas"]');
    const box = pad.getBoundingClientRect();
    let id = 40;
    for (const stroke of strokes) {
        id += 1;
        const send = (type, [fx, fy]) => pad.dispatchEvent(new PointerEvent(type, {
            bubbles: true, cancelable: true, composed: true, pointerId: id, pointerType,
            isPrimary: true, buttons: type === "pointerup" ? 0 : 1,
            clientX: box.left + fx * box.width, clientY: box.top + fy * box.height,
        }));
        send("pointerdown", stroke[0]);
        for (const point of stroke.slice(1)) send("pointermove", point);
        send("pointerup", stroke[stroke.length - 1]);
    }
}"""


def agreement(page: Page) -> dict[str, Any]:
    room = snapshot(page)
    result: dict[str, Any] = room["agreement"]
    return result


def wait_agreement(
    page: Page, check: Any, what: str, limit: float = AGREEMENT_LIMIT_S
) -> dict[str, Any]:
    room = wait_for(
        page,
        lambda r: r["agreement"]["view"] is not None and check(r["agreement"]),
        what,
        limit,
    )
    result: dict[str, Any] = room["agreement"]
    return result


def open_agreement(page: Page) -> None:
    """The agreement panel: a tab on a desktop, the control bar's button on a phone."""
    wide = page.viewport_size is not None and page.viewport_size["width"] >= 900
    entry = page.get_by_test_id("tab-agreement" if wide else "open-agreement")
    expect(entry).to_be_visible()
    if page.get_by_test_id("panel-agreement").is_visible():
        return
    entry.click()
    expect(page.get_by_test_id("panel-agreement")).to_be_visible()


def draw_signature(page: Page, pointer_type: str) -> None:
    pad = page.get_by_test_id("agreement-canvas")
    pad.scroll_into_view_if_needed()
    expect(pad).to_be_visible()
    page.evaluate(_DRAW, [STROKES, pointer_type])


def sign(page: Page, name: str, pointer_type: str) -> None:
    """Review and sign: the name, a drawing, submit."""
    page.get_by_test_id("agreement-review").click()
    expect(page.get_by_test_id("agreement-sign-form")).to_be_visible()
    page.get_by_test_id("agreement-sign-name").fill(name)
    draw_signature(page, pointer_type)
    assert agreement(page)["sign"]["ink"] > 100, agreement(page)["sign"]
    page.get_by_test_id("agreement-sign-submit").click()


def signed_roles(a: dict[str, Any]) -> list[str]:
    return [s["role"] for s in a["view"]["signatures"]]


def test_draft_review_sign_seal_and_download(
    server: Server, new_page: NewPage, tmp_path: Path
) -> None:
    require_poppler()
    links = new_sitting(server, consumer_phone="13812345678", business_phone="02787654321")
    mediator = new_page(phone=False)
    mediator.goto(links["mediator"])
    mediator.get_by_test_id("join-button").click()
    wait_for(mediator, lambda r: r["view"] == "room" and r["self"] is not None, "mediator in")
    consumer = new_page(phone=False)
    consumer.goto(links["consumer"])
    consumer.get_by_test_id("join-button").click()
    business = new_page(phone=True)
    business.goto(links["business"])
    business.get_by_test_id("join-button").click()
    through_lobby(mediator, consumer, "consumer")
    through_lobby(mediator, business, "business")

    # ---- before a draft: the parties are offered nothing; the mediator starts one
    for party in (consumer, business):
        wait_for(party, lambda r: r["agreement"]["view"] is None, "no agreement yet")
        expect(party.get_by_test_id("tab-agreement")).to_be_hidden()
        expect(party.get_by_test_id("open-agreement")).to_be_hidden()
    open_agreement(mediator)
    expect(mediator.get_by_test_id("agreement-status")).to_contain_text("尚未起草")
    mediator.get_by_test_id("agreement-start").click()
    first = wait_agreement(mediator, lambda a: a["view"]["version"] == 1, "the draft")
    form = mediator.get_by_test_id("agreement-form")
    expect(form).to_be_visible()
    # The parties come from the case.
    expect(mediator.get_by_test_id("agreement-consumer-name")).to_have_value("陈先生")
    expect(mediator.get_by_test_id("agreement-business-name")).to_have_value("某某数码专营店")
    expect(mediator.get_by_test_id("agreement-save-state")).to_contain_text("还需填写")

    # The phone gets a banner and a badge; both parties see the draft.
    expect(business.get_by_test_id("agreement-banner")).to_be_visible()
    expect(business.get_by_test_id("open-agreement-badge")).to_be_visible()
    business.get_by_test_id("agreement-banner-open").click()
    expect(business.get_by_test_id("panel-agreement")).to_be_visible()
    expect(business.get_by_test_id("agreement-banner")).to_be_hidden()
    for party in (consumer, business):
        wait_agreement(party, lambda a: a["view"]["version"] == 1, "the party sees the draft")
    expect(business.get_by_test_id("agreement-text")).to_contain_text("某某数码专营店")
    expect(business.get_by_test_id("agreement-sign-prompt")).to_contain_text("正在起草")
    expect(business.get_by_test_id("agreement-review")).to_be_hidden()

    # ---- the mediator fills the terms; wrong values are said at once and nothing is sent
    mediator.get_by_test_id("agreement-facts").fill(
        "消费者网购手机，收货时屏幕已破裂，商家拒绝退货。"
    )
    mediator.get_by_test_id("agreement-remedy-refund").check()
    mediator.get_by_test_id("agreement-remedy-return").check()
    mediator.get_by_test_id("agreement-method").fill("原路退回")
    amount = mediator.get_by_test_id("agreement-amount")
    amount.fill("-5")
    expect(mediator.get_by_test_id("agreement-error-amount")).to_have_text("金额不能为负数。")
    expect(amount).to_have_attribute("aria-invalid", "true")
    amount.fill("12.345")
    expect(mediator.get_by_test_id("agreement-error-amount")).to_contain_text("最多两位小数")
    amount.fill("1299.50")
    expect(mediator.get_by_test_id("agreement-error-amount")).to_be_hidden()
    due = mediator.get_by_test_id("agreement-due-on")
    due.fill("2020-01-01")
    expect(mediator.get_by_test_id("agreement-error-due-on")).to_have_text("履行期限必须晚于今天。")
    mediator.wait_for_timeout(1500)  # longer than the save delay: a wrong form is not sent
    assert agreement(consumer)["view"]["version"] == first["view"]["version"] == 1
    due_on = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    due.fill(due_on)
    saved = wait_agreement(
        mediator,
        lambda a: a["view"]["version"] >= 2 and not a["form"]["dirty"] and not a["form"]["sending"],
        "the terms saved",
    )
    expect(mediator.get_by_test_id("agreement-save-state")).to_contain_text("已保存")
    version = saved["view"]["version"]
    for party in (consumer, business):
        seen = wait_agreement(party, lambda a: a["view"]["version"] == version, "the new version")
        assert "1,299.50" in seen["view"]["text"]
    expect(business.get_by_test_id("agreement-text")).to_contain_text("壹仟贰佰玖拾玖元伍角整")

    # ---- a change is marked on the parties' pages (and announced)
    amount.fill("1300")
    v_amount = wait_agreement(
        business, lambda a: "1,300.00" in a["view"]["text"], "the changed amount"
    )
    assert v_amount["changedLines"] >= 1
    changed = business.locator('[data-testid="agreement-text"] [data-changed="true"]')
    expect(changed.first).to_contain_text("1,300.00")
    expect(business.get_by_test_id("agreement-changed-note")).to_be_visible()
    wait_for(
        business,
        lambda r: "announce.agreement.updated" in r["announcements"],
        "the update announced",
    )
    wait_agreement(mediator, lambda a: not a["form"]["dirty"] and not a["form"]["sending"], "saved")

    # ---- the consumer signs (desktop, mouse); an edit voids it; they sign again
    wait_agreement(consumer, lambda a: "1,300.00" in a["view"]["text"], "consumer up to date")
    open_agreement(consumer)
    sign(consumer, "陈先生", "mouse")
    wait_agreement(consumer, lambda a: signed_roles(a) == ["consumer"], "the consumer signed")
    expect(consumer.get_by_test_id("agreement-sig-consumer")).to_have_attribute(
        "data-state", "signed"
    )
    expect(mediator.get_by_test_id("agreement-sig-consumer")).to_contain_text("陈先生")
    mediator.get_by_test_id("agreement-other").fill("商家承担退货运费。")
    wait_agreement(
        consumer,
        lambda a: a["view"]["signatures"] == [] and "运费" in a["view"]["text"],
        "the signature voided by the edit",
    )
    expect(consumer.get_by_test_id("agreement-sig-consumer")).to_have_attribute(
        "data-state", "voided"
    )
    expect(consumer.get_by_test_id("agreement-sign-prompt")).to_contain_text("签名已作废")
    wait_for(
        consumer,
        lambda r: "announce.agreement.voided" in r["announcements"],
        "the voiding announced",
    )
    wait_agreement(mediator, lambda a: not a["form"]["dirty"] and not a["form"]["sending"], "saved")
    final = agreement(mediator)["view"]
    wait_agreement(consumer, lambda a: a["view"]["version"] == final["version"], "latest")
    sign(consumer, "陈先生", "mouse")
    wait_agreement(consumer, lambda a: signed_roles(a) == ["consumer"], "signed again")

    # ---- the mediator cannot seal before both parties; the business signs on the phone
    expect(mediator.get_by_test_id("agreement-sign")).to_be_hidden()
    wait_agreement(business, lambda a: a["view"]["version"] == final["version"], "phone latest")
    business.get_by_test_id("agreement-review").click()
    business.get_by_test_id("agreement-sign-name").fill("王店长")
    business.get_by_test_id("agreement-sign-submit").click()
    expect(business.get_by_test_id("agreement-sign-error")).to_have_text(
        "签名框是空的，请在框内写下您的签名。"
    )
    assert signed_roles(agreement(business)) == ["consumer"], "an empty pad sends nothing"
    draw_signature(business, "touch")
    business.get_by_test_id("agreement-sign-submit").click()
    wait_agreement(
        business, lambda a: sorted(signed_roles(a)) == ["business", "consumer"], "business signed"
    )
    expect(business.get_by_test_id("agreement-sign-prompt")).to_contain_text("您已签署")
    assert_small_text_absent(business)
    assert_contrast(business)

    # ---- the mediator signs last: sealed, and each party gets the PDF
    expect(mediator.get_by_test_id("agreement-sign")).to_be_visible()
    expect(mediator.get_by_test_id("agreement-abandon")).to_be_visible()
    sign(mediator, "王调解员", "mouse")
    for page in (mediator, consumer, business):
        wait_agreement(page, lambda a: a["view"]["status"] == "sealed", "sealed")
    expect(mediator.get_by_test_id("agreement-form")).to_be_hidden()
    expect(mediator.get_by_test_id("agreement-abandon")).to_be_hidden()
    expect(business.get_by_test_id("agreement-done-title")).to_have_text("已签署")
    # The PDF is made in a child process after sealing (seconds; far more on a loaded machine).
    sealed = wait_agreement(
        business, lambda a: a["pdfUrl"] is not None, "the PDF ready", PDF_LIMIT_S
    )
    assert sealed["view"]["verification_code"]
    expect(business.get_by_test_id("agreement-done-text")).to_contain_text(
        sealed["view"]["verification_code"]
    )
    with business.expect_download() as download_info:
        business.get_by_test_id("agreement-download").click()
    pdf = tmp_path / "agreement.pdf"
    download_info.value.save_as(pdf)
    assert pdf.read_bytes()[:5] == b"%PDF-"

    text = pdf_text(pdf)
    for words in ("调解协议书", "陈先生", "某某数码专营店", "1,300.00", "壹仟叁佰元整", "原路退回"):
        assert words in text, f"{words!r} not in the PDF's text: {text[:2000]}"
    assert sealed["view"]["verification_code"].replace("-", "") in text.replace("-", "")
    pages = render_pages(pdf, tmp_path)
    assert pages, "pdftoppm rendered no page"
    for index, ink in enumerate(pages, start=1):
        assert ink > 500, f"page {index} of the agreement's PDF is blank ({ink} dark pixels)"

    problems = i18n_problems(business, r"agreement\.[a-z_.]+")
    assert problems == {"onlyZh": [], "onlyEn": [], "missing": [], "keysOnScreen": []}, problems


def render_pages(pdf: Path, folder: Path) -> list[int]:
    """Every page rendered at 50 dpi: how many pixels of each are not (nearly) white."""
    out = folder / "pages"
    out.mkdir()
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(out / "p")], check=True)
    counts = []
    for png in sorted(out.glob("p*.png")):
        with Image.open(png) as image:
            counts.append(int((np.asarray(image.convert("L")) < 200).sum()))
    return counts
