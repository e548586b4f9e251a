"""The member import and customers merged into another: the customers a file names are locked
``FOR SHARE`` before anything is written (``customers.guard.lock_customers``), and a merged one
is refused with its row and the column of the file that named it (``customer_external_id`` or
``email``; ``customer_id`` is no column of this file) and the survivor; nothing is written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from retento.core.errors import InvalidInput
from retento.customers import merge
from retento.loyalty import members_io
from retento.loyalty.members_io import import_members
from retento.loyalty.models import LoyaltyAccount, LoyaltyJournal
from tests.factories import make_customer
from tests.factories.loyalty import make_programme

FILE = (
    "customer_external_id,email,opening_balance,key\n"
    "KEEP-1,,10,k-1\n"
    "DUP-1,,20,k-2\n"
    ",dup2@example.com,30,k-3\n"
)


def _merged(db, users):
    """A survivor and two duplicates merged into it (the file names the second by e-mail)."""
    make_programme(db)
    keep = make_customer(db, name="Keep", external_id="KEEP-1", email="keep@example.com")
    dups = [
        make_customer(db, name="Dup", external_id="DUP-1", email="dup@example.com"),
        make_customer(db, name="Dup 2", external_id="DUP-2", email="dup2@example.com"),
    ]
    for dup in dups:
        merge.merge_customers(db, keep.id, dup.id, actor=users["manager"])
    db.commit()
    return keep, dups


def _written(db) -> tuple[int, int]:
    """(member wallets, journals) in the database."""
    wallets = select(func.count()).where(LoyaltyAccount.customer_id.is_not(None))
    return db.scalar(wallets), db.scalar(select(func.count()).select_from(LoyaltyJournal))


def test_a_merged_customer_is_refused_naming_the_column_of_the_file(db, users):
    keep, _dups = _merged(db, users)
    before = _written(db)
    with pytest.raises(InvalidInput) as e:
        import_members(db, FILE.encode(), "m.csv", actor=users["manager"])
    assert [(x.row, x.field, str(x.message)) for x in e.value.errors] == [
        (3, "customer_external_id", f"Customer DUP-1 was merged into customer {keep.id}."),
        (4, "email", f"Customer dup2@example.com was merged into customer {keep.id}."),
    ]
    db.rollback()
    assert _written(db) == before  # the survivor's row was not imported either


def test_a_refusal_while_posting_names_the_column_too(db, users, monkeypatch):
    """The wallet's own guard refuses the duplicate (``customer_id``) when the look-up under
    the lock is left out: the row error still names the file's column."""
    keep, dups = _merged(db, users)
    monkeypatch.setattr(members_io, "lock_customers", lambda session, ids: {})
    with pytest.raises(InvalidInput) as e:
        import_members(db, FILE.encode(), "m.csv", actor=users["manager"])
    assert [(x.row, x.field, str(x.message)) for x in e.value.errors] == [
        (3, "customer_external_id", f"Customer {dups[0].id} was merged into customer {keep.id}."),
        (4, "email", f"Customer {dups[1].id} was merged into customer {keep.id}."),
    ]


def test_the_same_customer_twice_is_named_in_the_column_that_named_it(db, users):
    make_programme(db)
    make_customer(db, external_id="M-1", email="m@example.com")
    db.commit()
    text = "customer_external_id,email\nM-1,\n,m@example.com\n"
    with pytest.raises(InvalidInput) as e:
        import_members(db, text.encode(), "m.csv", actor=users["manager"])
    assert [(x.row, x.field, str(x.message)) for x in e.value.errors] == [
        (3, "email", "the same customer as row 2")
    ]
