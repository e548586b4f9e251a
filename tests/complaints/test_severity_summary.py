"""A severity change on the complaint timeline names both severities: review saw "2 → 4" (the
stored numbers) where the complaint page itself says "2 · Moderate"."""

from __future__ import annotations

import re

import pytest

from retento.complaints import service
from retento.complaints.schemas import ComplaintUpdate
from tests.factories.complaints import make_complaint
from tests.web.conftest import Browser


@pytest.mark.parametrize(
    ("locale", "shown"),
    [
        ("en", "Severity changed</strong> · 2 · Moderate → 4 · Serious loss"),
        ("zh_CN", "严重程度变更</strong> · 2 · 一般 → 4 · 重大损失"),
    ],
)
def test_severity_change_names_the_severities(client, db, users, locale, shown):
    c = make_complaint(db, severity=2)
    service.update_complaint(db, c.id, ComplaintUpdate(severity=4), actor=users["manager"])
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/complaints/{c.id}")
    assert page.status_code == 200
    timeline = page.text[page.text.index('id="complaint-timeline"') :]
    assert shown in timeline
    assert not re.search(r"· 2 → 4\b", timeline)
