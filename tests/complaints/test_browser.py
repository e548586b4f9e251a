"""Browser tests of the complaint pages: real server, Debian's Chromium through Playwright."""

from __future__ import annotations

import pytest

from tests.web.live import BROWSER_TIMEOUT_MS, wait_js
from tests.web.test_browser import browser, login, page, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_agent_takes_a_complaint_from_intake_to_closed(page, server):  # noqa: F811
    login(page, server, "agent")
    page.goto(f"{server.base_url}/customers/{server.ids['Acme Trading Ltd']}")
    page.click("#new-complaint-link")
    page.wait_for_url("**/complaints/new?customer_id=*")
    assert "Acme Trading Ltd" in page.inner_text("#complaint-form")
    page.select_option("#f-kind", "complaint")
    page.select_option("#f-channel", "phone")
    page.select_option("#f-category_id", label="Delivery")
    page.select_option("#f-severity", "3")
    page.fill("#f-subject", "Browser: espresso machine arrived broken")
    page.fill("#f-description", "The box was crushed, the drip tray is cracked.")
    page.check("input[name=purposes][value=resolved]")
    page.click("#complaint-form button[type=submit]")
    page.wait_for_selector("#complaint-subject")
    assert page.inner_text("#complaint-status") == "Accepted"
    assert page.locator("#sla-clocks .badge").count() == 2
    # The agent corrects the intake: a higher severity recomputes the SLA due times.
    page.click("#edit-complaint")
    page.wait_for_selector("#complaint-edit-form")
    page.select_option("#f-severity", "4")
    page.select_option("#f-channel", "email")
    page.click("#complaint-edit-form button[type=submit]")
    page.wait_for_selector("#complaint-subject")
    assert "4 · Serious loss" in page.inner_text("aside")
    timeline = page.inner_text("#complaint-timeline")
    assert "Intake edited" in timeline and "Severity changed" in timeline
    assert "3 · Major → 4 · Serious loss" in timeline
    page.click("#action-start")
    wait_js(page, "document.getElementById('complaint-status').innerText === 'In progress'")
    page.fill("#note-form #f-body", "We will send a replacement.")
    page.check("#note-form input[value=message]")
    page.click("#note-form button[type=submit]")
    wait_js(
        page,
        "document.getElementById('complaint-timeline').innerText.includes('send a replacement')",
    )
    page.select_option("#remedy-form #f-remedy_kind", "compensation")
    page.select_option("#remedy-form #f-compensation_type", "voucher")
    page.fill("#remedy-form #f-amount", "30")
    page.fill("#remedy-form #f-cost", "12")
    page.click("#remedy-form button[type=submit]")
    page.wait_for_selector("#remedies div:has-text('Voucher')")
    page.fill("#transition-form #f-feedback", "Replacement sent and a voucher given.")
    page.click("#action-resolve")
    page.wait_for_selector("#complaint-feedback")
    page.check("#follow-up-form input[value=yes]")
    page.click("#follow-up-form button[type=submit]")
    wait_js(page, "document.getElementById('complaint-status').innerText === 'Follow-up'")
    page.click("#action-close")
    wait_js(page, "document.getElementById('complaint-status').innerText === 'Closed'")
    assert page.locator("#action-reopen").is_visible()
    timeline = page.inner_text("#complaint-timeline")
    assert "Service recovery" in timeline and "Feedback" in timeline
    page.goto(f"{server.base_url}/complaints?tab=open&status=closed")
    page.wait_for_selector("#complaint-table a:has-text('espresso machine arrived broken')")


def test_visitor_submits_the_public_form_and_sees_the_status(page, server):  # noqa: F811
    page.goto(f"{server.base_url}/complain")
    page.fill("#f-name", "Vera Visitor")
    page.fill("#f-email", "vera.visitor@example.com")
    page.select_option("#f-category", "product_quality")
    page.fill("#f-subject", "Milk frother stopped")
    page.fill("#f-description", "It stopped working after one week of use.")
    page.click("#public-complaint-form button[type=submit]")
    page.wait_for_selector("#tracking-code")
    code = page.inner_text("#tracking-code")
    assert code.startswith("RC-") and code in page.inner_text("#receipt")
    assert page.inner_text("#public-status") == "Accepted"
    page.fill("#public-reply-form #f-body", "The serial number is 12345.")
    page.click("#public-reply-form button[type=submit]")
    wait_js(
        page,
        "document.getElementById('public-timeline').innerText.includes('serial number is 12345')",
    )
    page.click("form.langswitch button[value=zh_CN]")
    wait_js(page, "document.getElementById('public-status').innerText === '受理'")


def test_manager_carries_an_improvement_through_pdca(page, server):  # noqa: F811
    login(page, server, "manager")
    page.goto(f"{server.base_url}/complaints/dashboard")
    page.fill("#improvement-form #f-title", "Browser: double-wall boxes")
    page.fill("#improvement-form #f-root_cause", "packaging")
    page.fill("#improvement-form #f-plan", "Ship fragile goods in double-wall boxes.")
    page.click("#improvement-form button[type=submit]")
    page.wait_for_selector("#improvement-edit-form")
    assert page.inner_text("#improvement-stage") == "Plan"
    steps = (
        ("do_note", "Double-wall boxes used since 1 May.", "Do"),
        ("check_result", "Breakage complaints fell from 9 to 2 a month.", "Check"),
        ("act_note", "Double-wall boxes are the packing standard.", "Act"),
    )
    for field, text, stage in steps:
        page.fill(f"#f-{field}", text)
        page.click("#advance")
        wait_js(page, f"document.getElementById('improvement-stage').innerText === '{stage}'")
    page.click("#advance")
    wait_js(page, "document.getElementById('improvement-stage').innerText === 'Done'")
    assert page.locator("#improvement-edit-form").count() == 0
    assert "packing standard" in page.inner_text("#improvement-record")


def _resolved_complaint(live) -> tuple[int, str]:
    """A resolved complaint of a customer in China, made straight in the live server's database."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from retento.auth.models import User
    from retento.complaints import service
    from retento.complaints.schemas import TransitionIn
    from tests.factories import make_customer
    from tests.factories.complaints import make_complaint

    engine = create_engine(live.url_db)
    try:
        with Session(engine) as session:
            agent = session.get(User, live.ids["agent"])
            cust = make_customer(session, name="李娜", country="CN")
            c = make_complaint(session, agent, customer_id=cust.id, subject="水壶漏水")
            for action, note in (("start", None), ("resolve", "已寄出新水壶。")):
                service.apply_transition(
                    session, c.id, TransitionIn(action=action, note=note), actor=agent
                )
            session.commit()
            return c.id, c.followup_token
    finally:
        engine.dispose()


def test_customer_answers_the_follow_up_on_a_phone(browser, page, server):  # noqa: F811
    complaint_id, token = _resolved_complaint(server)
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="en-US"
    )
    try:
        mobile = phone.new_page()
        mobile.set_default_timeout(BROWSER_TIMEOUT_MS)
        mobile.goto(f"{server.base_url}/complain/followup/{token}")
        # The customer's language (China), whatever the phone says.
        assert mobile.inner_text("h1") == "您对我们处理投诉的结果满意吗？"
        assert mobile.inner_text("#followup-subject") == "水壶漏水"
        assert mobile.evaluate("document.documentElement.scrollWidth") <= 390
        mobile.click("#followup-form button[type=submit]")  # nothing chosen: asked again
        mobile.wait_for_selector(".field-error")
        assert "请选择" in mobile.inner_text("#followup-form")
        mobile.click("label:has(input[name=csat][value='2'])")
        mobile.click("label:has(input[name=would_buy_again][value=no])")
        mobile.fill("#f-comment", "还是漏水。")
        mobile.click("#followup-form button[type=submit]")
        mobile.wait_for_selector("#followup-thanks")
        assert "重新打开" in mobile.inner_text("#followup-reopened")
        mobile.goto(f"{server.base_url}/complain/followup/{token}")
        assert "已经回答" in mobile.inner_text("#followup-gone")
    finally:
        phone.close()
    # The agent sees the answer, and the complaint is open again.
    login(page, server, "agent")
    page.goto(f"{server.base_url}/complaints/{complaint_id}")
    assert page.inner_text("#complaint-csat") == "2 / 5"
    assert page.inner_text("#complaint-would-buy-again") == "No"
    assert page.inner_text("#complaint-status") == "In progress"
    assert "还是漏水。" in page.inner_text("#complaint-timeline")
