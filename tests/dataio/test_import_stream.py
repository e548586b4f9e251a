"""Order imports that write while they read (PostgreSQL: ``dataio.order_stream``) stay
all-or-nothing with the same row errors as reading the whole file first (SQLite). Small chunks
make a few hundred lines span many ``COPY`` rounds, so errors land after rows were written."""

from __future__ import annotations

import gc
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from retento.auth.models import User
from retento.core.errors import Conflict, InvalidInput
from retento.dataio import bulk, order_stream, service
from retento.orders.models import Order, OrderLine
from retento.orders.service import recompute
from tests.factories.concurrency import run_parallel

HEAD = "order_external_id,customer_external_id,ordered_at,product_external_id,quantity,unit_price,line_discount,order_discount,channel,status"  # noqa: E501


def rows(n_orders: int, prefix: str = "S") -> list[str]:
    """Two lines per order (line 2 of the file is the first order's first line)."""
    out = []
    for o in range(n_orders):
        at = f"2025-{1 + o % 12:02d}-{1 + o % 28:02d}T09:{o % 60:02d}:00+08:00"
        cust = f"IC00{1 + o % 3}"
        out.append(f"{prefix}{o:05d},{cust},{at},IP01,{1 + o % 3},68.00,,,web,completed")
        out.append(f"{prefix}{o:05d},{cust},{at},IP02,2,24.00,1.50,,web,completed")
    return out


def csv(lines: list[str]) -> bytes:
    return ("\n".join([HEAD, *lines]) + "\n").encode()


def counts(db) -> tuple[int, int]:
    return (
        db.scalar(select(func.count()).select_from(Order)),
        db.scalar(select(func.count()).select_from(OrderLine)),
    )


@pytest.fixture
def chunks(monkeypatch, db):
    """Chunks of 40 lines; records the tables of every COPY the writer thread makes."""
    monkeypatch.setattr(order_stream, "CHUNK_LINES", 40)
    seen: list[str] = []
    real = order_stream.copy_text

    def spy(cursor, table, columns, data):
        seen.append(table)
        return real(cursor, table, columns, data)

    monkeypatch.setattr(order_stream, "copy_text", spy)
    return seen


def streams(db) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "retento-import-copy"]


def test_a_bad_row_after_chunks_were_written_keeps_nothing(db, base, chunks):
    lines = rows(300)
    lines[548] = lines[548].replace(",68.00,", ",68.0x,")  # file line 550
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "orders", csv(lines), name="o.csv", actor=base)
    assert [(e.row, e.field) for e in exc.value.errors] == [(550, "unit_price")]
    assert "line 550" in exc.value.message and "nothing was imported" in exc.value.message
    if streams(db):  # rows were written before line 550 was read, and rolled back
        assert chunks.count("order_lines") >= 10
    assert counts(db) == (0, 0)
    assert writer_threads() == []
    # The session is still usable: the same file, fixed, imports whole.
    report = service.import_file(db, "orders", csv(rows(300)), name="o.csv", actor=base)
    assert (report.created, report.lines) == (300, 600)
    assert counts(db) == (300, 600)


def test_every_bad_row_is_reported_not_only_the_first(db, base, chunks):
    lines = rows(200)
    lines[8] = lines[8].replace("IP01", "NOPE")  # line 10: an error before anything is written
    lines[299] = lines[299].replace(",web,", ",fax,")  # line 301
    lines[399] = lines[399].replace("IC00", "XX00")  # line 401, the last line
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "orders", csv(lines), name="o.csv", actor=base)
    assert [(e.row, e.field) for e in exc.value.errors] == [
        (10, "product_external_id"),
        (301, "channel"),
        (401, "customer_external_id"),
    ]
    assert counts(db) == (0, 0)


def test_an_order_whose_lines_are_split_across_the_file_is_refused(db, base, chunks):
    lines = rows(250)
    lines.append(lines[0].replace("IP01", "IP02"))  # order S00000 again, at line 502
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "orders", csv(lines), name="o.csv", actor=base)
    [err] = exc.value.errors
    assert (err.row, err.field) == (502, "order_external_id")
    assert "already appeared on lines 2–3" in err.message
    if streams(db):
        assert chunks.count("orders") >= 10
    assert counts(db) == (0, 0)
    # With --skip-invalid the order keeps the lines that were together; the stray one is
    # rejected.
    report = service.import_file(
        db, "orders", csv(lines), name="o.csv", actor=base, skip_invalid=True
    )
    assert (report.created, report.lines, report.rejected) == (250, 500, 1)
    first = db.scalar(select(Order).where(Order.external_id == "S00000"))
    assert [(ln.line_no, ln.product.external_id) for ln in first.lines] == [
        (1, "IP01"),
        (2, "IP02"),
    ]


def test_skip_invalid_writes_the_good_orders_and_drops_each_bad_one_whole(db, base, chunks):
    lines = rows(200)
    lines[301] = lines[301].replace(",2,24.00,", ",0,24.00,")  # order S00150's 2nd line
    lines.insert(120, "S00060")  # a short row inside order S00060 belongs to it: rejected too
    report = service.import_file(
        db, "orders", csv(lines), name="o.csv", actor=base, skip_invalid=True
    )
    assert (report.created, report.rejected) == (198, 2 + 1 + 2)
    assert counts(db) == (198, 396)
    got = set(db.scalars(select(Order.external_id)))
    assert "S00150" not in got and "S00060" not in got and "S00199" in got


def test_orders_already_there_are_compared_while_new_ones_stream(db, base, chunks):
    first = service.import_file(db, "orders", csv(rows(100)), name="a.csv", actor=base)
    assert first.created == 100
    lines = rows(300)
    lines[11] = lines[11].replace(",2,24.00,", ",3,24.00,")  # S00005 changed: 3 cups, not 2
    report = service.import_file(db, "orders", csv(lines), name="b.csv", actor=base)
    assert (report.created, report.updated, report.unchanged) == (200, 1, 99)
    assert report.lines == 400 + 2
    assert counts(db) == (300, 600)
    changed = db.scalar(select(Order).where(Order.external_id == "S00005"))
    assert changed.revenue == Decimal("68.00") * 3 + Decimal("24.00") * 3 - Decimal("1.50")
    assert changed.version == 2
    new = db.scalars(select(Order).where(Order.id > first_max(db, 100)).order_by(Order.id)).all()
    assert [o.external_id for o in new] == [f"S{i:05d}" for i in range(100, 300)]


def test_an_order_written_earlier_in_the_transaction_is_updated_not_a_conflict(
    db, base, chunks, monkeypatch
):
    """An import in a transaction that has written orders already: those are not committed, so
    on PostgreSQL the writer asks which orders exist inside the import's own transaction."""
    asked_in: list[str] = []
    real = order_stream._found

    def spy(raw, batch):
        asked_in.append(threading.current_thread().name)
        return real(raw, batch)

    monkeypatch.setattr(order_stream, "_found", spy)
    service.import_file(db, "orders", csv(rows(30)), name="a.csv", actor=base)
    db.flush()  # written, not committed
    lines = rows(60)
    lines[11] = lines[11].replace(",2,24.00,", ",3,24.00,")  # S00005: 3 cups, not 2
    report = service.import_file(db, "orders", csv(lines), name="b.csv", actor=base)
    assert (report.created, report.updated, report.unchanged) == (30, 1, 29)
    assert counts(db) == (60, 120)
    if db.get_bind().dialect.name == "postgresql":
        assert asked_in and set(asked_in) == {"retento-import-copy"}


def first_max(db, n: int) -> int:
    return db.scalar(select(func.max(Order.id)).where(Order.external_id <= f"S{n - 1:05d}"))


def test_streamed_orders_carry_the_services_totals_and_times(db, base, chunks):
    lines = rows(120)
    lines[5] = lines[5].replace(",,web,", ",2.00,web,")  # order S00002: a discount of 2.00
    lines[4] = lines[4].replace(",,web,", ",2.00,web,")
    service.import_file(db, "orders", csv(lines), name="o.csv", actor=base)
    orders = db.scalars(select(Order).order_by(Order.id)).all()
    assert len(orders) == 120
    for o in orders:
        stored = (o.revenue, o.cost, o.profit, o.refunded)
        recompute(o)
        assert (o.revenue, o.cost, o.profit, o.refunded) == stored
    two = next(o for o in orders if o.external_id == "S00002")
    assert two.discount == Decimal("2.00")
    assert two.revenue == Decimal("68.00") * 3 + Decimal("48.00") - Decimal("1.50") - 2
    assert two.ordered_at.isoformat() == "2025-03-03T01:02:00+00:00"  # +08:00 stored as UTC
    assert (two.channel, two.status, two.note, two.version) == ("web", "completed", None, 1)


def test_a_discount_larger_than_the_lines_is_named_while_streaming(db, base, chunks):
    lines = rows(200)
    lines[300] = lines[300].replace(",,web,", ",999.00,web,")  # order S00150, line 302
    lines[301] = lines[301].replace(",,web,", ",999.00,web,")
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "orders", csv(lines), name="o.csv", actor=base)
    assert [(e.row, e.field) for e in exc.value.errors] == [(302, "order_discount")]
    assert counts(db) == (0, 0)


def test_external_ids_with_copy_format_characters_are_stored_as_given(db, base, chunks):
    odd = ["back\\slash", "tab\there", "\\N", "new\nline", "cr\rhere", 'q"uote', "中文"]
    lines = rows(60)
    for ext in odd:
        quoted = '"' + ext.replace('"', '""') + '"'
        lines += [r.replace("S00000", quoted) for r in rows(1)]
    report = service.import_file(db, "orders", csv(lines), name="o.csv", actor=base)
    assert report.created == 60 + len(odd)
    got = set(db.scalars(select(Order.external_id)))
    assert set(odd) <= got


def test_a_nul_character_in_an_order_id_is_a_row_error(db, base, chunks):
    lines = rows(10)
    lines[4] = lines[4].replace("S00002", "S\x0002", 1)
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "orders", csv(lines), name="o.csv", actor=base)
    assert [(e.row, e.field, e.message) for e in exc.value.errors] == [
        (6, "order_external_id", "contains a NUL character")
    ]
    assert counts(db) == (0, 0)


def test_a_broken_file_end_after_chunks_were_written_keeps_nothing(db, base, chunks):
    body = csv(rows(200)) + b'S99999,IC001,2025-01-01T00:00:00Z,IP01,1,"68.00\n'
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "orders", body, name="o.csv", actor=base)
    assert "line 402" in exc.value.message and "never closed" in exc.value.message
    if streams(db):
        assert chunks.count("order_lines") >= 5
    assert counts(db) == (0, 0)
    assert writer_threads() == []


def test_line_numbers_given_out_of_order_are_sorted_before_writing(db, base, chunks):
    head = HEAD + ",line_no"
    body = [head]
    for o in range(60):
        for ln in (3, 1, 2):
            body.append(f"N{o:03d},IC001,2025-01-01T00:00:00Z,IP0{1 + ln % 2},{ln},68.00,,,web,"
                        f"completed,{ln}")  # fmt: skip
    service.import_file(db, "orders", ("\n".join(body) + "\n").encode(), name="n.csv", actor=base)
    o = db.scalar(select(Order).where(Order.external_id == "N007"))
    assert [(ln.line_no, ln.quantity) for ln in o.lines] == [(1, 1), (2, 2), (3, 3)]
    assert counts(db) == (60, 180)


def test_paused_gc_nests_and_restores_the_collector():
    assert gc.isenabled()
    with bulk.paused_gc():
        assert not gc.isenabled()
        with bulk.paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with bulk.paused_gc():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


# --------------------------------------------------------------- live PostgreSQL, real commits
@pytest.fixture
def pg(live_pg, data_dir, monkeypatch):
    from tests.factories import make_user

    monkeypatch.setattr(order_stream, "CHUNK_LINES", 50)
    with live_pg.session() as s, s.begin():
        admin = make_user(s, username="admin", role="admin")
        service.import_file(s, "customers", data_dir / "customers.csv", actor=admin)
        service.import_file(s, "products", data_dir / "products.csv", actor=admin)
    return live_pg


def _import(pg, body: bytes):
    with pg.session() as s, s.begin():
        admin = s.scalar(select(User).where(User.username == "admin"))
        return service.import_file(s, "orders", body, name="orders.csv", actor=admin)


def _pg_counts(pg) -> tuple[int, int]:
    with pg.session() as s:
        return counts(s)


def test_other_sessions_see_nothing_of_a_streaming_import_until_it_commits(pg, monkeypatch):
    seen: list[tuple[int, int]] = []
    real = order_stream.copy_text

    def watch(cursor, table, columns, data):
        real(cursor, table, columns, data)
        if table == "order_lines":
            seen.append(_pg_counts(pg))

    monkeypatch.setattr(order_stream, "copy_text", watch)
    report = _import(pg, csv(rows(300)))
    assert report.created == 300 and len(seen) >= 10
    assert set(seen) == {(0, 0)}
    assert _pg_counts(pg) == (300, 600)


def test_two_streaming_imports_of_one_file_leave_each_order_once(pg):
    body = csv(rows(400))
    results = run_parallel(2, lambda _i: _import(pg, body))
    ok = [r for r in results if not isinstance(r, Exception)]
    failed = [r for r in results if isinstance(r, Exception)]
    assert ok, results
    assert all(isinstance(e, Conflict) for e in failed), failed
    # Either the second import failed, or it waited and found every order there; the threads
    # may finish in either order.
    assert sorted(r.created for r in ok) in ([400], [0, 400])
    assert _pg_counts(pg) == (400, 800)
    for _ in failed:  # the loser's retry finds every order there, unchanged
        assert _import(pg, body).unchanged == 400
    assert _pg_counts(pg) == (400, 800)


def test_two_imports_of_overlapping_files_at_once_keep_orders_whole(pg):
    a = csv(rows(300))
    b = csv(rows(300)[200:] + rows(200, prefix="U"))  # S00100–S00299 are in both files
    results = run_parallel(2, lambda i: _import(pg, (a, b)[i]))
    failed = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(e, Conflict) for e in failed), failed
    for i, r in enumerate(results):
        if isinstance(r, Exception):
            _import(pg, (a, b)[i])  # retried after the other committed
    assert _pg_counts(pg) == (500, 1000)
    with pg.session() as s:  # every order has exactly its two lines
        per_order = s.execute(
            select(OrderLine.order_id, func.count()).group_by(OrderLine.order_id)
        ).all()
        assert {n for _o, n in per_order} == {2} and len(per_order) == 500


def test_a_fresh_transaction_asks_ahead_which_orders_exist(pg, monkeypatch):
    """An import starting in a transaction of its own (the CLI, the API, the wizard): the parser
    asks which orders are there on its own connection, while the writer's server process works
    on the previous chunk; orders found are compared and updated as before."""
    asked_in: list[str] = []
    real = order_stream._found

    def spy(raw, batch):
        asked_in.append(threading.current_thread().name)
        return real(raw, batch)

    assert _import(pg, csv(rows(100))).created == 100
    monkeypatch.setattr(order_stream, "_found", spy)
    lines = rows(300)
    lines[11] = lines[11].replace(",2,24.00,", ",3,24.00,")  # S00005 changed
    report = _import(pg, csv(lines))
    assert (report.created, report.updated, report.unchanged) == (200, 1, 99)
    assert _pg_counts(pg) == (300, 600)
    assert len(asked_in) >= 10 and set(asked_in) == {threading.main_thread().name}
    with pg.session() as s:
        changed = s.scalar(select(Order).where(Order.external_id == "S00005"))
        assert changed.version == 2 and changed.revenue == Decimal("274.50")


def test_the_switch_interval_and_the_id_connection_are_given_back(pg, monkeypatch):
    """The shorter GIL switch interval lasts only while an import streams, and its connection
    for ids goes back to the pool, whether the import succeeds or fails on its last row."""
    import sys

    before = sys.getswitchinterval()
    pool = pg.engine.pool
    assert _import(pg, csv(rows(100))).created == 100
    assert sys.getswitchinterval() == before and pool.checkedout() == 0
    bad = rows(100, prefix="T")
    bad[-1] = bad[-1].replace("IP02", "NOPE")
    with pytest.raises(InvalidInput):
        _import(pg, csv(bad))
    assert sys.getswitchinterval() == before and pool.checkedout() == 0
    assert _pg_counts(pg) == (100, 200)


def test_overlapping_imports_put_the_switch_interval_back_when_the_last_ends(pg, monkeypatch):
    """Two imports streaming at once in one process (a web process's threads), the first to start
    ending first: it must not restore the interval under the other, nor the last leave the short
    one behind."""
    import sys

    before = sys.getswitchinterval()
    seen: list[float] = []
    started: list[int] = []  # thread idents, in the order their streams started
    both_started, first_closed = threading.Barrier(2), threading.Event()
    real_init, real_send = order_stream.OrderStream.__init__, order_stream.OrderStream._send
    real_close = order_stream.OrderStream.close

    init_lock = threading.Lock()

    def init(self, *a, **k):
        with init_lock:  # "started" in the order the streams really began
            real_init(self, *a, **k)
            started.append(threading.get_ident())
        both_started.wait(10)

    def send(self):
        seen.append(sys.getswitchinterval())
        real_send(self)

    def close(self):
        if threading.get_ident() == started[1]:
            assert first_closed.wait(10)
            seen.append(sys.getswitchinterval())  # the other has ended: still short here
        real_close(self)
        if threading.get_ident() == started[0]:
            first_closed.set()

    monkeypatch.setattr(order_stream.OrderStream, "__init__", init)
    monkeypatch.setattr(order_stream.OrderStream, "_send", send)
    monkeypatch.setattr(order_stream.OrderStream, "close", close)
    results = run_parallel(2, lambda i: _import(pg, csv(rows(200, prefix="AB"[i]))))
    assert all(not isinstance(r, Exception) for r in results), results
    assert seen and set(seen) == {order_stream.SWITCH_INTERVAL}
    assert sys.getswitchinterval() == before
    assert _pg_counts(pg) == (400, 800)


def test_a_value_past_the_csv_limit_says_so_not_closing_quote(db, base, chunks):
    """QA: a 40 MB unquoted value was "text follows a closing quote (field larger than field
    limit (1000000)); quote the whole value" — there was no quote, and the reason was Python's."""
    import csv as csvmod

    lines = rows(10)
    lines[3] = lines[3].replace("S00001", "S" + "9" * (csvmod.field_size_limit() + 10), 1)
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "orders", csv(lines), name="o.csv", actor=base)
    message = str(exc.value.message)
    limit = f"{csvmod.field_size_limit():,}"
    assert f"a value is longer than {limit} characters; shorten it or split it" in message
    assert "quote" not in message and "field limit" not in message
    assert counts(db) == (0, 0)


def test_the_too_long_reason_reads_in_chinese():
    from retento.dataio.messages import translate
    from retento.dataio.readers import too_long_reason
    from retento.web.i18n import gettext

    text = str(too_long_reason())  # as a row error is stored
    assert translate(text, lambda m: gettext("zh_CN", m)).startswith("有一个值超过 ")
