"""A customer's date of birth in files: the import reads it under its English or Chinese header
words (出生日期, 生日, …), refuses a future date or one before 1900 naming the row and the
column, and the export writes it where the import reads it back unchanged."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import select

from retento.core.errors import InvalidInput
from retento.customers.models import Customer
from retento.dataio import service
from retento.dataio.headers import header_fields
from retento.dataio.messages import translate
from retento.web.i18n import gettext


def _import(db, actor, text: str, **kw):
    return service.import_file(
        db, "customers", text.encode("utf-8"), name="c.csv", actor=actor, **kw
    )


@pytest.mark.parametrize("header", ["birth_date", "Date of birth", "DOB", "出生日期", "生日"])
def test_the_header_words_feed_birth_date(header):
    assert header_fields("customers", ["external_id", "name", header])[header] == "birth_date"


def test_import_sets_changes_and_keeps_birth_dates(db, users):
    admin = users["admin"]
    rep = _import(db, admin, "客户编号,姓名,出生日期\nB1,王芳,1979-11-02\nB2,李明,\n")
    assert (rep.created, rep.rejected) == (2, 0)
    got = dict(db.execute(select(Customer.external_id, Customer.birth_date)).all())
    assert got == {"B1": date(1979, 11, 2), "B2": None}
    rep = _import(db, admin, "external_id,name,birthday\nB1,王芳,1980-02-29\n")
    assert rep.updated == 1
    db.expire_all()
    assert db.scalar(select(Customer.birth_date).where(Customer.external_id == "B1")) == date(
        1980, 2, 29
    )
    # A file without the column leaves the dates alone.
    rep = _import(db, admin, "external_id,name,city\nB1,王芳,Suzhou\n")
    db.expire_all()
    assert db.scalar(select(Customer.birth_date).where(Customer.external_id == "B1")) == date(
        1980, 2, 29
    )


@pytest.mark.parametrize("value", ["2999-01-01", "1899-12-31", "1979-02-30", "yesterday"], ids=str)
def test_a_bad_birth_date_names_the_row_and_column_and_nothing_is_written(db, users, value):
    text = f"external_id,name,出生日期\nB1,王芳,1979-11-02\nB2,李明,{value}\n"
    with pytest.raises(InvalidInput) as exc:
        _import(db, users["admin"], text)
    errors = exc.value.errors
    assert [(e.row, e.field) for e in errors] == [(3, "出生日期")], errors
    assert db.scalar(select(Customer.id).where(Customer.external_id == "B1")) is None
    rep = _import(db, users["admin"], text, skip_invalid=True)
    assert (rep.created, rep.rejected) == (1, 1)


def test_an_organisation_s_birth_date_names_the_row_and_column(db, users):
    """In the row itself, or against the stored customer when the file has only one of the
    two columns; nothing of the file is written."""
    admin = users["admin"]
    _import(
        db,
        admin,
        "external_id,name,party_type,生日\nP1,王芳,person,1979-11-02\nO1,Acme,organisation,\n",
    )
    cases = [
        ("external_id,name,party_type,出生日期\nN1,New,,\nN2,Beta,organisation,1990-01-01\n", "出生日期"),
        ("external_id,name,生日\nN1,New,\nO1,Acme,1990-01-01\n", "生日"),
        ("external_id,name,个人或组织\nN1,New,\nP1,王芳,organisation\n", "个人或组织"),
    ]  # fmt: skip
    for text, column in cases:
        with pytest.raises(InvalidInput) as exc:
            _import(db, admin, text)
        assert [(e.row, e.field) for e in exc.value.errors] == [(3, column)], text
        message = exc.value.errors[0].message
        assert message.startswith("an organisation has no date of birth")
        assert translate(message, lambda m: gettext("zh_CN", m)).startswith("组织没有出生日期")
    assert db.scalar(select(Customer.id).where(Customer.external_id == "N1")) is None
    db.expire_all()
    got = dict(db.execute(select(Customer.external_id, Customer.party_type)).all())
    assert got == {"P1": "person", "O1": "organisation"}


def test_export_round_trips_birth_dates(db, users):
    admin = users["admin"]
    _import(
        db,
        admin,
        "external_id,name,party_type,出生日期\nB1,王芳,person,1979-11-02\nB2,Acme,organisation,\n",
    )
    text = "".join(service.export_csv(db, "customers", actor=admin, filters={}))
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert {r["external_id"]: r["birth_date"] for r in rows} == {"B1": "1979-11-02", "B2": ""}
    rep = service.import_file(db, "customers", text.encode("utf-8"), name="x.csv", actor=admin)
    assert (rep.created, rep.updated, rep.rejected, rep.unchanged) == (0, 0, 0, 2)
    assert rep.ignored_columns == []
    changed = text.replace("1979-11-02", "1979-11-03")
    rep = service.import_file(db, "customers", changed.encode("utf-8"), name="x.csv", actor=admin)
    assert rep.updated == 1
    db.expire_all()
    assert db.scalar(select(Customer.birth_date).where(Customer.external_id == "B1")) == date(
        1979, 11, 3
    )
