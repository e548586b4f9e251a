"""Orders: consecutive lines of a file make one order; totals computed as the API does."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from retento.core.errors import FieldError, InvalidInput, Msg
from retento.core.hooks import emit
from retento.customers.guard import lock_customers, merged_external_ids
from retento.customers.models import Customer
from retento.dataio.bulk import copy_escape, insert_rows, next_ids
from retento.dataio.import_base import IN_CHUNK, MAX_REPORTED, ImporterBase, RowProblem, _chunks
from retento.dataio.mapping import money
from retento.dataio.messages import as_msg
from retento.dataio.order_stream import OrderStream
from retento.orders.models import ORDER_CHANNELS, ORDER_STATUSES, Order, OrderLine, Refund
from retento.products.models import Product


class OrdersImport(ImporterBase):
    """Order lines grouped into orders, validated, then written in bulk.

    On PostgreSQL new orders are written while the file is still being read
    (:mod:`retento.dataio.order_stream`), inside a savepoint that any bad row rolls back; on
    SQLite, and when only validating, the whole file is read first."""

    # -------------------------------------------------------------------- orders
    def _import_orders(self) -> None:
        conn = self.session.connection()
        if self.validate_only or conn.dialect.name != "postgresql":
            self._read_orders(None)
            return
        # All-or-nothing although rows are written before the last one is read: every row of
        # this run is in one savepoint, rolled back by any error (a bad row: InvalidInput).
        with self.session.begin_nested():
            stream = OrderStream(conn, ORDER_COLUMNS, LINE_COLUMNS)
            try:
                self._read_orders(stream)
            finally:
                stream.abort()

    def _read_orders(self, stream: OrderStream | None) -> None:  # noqa: C901 - one tight pass
        conv, idx = self.conv, self.idx
        i_ord, i_cust = idx["order_external_id"], idx["customer_external_id"]
        i_at, i_prod = idx["ordered_at"], idx["product_external_id"]
        i_qty, i_price = idx["quantity"], idx["unit_price"]
        i_ldisc, i_cost = idx.get("line_discount"), idx.get("unit_cost")
        i_odisc, i_lno = idx.get("order_discount"), idx.get("line_no")
        i_chan, i_stat = idx.get("channel"), idx.get("status")
        conn = self.session.connection()
        customers: dict[str, int] = {
            ext: cid
            for cid, ext in conn.execute(
                select(Customer.id, Customer.external_id).where(Customer.external_id.is_not(None))
            )
        }
        merged = merged_external_ids(self.session)
        products: dict[str, tuple[int, int]] = {
            ext: (pid, int(cost * 100))
            for pid, ext, cost in conn.execute(
                select(Product.id, Product.external_id, Product.unit_cost).where(
                    Product.external_id.is_not(None)
                )
            )
        }
        c_ord, c_cust, c_at, c_prod = (
            self.col("order_external_id"),
            self.col("customer_external_id"),
            self.col("ordered_at"),
            self.col("product_external_id"),
        )
        c_qty, c_price, c_ldisc, c_cost = (
            self.col("quantity"),
            self.col("unit_price"),
            self.col("line_discount"),
            self.col("unit_cost"),
        )
        c_odisc, c_chan, c_stat, c_lno = (
            self.col("order_discount"),
            self.col("channel"),
            self.col("status"),
            self.col("line_no"),
        )
        keep_raw = self.skip_invalid
        orders: dict[str, _Order] = {}
        pending: list[_Order] = []  # streaming: complete orders left for the end
        complete = self._streamer(stream, pending) if stream is not None else None
        cur: _Order | None = None
        cents, timestamp = conv.cents, conv.timestamp
        ncols, shape = self.ncols, self._shape
        chan_ok, stat_ok = frozenset(ORDER_CHANNELS), frozenset(ORDER_STATUSES)
        # Order-level cells every further line of an order must repeat: (index, slot, column).
        repeated = [
            (i, slot, column)
            for i, slot, column in (
                (i_cust, "cust_raw", c_cust),
                (i_at, "at_raw", c_at),
                (i_chan, "chan_raw", c_chan),
                (i_stat, "stat_raw", c_stat),
            )
            if i is not None
        ]
        uncalculated = self.table.uncalculated
        n = 0
        for line, cells in self._rows():
            n += 1
            problems: list[RowProblem] = []
            joined = "".join(cells)  # one pass: long cells and NUL characters need _shape
            if len(cells) != ncols or len(joined) > 250 or "\x00" in joined:
                try:
                    cells = shape(cells)
                except RowProblem as p:
                    self._bad(line, cells, [p])
                    if cur is not None:
                        cur.bad_line = cur.bad_line or line
                    continue
            oext = cells[i_ord].strip()
            if cur is None or oext != cur.ext:
                if not oext or "\x00" in oext:
                    problem = "is empty" if not oext else "contains a NUL character"
                    self._bad(line, cells, [RowProblem(c_ord, problem)])
                    continue
                prev = orders.get(oext)
                if prev is not None:
                    self._bad(
                        line,
                        cells,
                        [
                            RowProblem(
                                c_ord,
                                f"order '{oext[:40]}' already appeared on lines "
                                f"{prev.first}–{prev.last}; an order's lines must be together "
                                "(is the order duplicated?)",
                            )
                        ],
                    )
                    continue
                if complete is not None and cur is not None:
                    complete(cur)  # its lines are all read: the next order has begun
                cur = _Order(oext, line)
                orders[oext] = cur
                # Order-level values are read from the order's first line.
                cur.cust_raw = craw = cells[i_cust].strip()
                cid = customers.get(craw)
                if craw in merged:
                    problems.append(
                        RowProblem(
                            c_cust,
                            f"customer '{craw[:40]}' was merged into customer {merged[craw]}",
                        )
                    )
                    cid = None
                elif cid is None:
                    problems.append(
                        RowProblem(
                            c_cust,
                            f"unknown customer '{craw[:40]}' (import customers first)"
                            if craw
                            else "is empty",
                        )
                    )
                cur.customer_id = cid
                cur.at_raw = cells[i_at]
                try:
                    cur.ordered_at = timestamp(cur.at_raw)
                except ValueError as exc:
                    problems.append(RowProblem(c_at, str(exc)))
                if i_chan is not None:
                    cur.chan_raw = raw = cells[i_chan]
                    v = raw.strip().lower()
                    if v in chan_ok:
                        cur.channel = v
                    else:
                        try:
                            cur.channel = self._enum(cells, "channel", ORDER_CHANNELS, "store")
                        except RowProblem as p:
                            problems.append(p)
                if i_stat is not None:
                    cur.stat_raw = raw = cells[i_stat]
                    v = raw.strip().lower()
                    if v in stat_ok:
                        cur.status = v
                    else:
                        try:
                            cur.status = self._enum(cells, "status", ORDER_STATUSES, "completed")
                        except RowProblem as p:
                            problems.append(p)
            else:
                for i, slot, column in repeated:
                    raw = getattr(cur, slot)
                    if cells[i] != raw and cells[i].strip() != raw.strip():
                        problems.append(
                            RowProblem(
                                column,
                                f"'{cells[i].strip()[:40]}' differs from line {cur.first} of the "
                                f"same order ('{raw.strip()[:40]}')",
                            )
                        )
            if uncalculated and line in uncalculated:  # XLSX formulas without a saved value
                problems.extend(self._formula_problems(line))
            cur.last = line
            if i_odisc is not None:
                raw = cells[i_odisc].strip()
                if raw:
                    if cur.odisc_raw is None:
                        try:
                            d = cents(raw)
                            if d < 0:
                                raise ValueError("must not be negative")
                            cur.odisc_raw, cur.odisc = raw, d
                        except ValueError as exc:
                            problems.append(RowProblem(c_odisc, str(exc)))
                    elif raw != cur.odisc_raw:
                        problems.append(
                            RowProblem(
                                c_odisc,
                                f"'{raw[:40]}' differs from the order discount given earlier for "
                                f"this order ('{cur.odisc_raw}')",
                            )
                        )
            # Line-level values.
            pext = cells[i_prod].strip()
            prod = products.get(pext)
            if prod is None:
                problems.append(
                    RowProblem(
                        c_prod,
                        f"unknown product '{pext[:40]}' (import products first)"
                        if pext
                        else "is empty",
                    )
                )
            qty = 0
            try:
                qty = int(cells[i_qty])
                if qty <= 0 or qty > 1_000_000:
                    problems.append(
                        RowProblem(c_qty, f"{qty} is not allowed: must be between 1 and 1000000")
                    )
            except ValueError:
                problems.append(
                    RowProblem(c_qty, f"'{cells[i_qty].strip()[:40]}' is not a whole number")
                )
            price = 0
            try:
                price = cents(cells[i_price])
                if price < 0:
                    problems.append(RowProblem(c_price, "must not be negative"))
            except ValueError as exc:
                problems.append(RowProblem(c_price, str(exc)))
            ldisc = 0
            if i_ldisc is not None and cells[i_ldisc].strip():
                try:
                    ldisc = cents(cells[i_ldisc])
                    if ldisc < 0:
                        problems.append(RowProblem(c_ldisc, "must not be negative"))
                    elif ldisc > qty * price and qty > 0:
                        problems.append(RowProblem(c_ldisc, "exceeds the line amount"))
                except ValueError as exc:
                    problems.append(RowProblem(c_ldisc, str(exc)))
            cost = prod[1] if prod is not None else 0
            if i_cost is not None and cells[i_cost].strip():
                try:
                    cost = cents(cells[i_cost])
                    if cost < 0:
                        problems.append(RowProblem(c_cost, "must not be negative"))
                except ValueError as exc:
                    problems.append(RowProblem(c_cost, str(exc)))
            line_no = len(cur.lines) + 1
            if i_lno is not None and cells[i_lno].strip():
                try:
                    line_no = int(cells[i_lno])
                    if line_no <= 0:
                        raise ValueError
                    if line_no in cur.line_nos:
                        problems.append(
                            RowProblem(
                                c_lno,
                                f"line {line_no} of order '{oext[:40]}' already appears on line "
                                f"{cur.line_nos[line_no]} of this file",
                            )
                        )
                    cur.line_nos[line_no] = line
                except ValueError:
                    problems.append(RowProblem(c_lno, "must be a whole number > 0"))
            if problems:
                self._bad(line, cells, problems)
                cur.bad_line = cur.bad_line or line
                continue
            cur.lines.append((line_no, prod[0], qty, price, cost, ldisc))  # type: ignore[index]
            if keep_raw:
                cur.raw.append((line, cells))
        self.report.rows = n
        if stream is None:
            self._finish_orders(orders, orders)
            return
        if cur is not None:
            complete(cur)  # type: ignore[misc]
        stream.close()  # the last chunks written; raises what the writer failed with
        rest = sorted([*pending, *stream.existing], key=lambda o: o.first)
        self._finish_orders({o.ext: o for o in rest}, orders, stream)

    def _lock_customers(
        self, orders: dict[str, _Order], unwritten: dict[str, _Order], also: set[int]
    ) -> dict[str, _Order]:
        """The customers of the file's orders (and ``also``: those the orders it changes have
        now) locked ``FOR SHARE`` in id order (``customers.guard.lock_customers``) before
        anything a merge waits for is written (an order updated, points earned or reversed);
        ``unwritten`` without the orders of a customer merged since the look-up at the start,
        each rejected (its first line, the customer column, the survivor).

        Streamed orders (PostgreSQL) are inserted before this: an insert takes only the foreign
        key's ``KEY SHARE`` on the customer, which a merge neither waits for nor makes wait, so
        the lock taken here, after the file is read (the customers are known only then), is as
        good as one taken first: a merge running now is waited for and then seen, one starting
        later waits for this transaction and moves its orders. An order of such a customer that
        is written already fails the run (the savepoint is rolled back), also when invalid rows
        are skipped: that needs a merge committed while the file was being read."""
        named = {o.customer_id for o in orders.values() if o.customer_id is not None}
        merged = lock_customers(self.session, named | also)
        if not merged:
            return unwritten
        column = self.col("customer_external_id")
        written: list[FieldError] = []
        for o in list(orders.values()):  # file order; ``unwritten`` may be ``orders``
            to = merged.get(o.customer_id) if o.customer_id is not None else None
            if o.bad_line or to is None:
                continue
            said = f"customer '{o.cust_raw.strip()[:40]}' was merged into customer {to}"
            if unwritten.pop(o.ext, None) is not None:
                self._reject_order(o, said, column=column)
            else:
                written.append(FieldError(column, said, row=o.first))
        if written and self.skip_invalid:
            first = written[0]
            raise InvalidInput(
                Msg(
                    "%(rows)s row(s) of %(table)s name a customer merged into another while the file was being imported; nothing was imported (first: line %(line)s, %(field)s: %(message)s). Import the file again to skip them.",
                    rows=len(written),
                    table=self.table.name,
                    line=first.row,
                    field=first.field,
                    message=as_msg(first.message),
                ),
                field=first.field,
                errors=written[:MAX_REPORTED],
            )
        self.errors.extend(written)  # all or nothing: _finish_orders refuses the file
        return unwritten

    def _streamer(self, stream: OrderStream, pending: list[_Order]):
        """The function taking each complete order while the file is read: a new-looking valid
        order goes to ``stream`` as COPY text; others (an invalid line, a discount larger than the
        lines, any row error once the run is bound to fail) wait in ``pending`` for the end."""
        numbered = self.idx.get("line_no") is not None
        errors, skip = self.errors, self.skip_invalid
        m = _CopyMoney()
        now = self.now.isoformat()
        tail = f"\t0.00\t\\N\t{now}\t{now}\n"  # refunded, note, created_at, updated_at
        add, next_id = stream.add, stream.next_id

        def complete(o: _Order) -> None:
            if o.bad_line or (errors and not skip) or stream.failed:
                pending.append(o)
                return
            lines = o.lines
            if numbered:
                lines.sort()
            gross, revenue, cost, _refunded = totals_cents(lines, o.odisc)
            if gross < 0:
                pending.append(o)
                return
            oid = next_id()
            add(
                o,
                oid,
                f"{oid}\t{copy_escape(o.ext)}\t{o.customer_id}\t{o.ordered_at.isoformat()}\t"  # type: ignore[union-attr]
                f"{o.status}\t{o.channel}\t{m[o.odisc]}\t{m[revenue]}\t{m[cost]}\t"
                f"{m[revenue - cost]}{tail}",
                [
                    f"{oid}\t{ln}\t{pid}\t{q}\t{m[p]}\t{m[c]}\t{m[d]}\n"
                    for ln, pid, q, p, c, d in lines
                ],
            )

        return complete

    def _finish_orders(
        self,
        orders: dict[str, _Order],
        every: dict[str, _Order],
        streamed: OrderStream | None = None,
    ) -> None:
        """Write ``orders`` (those not streamed) once the customers of ``every`` order of the
        file are locked (``_lock_customers``)."""
        conn = self.session.connection()
        t = Order.__table__
        existing = self._existing(
            t,
            [
                t.c.id,
                t.c.external_id,
                t.c.customer_id,
                t.c.ordered_at,
                t.c.status,
                t.c.channel,
                t.c.discount,
            ],
            set(orders),
        )
        orders = self._lock_customers(every, orders, {o.customer_id for o in existing.values()})
        old_ids = [o.id for o in existing.values()]
        old_lines: dict[int, list[tuple]] = {}
        lt = OrderLine.__table__
        for chunk in _chunks(old_ids, IN_CHUNK):
            for oid, *vals in conn.execute(
                select(
                    lt.c.order_id,
                    lt.c.line_no,
                    lt.c.product_id,
                    lt.c.quantity,
                    lt.c.unit_price,
                    lt.c.unit_cost,
                    lt.c.discount,
                )
                .where(lt.c.order_id.in_(chunk))
                .order_by(lt.c.order_id, lt.c.line_no)
            ):
                ln, pid, q, p, c, d = vals
                old_lines.setdefault(oid, []).append(
                    (ln, pid, q, int(p * 100), int(c * 100), int(d * 100))
                )
        # Refunds of the orders being re-imported, in cents: (amount, cost of returned units).
        refunds: dict[int, list[tuple[int, int]]] = {}
        if old_ids:
            old_set = set(old_ids)
            for oid, amount, qty, unit_cost in conn.execute(
                select(
                    Refund.order_id, Refund.amount, Refund.quantity, OrderLine.unit_cost
                ).outerjoin(OrderLine, Refund.line_id == OrderLine.id)
            ):
                if oid in old_set:
                    returned = unit_cost * qty if unit_cost is not None else Decimal("0.00")
                    refunds.setdefault(oid, []).append((int(amount * 100), int(returned * 100)))
        new_orders: list[tuple] = []
        new_lines: list[list[tuple]] = []
        updates: list[dict] = []
        replace: list[tuple[int, list[tuple]]] = []
        unchanged = 0
        now = self.now
        numbered = self.idx.get("line_no") is not None
        for o in orders.values():
            if o.bad_line:
                self._reject_order(
                    o, f"order '{o.ext[:40]}' has an invalid line (line {o.bad_line})"
                )
                continue
            if numbered:
                o.lines.sort()
            old = existing.get(o.ext)
            discount = money(o.odisc)
            if old is not None:
                lines_same = old_lines.get(old.id, []) == o.lines
                head_same = (
                    old.customer_id == o.customer_id
                    and old.ordered_at == o.ordered_at
                    and old.status == o.status
                    and old.channel == o.channel
                    and old.discount == discount
                )
                if lines_same and head_same:
                    unchanged += 1
                    continue
                if old.status == "cancelled" and o.status != "cancelled":
                    self._reject_order(
                        o,
                        f"order '{o.ext[:40]}' is cancelled and cannot be reopened; "
                        "import it as a new order",
                        column=self.col("status"),
                    )
                    continue
                if not lines_same and refunds.get(old.id):
                    self._reject_order(
                        o,
                        f"order '{o.ext[:40]}' has refunds, so its lines cannot be replaced",
                        column=self.col("order_external_id"),
                    )
                    continue
            gross, revenue, cost, refunded = totals_cents(
                o.lines, o.odisc, refunds.get(old.id, ()) if old is not None else ()
            )
            if gross < 0:
                self._reject_order(
                    o,
                    "the order discount is larger than the order's lines",
                    column=self.col("order_discount"),
                    error=True,
                )
                continue
            if old is None:
                new_orders.append(
                    (
                        o.ext,
                        o.customer_id,
                        o.ordered_at,
                        o.status,
                        o.channel,
                        discount,
                        money(revenue),
                        money(cost),
                        money(revenue - cost),
                        money(refunded),
                        None,
                        now,
                        now,
                    )  # fmt: skip
                )
                new_lines.append(o.lines)
            else:
                updates.append(
                    {
                        "customer_id": o.customer_id,
                        "ordered_at": o.ordered_at,
                        "status": o.status,
                        "channel": o.channel,
                        "discount": discount,
                        "revenue": money(revenue),
                        "cost": money(cost),
                        "profit": money(revenue - cost),
                        "refunded": money(refunded),
                        "updated_at": now,
                        "b_id": old.id,
                    }
                )
                if not lines_same:
                    replace.append((old.id, o.lines))
        self.errors.sort(key=lambda e: e.row or 0)
        self.rejects.sort(key=lambda r: r[0])
        self._check_errors()
        n_lines = sum(map(len, new_lines)) + sum(len(ls) for _i, ls in replace)
        done = [0, len(new_orders) + len(updates) + n_lines]
        if streamed is not None:  # written while the file was read
            done[0] = len(streamed.ids) + streamed.lines
            done[1] += done[0]
            self.progress("writing", done[0], done[1])
        # New orders, then every new line: bulk writes (COPY on PostgreSQL).
        created_ids = self._insert_orders(conn, new_orders, done)
        if updates:
            stmt = update(t).where(t.c.id == bindparam("b_id")).values(version=t.c.version + 1)
            self._exec_many(stmt, updates, "writing", done)
        replaced_ids = [oid for oid, _l in replace]
        for chunk in _chunks(replaced_ids, IN_CHUNK):
            conn.execute(delete(lt).where(lt.c.order_id.in_(chunk)))
        owned = [*zip(created_ids, new_lines, strict=True), *replace]
        dec = _Money()  # line amounts repeat (a product's price): one Decimal per distinct amount
        if n_lines:
            base = done[0]
            insert_rows(
                conn,
                lt,
                LINE_COLUMNS,
                (
                    (oid, ln, pid, q, dec[p], dec[c], dec[d])
                    for oid, lines in owned
                    for ln, pid, q, p, c, d in lines
                ),
                progress=lambda k: self.progress("writing", base + k, done[1]),
                count=n_lines,
            )
            done[0] += n_lines
        if streamed is not None:
            created_ids = [*streamed.ids, *created_ids]
            n_lines += streamed.lines
        # New orders earn loyalty points like orders made in the API or web (one code path).
        emit("orders.imported", self.session, order_ids=created_ids, actor=None)
        # Updated orders (cancelled, lines changed) reverse what they earned, like a refund.
        emit("orders.updated", self.session, order_ids=[u["b_id"] for u in updates], actor=None)
        self.report.created = len(created_ids)
        self.report.updated = len(updates)
        self.report.unchanged = unchanged
        self.report.lines = n_lines

    def _insert_orders(self, conn: Any, new_orders: list[tuple], done: list[int]) -> list[int]:
        """Insert the new orders (tuples in ``ORDER_COLUMNS`` order); their ids, in that order.

        The ids are drawn first (:func:`~retento.dataio.bulk.next_ids`), then the rows are written
        with them, so nothing has to be read back and the lines can point at their orders."""
        if not new_orders:
            return []
        base = done[0]

        def step(k: int) -> None:
            self.progress("writing", base + k, done[1])

        t = Order.__table__
        ids = next_ids(conn, t, len(new_orders))
        rows = ((oid, *r) for oid, r in zip(ids, new_orders, strict=True))
        insert_rows(conn, t, ["id", *ORDER_COLUMNS], rows, progress=step, count=len(ids))
        done[0] += len(new_orders)
        return ids

    def _reject_order(
        self, o: _Order, message: str, *, column: str | None = None, error: bool = False
    ) -> None:
        """Reject every line of an order; ``error`` also reports it (else a line already did)."""
        if error or column is not None:
            self.errors.append(FieldError(column, message, row=o.first))
        for line, cells in o.raw:
            self.rejects.append((line, cells, ((None, message),)))


ORDER_COLUMNS = ["external_id", "customer_id", "ordered_at", "status", "channel", "discount",
                 "revenue", "cost", "profit", "refunded", "note", "created_at", "updated_at"]  # fmt: skip
LINE_COLUMNS = ["order_id", "line_no", "product_id", "quantity", "unit_price", "unit_cost",
                "discount"]  # fmt: skip


def totals_cents(
    lines: list[tuple], order_discount: int, refunds: Iterable[tuple[int, int]] = ()
) -> tuple[int, int, int, int]:
    """:func:`retento.orders.totals.order_totals` in integer cents, for lines as the importer
    holds them (``(line_no, product_id, quantity, price, cost, discount)``) and refunds as
    ``(amount, cost of returned units)``: returns gross, revenue, cost and refunded (profit is
    revenue − cost). The same arithmetic without a ``Decimal`` per figure (a million lines)."""
    gross = -order_discount
    cost = 0
    for _n, _pid, q, p, c, d in lines:
        gross += q * p - d
        cost += q * c
    refunded = 0
    for amount, returned_cost in refunds:
        refunded += amount
        cost -= returned_cost
    return gross, gross - refunded, cost, refunded


class _CopyMoney(dict):
    """Cents → the amount as COPY text ("12.30", "-0.05"), formatted once per distinct amount."""

    def __missing__(self, cents: int) -> str:
        if len(self) > 100_000:
            self.clear()
        a = abs(cents)
        s = self[cents] = f"{'-' if cents < 0 else ''}{a // 100}.{a % 100:02d}"
        return s


class _Money(dict):
    """Cents → ``money(cents)``, looked up without a Python call when the amount was seen."""

    def __missing__(self, cents: int) -> Decimal:
        if len(self) > 100_000:
            self.clear()
        d = self[cents] = money(cents)
        return d


class _Order:
    """An order being assembled from consecutive lines of the file."""

    __slots__ = (
        "ext",
        "first",
        "last",
        "cust_raw",
        "customer_id",
        "at_raw",
        "ordered_at",
        "chan_raw",
        "channel",
        "stat_raw",
        "status",
        "odisc_raw",
        "odisc",
        "lines",
        "line_nos",
        "raw",
        "bad_line",
    )

    def __init__(self, ext: str, line: int):
        self.ext = ext
        self.first = self.last = line
        self.cust_raw = self.at_raw = self.chan_raw = self.stat_raw = ""
        self.customer_id: int | None = None
        self.ordered_at: datetime | None = None
        self.channel, self.status = "store", "completed"
        self.odisc_raw: str | None = None
        self.odisc = 0
        self.lines: list[tuple] = []
        self.line_nos: dict[int, int] = {}
        self.raw: list[tuple[int, list[str]]] = []
        self.bad_line = 0
