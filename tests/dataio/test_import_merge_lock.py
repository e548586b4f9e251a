"""Order, touchpoint and complaint file imports lock the customers they name ``FOR SHARE``
(``customers.guard.lock_customers``) before they write: a customer merged into another, before
the import or while it runs, is refused with its row, the file's own column and the survivor,
and nothing of the file lands on the archived duplicate (all or nothing; with
``skip_invalid`` the other rows are imported)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from retento.auth.models import User
from retento.complaints.models import Complaint
from retento.core.errors import InvalidInput
from retento.customers import merge
from retento.dataio import service as dataio
from retento.orders.models import Order
from retento.touchpoints.models import Touchpoint
from tests.factories import make_customer, make_product, make_user
from tests.factories.concurrency import run_parallel

MODELS = {"orders": Order, "touchpoints": Touchpoint, "complaints": Complaint}
# The customer column under a Chinese header word: a row error names the column as the file
# calls it. Row 2 names the survivor, row 3 the duplicate.
COLUMN = "客户编号"
FILES = {
    "orders": f"order_external_id,{COLUMN},ordered_at,product_external_id,quantity,unit_price\n"
    "O-1,KEEP-1,2026-01-05 10:00,P-1,1,20.00\n"
    "O-2,DUP-1,2026-01-05 11:00,P-1,2,20.00\n",
    "touchpoints": f"external_id,{COLUMN},occurred_at,channel,stage\n"
    "T-1,KEEP-1,2026-01-05 10:00,phone,after_sales\n"
    "T-2,DUP-1,2026-01-05 11:00,phone,after_sales\n",
    "complaints": f"external_id,{COLUMN},subject,description,category,channel\n"
    "C-1,KEEP-1,Late,Late delivery,delivery,phone\n"
    "C-2,DUP-1,Broken,Arrived broken,delivery,phone\n",
}
# The duplicate's row alone, for the races.
ONE = {kind: "".join(text.splitlines(keepends=True)[::2]) for kind, text in FILES.items()}


def _said(keep_id: int) -> str:
    return f"customer 'DUP-1' was merged into customer {keep_id}"


def _pair(session):
    """A survivor and a duplicate (not merged yet), and the product the orders take."""
    keep = make_customer(session, name="Keep", external_id="KEEP-1")
    dup = make_customer(session, name="Dup", external_id="DUP-1")
    make_product(session, external_id="P-1", unit_price=Decimal("20.00"))
    return keep, dup


def _count(session, kind: str, customer_id: int) -> int:
    model = MODELS[kind]
    return session.scalar(select(func.count()).where(model.customer_id == customer_id))


def _rows(exc: InvalidInput) -> list[tuple[int | None, str | None, str]]:
    return [(e.row, e.field, str(e.message)) for e in exc.errors]


@pytest.mark.parametrize("kind", ["orders", "touchpoints", "complaints"])
def test_a_merged_customer_is_refused_with_row_column_and_survivor(db, users, kind):
    keep, dup = _pair(db)
    merge.merge_customers(db, keep.id, dup.id, actor=users["admin"])
    db.commit()
    with pytest.raises(InvalidInput) as e:
        dataio.import_file(db, kind, FILES[kind].encode(), name=f"{kind}.csv", actor=users["admin"])
    assert _rows(e.value) == [(3, COLUMN, _said(keep.id))]
    db.rollback()
    assert (_count(db, kind, keep.id), _count(db, kind, dup.id)) == (0, 0)  # all or nothing


@pytest.mark.parametrize("kind", ["orders", "touchpoints", "complaints"])
def test_skipping_invalid_rows_imports_the_survivors_row_only(db, users, kind):
    keep, dup = _pair(db)
    merge.merge_customers(db, keep.id, dup.id, actor=users["admin"])
    db.commit()
    report = dataio.import_file(
        db, kind, FILES[kind].encode(), name=f"{kind}.csv", actor=users["admin"], skip_invalid=True
    )
    assert (report.created, report.rejected) == (1, 1)
    assert [(e.row, e.field, e.message) for e in report.errors] == [(3, COLUMN, _said(keep.id))]
    assert (_count(db, kind, keep.id), _count(db, kind, dup.id)) == (1, 0)


def test_the_complaints_own_import_command_refuses_naming_the_files_column(db, users):
    """``retento complaints import`` (``complaints.transfer``) locks the customers too; its
    refusal names ``customer_external_id`` and the customer as the file named it, not the
    service's ``customer_id``."""
    from retento.complaints.transfer import import_complaints
    from retento.dataio.readers import open_table

    keep, dup = _pair(db)
    merge.merge_customers(db, keep.id, dup.id, actor=users["admin"])
    db.commit()
    text = FILES["complaints"].replace(COLUMN, "customer_external_id")
    with pytest.raises(InvalidInput) as e:
        import_complaints(db, open_table(text.encode(), "c.csv"), actor=users["admin"])
    said = f"Customer DUP-1 was merged into customer {keep.id}."
    assert _rows(e.value) == [(3, "customer_external_id", said)]
    db.rollback()
    assert (_count(db, "complaints", keep.id), _count(db, "complaints", dup.id)) == (0, 0)


def test_an_order_customer_merged_after_the_first_look_up_is_refused_under_the_lock(
    db, users, monkeypatch
):
    """The order import reads the merged customers when it starts (their rows are then never
    streamed); one merged after that is found by the lock taken once the file is read. Here
    the start-up look-up misses the merge, as it does when the merge commits meanwhile: on
    PostgreSQL the order was already streamed, and the savepoint takes it back."""
    import retento.dataio.import_orders as import_orders

    keep, dup = _pair(db)
    merge.merge_customers(db, keep.id, dup.id, actor=users["admin"])
    db.commit()
    monkeypatch.setattr(import_orders, "merged_external_ids", lambda session, keys=None: {})
    with pytest.raises(InvalidInput) as e:
        dataio.import_file(
            db, "orders", FILES["orders"].encode(), name="o.csv", actor=users["admin"]
        )
    assert _rows(e.value) == [(3, COLUMN, _said(keep.id))]
    db.rollback()
    assert (_count(db, "orders", keep.id), _count(db, "orders", dup.id)) == (0, 0)


def test_skipping_rows_cannot_take_back_a_streamed_order_so_the_run_fails(db, users, monkeypatch):
    """As above with ``skip_invalid``: an order not yet written is rejected and the rest is
    imported (SQLite: nothing is written before the lock); one streamed already (PostgreSQL)
    fails the whole run, naming the row, and the file can be imported again."""
    import retento.dataio.import_orders as import_orders

    keep, dup = _pair(db)
    merge.merge_customers(db, keep.id, dup.id, actor=users["admin"])
    db.commit()
    with monkeypatch.context() as m:
        m.setattr(import_orders, "merged_external_ids", lambda session, keys=None: {})
        if db.get_bind().dialect.name == "postgresql":
            with pytest.raises(InvalidInput) as e:
                dataio.import_file(
                    db, "orders", FILES["orders"].encode(), name="o.csv",
                    actor=users["admin"], skip_invalid=True,
                )  # fmt: skip
            assert _rows(e.value) == [(3, COLUMN, _said(keep.id))]
            assert str(e.value.message).startswith(
                "1 row(s) of o.csv name a customer merged into another while the file was "
                "being imported; nothing was imported (first: line 3, 客户编号: customer "
            ), e.value.message
            db.rollback()
            assert _count(db, "orders", keep.id) == 0
        else:
            report = dataio.import_file(
                db, "orders", FILES["orders"].encode(), name="o.csv",
                actor=users["admin"], skip_invalid=True,
            )  # fmt: skip
            assert (report.created, report.rejected) == (1, 1)
            assert [(e.row, e.field, e.message) for e in report.errors] == [
                (3, COLUMN, _said(keep.id))
            ]
    assert _count(db, "orders", dup.id) == 0
    # Imported again, the start-up look-up sees the merge: the row is skipped as usual.
    report = dataio.import_file(
        db, "orders", FILES["orders"].encode(), name="o.csv", actor=users["admin"],
        skip_invalid=True,
    )  # fmt: skip
    assert report.rejected == 1 and _count(db, "orders", dup.id) == 0
    assert _count(db, "orders", keep.id) == 1


def test_the_new_message_reads_in_chinese():
    from retento.web.i18n import gettext

    template = (
        "%(rows)s row(s) of %(table)s name a customer merged into another while the file was "
        "being imported; nothing was imported (first: line %(line)s, %(field)s: %(message)s). "
        "Import the file again to skip them."
    )
    zh = gettext("zh_CN", template)
    assert zh != template and "%(line)s" in zh and "%(message)s" in zh


# --- Races on PostgreSQL: real commits, two threads released together by a barrier -------

HOLD = 1.5  # seconds the first transaction stays open while the other one waits for it


def _race_world(live_pg) -> dict[str, int]:
    with live_pg.session() as s:
        admin = make_user(s, role="admin")
        keep, dup = _pair(s)
        s.commit()
        return {"admin": admin.id, "keep": keep.id, "dup": dup.id}


@pytest.mark.parametrize("kind", ["orders", "touchpoints", "complaints"])
def test_an_import_during_a_merge_waits_and_is_refused(live_pg, kind):
    """The merge has locked and moved the duplicate's records, not yet committed, when the
    import starts: the import waits for it (the lock), then refuses the row. Without the lock
    the import did not wait, and its row stayed on the archived duplicate."""
    w = _race_world(live_pg)
    merged, imported = threading.Event(), threading.Event()

    def run(i: int):
        if i == 0:
            with live_pg.session() as s:
                merge.merge_customers(s, w["keep"], w["dup"], actor=s.get(User, w["admin"]))
                merged.set()
                imported.wait(HOLD)  # the import is waiting for this transaction meanwhile
                s.commit()
                return "merged"
        assert merged.wait(10)
        with live_pg.session() as s:
            try:
                dataio.import_file(
                    s, kind, ONE[kind].encode(), name=f"{kind}.csv", actor=s.get(User, w["admin"])
                )
                s.commit()
                return "imported"
            except InvalidInput as exc:
                return _rows(exc)
            finally:
                imported.set()

    assert run_parallel(2, run) == ["merged", [(2, COLUMN, _said(w["keep"]))]]
    with live_pg.session() as s:
        assert (_count(s, kind, w["keep"]), _count(s, kind, w["dup"])) == (0, 0)


def test_a_merge_during_an_order_import_waits_and_moves_the_orders(live_pg):
    """The order import (PostgreSQL: streamed, the customers locked once the file is read) has
    written its order, not yet committed, when the merge starts: the merge waits for it and
    then moves the order to the survivor. Without the lock the merge went ahead, found no
    committed order to move, and the import's order stayed on the archived duplicate."""
    w = _race_world(live_pg)
    imported, merging = threading.Event(), threading.Event()

    def run(i: int):
        if i == 0:
            with live_pg.session() as s:
                dataio.import_file(
                    s, "orders", ONE["orders"].encode(), name="o.csv",
                    actor=s.get(User, w["admin"]),
                )  # fmt: skip
                imported.set()
                merging.wait(HOLD)  # the merge is waiting for this transaction meanwhile
                s.commit()
                return "imported"
        assert imported.wait(30)
        with live_pg.session() as s:
            try:
                merge.merge_customers(s, w["keep"], w["dup"], actor=s.get(User, w["admin"]))
                s.commit()
                return "merged"
            finally:
                merging.set()

    assert run_parallel(2, run) == ["imported", "merged"]
    with live_pg.session() as s:
        assert (_count(s, "orders", w["keep"]), _count(s, "orders", w["dup"])) == (1, 0)
