"""Column types shared by every domain's tables.

``BigId`` is the type of every surrogate primary key and of every column that holds one (foreign
keys, and the few id columns that point at a row without a constraint, such as
``mail_outbox.related_id``). History tables (orders, order lines, events, touchpoints, the audit
log, the loyalty ledger, work items, notifications, the mail outbox) pass 2³¹ rows over a long
life, and a 32-bit key then stops every insert.

* PostgreSQL: ``BIGINT`` (``BIGSERIAL`` for a new table's primary key; migration 0032 turned the
  existing columns and their sequences to 64 bits).
* SQLite: ``INTEGER``, which is already 64 bits there; an ``INTEGER PRIMARY KEY`` must stay
  spelled ``INTEGER`` to remain the rowid alias that numbers new rows itself (``BIGINT PRIMARY
  KEY`` would not).

Counters, quantities, day counts and points stay ``Integer`` where the API bounds them far below
2³¹ (points: ``loyalty.ledger.MAX_POINTS`` = 10⁹; the ledger's own sums are ``BigInteger``).
Money is ``Numeric(14, 2)`` (``core.db.MoneyColumn``), never an integer of cents in a column.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer

BigId = BigInteger().with_variant(Integer(), "sqlite")
"""A row id or a reference to one: ``BIGINT`` on PostgreSQL, ``INTEGER`` on SQLite."""

ID_MAX = 2**63 - 1
"""The largest id a ``BigId`` column holds (on both backends)."""
