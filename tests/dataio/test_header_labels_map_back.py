"""A column headed with the name the application itself gives a field, in English or Chinese
("Customer since" / "成为客户日期" on the customer form, "List price" / "标价" on the product
page, "When" on the touchpoint list), feeds that field in every import path (the wizard's guess,
the CLI and the API: ``dataio.headers``)."""

from __future__ import annotations

import importlib

import pytest

from retento.dataio import service
from retento.dataio.headers import _WORDS, header_fields
from retento.dataio.schemas import COLUMNS
from retento.dataio.wizard import guess_mapping
from retento.web.i18n import gettext
from retento.web.labels import LABELS

# The pages that name each record's fields (forms, lists, the audit log's before/after view).
for _module in (
    "retento.customers.field_labels",
    "retento.audit.field_labels",
    "retento.orders.pages",
    "retento.touchpoints.list_pages",
    "retento.complaints.pages.labels",
):
    importlib.import_module(_module)

RECORD = {
    "customers": "customer",
    "products": "product",
    "orders": "order",
    "touchpoints": "touchpoint",
    "complaints": "complaint",
}
# A record's field under the name of the import column it is read from.
COLUMN_OF = {
    "owner_id": "owner",
    "customer_id": "customer_external_id",
    "product_id": "product_external_id",
    "category_id": "category",
}


def _labels() -> list[tuple[str, str, str, str]]:
    out = []
    for entity, record in RECORD.items():
        columns = {c.name for c in COLUMNS[entity]}
        for field, msgid in LABELS.get(f"field:{record}", {}).items():
            column = COLUMN_OF.get(field, field)
            if column in columns:
                for locale in ("en", "zh_CN"):
                    out.append((entity, column, locale, gettext(locale, msgid)))
    return out


LABELLED = _labels()


def test_the_application_names_fields_of_every_entity():
    assert {e for e, *_rest in LABELLED} == set(RECORD)
    assert ("customers", "acquired_on", "zh_CN", "成为客户日期") in LABELLED


@pytest.mark.parametrize(
    ("entity", "column", "locale", "label"),
    LABELLED,
    ids=[f"{e}-{c}-{lc}" for e, c, lc, _l in LABELLED],
)
def test_a_field_s_own_label_maps_back_to_it(entity, column, locale, label):
    assert header_fields(entity, [label]) == {label: column}
    assert guess_mapping(entity, [label]) == {label: column}


@pytest.mark.parametrize(
    ("entity", "header", "column"),
    [
        ("customers", "成为客户日期", "acquired_on"),
        ("customers", "成为客户时间", "acquired_on"),
        ("customers", "Customer since", "acquired_on"),
        ("customers", "Client since", "acquired_on"),
        ("customers", "Member since", "acquired_on"),
        ("customers", "Date joined", "acquired_on"),
        ("customers", "Company name", "name"),
        ("customers", "Mobile number", "phone"),
        ("customers", "移动电话", "phone"),
        ("products", "标价", "unit_price"),
        ("products", "定价（元）", "unit_price"),
        ("touchpoints", "When", "occurred_at"),
        ("complaints", "What happened", "description"),
        ("complaints", "发生了什么", "description"),
        ("complaints", "What the customer wants", "purposes"),
    ],
)
def test_natural_header_words_in_both_languages(entity, header, column):
    assert header_fields(entity, [header]) == {header: column}


def test_no_header_word_names_two_fields_of_one_entity():
    for entity, fields in _WORDS.items():
        seen: dict[str, str] = {}
        for field, words in fields.items():
            for word in words:
                assert seen.setdefault(word, field) == field, (entity, word)


def test_a_customer_since_column_is_imported(db, users):
    content = "客户编号,名称,成为客户日期\nCS1,Ann,2024-05-06\n".encode()
    report = service.import_file(db, "customers", content, name="c.csv", actor=users["admin"])
    assert report.created == 1 and report.ignored_columns == []
    from retento.customers.models import Customer

    db.expire_all()
    got = db.query(Customer).filter_by(external_id="CS1").one()
    assert got.acquired_on.isoformat() == "2024-05-06"
