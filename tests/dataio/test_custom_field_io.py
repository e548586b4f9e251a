"""Custom fields in the customer import (columns named by key, label or Chinese label; bad
values are row-and-field errors) and export (one column per defined field), on both backends."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from retento.core.errors import InvalidInput
from retento.customers.models import Customer
from retento.dataio import service
from tests.customers.test_custom_fields import FIELDS, define
from tests.factories import make_customer


def _import(db, users, text: str, **kw):
    return service.import_file(
        db, "customers", text.encode("utf-8"), actor=users["admin"], name="c.csv", **kw
    )


def _custom(db, ext: str) -> dict:
    return db.scalar(select(Customer.custom_fields).where(Customer.external_id == ext))


def test_columns_by_key_label_or_chinese_label_are_converted(db, users):
    define(db, users["admin"])
    report = _import(
        db,
        users,
        "external_id,name,Tier,贵宾,budget,custom.first_visit,Preferred store\n"
        'F1,Ann,金卡,是,"1,200.5",2024-02-29,Pudong\n'
        "F2,Bob,silver,no,,,\n",
    )
    assert (report.created, report.rejected) == (2, 0)
    assert report.ignored_columns == []
    assert _custom(db, "F1") == {
        "tier": "Gold", "vip": True, "budget": "1200.5", "first_visit": "2024-02-29",
        "store": "Pudong",
    }  # fmt: skip
    assert _custom(db, "F2") == {"tier": "Silver", "vip": False}


def test_bad_values_are_row_and_column_errors_and_nothing_is_imported(db, users):
    define(db, users["admin"])
    text = (
        "external_id,name,等级,VIP,budget,custom.first_visit,custom_fields\n"
        'B1,Ann,Platinum,maybe,lots,31/12/2024,"{""budget"": ""x""}"\n'
        "B2,Bob,Gold,yes,3,2024-01-01,\n"
    )
    with pytest.raises(InvalidInput) as info:
        _import(db, users, text)
    got = {(e.row, e.field) for e in info.value.errors}
    assert got == {
        (2, "等级"), (2, "VIP"), (2, "budget"), (2, "custom.first_visit"),
        (2, "custom_fields.budget"),
    }  # fmt: skip
    messages = {e.field: e.message for e in info.value.errors}
    assert "not one of: Gold, Silver" in messages["等级"]
    assert db.scalar(select(Customer.id).where(Customer.external_id == "B2")) is None
    # with --skip-invalid the good row goes in
    report = _import(db, users, text, skip_invalid=True)
    assert (report.created, report.rejected) == (1, 1)
    assert _custom(db, "B2") == {"tier": "Gold", "vip": True, "budget": "3",
                                 "first_visit": "2024-01-01"}  # fmt: skip


def test_export_writes_one_column_per_field_and_reimports_unchanged(db, users):
    define(db, users["admin"], FIELDS[:3])
    make_customer(
        db,
        external_id="E1",
        name="Exported",
        custom_fields={"tier": "Gold", "vip": True, "budget": "12.50", "legacy": 7},
    )
    db.commit()
    text = "".join(service.export_csv(db, "customers", actor=users["admin"], filters={}))
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    row = next(r for r in rows if r["external_id"] == "E1")
    assert row["custom.tier"] == "Gold" and row["custom.vip"] == "true"
    assert row["custom.budget"] == "12.50" and row["custom_fields"] == '{"legacy": 7}'
    before = _custom(db, "E1")
    report = service.import_file(
        db, "customers", text.encode("utf-8"), actor=users["admin"], name="x.csv"
    )
    assert (report.created, report.updated, report.rejected) == (0, 0, 0)
    assert _custom(db, "E1") == before
    # keys no definition names are stored as other fields, as imports always did
    changed = text.replace('"{""legacy"": 7}"', '"{""legacy"": 8}"')
    assert changed != text
    service.import_file(
        db, "customers", changed.encode("utf-8"), actor=users["admin"], name="y.csv"
    )
    assert _custom(db, "E1")["legacy"] == 8


def test_a_retired_fields_value_can_be_kept_but_not_changed_by_an_import(db, users):
    tier, *_ = define(db, users["admin"], FIELDS[:1])
    make_customer(db, external_id="R1", name="Retired", custom_fields={"tier": "Gold"})
    tier.active = False
    db.commit()
    same = "external_id,name,custom.tier\nR1,Retired,Gold\n"
    report = _import(db, users, same)
    assert report.rejected == 0 and _custom(db, "R1") == {"tier": "Gold"}
    with pytest.raises(InvalidInput) as info:
        _import(db, users, "external_id,name,Tier\nR1,Retired,Silver\n")
    assert [(e.row, e.field) for e in info.value.errors] == [(2, "Tier")]
    assert "retired" in info.value.errors[0].message


def test_the_api_and_list_exports_have_the_field_columns(client, tokens, db, users):
    from tests.web.conftest import Browser

    define(db, users["admin"], FIELDS[:1])
    make_customer(db, external_id="A1", name="Api export", custom_fields={"tier": "Silver"})
    db.commit()
    r = client.get("/api/v1/exports/customers.csv", headers=tokens["analyst"])
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert next(x for x in rows if x["external_id"] == "A1")["custom.tier"] == "Silver"
    web = Browser(client)
    web.login("manager")
    r = web.get("/customers/export.csv", params={"field": "tier:Silver"})
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert [(x["external_id"], x["custom.tier"]) for x in rows] == [("A1", "Silver")]
