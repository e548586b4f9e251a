"""The member import reads files as every import does (``dataio.readers``): after Excel's
``sep=;`` first line the header is line 2, and a header problem is said there (it was said on
line 1); rows keep their own lines; a value that starts with a quote survives an export and a
re-import (the reader undoes the export's formula quote once, the import did it a second time)."""

from __future__ import annotations

import pytest

from retento.core.errors import InvalidInput
from retento.loyalty import ledger
from retento.loyalty.members_io import export_members, import_members
from tests.factories import make_customer
from tests.factories.loyalty import make_programme, make_tiers


@pytest.fixture
def members(db):
    make_programme(db)
    make_tiers(db, ("gold", 1000, "1.5"))
    customers = make_customer(db, external_id="S-1"), make_customer(db, external_id="'-7")
    db.commit()
    return customers


def test_a_sep_line_moves_the_header_to_line_2(db, users, members):
    with pytest.raises(InvalidInput) as e:
        import_members(
            db, b"sep=;\ntier;opening_balance\ngold;5\n", "m.csv", actor=users["manager"]
        )
    assert [(x.row, x.field) for x in e.value.errors] == [(2, "customer_external_id")]
    with pytest.raises(InvalidInput) as e:
        import_members(db, b"sep=;\ncustomer_external_id;tier\nS-1;gold\nS-1;tin\n", "m.csv",
                       actor=users["manager"])  # fmt: skip
    assert [(x.row, x.field) for x in e.value.errors] == [(4, "tier")]
    rep = import_members(
        db, b"sep=;\ncustomer_external_id;tier\nS-1;gold\n", "m.csv", actor=users["manager"]
    )
    assert (rep.rows, rep.enrolled) == (1, 1)


def test_a_value_starting_with_a_quote_survives_export_and_import(db, users, members):
    s1, quoted = members
    import_members(db, b"customer_external_id\nS-1\n''-7\n", "m.csv", actor=users["manager"])
    assert ledger.get_wallet(db, quoted.id) is not None
    _, _, chunks = export_members(db, actor=users["manager"], fmt="csv")
    body = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
    assert b"''-7" in body  # the export's formula quote before the value's own
    rep = import_members(db, body, "members.csv", actor=users["manager"])
    assert rep.rows == 2 and rep.enrolled == 0
