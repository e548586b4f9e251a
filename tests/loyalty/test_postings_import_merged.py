"""The points-adjustment import (``loyalty.transfer``, ``retento loyalty import-postings``) and
customers merged into another: as the member import does, the customers the file names are
locked ``FOR SHARE`` before anything is posted (``customers.guard.lock_customers``), and a merged
one is refused with its row, the file's column that named it (``customer_external_id``;
``customer_id`` is no column of this file), its value and the survivor; nothing is posted. In
English and Chinese on the command line."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from retento.core.errors import InvalidInput
from retento.customers import merge
from retento.loyalty import transfer
from retento.loyalty.models import LoyaltyJournal
from retento.loyalty.transfer import import_adjustments
from tests.factories import make_customer
from tests.factories.loyalty import make_programme

FILE = (
    "customer_external_id,points,reason,key\nKEEP-1,10,ok,k-1\nDUP-1,20,gift,k-2\nNOPE,5,who,k-3\n"
)


def _merged(db, users):
    """A survivor and a duplicate merged into it (both members, with points)."""
    make_programme(db)
    keep = make_customer(db, name="Keep", external_id="KEEP-1")
    dup = make_customer(db, name="Dup", external_id="DUP-1")
    head = "customer_external_id,points,reason,key\n"
    opening = head + "KEEP-1,5,opening,o-1\nDUP-1,5,opening,o-2\n"
    import_adjustments(db, io.StringIO(opening), actor=users["manager"])
    merge.merge_customers(db, keep.id, dup.id, actor=users["manager"])
    db.commit()
    return keep, dup


def _journals(db) -> int:
    return db.scalar(select(func.count()).select_from(LoyaltyJournal))


def test_a_merged_customer_is_refused_naming_the_column_of_the_file(db, users):
    keep, _dup = _merged(db, users)
    before = _journals(db)
    with pytest.raises(InvalidInput) as e:
        import_adjustments(db, io.StringIO(FILE), actor=users["manager"])
    assert [(x.row, x.field, str(x.message), x.value) for x in e.value.errors] == [
        (3, "customer_external_id", f"Customer DUP-1 was merged into customer {keep.id}.", "DUP-1"),
        (4, "customer_external_id", "unknown customer 'NOPE'", "NOPE"),
    ]
    db.rollback()
    assert _journals(db) == before  # the survivor's row was not posted either


def test_a_refusal_while_posting_names_the_column_too(db, users, monkeypatch):
    """The batch's own guard refuses the duplicate (it names ``customer_id``) when the look-up
    under the lock is left out: the row error still names the file's column."""
    keep, dup = _merged(db, users)
    monkeypatch.setattr(transfer, "lock_customers", lambda session, ids: {})
    text = "customer_external_id,points,reason,key\nKEEP-1,10,ok,k-1\nDUP-1,20,gift,k-2\n"
    with pytest.raises(InvalidInput) as e:
        import_adjustments(db, io.StringIO(text), actor=users["manager"])
    assert [(x.row, x.field, str(x.message)) for x in e.value.errors] == [
        (3, "customer_external_id", f"customer {dup.id} was merged into customer {keep.id}")
    ]


# What the command prints for the file's rows 3 and 4 (``{keep}``: the survivor's id).
SAID = {
    "en": [
        "line 3, column customer_external_id: Customer DUP-1 was merged into customer {keep}.",
        "line 4, column customer_external_id: unknown customer 'NOPE'",
    ],
    "zh_CN": [
        "第 3 行，customer_external_id 列：客户 DUP-1 已合并到客户 {keep}。",
        "第 4 行，customer_external_id 列：未知的客户“NOPE”",
    ],
}


@pytest.mark.parametrize("lang", sorted(SAID))
def test_cli_names_the_row_the_column_and_the_survivor(tmp_path, monkeypatch, lang):
    from typer.testing import CliRunner

    from retento.cli import app
    from retento.core.config import get_settings
    from retento.core.db import make_engine, make_session_factory, transaction
    from retento.core.migrate import upgrade
    from tests.factories import make_user

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    monkeypatch.setenv("RETENTO_LANG", lang)
    get_settings.cache_clear()
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as s:
            keep_id = _merged(s, {"manager": make_user(s, role="admin")})[0].id
            before = _journals(s)
        src = tmp_path / "postings.csv"
        src.write_text(FILE, encoding="utf-8")
        r = CliRunner().invoke(app, ["loyalty", "import-postings", str(src)])
        out = " ".join(r.output.split())
        assert r.exit_code == 1, r.output
        for line in SAID[lang]:
            assert line.format(keep=keep_id) in out, out
        assert "customer_id" not in out.replace("customer_external_id", "")
        with transaction(make_session_factory(engine)) as s:
            assert _journals(s) == before
    finally:
        engine.dispose()
        get_settings.cache_clear()
