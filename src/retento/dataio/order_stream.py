"""PostgreSQL: new orders and their lines are written by a thread while the file is still parsed.

The order import checks a row at a time in Python; the database's share of the work (``COPY``
parsing, five indexes on ``orders``, three on ``order_lines``, one foreign-key trigger call per
row) happens in the server process. Run one after the other, a 1M-line import costs the sum of
both (23 s on an idle machine); side by side it costs about the larger (the server's).

An order is complete when the next order starts (an order's lines must be together in the file),
so :class:`~retento.dataio.import_orders.OrdersImport` hands each complete, valid order to
:meth:`OrderStream.add` as text in ``COPY`` format (without its id). Every ``CHUNK_LINES`` lines,
the chunk goes to a writer thread that, on the import's own connection and transaction:

1. looks up which of the chunk's external ids exist already (those orders go back to the importer,
   ``existing``, which compares, updates or rejects them after the file is read, as before) and
   draws ids from the ``orders`` sequence, in one round trip;
2. ``COPY``s the new orders, then their lines.

The parser never touches the connection while the thread lives. The importer runs the whole thing
inside a savepoint: a bad row anywhere in the file (or any failure) rolls back every row already
written, so an import stays all-or-nothing with the same row errors as before. A concurrent import
of the same orders hits the unique key (``Conflict``), as it did when the writes came at the end.
psycopg waits for the server without the GIL, so the thread costs the parser little.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from retento.dataio.bulk import conflict_of, copy_text, with_defaults
from retento.orders.models import Order, OrderLine

CHUNK_LINES = 20_000  # order lines per chunk handed to the writer (5 round trips each)
QUEUE = 2  # chunks waiting for the writer at most: the parser waits when it is this far ahead


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
        self.ids: list[int] = []  # of the orders written, in file order
        self.lines = 0  # order lines written
        self.existing: list[Any] = []  # orders already in the table: for the importer to finish
        self.error: BaseException | None = None
        self._batch: list[tuple[Any, str, list[str]]] = []
        self._batch_lines = 0
        self._stop = False
        self._queue: queue.Queue[list[tuple[Any, str, list[str]]] | None] = queue.Queue(QUEUE)
        self._thread = threading.Thread(target=self._run, name="retento-import-copy", daemon=True)
        self._thread.start()

    @property
    def failed(self) -> bool:
        return self.error is not None

    def add(self, order: Any, head: str, lines: list[str]) -> None:
        """One complete order: ``head`` is its row without the id, ``lines`` its lines without the
        order id (each line starts with a tab and ends with a newline)."""
        self._batch.append((order, head, lines))
        self._batch_lines += len(lines)
        if self._batch_lines >= CHUNK_LINES:
            self._send()

    def _send(self) -> None:
        if self._batch:
            self._queue.put(self._batch)
            self._batch, self._batch_lines = [], 0

    def close(self) -> None:
        """Write what is left and wait for the thread; raise what it failed with (a key taken
        by another writer meanwhile as ``Conflict``)."""
        self._send()
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            table = getattr(getattr(self.error, "diag", None), "table_name", None)
            conflict = conflict_of(table or "orders", self.error)
            if conflict is not None:
                raise conflict from self.error
            raise self.error

    def abort(self) -> None:
        """Stop without writing what is still queued, and wait for the thread (the caller rolls
        the savepoint back). Nothing to do once :meth:`close` returned."""
        if not self._thread.is_alive():
            return
        self._stop = True
        self._batch = []
        self._queue.put(None)
        self._thread.join()

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

    def _write(self, batch: list[tuple[Any, str, list[str]]]) -> None:
        with self._raw.cursor() as cur:
            # One round trip: which orders exist, and ids for the chunk (those of orders that
            # turn out to exist are left unused, a gap as any rolled-back insert leaves).
            cur.execute(
                "SELECT ARRAY(SELECT external_id FROM orders WHERE external_id = ANY(%s)), "
                "ARRAY(SELECT nextval(%s) FROM generate_series(1, %s))",
                ([o.ext for o, _h, _ls in batch], self._seq, len(batch)),
            )
            found_list, ids = cur.fetchone()
            if found_list:
                found = set(found_list)
                self.existing.extend(o for o, _h, _ls in batch if o.ext in found)
                batch = [b for b in batch if b[0].ext not in found]
                if not batch:
                    return
                ids = ids[: len(batch)]
            copy_text(
                cur,
                "orders",
                self._order_cols,
                "".join([f"{i}\t{head}" for i, (_o, head, _ls) in zip(ids, batch, strict=True)]),
            )
            rows = [f"{i}{ln}" for i, (_o, _h, ls) in zip(ids, batch, strict=True) for ln in ls]
            copy_text(cur, "order_lines", self._line_cols, "".join(rows))
        self.ids.extend(ids)
        self.lines += len(rows)
        for o, _h, _ls in batch:  # written: the importer keeps only what finds duplicates
            o.lines, o.raw = [], []
