"""The mediator console in headless Chromium: log in, a case from creation to the room and back.

A server of this module's own (``serve --demo`` prints the demo mediator's password, new each
run); the shared demo room of the other browser tests is left alone. Assertions read the page
(``data-testid`` elements, ``window.__console``) with bounded waits, never sleeps.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.room_support import new_sitting, open_and_join, png_bytes, wait_for
from tests.support.i18n_check import i18n_problems
from tests.support.server import RunningServer, run_server

pytestmark = pytest.mark.e2e

NewPage = Callable[..., Page]  # the new_page fixture: new_page(phone=False) -> Page
PASSWORD_LINE = re.compile(r"Mediator console: .*\(user (?P<user>\S+), password (?P<password>\S+),")


@dataclass
class Console:
    server: RunningServer
    username: str
    password: str

    @property
    def url(self) -> str:
        return f"{self.server.url}/console"


@pytest.fixture(scope="module")
def console(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Console]:
    with run_server(tmp_path_factory.mktemp("console-server")) as running:
        found = PASSWORD_LINE.search(running.log())
        assert found, f"no console password in the server log:\n{running.log()}"
        yield Console(running, found["user"], found["password"])
        if request.session.testsfailed:
            print(f"\n--- console server log ---\n{running.log()[-6000:]}")


def snapshot(page: Page) -> dict[str, Any]:
    return page.evaluate("window.__console")  # type: ignore[no-any-return]


def log_in(page: Page, console: Console) -> None:
    page.goto(console.url)
    page.get_by_test_id("login-username").fill(console.username)
    page.get_by_test_id("login-password").fill(console.password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("new-case-button")).to_be_visible()


def create_case(page: Page, title: str, category: str = "预付卡", amount: str = "") -> str:
    """Through the form; returns the new case's number (the page is on the case then)."""
    page.get_by_test_id("new-case-button").click()
    page.get_by_test_id("create-title").fill(title)
    page.get_by_test_id("create-category").select_option(category)
    page.get_by_test_id("create-amount").fill(amount)
    page.get_by_test_id("create-submit").click()
    expect(page.get_by_test_id("case-title")).to_have_text(title)
    number = snapshot(page)["caseNumber"]
    assert number, snapshot(page)
    return str(number)


def add_parties(page: Page) -> None:
    page.get_by_test_id("consumer-name").fill("李女士")
    page.get_by_test_id("consumer-phone").fill("13812345678")
    page.get_by_test_id("consumer-submit").click()
    expect(page.get_by_test_id("party-consumer-name")).to_have_text("李女士")
    page.get_by_test_id("business-name").fill("某某健身会所")
    page.get_by_test_id("business-contact").fill("赵店长")
    page.get_by_test_id("business-submit").click()
    expect(page.get_by_test_id("party-business-name")).to_have_text("某某健身会所")


def move_status(page: Page, to: str, label: str) -> None:
    page.get_by_test_id(f"status-to-{to}").click()
    expect(page.get_by_test_id("status-question")).to_contain_text(label)
    page.get_by_test_id("status-reason").fill("测试")
    page.get_by_test_id("status-confirm").click()
    expect(page.get_by_test_id("case-status")).to_have_text(label)


def next_steps(page: Page) -> list[str]:
    buttons = page.get_by_test_id("status-actions").locator("button")
    return [str(to) for to in buttons.evaluate_all("all => all.map(b => b.dataset.to)")]


def call(page: Page, method: str, path: str, data: Any = None, expect_status: int = 200) -> Any:
    """The REST API with the page's session (as another tab of the same mediator would)."""
    answer = page.request.fetch(f"{page.url.split('/console')[0]}{path}", method=method, data=data)
    assert answer.status == expect_status, f"{method} {path}: {answer.status} {answer.text()}"
    return answer.json()


def invitation_row(page: Page, invitation_id: str) -> Locator:
    return page.locator(f"[data-testid='invitation-row'][data-invitation-id='{invitation_id}']")


def test_wrong_password_is_explained_then_login_and_logout(
    console: Console, new_page: NewPage
) -> None:
    page = new_page()
    page.goto(console.url)
    expect(page.get_by_test_id("login-username")).to_be_visible()
    assert snapshot(page)["user"] is None

    page.get_by_test_id("login-username").fill(console.username)
    page.get_by_test_id("login-password").fill("not-the-password")
    page.get_by_test_id("login-submit").click()
    error = page.get_by_test_id("login-error")
    expect(error).to_have_text("用户名或密码不正确，请重新输入。")
    expect(error).to_have_attribute("data-code", "bad_credentials")
    assert snapshot(page)["lastError"] == "bad_credentials"

    page.get_by_test_id("login-password").fill(console.password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("user-line")).to_have_text("调解员：王调解员")
    expect(page.get_by_test_id("case-row").first).to_be_visible()  # the demo case
    assert snapshot(page)["view"] == "list"
    assert snapshot(page)["user"]["username"] == console.username

    # The session is a cookie: a reload stays logged in; logging out ends it.
    page.reload()
    expect(page.get_by_test_id("new-case-button")).to_be_visible()

    # A session that ends meanwhile: the next call sends the page to the login, saying why;
    # logging in again goes on where the mediator was.
    page.context.clear_cookies()
    page.get_by_test_id("case-row").first.click()
    expect(page.get_by_test_id("login-error")).to_have_attribute("data-code", "not_logged_in")
    expect(page.get_by_test_id("login-error")).to_have_text("登录已过期，请重新登录。")
    page.get_by_test_id("login-username").fill(console.username)
    page.get_by_test_id("login-password").fill(console.password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("case-page")).to_be_visible()
    assert snapshot(page)["caseNumber"]
    page.get_by_test_id("logout-button").click()
    expect(page.get_by_test_id("login-submit")).to_be_visible()
    page.reload()
    expect(page.get_by_test_id("login-submit")).to_be_visible()
    assert snapshot(page)["user"] is None


def test_a_case_from_creation_to_the_room_and_its_record(
    console: Console, new_page: NewPage
) -> None:
    page = new_page()
    log_in(page, console)

    # A 422 names the field: shown next to the form and under the field itself.
    page.get_by_test_id("new-case-button").click()
    page.get_by_test_id("create-title").fill("预付卡退费纠纷")
    page.get_by_test_id("create-category").select_option("预付卡")
    page.get_by_test_id("create-amount").fill("1.234")
    page.get_by_test_id("create-submit").click()
    error = page.get_by_test_id("create-error")
    expect(error).to_have_attribute("data-code", "invalid_payload")
    expect(error).to_contain_text("争议金额")
    expect(error).to_contain_text("amount_in_dispute")
    expect(page.get_by_test_id("field-error-amount_in_dispute")).to_contain_text("两位小数")
    expect(page.get_by_test_id("create-amount")).to_have_attribute("aria-invalid", "true")

    page.get_by_test_id("create-amount").fill("1,200.50")
    page.get_by_test_id("create-complaint-number").fill("1231500001")
    page.get_by_test_id("create-submit").click()
    expect(page.get_by_test_id("case-title")).to_have_text("预付卡退费纠纷")
    number = snapshot(page)["caseNumber"]
    expect(page.get_by_test_id("case-number")).to_have_text(number)
    expect(page.get_by_test_id("case-status")).to_have_text("已收到（待受理）")
    expect(page.get_by_test_id("detail-amount")).to_have_text("¥1,200.50")
    expect(page.get_by_test_id("detail-complaint_number")).to_have_text("1231500001")
    expect(page.get_by_test_id("case-deadline")).to_contain_text("受理期限")
    expect(page.get_by_test_id("invite-button")).to_be_disabled()  # no parties yet

    # Parties: personal data masked; the full version on request only.
    add_parties(page)
    phone = page.get_by_test_id("party-consumer-phone")
    expect(phone).to_have_text("138****5678")
    page.get_by_test_id("reveal-button").click()
    expect(phone).to_have_text("13812345678")
    page.get_by_test_id("reveal-button").click()
    expect(phone).to_have_text("138****5678")

    # Status: only the legal next steps are offered.
    assert next_steps(page) == ["accepted", "not_accepted", "withdrawn"]
    move_status(page, "accepted", "已受理")
    assert next_steps(page) == ["in_mediation", "withdrawn"]
    move_status(page, "in_mediation", "调解中")
    assert next_steps(page) == ["settled", "not_settled", "withdrawn"]
    expect(page.get_by_test_id("case-deadline")).to_contain_text("调解期限")

    # Invitations: three links, each with a copy button and a QR code.
    page.get_by_test_id("invite-button").click()
    current = page.get_by_test_id("invitations-current")
    expect(current.locator("[data-testid^='invitation-']")).to_have_count(3)
    expect(current.locator("[data-testid='invite-qr'] svg")).to_have_count(3)
    links = {}
    for role in ("mediator", "consumer", "business"):
        card = page.get_by_test_id(f"invitation-{role}")
        links[role] = card.get_by_test_id("invite-link").input_value()
        assert links[role].startswith(f"{console.server.url}/room/case-"), links[role]
    consumer_card = page.get_by_test_id("invitation-consumer")
    consumer_card.get_by_test_id("invite-copy").click()
    expect(consumer_card.get_by_test_id("invite-copy")).to_have_text("已复制 ✓")

    # "Enter the room" opens the mediator's own link in a new tab, at the join view.
    with page.expect_popup() as popup:
        page.get_by_test_id("invitation-mediator").get_by_test_id("enter-room").click()
    mediator_room = popup.value
    expect(mediator_room.get_by_test_id("invited-role")).to_have_text("调解员")
    assert mediator_room.url == links["mediator"]
    mediator_room.close()

    # The consumer's link reaches the room's join view and its lobby; that is in the record.
    consumer = new_page(phone=True)
    consumer.goto(links["consumer"])
    expect(consumer.get_by_test_id("invited-name")).to_have_text("李女士")
    consumer.get_by_test_id("join-button").click()
    consumer.wait_for_function("window.__room.self !== null", timeout=15_000)

    page.reload()
    expect(page.get_by_test_id("case-title")).to_have_text("预付卡退费纠纷")
    expect(page.get_by_test_id("sitting")).to_have_count(1)
    expect(page.get_by_test_id("sitting")).to_have_attribute("data-open", "true")
    expect(page.get_by_test_id("transcript-text").first).to_have_text("李女士（消费者）进入等候区")
    expect(page.get_by_test_id("audit-status")).to_have_text(re.compile("^记录完整性校验：通过"))

    # The links survive the reload (this tab only); the business's link is withdrawn.
    business_card = page.get_by_test_id("invitation-business")
    business_card.get_by_test_id("invite-revoke").click()
    business_card.get_by_test_id("invite-revoke-confirm").click()
    expect(business_card).to_have_attribute("data-revoked", "true")
    expect(business_card.get_by_test_id("invite-state")).to_contain_text("已收回")
    expect(business_card.get_by_test_id("invite-qr")).to_have_count(0)

    business = new_page(phone=True)
    business.goto(links["business"])
    refusal = business.get_by_test_id("error-message")
    # (The code, not the words: the room page shows "token_revoked" with its generic words.)
    expect(refusal).to_have_attribute("data-code", "token_revoked")
    expect(business.get_by_test_id("join-button")).not_to_be_visible()

    # A note joins the transcript.
    page.get_by_test_id("note-input").fill("双方同意下周再谈。")
    page.get_by_test_id("note-submit").click()
    expect(page.get_by_test_id("transcript-text").last).to_have_text("双方同意下周再谈。")
    expect(page.get_by_test_id("note-input")).to_have_value("")

    # The transcript document: the mediator's summary, the printable page, the PDF.
    summary = "双方同意下周再谈，商家先提供检测报告。"
    page.get_by_test_id("summary-input").fill(summary)
    page.get_by_test_id("summary-submit").click()
    expect(page.get_by_test_id("summary-saved")).to_contain_text("已保存")
    with page.expect_popup() as popup:
        page.get_by_test_id("transcript-view").click()
    document = popup.value
    expect(document.locator("h1")).to_have_text("调解笔录")
    expect(document.locator(".summary")).to_have_text(summary)
    expect(document.locator("body")).to_contain_text("138****5678")
    document.close()
    with page.expect_download() as download:
        page.get_by_test_id("transcript-pdf").click()
    assert download.value.suggested_filename == f"调解笔录-{number}.pdf"
    assert download.value.path().read_bytes().startswith(b"%PDF-")
    page.reload()  # the saved summary is what the box shows on the case
    expect(page.get_by_test_id("summary-input")).to_have_value(summary)

    # The list shows the case with its status and deadline.
    page.get_by_test_id("case-back").click()
    page.get_by_test_id("search-input").fill(number)
    page.get_by_test_id("search-submit").click()
    row = page.get_by_test_id("case-row")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-number", number)
    expect(row).to_contain_text("调解中")
    expect(row.get_by_test_id("deadline-flag")).to_have_text(re.compile("^(正常|临期|超期)$"))


def test_evidence_submitted_in_the_room_is_listed_and_viewed_on_the_case(
    console: Console, new_page: NewPage
) -> None:
    links = new_sitting(console.server, consumer_phone="13900001111", business_phone=None)
    mediator = open_and_join(links, new_page, "mediator")
    wait_for(mediator, lambda r: r["view"] == "room", "the mediator in the room")
    mediator.get_by_test_id("tab-evidence").click()
    mediator.get_by_test_id("evidence-input").set_input_files(
        files=[{"name": "收据.png", "mimeType": "image/png", "buffer": png_bytes()}]
    )
    wait_for(mediator, lambda r: len(r["evidence"]["list"]) == 1, "uploaded")

    page = new_page()
    log_in(page, console)
    found = call(page, "GET", "/api/cases?q=网购手机屏幕破裂退货纠纷")["cases"]
    assert len(found) == 1, found
    page.goto(f"{console.url}#/case/{found[0]['number']}")
    item = page.get_by_test_id("evidence-item")
    expect(item).to_have_count(1)
    expect(item.get_by_test_id("evidence-name")).to_have_text("收据.png")
    expect(item.get_by_test_id("evidence-who")).to_contain_text("调解员")
    digest = item.get_by_test_id("evidence-hash")
    expect(digest).to_have_text(re.compile(r"^SHA-256 [0-9a-f]{12}…$"))
    assert re.fullmatch(r"[0-9a-f]{64}", digest.get_attribute("title") or ""), digest

    item.get_by_test_id("evidence-view").click()
    image = page.get_by_test_id("evidence-viewer").get_by_test_id("evidence-image")
    expect(image).to_have_attribute("src", re.compile("^blob:"))
    page.wait_for_function(
        "document.querySelector('[data-testid=evidence-image]')?.naturalWidth === 96"
    )
    expect(item.get_by_test_id("evidence-view")).to_have_text("正在查看")
    expect(page.get_by_test_id("evidence-viewer-caption")).to_contain_text("收据.png")
    page.get_by_test_id("evidence-refresh").click()
    expect(page.get_by_test_id("evidence-refresh")).to_be_enabled()
    expect(page.get_by_test_id("evidence-error")).to_be_hidden()


def test_list_filters_search_language_and_messages(console: Console, new_page: NewPage) -> None:
    page = new_page()
    log_in(page, console)
    for title, category in (("洗衣机漏水退货", "家用电器"), ("外卖餐品变质", "餐饮")):
        answer = page.request.post(
            f"{console.server.url}/api/cases", data={"title": title, "category": category}
        )
        assert answer.status == 201, answer.text()
    page.reload()

    page.get_by_test_id("filter-category").select_option("餐饮")
    expect(page.get_by_test_id("case-row")).to_have_count(1)
    expect(page.get_by_test_id("case-row")).to_contain_text("外卖餐品变质")
    assert "category=" in page.url
    page.get_by_test_id("clear-filters").click()
    page.get_by_test_id("search-input").fill("洗衣机")
    page.get_by_test_id("search-submit").click()
    expect(page.get_by_test_id("case-row")).to_have_count(1)
    expect(page.get_by_test_id("case-row")).to_contain_text("洗衣机漏水退货")
    page.get_by_test_id("filter-status").select_option("settled")
    expect(page.get_by_test_id("list-empty")).to_have_text("没有符合条件的案件。")

    # The same language toggle as the room: every string switches; the choice is remembered.
    page.get_by_test_id("clear-filters").click()
    expect(page.get_by_test_id("list-total")).to_contain_text("件")
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("new-case-button")).to_have_text("New case")
    expect(page.get_by_test_id("case-row").first).to_contain_text("Received")
    page.reload()
    expect(page.get_by_test_id("list-total")).to_have_text(re.compile(r"^Cases found: \d+$"))
    assert snapshot(page)["lang"] == "en"

    # A case that isn't there (or is another office's) is said so.
    page.goto(f"{console.url}#/case/NO-SUCH-CASE")
    expect(page.get_by_test_id("case-error")).to_be_visible()
    assert snapshot(page)["lastError"] == "case_not_found"

    problems = i18n_problems(page, r"console\.[a-z_.]+")
    assert problems == {"onlyZh": [], "onlyEn": [], "missing": [], "keysOnScreen": []}


def test_status_steps_are_the_servers_and_settling_records_the_amount_recovered(
    console: Console, new_page: NewPage
) -> None:
    page = new_page()
    log_in(page, console)
    number = create_case(page, "冰箱维修费纠纷", category="家用电器", amount="2000")

    # No transition table of the console's own: the buttons are the case's next_statuses.
    has_table = page.evaluate(
        """async () => "NEXT_STATUSES" in await import("/static/js/console/domain.js")"""
    )
    assert has_table is False
    for to, label in (("accepted", "已受理"), ("in_mediation", "调解中"), (None, "")):
        offered = call(page, "GET", f"/api/cases/{number}")["next_statuses"]
        expect(page.get_by_test_id("status-actions").locator("button")).to_have_count(len(offered))
        assert sorted(next_steps(page)) == sorted(offered)
        if to:
            move_status(page, to, label)
    assert next_steps(page) == ["settled", "not_settled", "withdrawn"]  # forward first

    # The amount recovered is asked for on settling only.
    page.get_by_test_id("status-to-withdrawn").click()
    expect(page.get_by_test_id("status-question")).to_contain_text("已撤回")
    expect(page.get_by_test_id("status-amount-recovered")).to_be_hidden()
    page.get_by_test_id("status-cancel").click()
    page.get_by_test_id("status-to-settled").click()
    amount = page.get_by_test_id("status-amount-recovered")
    expect(amount).to_be_visible()
    expect(amount).to_have_value("")

    # Validated as the other amounts: the server's 422 names the field, shown under it.
    amount.fill("12.345")
    page.get_by_test_id("status-confirm").click()
    error = page.get_by_test_id("status-error")
    expect(error).to_have_attribute("data-code", "invalid_payload")
    expect(error).to_contain_text("挽回的金额")
    expect(error).to_contain_text("amount_recovered")
    expect(page.get_by_test_id("field-error-amount_recovered")).to_contain_text("两位小数")
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("case-status")).to_have_text("调解中")

    amount.fill("1,234.5元")
    expect(page.get_by_test_id("field-error-amount_recovered")).to_have_count(0)
    page.get_by_test_id("status-confirm").click()
    expect(page.get_by_test_id("case-status")).to_have_text("调解成功")
    expect(page.get_by_test_id("detail-recovered")).to_have_text("¥1,234.50")
    assert call(page, "GET", f"/api/cases/{number}")["amount_recovered"] == "1234.50"

    # Concluded: nowhere to go, nothing to edit, no new mediation.
    expect(page.get_by_test_id("status-actions").locator("button")).to_have_count(0)
    expect(page.get_by_test_id("status-final")).to_be_visible()
    expect(page.get_by_test_id("edit-button")).to_be_hidden()
    page.reload()
    expect(page.get_by_test_id("detail-recovered")).to_have_text("¥1,234.50")
    expect(page.get_by_test_id("status-final")).to_be_visible()
    expect(page.get_by_test_id("edit-button")).to_be_hidden()

    # Settled without an amount: the row says it was not given.
    page.get_by_test_id("case-back").click()
    other = create_case(page, "洗碗机安装费纠纷", category="家用电器")
    for to in ("accepted", "in_mediation", "settled"):
        call(page, "POST", f"/api/cases/{other}/status", {"to": to})
    page.reload()
    expect(page.get_by_test_id("detail-recovered")).to_have_text("未填写")


def test_editing_a_case_names_bad_fields_and_stops_once_concluded(
    console: Console, new_page: NewPage
) -> None:
    page = new_page()
    log_in(page, console)
    number = create_case(page, "手机屏幕碎裂", category="网络购物", amount="1500")

    page.get_by_test_id("edit-button").click()
    form = page.get_by_test_id("edit-form")
    expect(form).to_be_visible()
    expect(page.get_by_test_id("case-details")).to_be_hidden()
    expect(page.get_by_test_id("edit-title")).to_have_value("手机屏幕碎裂")
    expect(page.get_by_test_id("edit-category")).to_have_value("网络购物")
    expect(page.get_by_test_id("edit-amount")).to_have_value("1500.00")

    # A 422 names each field, as for creation: summary by the button, a line under each field.
    page.get_by_test_id("edit-amount").fill("12.345")
    page.get_by_test_id("edit-complaint-number").fill("12315 001")
    page.get_by_test_id("edit-submit").click()
    error = page.get_by_test_id("edit-error")
    expect(error).to_have_attribute("data-code", "invalid_payload")
    expect(error).to_contain_text("争议金额")
    expect(error).to_contain_text("12315 投诉单号")
    expect(page.get_by_test_id("field-error-amount_in_dispute")).to_contain_text("两位小数")
    expect(page.get_by_test_id("field-error-complaint_number")).to_contain_text("格式不正确")
    expect(page.get_by_test_id("case-title")).to_have_text("手机屏幕碎裂")

    page.get_by_test_id("edit-title").fill("手机屏幕碎裂退货纠纷")
    page.get_by_test_id("edit-category").select_option("家用电器")
    page.get_by_test_id("edit-claim").fill("退货退款")
    page.get_by_test_id("edit-amount").fill("1,299")
    page.get_by_test_id("edit-complaint-number").fill("1231500002")
    page.get_by_test_id("edit-submit").click()
    expect(page.get_by_test_id("case-title")).to_have_text("手机屏幕碎裂退货纠纷")
    expect(form).to_be_hidden()
    expect(page.get_by_test_id("toast")).to_have_text("案件信息已更新。")
    expect(page.get_by_test_id("detail-category")).to_have_text("家用电器")
    expect(page.get_by_test_id("detail-claim")).to_have_text("退货退款")
    expect(page.get_by_test_id("detail-amount")).to_have_text("¥1,299.00")
    expect(page.get_by_test_id("detail-complaint_number")).to_have_text("1231500002")
    saved = call(page, "GET", f"/api/cases/{number}")
    assert (saved["title"], saved["amount_in_dispute"]) == ("手机屏幕碎裂退货纠纷", "1299.00")

    # Nothing changed: nothing is sent; an emptied optional field is cleared.
    page.get_by_test_id("edit-button").click()
    page.get_by_test_id("edit-submit").click()
    expect(page.get_by_test_id("toast")).to_have_text("没有修改任何内容。")
    expect(form).to_be_hidden()
    page.get_by_test_id("edit-button").click()
    page.get_by_test_id("edit-amount").fill("")
    page.get_by_test_id("edit-complaint-number").fill("")
    page.get_by_test_id("edit-submit").click()
    expect(page.get_by_test_id("detail-amount")).to_have_text("未填写")
    expect(page.get_by_test_id("detail-complaint_number")).to_have_text("未填写")
    saved = call(page, "GET", f"/api/cases/{number}")
    assert (saved["amount_in_dispute"], saved["complaint_number"]) == (None, None)

    # Concluded meanwhile (another tab): the server says no (409), the page says why.
    page.get_by_test_id("edit-button").click()
    call(page, "POST", f"/api/cases/{number}/status", {"to": "withdrawn", "reason": "撤诉"})
    page.get_by_test_id("edit-title").fill("改不了的标题")
    page.get_by_test_id("edit-submit").click()
    expect(error).to_have_attribute("data-code", "invalid_status_transition")
    expect(error).to_have_text("案件已办结，案件信息不能再修改。")
    expect(page.get_by_test_id("case-status")).to_have_text("已撤回")
    page.get_by_test_id("edit-cancel").click()
    expect(page.get_by_test_id("case-title")).to_have_text("手机屏幕碎裂退货纠纷")
    expect(page.get_by_test_id("edit-button")).to_be_hidden()


def test_invitations_are_listed_from_the_server_with_their_state(
    console: Console, new_page: NewPage
) -> None:
    page = new_page()
    log_in(page, console)
    number = create_case(page, "装修延期纠纷", category="房屋装修")
    add_parties(page)
    expect(page.get_by_test_id("invitation-list-empty")).to_have_text("还没有发出邀请链接。")

    # Issued elsewhere (another tab or device): listed by the server, without their links.
    elsewhere = call(
        page, "POST", f"/api/cases/{number}/invitations", {"valid_hours": 24}, expect_status=201
    )["invitations"]
    page.reload()
    rows = page.get_by_test_id("invitation-row")
    expect(rows).to_have_count(3)
    for invitation in elsewhere:
        row = invitation_row(page, invitation["id"])
        expect(row).to_have_attribute("data-state", "valid")
        expect(row.get_by_test_id("invitation-row-state")).to_have_text("有效")
        expect(row).to_contain_text(invitation["name"])
    expect(page.get_by_test_id("invitation-list").get_by_test_id("invite-link")).to_have_count(0)
    expect(page.get_by_test_id("invitations-current")).to_have_count(0)  # no links in this tab
    # A lost link is not shown again: it is replaced by new ones, and the page says so.
    expect(page.get_by_test_id("case-page")).to_contain_text("链接丢失了，请把它收回，再开一场调解")

    # Issued here: the links are shown (copy, QR) in this tab, and listed with the others.
    page.get_by_test_id("invite-button").click()
    expect(page.get_by_test_id("invitations-current").get_by_test_id("invite-qr")).to_have_count(3)
    expect(page.get_by_test_id("invite-not-kept")).to_contain_text("请再开一场调解，生成新链接")
    expect(rows).to_have_count(6)

    # Withdrawn from the list, after a confirmation: the row says so (among the old ones).
    consumer = next(i for i in elsewhere if i["role"] == "consumer")
    row = invitation_row(page, consumer["id"])
    row.get_by_test_id("invite-revoke").click()
    row.get_by_test_id("invite-revoke-cancel").click()
    expect(row.get_by_test_id("revoke-confirm-panel")).to_have_count(0)
    row.get_by_test_id("invite-revoke").click()
    expect(row.get_by_test_id("revoke-confirm-panel")).to_contain_text("消费者")
    row.get_by_test_id("invite-revoke-confirm").click()
    expect(row).to_have_attribute("data-state", "revoked")
    page.get_by_test_id("invitation-list-inactive").locator("summary").click()
    expect(row.get_by_test_id("invitation-row-state")).to_have_text("已收回")
    expect(row.get_by_test_id("invite-revoke")).to_have_count(0)
    listed = call(page, "GET", f"/api/cases/{number}/invitations")["invitations"]
    assert next(i for i in listed if i["id"] == consumer["id"])["revoked_at"]

    # Withdrawn from its card in this tab: the list says so too.
    card = page.get_by_test_id("invitation-business")
    card.get_by_test_id("invite-revoke").click()
    card.get_by_test_id("invite-revoke-confirm").click()
    expect(card).to_have_attribute("data-state", "revoked")
    business_id = card.get_attribute("data-invitation-id")
    assert business_id
    expect(invitation_row(page, business_id)).to_have_attribute("data-state", "revoked")
    expect(page.get_by_test_id("invitation-list-inactive").locator("summary")).to_have_text(
        "已失效的链接（2 个）"
    )

    # A day later (the page's clock): the 24-hour links have expired, the 3-day ones have not.
    page.clock.set_fixed_time(dt.datetime.now(dt.UTC) + dt.timedelta(hours=25))
    page.reload()
    mediator = next(i for i in elsewhere if i["role"] == "mediator")
    expect(invitation_row(page, mediator["id"])).to_have_attribute("data-state", "expired")
    page.get_by_test_id("invitation-list-inactive").locator("summary").click()
    expect(
        invitation_row(page, mediator["id"]).get_by_test_id("invitation-row-state")
    ).to_have_text("已过期")
    expect(invitation_row(page, consumer["id"])).to_have_attribute("data-state", "revoked")
    expect(page.locator("[data-testid='invitation-row'][data-state='valid']")).to_have_count(2)
    expect(page.get_by_test_id("invitation-consumer")).to_have_attribute("data-state", "valid")


def test_ending_a_sitting_puts_everyone_out_and_stops_its_links(
    console: Console, new_page: NewPage
) -> None:
    page = new_page()
    log_in(page, console)
    number = create_case(page, "家政服务纠纷", category="其他")
    add_parties(page)
    expect(page.get_by_test_id("sittings")).to_contain_text("还没有调解场次。")
    page.get_by_test_id("invite-button").click()
    link = page.get_by_test_id("invitation-consumer").get_by_test_id("invite-link").input_value()

    consumer = new_page(phone=True)
    consumer.goto(link)
    consumer.get_by_test_id("join-button").click()
    consumer.wait_for_function("window.__room.self !== null", timeout=15_000)

    sitting = page.get_by_test_id("sitting")
    expect(sitting).to_have_count(1)
    expect(sitting).to_have_attribute("data-open", "true")
    expect(sitting.get_by_test_id("sitting-state")).to_have_text("进行中")
    expect(sitting.get_by_test_id("sitting-times")).to_contain_text("开始")

    # A confirmation first; cancelling leaves the sitting open.
    sitting.get_by_test_id("sitting-close").click()
    expect(sitting.get_by_test_id("sitting-close-panel")).to_contain_text("所有人都会被请出")
    sitting.get_by_test_id("sitting-close-cancel").click()
    expect(sitting.get_by_test_id("sitting-close-panel")).to_have_count(0)
    expect(sitting).to_have_attribute("data-open", "true")
    sitting.get_by_test_id("sitting-close").click()
    sitting.get_by_test_id("sitting-close-confirm").click()

    expect(sitting).to_have_attribute("data-open", "false")
    expect(sitting.get_by_test_id("sitting-state")).to_have_text("已结束")
    expect(sitting.get_by_test_id("sitting-times")).to_have_text(re.compile(r"^.+ 至 .+$"))
    expect(sitting.get_by_test_id("sitting-close")).to_have_count(0)
    expect(page.get_by_test_id("toast")).to_have_text("第 1 场调解已结束。")
    closed = call(page, "GET", f"/api/cases/{number}/record")["sittings"][0]
    assert closed["closed_at"], closed

    # Everyone in the room is put out (the server closes their connection).
    consumer.wait_for_function("window.__room.connection === 'closed'", timeout=15_000)

    # This tab's links of that sitting are shown as no longer working, here and in the list.
    current = page.get_by_test_id("invitations-current")
    expect(current.get_by_test_id("invite-not-kept")).to_contain_text("本场调解已结束")
    expect(current.locator("[data-state='ended']")).to_have_count(3)
    expect(current.get_by_test_id("invite-link")).to_have_count(0)
    expect(current.get_by_test_id("invite-qr")).to_have_count(0)
    expect(page.locator("[data-testid='invitation-row'][data-state='ended']")).to_have_count(3)

    # The link opens no room any more.
    again = new_page(phone=True)
    again.goto(link)
    expect(again.get_by_test_id("error-message")).to_have_attribute("data-code", "room_not_found")

    # A new sitting can be opened; each is shown with its own state.
    page.get_by_test_id("invite-button").click()
    expect(page.get_by_test_id("sitting")).to_have_count(2)
    states = page.get_by_test_id("sitting-state")
    expect(states).to_have_text(["已结束", "进行中"])


def test_top_bar_names_the_office_and_times_are_in_local_time(
    console: Console, browser: Browser
) -> None:
    zone = "Asia/Shanghai"  # not the server's UTC: a time shown as UTC would be 8 hours off
    context = browser.new_context(
        timezone_id=zone, locale="zh-CN", viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        log_in(page, console)
        expect(page.get_by_test_id("office-line")).to_have_text("演示消费者协会")
        expect(page.get_by_test_id("user-line")).to_have_text("调解员：王调解员")
        page.reload()
        expect(page.get_by_test_id("office-line")).to_have_text("演示消费者协会")

        number = create_case(page, "培训课退费", category="教育培训")
        add_parties(page)
        page.get_by_test_id("invite-button").click()
        expect(page.get_by_test_id("invitation-row")).to_have_count(3)
        record = call(page, "GET", f"/api/cases/{number}/record")
        invitations = call(page, "GET", f"/api/cases/{number}/invitations")["invitations"]

        def local(value: str) -> str:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            assert when.tzinfo is not None, value  # the API always says the zone
            return when.astimezone(ZoneInfo(zone)).strftime("%Y/%m/%d %H:%M")

        opened = record["sittings"][0]["opened_at"]
        expect(page.get_by_test_id("sitting-times")).to_have_text(f"{local(opened)} 开始")
        first = invitations[0]
        expect(
            invitation_row(page, first["id"]).get_by_test_id("invitation-row-time")
        ).to_have_text(f"有效期至 {local(first['expires_at'])}")
    finally:
        context.close()


def test_phone_layout_is_one_hand_sized(console: Console, new_page: NewPage) -> None:
    page = new_page(phone=True)
    page.goto(console.url)
    expect(page.get_by_test_id("login-submit")).to_be_visible()
    assert_one_hand_sized(page)
    log_in(page, console)
    assert_one_hand_sized(page)
    number = create_case(page, "美容卡退费", category="美容美发", amount="800")
    add_parties(page)
    page.get_by_test_id("invite-button").click()
    expect(page.get_by_test_id("invite-qr")).to_have_count(3)
    expect(page.get_by_test_id("invitation-row")).to_have_count(3)
    page.get_by_test_id("status-to-accepted").click()
    expect(page.get_by_test_id("status-confirm")).to_be_visible()
    assert snapshot(page)["caseNumber"] == number
    assert_one_hand_sized(page)

    # The newer controls too: the edit form, ending a sitting, withdrawing from the list, and
    # the amount recovered when settling.
    page.get_by_test_id("status-cancel").click()
    page.get_by_test_id("edit-button").click()
    expect(page.get_by_test_id("edit-form")).to_be_visible()
    page.get_by_test_id("sitting-close").click()
    expect(page.get_by_test_id("sitting-close-panel")).to_be_visible()
    page.get_by_test_id("invitation-row").first.get_by_test_id("invite-revoke").click()
    expect(
        page.get_by_test_id("invitation-list").get_by_test_id("revoke-confirm-panel")
    ).to_be_visible()
    for to in ("accepted", "in_mediation"):
        call(page, "POST", f"/api/cases/{number}/status", {"to": to})
    page.get_by_test_id("edit-cancel").click()
    page.reload()
    page.get_by_test_id("status-to-settled").click()
    expect(page.get_by_test_id("status-amount-recovered")).to_be_visible()
    assert_one_hand_sized(page)


def assert_one_hand_sized(page: Page) -> None:
    """Every visible control ≥ 44 px high and on the screen's width; no text below 16 px."""
    report = page.evaluate(
        """() => {
            const visible = [...document.querySelectorAll(
                "button, a.btn, input:not([type=hidden]), select, textarea, summary")]
                .filter(el => el.checkVisibility());
            const name = el => el.dataset.testid || el.name || el.className || el.tagName;
            const small = [...document.querySelectorAll("body *")]
                .filter(el => el.checkVisibility() && (el.matches("input, select, textarea") ||
                    [...el.childNodes].some(
                        n => n.nodeType === Node.TEXT_NODE && n.textContent.trim())))
                .filter(el => parseFloat(getComputedStyle(el).fontSize) < 16)
                .map(name);
            return {
                count: visible.length,
                short: visible.map(el => [name(el), el.getBoundingClientRect()])
                    .filter(([, r]) => r.height < 44).map(([n, r]) => [n, r.height]),
                outside: visible.map(el => [name(el), el.getBoundingClientRect()])
                    .filter(([, r]) => r.left < 0 || r.right > innerWidth).map(([n]) => n),
                small,
                scrollWidth: document.documentElement.scrollWidth,
                width: innerWidth,
            };
        }"""
    )
    assert report["count"] > 0
    assert report["short"] == [], f"controls below 44 px: {report['short']}"
    assert report["outside"] == [], f"controls off the screen: {report['outside']}"
    assert report["small"] == [], f"text below 16 px: {report['small']}"
    assert report["scrollWidth"] <= report["width"], "the page scrolls sideways"
