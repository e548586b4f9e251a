"""``retento complaints import`` (``complaints.transfer``) applied a second row of one
external_id over the first and reported "2 created, 1 updated" for complaints that did not
exist before; the shared importer (web wizard, ``POST /api/v1/imports/complaints``) refuses
such a file. Now both refuse it naming the row and ``external_id``; nothing is imported.
SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from retento.complaints.models import Complaint
from retento.complaints.transfer import import_complaints
from retento.core.errors import InvalidInput
from retento.dataio.readers import open_table
from tests.factories import make_customer

HEADER = "external_id,customer_external_id,category,subject,description,severity\n"


def _complaints(db) -> int:
    return db.scalar(select(func.count()).select_from(Complaint))


def test_a_second_row_for_one_complaint_is_refused_and_nothing_imported(db, users):
    make_customer(db, external_id="C-DUP")
    db.commit()
    before = _complaints(db)
    text = (
        HEADER
        + "DUP-1,C-DUP,delivery,First,The box was crushed.,2\n"
        + "OK-1,C-DUP,delivery,Other,Another one.,1\n"
        + " DUP-1 ,C-DUP,delivery,Second,The box was crushed again.,3\n"
    )
    with pytest.raises(InvalidInput) as e:
        import_complaints(db, open_table(text.encode(), "c.csv"), actor=users["admin"])
    assert [(x.row, x.field, x.message) for x in e.value.errors] == [
        (4, "external_id", "'DUP-1' already appears on line 2 of this file")
    ]
    db.rollback()
    assert _complaints(db) == before


def test_distinct_rows_still_create_then_update(db, users):
    make_customer(db, external_id="C-OK")
    db.commit()
    text = HEADER + "A-1,C-OK,delivery,First,The box was crushed.,2\n"
    table = open_table(text.encode(), "c.csv")
    assert import_complaints(db, table, actor=users["admin"]) == {"created": 1, "updated": 0}
    again = open_table(text.replace("First", "First (edited)").encode(), "c.csv")
    assert import_complaints(db, again, actor=users["admin"]) == {"created": 0, "updated": 1}
