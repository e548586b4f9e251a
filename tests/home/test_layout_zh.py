"""The agent's home in Chinese at 1366 × 768: a status ("处理中") and a date ("2026年12月9日",
with its time) stay on one line in the narrow columns of the queue and task tables; Chinese may
break between any two characters, and they came out as "处理/中" and "2026年12月9/日"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from retento.auth.models import User
from retento.core.db import make_engine, make_session_factory, transaction
from retento.retention.models import RetentionTask
from tests.factories.complaints import make_complaint
from tests.web.live import BROWSER_TIMEOUT_MS, LiveServer
from tests.web.test_browser import browser, login  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.browser

# Per cell (or ``.nowrap`` span inside one) of the two tables: its text and how many lines it
# is drawn on.
LINES = """sel => [...document.querySelectorAll(sel)].map(el => {
    const r = document.createRange(); r.selectNodeContents(el);
    const tops = new Set([...r.getClientRects()].filter(x => x.width > 0)
                        .map(x => Math.round(x.top)));
    return {text: el.innerText.trim(), lines: tops.size};
})"""


@pytest.fixture(scope="module")
def busy_agent(tmp_path_factory):
    """The live shop, with ten complaints in progress and ten win-back tasks of the agent's,
    subjects and titles long enough to squeeze the other columns."""
    with LiveServer(tmp_path_factory.mktemp("home-zh") / "home.db") as srv:
        engine = make_engine(srv.url_db)
        now = datetime.now(UTC)
        with transaction(make_session_factory(engine)) as s:
            users = {u.username: u for u in s.scalars(select(User))}
            agent = users["agent"]
            for i in range(10):
                c = make_complaint(
                    s,
                    actor=users["manager"],
                    customer_id=srv.ids["张伟"],
                    subject="同一笔订单被扣款两次，客服一直没有回复" if i % 2 else "包裹送错了地址",
                )
                c.assignee_id = agent.id
                c.status = "in_progress"
                c.resolution_due_at = now + timedelta(days=2, hours=i)
                s.add(
                    RetentionTask(
                        customer_id=srv.ids["张伟"],
                        owner_id=agent.id,
                        title="重要客户：全力挽回: 广州新锐贸易有限公司华南区域采购中心",
                        due_on=(now + timedelta(days=2)).date(),
                    )
                )
        engine.dispose()
        yield srv


def test_status_and_dates_stay_on_one_line_in_chinese(browser, busy_agent):  # noqa: F811
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        login(page, busy_agent, "agent")
        page.click("form.langswitch button[value='zh_CN']")
        page.wait_for_selector("html[lang=zh-CN]", state="attached")
        page.goto(f"{busy_agent.base_url}/")
        assert page.locator("h1").inner_text() == "我的工作"
        cells = page.evaluate(LINES, "#home-queue-table td.nowrap, #home-tasks-table .nowrap")
        statuses = [c for c in cells if c["text"] == "处理中"]
        dates = [c for c in cells if "年" in c["text"] and "日" in c["text"]]
        assert len(statuses) == 10 and len(dates) == 20, cells
        assert [c for c in cells if c["lines"] != 1] == []
        # The page still fits the screen: the free-text columns wrapped instead.
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        cut = page.evaluate(
            """() => [...document.querySelectorAll('#home-queue .table-wrap, #home-tasks .table-wrap')]
                .filter(w => w.scrollWidth > w.clientWidth + 1).length"""
        )
        assert cut == 0
        page.click("form.langswitch button[value='en']")
        page.wait_for_selector("html[lang=en]", state="attached")
    finally:
        context.close()
