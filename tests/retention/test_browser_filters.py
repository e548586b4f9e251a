"""The at-risk list's filter row in a browser: every filter's label at one height.

Exploratory testing found the "Reason" label higher than the others: the "Also as 2nd or 3rd
reason" box stood under the reason's list, and the row, aligned at its bottom, lifted that
filter. The box now stands beside the list (``.filters .field-option``)."""

from __future__ import annotations

import pytest

from tests.retention.test_browser import risky  # noqa: F401  (shared fixture)
from tests.web.live import BROWSER_TIMEOUT_MS
from tests.web.test_browser import browser, login, server  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.browser

ROW = """() => {
    const form = document.querySelector('#at-risk-filters');
    const box = el => el.getBoundingClientRect();
    return {
        labels: [...form.querySelectorAll('.field > label')].map(l => [l.textContent.trim(), box(l).top]),
        selects: [...form.querySelectorAll('select')].map(s => [s.name, box(s).top, box(s).bottom]),
        check: (() => { const b = box(form.querySelector('input[name=any_rank]').closest('label'));
                        return [b.top, b.bottom]; })(),
    };
}"""


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_every_filter_label_of_the_at_risk_list_stands_at_one_height(browser, risky, lang):  # noqa: F811
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    pg = context.new_page()
    pg.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        login(pg, risky, "manager")
        pg.goto(f"{risky.base_url}/retention/at-risk")
        pg.click(f"button.lang[value={lang}]")
        pg.wait_for_selector(f"html[lang={'zh-CN' if lang == 'zh_CN' else 'en'}]", state="attached")
        row = pg.evaluate(ROW)
        tops = {round(top) for _text, top in row["labels"]}
        assert len(row["labels"]) == 5 and len(tops) == 1, row["labels"]
        assert len({round(top) for _n, top, _b in row["selects"]}) == 1, row["selects"]
        # the option beside the reason's list, within the lists' height
        reason = next(s for s in row["selects"] if s[0] == "reason")
        assert reason[1] - 1 <= row["check"][0] and row["check"][1] <= reason[2] + 1, row
    finally:
        pg.click("button.lang[value=en]")
        context.close()
