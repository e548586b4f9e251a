"""Retention's and the segments' last raw parameter names, and the customer search's NUL: the
rule's window and severity, an alert's status (the form's hidden input, the API's filter), the
playbook's action, customer class and reason, the segmentation's features and the customer
list's search box are named as the pages label them, their choices by their labels, in the
reader's language (the API's English keeps the codes). SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re

import pytest

from retento.core.errors import InvalidInput
from retento.insights import segments_service
from retento.retention import playbooks
from retento.retention import service as retention
from retento.web.i18n import message_text
from tests.factories import make_customer
from tests.retention.helpers import make_alert
from tests.web.test_param_error_labels import _speak


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def _refused(fn, *args, **kw) -> InvalidInput:
    with pytest.raises(InvalidInput) as exc:
        fn(*args, **kw)
    return exc.value


# (call, field, English of the API (codes), Chinese (labels))
def _cases(users):
    manager = users["manager"]
    return [
        (
            lambda db: retention.update_rule(db, "rhythm", {"window_days": 5000}, actor=manager),
            "window_days",
            "Window (days) (window_days) must be between 0 and 3650.",
            "时间窗口（天）（window_days）必须在 0 到 3650 之间。",
        ),
        (
            lambda db: retention.update_rule(db, "rhythm", {"severity": "dire"}, actor=manager),
            "severity",
            "Severity (severity) must be one of: low, medium, high.",
            "严重程度（severity）必须是以下之一：低、中、高。",
        ),
        (
            lambda db: retention.list_alerts(db, actor=manager, status="bogus"),
            "status",
            "Status (status) must be one of: open, acknowledged, closed.",
            "状态（status）必须是以下之一：",
        ),
        (
            lambda db: playbooks.create_playbook(
                db,
                {"value_class": "vip", "action": "call", "name_en": "A", "name_zh": "A"},
                actor=manager,
            ),
            "value_class",
            "Customer class (value_class) must be one of: key, ordinary, small, bad.",
            "客户类别（value_class）必须是以下之一：",
        ),
        (
            lambda db: playbooks.create_playbook(
                db,
                {"value_class": "key", "action": "fax", "name_en": "A", "name_zh": "A"},
                actor=manager,
            ),
            "action",
            "Action (action) must be one of: task, call, offer, email, let_go.",
            "操作（action）必须是以下之一：负责人任务、致电、优惠、自动邮件、放弃。",
        ),
    ]


def test_service_errors_name_the_field_by_its_label(db, users):
    from retento.web.i18n import gettext

    for call, field, en, zh in _cases(users):
        exc = _refused(call, db)
        assert exc.field == field and str(exc.message) == en, (field, str(exc.message))
        said = message_text("zh_CN", exc.message)
        assert said.startswith(zh), said
        assert f"{field} 必须" not in said and "must" not in said
        db.rollback()
    # The choices by their labels in Chinese, the codes in the API's English.
    exc = _refused(_cases(users)[2][0], db)
    open_, closed = gettext("zh_CN", "Open"), gettext("zh_CN", "Closed")
    assert open_ in message_text("zh_CN", exc.message)
    assert closed in message_text("zh_CN", exc.message)
    assert "open" not in message_text("zh_CN", exc.message)


def test_a_playbook_for_an_unknown_reason_names_the_reasons(db, users):
    exc = _refused(
        playbooks.create_playbook,
        db,
        {"value_class": "key", "reason": "moon", "action": "call", "name_en": "A", "name_zh": "A"},
        actor=users["manager"],
    )
    assert exc.field == "reason"
    assert str(exc.message).startswith("Reason (reason) must be one of: *, churn_risk, rhythm")
    assert message_text("zh_CN", exc.message).startswith("原因（reason）必须是以下之一：")


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("en", "Status (status) must be one of: Open, Acknowledged, Closed."),
        ("zh_CN", "状态（status）必须是以下之一："),
    ],
)
def test_a_hand_edited_alert_status_is_named_on_the_page(web, db, users, lang, said):
    """The alert form's hidden status input sent as another value: "Not done: status 必须是以下
    之一：open, acknowledged, closed" named the parameter raw."""
    c = make_customer(db, name="Alert Zh")
    alert = make_alert(db, c.id)
    db.commit()
    _speak(web, users, "manager", lang)
    r = web.post(
        f"/retention/alerts/{alert.id}/status",
        {"status": "bogus", "version": str(alert.version), "next": f"/customers/{c.id}"},
        follow_redirects=True,
    )
    text = _text(r.text)
    assert said in text, text[:2000]
    assert "status must" not in text and "status 必须" not in text
    db.expire_all()
    assert make_alert and db.get(type(alert), alert.id).status == "open"


def test_the_api_keeps_the_codes(client, tokens):
    r = client.get("/api/v1/retention/alerts?status=bogus", headers=tokens["manager"])
    assert r.status_code == 422
    body = r.json()
    assert body["field"] == "status"
    assert body["detail"] == "Status (status) must be one of: open, acknowledged, closed."


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("en", "Unknown feature 'bogus'; known: Days since the last order,"),
        ("zh_CN", "未知的特征 'bogus'；可用特征：距最近订单天数、"),
    ],
)
def test_an_unknown_segment_feature_names_the_known_by_their_labels(web, users, lang, said):
    _speak(web, users, "analyst", lang)
    features = ["recency", "frequency", "monetary", "bogus"]
    r = web.post("/insights/segments/run", {"k": "3", "features": features})
    assert r.status_code == 422
    text = _text(r.text)
    assert said in text, text[:3000]
    assert "recency, frequency" not in text


def test_an_unknown_segment_feature_in_the_api_english_keeps_the_codes():
    exc = _refused(segments_service.check_params, {"features": ["recency", "bogus"]})
    assert str(exc.message).startswith("Unknown feature 'bogus'; known: recency, frequency,")


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("en", "Search (q): must not contain NUL characters"),
        ("zh_CN", "搜索（q）：不能包含 NUL 字符"),
    ],
)
def test_a_nul_in_the_customer_search_names_the_search_box(web, users, lang, said):
    _speak(web, users, "manager", lang)
    for url in ("/customers?q=a%00b", "/customers/export.csv?q=a%00b"):
        r = web.get(url)
        assert r.status_code == 422, url
        assert said in _text(r.text), _text(r.text)[:2000]
    # Elsewhere a parameter is still named as sent.
    r = web.get("/customers?tag=a%00b")
    assert r.status_code == 422 and "tag" in _text(r.text)
