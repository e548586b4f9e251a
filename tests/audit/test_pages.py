"""The audit log page in the reader's language: QA (Chinese UI) saw the actor of automatic
changes as "system" and every field of the before/after view by its column name."""

from __future__ import annotations

import re

import pytest

from retento.audit.service import record
from tests.factories import make_customer
from tests.web.conftest import Browser

# (entity, field, Chinese label, English label): one field of each commonly audited record type,
# and one every type shares.
FIELDS = (
    ("customer", "city", "城市", "City"),
    ("order", "ordered_at", "下单时间", "Ordered at"),
    ("complaint", "severity", "严重程度", "Severity"),
    ("loyalty_journal", "points", "积分", "Points"),
    ("survey_response", "completed_at", "完成时间", "Completed at"),
    ("customer", "version", "版本", "Version"),
    ("touchpoint", "stage", "旅程阶段", "Journey stage"),
    ("touchpoint", "occurred_at", "时间", "When"),
)


def _admin(client, db, users, locale: str) -> Browser:
    users["admin"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("admin")
    return web


def _entry_row(html: str) -> str:
    m = re.search(
        r'<table class="data" id="audit-table">.*?<tbody>\s*(<tr>.*?</details>)', html, re.S
    )
    assert m is not None, html[-800:]
    return m.group(1)


@pytest.mark.parametrize(("locale", "shown"), [("zh_CN", "系统"), ("en", "System")])
def test_a_change_no_user_made_reads_system_in_the_readers_language(
    client, db, users, locale, shown
):
    c = make_customer(db)
    record(db, None, "update", "customer", c.id, {"city": "Xi'an"}, {"city": "Hangzhou"})
    web = _admin(client, db, users, locale)
    row = _entry_row(web.get(f"/admin/audit?entity=customer&entity_id={c.id}").text)
    assert f"<td>{shown}</td>" in row and "<td>system</td>" not in row


@pytest.mark.parametrize(("locale", "which"), [("zh_CN", 0), ("en", 1)])
def test_diff_fields_are_named_and_unknown_fields_keep_their_name(client, db, users, locale, which):
    for n, (entity, field, *_names) in enumerate(FIELDS, start=9000):
        before = {field: "a", "mystery_column": 1}
        record(db, users["admin"], "update", entity, n, before, {field: "b", "mystery_column": 2})
    web = _admin(client, db, users, locale)
    for n, (entity, field, *names) in enumerate(FIELDS, start=9000):
        html = web.get(f"/admin/audit?entity={entity}&entity_id={n}").text
        row = _entry_row(html)
        label = names[which]
        assert f'<tr data-field="{field}"><td><span title="{field}">{label}</span></td>' in row
        assert f"<code>{field}</code>" not in row
        # the summary of the entry names the fields the same way
        assert re.search(r"<summary>[^<]*" + re.escape(label), row), row
        # a field no domain named is shown as stored
        assert '<tr data-field="mystery_column"><td><code>mystery_column</code></td>' in row


# (entity, field, before, after, English labels, Chinese labels): enumerated fields whose codes
# the before/after view shows by their labels (web.labels.register_value_labels).
VALUES = (
    ("loyalty_reward", "kind", "gift", "voucher", ("Gift", "Voucher"), ("礼品", "代金券")),
    ("complaint", "status", "accepted", "in_progress", ("Accepted", "In progress"),
     ("受理", "处理中")),
    ("complaint", "severity", 1, 3, ("1 · Inconvenience", "3 · Major"), ("1 · 轻微不便", "3 · 严重")),
    ("order", "status", "placed", "paid", ("Placed", "Paid"), ("已下单", "已付款")),
    ("customer", "kind", "consumer", "business", ("Consumer", "Business"), ("消费者", "企业客户")),
    # a language by its own name, through gettext (a Chinese reader sees English as 英语)
    ("user", "locale", "en", "zh_CN", ("English", "简体中文"), ("英语", "简体中文")),
    ("retention_alert", "severity", "low", "high", ("Low", "High"), ("低", "高")),
)  # fmt: skip


def _cell(row: str, field: str, side: str) -> str:
    m = re.search(
        rf'<tr data-field="{field}">.*?<td class="{side}"><pre>(.*?)</pre></td>', row, re.S
    )
    assert m is not None, row
    return m.group(1)


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_diff_values_of_enumerated_fields_read_as_labels(client, db, users, locale):
    for n, (entity, field, before, after, *_labels) in enumerate(VALUES, start=9100):
        record(db, users["admin"], "update", entity, n, {field: before}, {field: after})
    record(db, users["admin"], "update", "customer", 9199, {"kind": "mystery"}, {"kind": None})
    web = _admin(client, db, users, locale)
    for n, (entity, field, _before, _after, en, zh) in enumerate(VALUES, start=9100):
        row = _entry_row(web.get(f"/admin/audit?entity={entity}&entity_id={n}").text)
        assert (_cell(row, field, "before"), _cell(row, field, "after")) == (
            en if locale == "en" else zh
        )
    # A code nobody labelled is shown as stored.
    row = _entry_row(web.get("/admin/audit?entity=customer&entity_id=9199").text)
    assert _cell(row, "kind", "before") == "mystery"


def test_a_list_of_codes_reads_as_its_labels(client, db, users):
    before, after = {"purposes": ["heard"]}, {"purposes": ["heard", "compensated"]}
    record(db, users["admin"], "update", "complaint", 9200, before, after)
    web = _admin(client, db, users, "en")
    row = _entry_row(web.get("/admin/audit?entity=complaint&entity_id=9200").text)
    assert _cell(row, "purposes", "after") == "To be heard, To be compensated"
