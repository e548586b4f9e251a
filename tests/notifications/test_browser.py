"""Browser test: a manager assigns a complaint; the agent sees the bell count, opens the
notification (it is marked read and leads to the complaint) and changes a notification setting."""

from __future__ import annotations

import pytest

from retento.core.db import make_engine, make_session_factory, transaction
from tests.factories.complaints import make_complaint
from tests.web.live import BROWSER_TIMEOUT_MS, wait_js
from tests.web.test_browser import browser, login, page, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def _complaint(srv) -> tuple[int, str]:
    engine = make_engine(srv.url_db)
    try:
        with transaction(make_session_factory(engine)) as s:
            c = make_complaint(
                s, None, customer_id=srv.ids["Acme Trading Ltd"], subject="Grinder jams"
            )
            return c.id, c.tracking_code
    finally:
        engine.dispose()


def test_agent_is_told_of_an_assignment_opens_it_and_sets_preferences(
    browser,  # noqa: F811
    page,  # noqa: F811
    server,  # noqa: F811
):
    cid, code = _complaint(server)
    login(page, server, "manager")
    page.goto(f"{server.base_url}/complaints/{cid}")
    page.select_option("#assign-form select[name=assignee_id]", label="Alex Agent")
    page.click("#assign-form button[type=submit]")
    wait_js(page, "document.getElementById('complaint-assignee').innerText === 'Alex Agent'")

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    agent = context.new_page()
    agent.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        login(agent, server, "agent")
        agent.wait_for_selector("#bell-count .bell-count")
        assert agent.inner_text("#bell-count .bell-count") == "1"
        agent.click("a.bell")
        agent.wait_for_url("**/notifications")
        row = agent.locator("#notifications tbody tr.unread")
        assert row.count() == 1
        text = row.inner_text()
        assert f"Complaint {code} was assigned to you." in text and "Grinder jams" in text
        row.locator("button:has-text('Open')").click()
        agent.wait_for_url(f"**/complaints/{cid}")
        assert "Grinder jams" in agent.inner_text("h1")
        agent.goto(f"{server.base_url}/notifications")
        assert agent.locator("#notifications tbody tr.unread").count() == 0
        wait_js(agent, "document.getElementById('bell-count').innerText.trim() === ''")

        # The settings are in the user menu.
        agent.click("summary.whoami")
        agent.click("a[href='/notifications/preferences']")
        agent.wait_for_url("**/notifications/preferences")
        assert agent.is_checked("#pref-complaint_assigned-email")  # the agent's default
        agent.check("#pref-complaint_assigned-digest")
        agent.check("#pref-complaint_reply-off")
        agent.click("#notification-settings button[type=submit]")
        agent.wait_for_selector(".flash-ok")
        assert "Notification settings saved." in agent.inner_text(".flash-ok")
        assert agent.is_checked("#pref-complaint_assigned-digest")
        assert agent.is_checked("#pref-complaint_reply-off")
    finally:
        context.close()
