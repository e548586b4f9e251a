"""PostgreSQL: new orders and their lines are written by a thread while the file is still parsed.

The order import checks a row at a time in Python; the database's share of the work (``COPY``
parsing, five indexes on ``orders``, three on ``order_lines``, one foreign-key trigger call per
row) happens in the server process. Run one after the other, a 1M-line import costs the sum of
both (23 s on an idle machine); side by side it costs about the larger (the server's).

An order is complete when the next order starts (an order's lines must be together in the file),
so :class:`~retento.dataio.import_orders.OrdersImport` hands each complete, valid order to
:meth:`OrderStream.add` as finished text in ``COPY`` format, its id included: the parser draws ids
ahead from the ``orders`` sequence (:meth:`OrderStream.next_id`) on a connection of its own, in
growing blocks. Every ``CHUNK_LINES`` lines the parser asks, on that connection, which of the
chunk's external ids exist already (those orders go back to the importer, ``existing``, which
compares, updates or rejects them after the file is read, as before; their ids are left unused, a
gap as any rolled-back insert leaves), joins the rest into one text per table and queues it. A
writer thread ``COPY``s it, the orders then their lines, on the import's own connection and
transaction. When that transaction has written something before the import began (orders it
wrote would be invisible to the other connection), the writer asks instead.

So the writer only sends text, and the server process never waits for Python: formatting, joins
and look-ups made in the writer left the server idle while the writer held the GIL, and the
writer waits for the GIL (up to the interpreter's switch interval) after each wait on the socket
while the parser keeps it busy. During the run the switch interval is shortened
(``SWITCH_INTERVAL``), so the writer gets back to the server within a fraction of a millisecond.
An instrumented 1M-line import: the writer busy 17.3 s of 17.6 s, all of it in ``COPY``.

The parser never touches the import's connection while the thread lives. The importer runs the whole thing
inside a savepoint: a bad row anywhere in the file (or any failure) rolls back every row already
written, so an import stays all-or-nothing with the same row errors as before. A concurrent import
of the same orders hits the unique key (``Conflict``), as it did when the writes came at the end.
psycopg waits for the server without the GIL, so the thread costs the parser little.
"""

from __future__ import annotations

import queue
import sys
import threading
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from retento.dataio.bulk import conflict_of, copy_text, with_defaults
from retento.orders.models import Order, OrderLine

CHUNK_LINES = 20_000  # order lines per chunk handed to the writer (two COPYs each)
QUEUE = 2  # chunks waiting for the writer at most: the parser waits when it is this far ahead
IDS_FIRST, IDS_MAX = 1_024, 65_536  # ids drawn ahead: the first block, doubling up to this
SWITCH_INTERVAL = 0.0005  # seconds; the interpreter's default is 0.005


_SWITCH_LOCK = threading.Lock()
_SWITCH_USERS = 0
_SWITCH_SAVED = 0.005


def _short_switch(on: bool) -> None:
    """The shorter switch interval while at least one import streams in this process (imports may
    overlap, in a web process's threads): the interval from before the first is put back when the
    last ends."""
    global _SWITCH_USERS, _SWITCH_SAVED
    with _SWITCH_LOCK:
        if on:
            if _SWITCH_USERS == 0:
                _SWITCH_SAVED = sys.getswitchinterval()
                sys.setswitchinterval(min(_SWITCH_SAVED, SWITCH_INTERVAL))
            _SWITCH_USERS += 1
        else:
            _SWITCH_USERS -= 1
            if _SWITCH_USERS == 0:
                sys.setswitchinterval(_SWITCH_SAVED)


class _Batch(list):
    """A chunk of ``(order, id, head, lines)``: each ``head`` a finished ``orders`` row and
    ``lines`` the order's finished ``order_lines`` rows, all ending in a newline. ``checked``:
    the orders already in the table were taken out before the chunk was queued."""

    checked = False
    orders_text = lines_text = ""
    n_lines = 0

    def finish(self) -> None:
        """The chunk's ``COPY`` text made, and its orders' lines let go (written from here on;
        the importer keeps only the orders found to exist, which are not in the chunk)."""
        self.orders_text = "".join([b[2] for b in self])
        rows = [ln for b in self for ln in b[3]]
        self.lines_text, self.n_lines = "".join(rows), len(rows)
        for b in self:
            b[0].lines, b[0].raw = [], []


_FOUND = (
    # One index probe per id (LATERAL): with ``= ANY(ids)`` the planner scanned the whole table
    # for each chunk while it was young and its statistics said it was small, so a large first
    # import rescanned its own rows 50 times (about 1.5 s of a 1M-line import's 25 s).
    "SELECT ARRAY(SELECT o.external_id FROM unnest(%s::text[]) AS u(ext) "
    "CROSS JOIN LATERAL (SELECT external_id FROM orders WHERE external_id = u.ext LIMIT 1) AS o)"
)


def _found(raw: Any, batch: _Batch) -> set[str]:
    """The external ids of ``batch`` that ``orders`` holds, looked up on ``raw``."""
    return set(raw.execute(_FOUND, ([b[0].ext for b in batch],)).fetchone()[0])


class OrderStream:
    """A writer thread ``COPY``ing chunks of new orders (see the module's docstring)."""

    def __init__(self, conn: Connection, order_columns: list[str], line_columns: list[str]):
        self._raw = conn.connection.driver_connection  # psycopg.Connection, same transaction
        self._seq = conn.execute(text("SELECT pg_get_serial_sequence('orders', 'id')")).scalar()
        cols, extra = with_defaults(Order.__table__, ["id", *order_columns])
        lcols, lextra = with_defaults(OrderLine.__table__, line_columns)
        if extra or lextra:  # the importer's rows give every column with a Python default
            raise RuntimeError("OrderStream needs every column with a Python-side default")
        self._order_cols, self._line_cols = cols, lcols
        fresh = bool(conn.execute(text("SELECT pg_current_xact_id_if_assigned() IS NULL")).scalar())
        # Ids are drawn on a connection of the parser's own: ``nextval`` is not transactional,
        # so an id drawn there is as good as one drawn in the import's transaction.
        self._id_conn = conn.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._id_block = IDS_FIRST
        self._id_iter: Any = iter(())
        # Which orders exist is asked on that connection too, by the parser, while the writer's
        # server process is busy with the previous chunk; it sees committed orders only, which is
        # all there is when this transaction has written nothing yet (the orders of this run are
        # the parser's own: an order twice in the file is a row error). Otherwise the writer asks
        # in the import's transaction.
        self._ask_ahead = fresh
        self.ids: list[int] = []  # of the orders written, in file order
        self.lines = 0  # order lines written
        self.existing: list[Any] = []  # orders already in the table: for the importer to finish
        self.error: BaseException | None = None
        self._batch = _Batch()
        self._batch_lines = 0
        self._stop = False
        self._queue: queue.Queue[_Batch | None] = queue.Queue(QUEUE)
        _short_switch(True)
        self._thread = threading.Thread(target=self._run, name="retento-import-copy", daemon=True)
        self._thread.start()

    @property
    def failed(self) -> bool:
        return self.error is not None

    def next_id(self) -> int:
        """An id for the next order, from the block drawn ahead (a new block when it is used up:
        one round trip per block, on the parser's own connection)."""
        for oid in self._id_iter:
            return oid  # type: ignore[no-any-return]
        n, self._id_block = self._id_block, min(self._id_block * 2, IDS_MAX)
        raw = self._id_conn.connection.driver_connection
        ids = raw.execute(
            "SELECT ARRAY(SELECT nextval(%s) FROM generate_series(1, %s))", (self._seq, n)
        ).fetchone()[0]
        self._id_iter = iter(ids)
        return next(self._id_iter)  # type: ignore[no-any-return]

    def add(self, order: Any, oid: int, head: str, lines: list[str]) -> None:
        """One complete order with the id ``oid`` from :meth:`next_id`: ``head`` is its finished
        row and ``lines`` its finished lines (each ending in a newline)."""
        self._batch.append((order, oid, head, lines))
        self._batch_lines += len(lines)
        if self._batch_lines >= CHUNK_LINES:
            self._send()

    def _send(self) -> None:
        batch = self._batch
        if not batch:
            return
        self._batch, self._batch_lines = _Batch(), 0
        if self._ask_ahead:
            found = _found(self._id_conn.connection.driver_connection, batch)
            if found:
                self.existing.extend(b[0] for b in batch if b[0].ext in found)
                batch = _Batch(b for b in batch if b[0].ext not in found)
                if not batch:
                    return
            batch.checked = True
            batch.finish()  # here, not in the writer: the server waits while the writer works
        self._queue.put(batch)

    def _release(self) -> None:
        """The id connection back to the pool and the switch interval as it was (once)."""
        if not self._id_conn.closed:
            _short_switch(False)
            self._id_conn.close()

    def close(self) -> None:
        """Write what is left and wait for the thread; raise what it failed with (a key taken
        by another writer meanwhile as ``Conflict``)."""
        self._send()
        self._queue.put(None)
        self._thread.join()
        self._release()
        if self.error is not None:
            conflict = conflict_of(self.error)
            if conflict is not None:
                raise conflict from self.error
            raise self.error

    def abort(self) -> None:
        """Stop without writing what is still queued, and wait for the thread (the caller rolls
        the savepoint back). Nothing to do once :meth:`close` returned."""
        if not self._thread.is_alive():
            return
        self._stop = True
        self._batch = _Batch()
        self._queue.put(None)
        self._thread.join()
        self._release()

    # ----------------------------------------------------------------- writer thread
    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self._stop or self.error is not None:
                continue  # drained, not written: the run fails or stops
            try:
                self._write(batch)
            except BaseException as exc:  # noqa: BLE001 - handed to the parser's thread
                self.error = exc

    def _write(self, batch: _Batch) -> None:
        with self._raw.cursor() as cur:
            if not batch.checked:
                found = _found(cur, batch)
                if found:
                    self.existing.extend(b[0] for b in batch if b[0].ext in found)
                    batch = _Batch(b for b in batch if b[0].ext not in found)
                    if not batch:
                        return
                batch.finish()
            copy_text(cur, "orders", self._order_cols, batch.orders_text)
            copy_text(cur, "order_lines", self._line_cols, batch.lines_text)
        self.ids.extend([b[1] for b in batch])
        self.lines += batch.n_lines
