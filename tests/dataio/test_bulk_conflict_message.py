"""A bulk write that loses a race names the column, never the value or the database's words.

QA (busy office, PostgreSQL): six parallel imports of one file; the five that lost got
"另一项修改同时写入了部分相同的 orders 数据（Key (external_id)=(IMP-56568a-0) already exists.）…":
PostgreSQL's DETAIL pasted in English inside the Chinese text, with the row's value and the
table's name. SQLite and PostgreSQL (COPY there, executemany here)."""

from __future__ import annotations

import pytest

from retento.core.errors import Conflict
from retento.customers.models import Customer
from retento.dataio import bulk
from retento.web.i18n import message_text as translate
from tests.factories import make_customer


def test_a_taken_key_is_a_conflict_naming_the_column(db):
    make_customer(db, external_id="SECRET-VALUE-1")
    db.flush()
    with pytest.raises(Conflict) as exc, db.begin_nested():
        bulk.insert_rows(
            db.connection(),
            Customer.__table__,
            ["external_id", "name", "name_key"],
            [("SECRET-VALUE-1", "Second", "second")],
        )
    err = exc.value
    assert err.status == 409 and err.field == "external_id"
    en = translate("en", err.message)
    zh = translate("zh_CN", err.message)
    assert en == (
        "Another import or change saved records with the same external_id at the same time; "
        "nothing from this file was written. Run the import again."
    )
    assert zh.startswith("另一项导入或修改同时保存了 external_id 相同的记录")
    for text in (en, zh):
        assert "SECRET-VALUE-1" not in text and "Key (" not in text and "customers" not in text
