"""One check of the browser's message tables, used by every page's e2e tests."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

_SCRIPT = """async (keyPattern) => {
    const { MESSAGES } = await import("/static/js/i18n.js");
    const [zh, en] = [MESSAGES["zh-CN"], MESSAGES.en].map(Object.keys);
    const used = [...document.querySelectorAll("*")].flatMap(el =>
        Object.entries(el.dataset).filter(([k]) => k.startsWith("i18n")).map(([, v]) => v));
    const problems = {
        onlyZh: zh.filter(k => !en.includes(k)),
        onlyEn: en.filter(k => !zh.includes(k)),
        missing: used.filter(k => !zh.includes(k)),
    };
    if (keyPattern) {
        problems.keysOnScreen = document.body.innerText.match(new RegExp(keyPattern, "g")) ?? [];
    }
    return problems;
}"""


def i18n_problems(page: Page, keys_on_screen: str | None = None) -> dict[str, Any]:
    """Keys in one language only, keys the page uses but no table has, and — given a pattern —
    raw keys showing on screen instead of words."""
    result: dict[str, Any] = page.evaluate(_SCRIPT, keys_on_screen)
    return result
