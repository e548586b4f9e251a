"""A complaint's timeline names who acted; an event no user caused (a public-form intake, an
escalation, the customer's follow-up answer) was shown as "system" on Chinese pages."""

from __future__ import annotations

import pytest

from tests.factories import make_customer
from tests.factories.complaints import make_complaint
from tests.web.conftest import Browser


@pytest.mark.parametrize(("locale", "shown"), [("zh_CN", "系统"), ("en", "System")])
def test_the_complaint_timeline_and_the_customer_panel_name_the_system(
    client, db, users, locale, shown
):
    customer = make_customer(db)
    c = make_complaint(db, customer_id=customer.id)  # no user: recorded as the system
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    detail = web.get(f"/complaints/{c.id}").text
    assert f'<span class="muted">{shown}</span>' in detail
    assert '<span class="muted">system</span>' not in detail
    panel = web.get(f"/customers/{customer.id}").text
    assert f'<span class="muted">{shown}</span>' in panel
    assert '<span class="muted">system</span>' not in panel
