"""The office dashboard in headless Chromium on a phone (390 × 844): the demo supervisor logs in,
the figures and the four SVG charts are drawn (marks counted, pixels checked), a figure opens
the list of its cases, and a mediator sees "my work"."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.support.i18n_check import i18n_problems
from tests.support.server import RunningServer, run_server

pytestmark = pytest.mark.e2e

NewPage = Callable[..., Page]
SUPERVISOR_LINE = re.compile(
    r"Office dashboard \(supervisor\): .*\(user (?P<user>\S+), password (?P<password>\S+),"
)
MEDIATOR_LINE = re.compile(r"Mediator console: .*\(user (?P<user>\S+), password (?P<password>\S+),")
CHARTS = ("chart-months", "chart-categories", "chart-success", "chart-money")


@dataclass
class Demo:
    server: RunningServer
    log: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with run_server(
        tmp_path_factory.mktemp("dashboard-server"), timeout=180, demo_cases=30
    ) as running:
        yield Demo(running, running.log())


def log_in(page: Page, demo: Demo, line: re.Pattern[str]) -> None:
    found = line.search(demo.log)
    assert found, demo.log[-3000:]
    page.goto(f"{demo.server.url}/console")
    page.get_by_test_id("login-username").fill(found["user"])
    page.get_by_test_id("login-password").fill(found["password"])
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("new-case-button")).to_be_visible()


def dashboard(page: Page) -> dict[str, Any]:
    return page.evaluate("window.__dashboard")  # type: ignore[no-any-return]


def test_the_dashboard_draws_its_charts_on_a_phone(demo: Demo, new_page: NewPage) -> None:
    page = new_page(phone=True)
    log_in(page, demo, SUPERVISOR_LINE)
    page.get_by_test_id("nav-dashboard").click()
    expect(page.get_by_test_id("dashboard-view")).to_be_visible()
    expect(page.get_by_test_id("dashboard-scope")).to_be_visible()  # this month, first
    today = dt.date.today()
    start = today - dt.timedelta(days=430)
    page.get_by_test_id("dash-from").fill(start.isoformat())
    page.get_by_test_id("dash-apply").click()
    expect(page.get_by_test_id("dashboard-scope")).to_contain_text(start.isoformat())
    expect(page.get_by_test_id("figure-value-received")).not_to_have_text("0")

    state = dashboard(page)
    assert state["error"] is None and state["figures"]["received"] > 0, state
    assert state["figures"]["settled"] > 0
    for chart in CHARTS:
        assert state["marks"][chart] > 0, (chart, state["marks"])
        box = page.get_by_test_id(chart)
        box.scroll_into_view_if_needed()
        bounds = box.bounding_box()
        assert bounds is not None and bounds["width"] <= 390 and bounds["height"] > 100
        # The drawing, not just the element: enough coloured pixels in its picture.
        picture = Image.open(io.BytesIO(box.locator("svg").screenshot())).convert("RGB")
        pixels = np.asarray(picture).astype(int)
        coloured = int(((pixels.max(axis=2) - pixels.min(axis=2)) > 60).sum())
        assert coloured > 200, (chart, coloured)
    # Nothing wider than the phone.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    # The definition of the success rate is on screen.
    expect(page.get_by_test_id("dashboard-definition")).to_contain_text("调解成功 ÷ 办结")
    for kind in ("csv", "xlsx", "pdf"):
        href = page.get_by_test_id(f"export-{kind}").get_attribute("href")
        assert href and "from=" in href
        answer = page.request.get(f"{demo.server.url}{href}")
        assert answer.status == 200, answer.text()

    # A figure is a link to its cases, shown by the console's case list.
    settled = state["figures"]["settled"]
    page.get_by_test_id("figure-settled").click()
    expect(page.get_by_test_id("list-total")).to_contain_text(str(settled))
    assert "figure=settled" in page.url
    expect(page.get_by_test_id("case-row").first).to_be_visible()

    problems = i18n_problems(page, r"(console|dash|work)\.[a-z_.]+")
    assert problems == {"onlyZh": [], "onlyEn": [], "missing": [], "keysOnScreen": []}


def test_a_mediator_sees_my_work_and_only_their_own_figures(demo: Demo, new_page: NewPage) -> None:
    page = new_page(phone=True)
    log_in(page, demo, MEDIATOR_LINE)
    page.get_by_test_id("nav-work").click()
    expect(page.get_by_test_id("work-page")).to_be_visible()
    # The demo's cases still waiting for a decision are listed, with their deadline.
    expect(page.get_by_test_id("work-acceptance").locator("li").first).to_be_visible()
    page.get_by_test_id("nav-dashboard").click()
    expect(page.get_by_test_id("dashboard-scope")).to_contain_text("王调解员")
    expect(page.get_by_test_id("dash-mediator")).to_have_count(0)
    answer = page.request.get(f"{demo.server.url}/api/stats?mediator=999")
    assert answer.status == 403 and answer.json()["code"] == "not_your_figures"
