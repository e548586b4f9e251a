"""The retention dashboard's win-back table at 1366 × 768, in English and Chinese: every column
in view (the headings wrap instead of widening the table), a customer class or an action on one
line ("重要客户" had come out as "重要客/户"), and a Chinese heading broken only between words
("回购率 / （干预组）", never "对照/组")."""

from __future__ import annotations

import pytest

from tests.web.live import BROWSER_TIMEOUT_MS
from tests.web.test_browser import browser, login, server  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.browser

# Each cell's (or heading's) text and the lines it is drawn on.
LINES = """sel => [...document.querySelectorAll(sel)].map(el => {
    const r = document.createRange(); r.selectNodeContents(el);
    const tops = new Set([...r.getClientRects()].filter(x => x.width > 0)
                        .map(x => Math.round(x.top)));
    return {text: el.innerText.replace(/\\s+/g, ''), lines: tops.size};
})"""
CUT = """() => { const w = document.querySelector('#winback .table-wrap');
    return w.scrollWidth - w.clientWidth; }"""


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_winback_table_fits_and_breaks_no_word(browser, server, lang):  # noqa: F811
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        login(page, server, "manager")
        if lang == "zh_CN":
            page.click("form.langswitch button[value='zh_CN']")
            page.wait_for_selector("html[lang=zh-CN]", state="attached")
        page.goto(f"{server.base_url}/retention")
        rows = page.locator("#winback-table tbody tr")
        assert rows.count() >= 5  # the default playbooks
        assert page.evaluate(CUT) <= 1
        cells = page.evaluate(LINES, "#winback-table td.nowrap")
        assert len(cells) == 2 * rows.count()
        assert [c for c in cells if c["lines"] != 1] == []
        if lang == "zh_CN":
            # Longer playbook names or figures leave the other columns less room: squeezed,
            # the headings still break between words only.
            page.evaluate("document.querySelector('#winback .table-wrap').style.width = '560px'")
            heads = {h["text"]: h["lines"] for h in page.evaluate(LINES, "#winback-table th")}
            assert heads["对照组"] == 1 and heads["客户类别"] == 1, heads
            # Two lines at most, broken before the bracket, not inside "干预组".
            assert heads["回购率（干预组）"] <= 2
            split = page.evaluate(
                """() => { const th = [...document.querySelectorAll('#winback-table th')]
                        .find(t => t.innerText.replace(/\\s+/g, '') === '回购率（干预组）');
                    const r = document.createRange(), t = th.firstChild;
                    r.setStart(t, t.data.indexOf('干')); r.setEnd(t, t.data.indexOf('组') + 1);
                    return r.getClientRects().length; }"""
            )
            assert split == 1
            page.click("form.langswitch button[value='en']")
            page.wait_for_selector("html[lang=en]", state="attached")
    finally:
        context.close()
