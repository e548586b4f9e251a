"""Migration 0054 (ids never reused on SQLite for records named by id without a foreign key)
goes up from 0053 with rows, a deleted newest customer, and soft references to records
deleted before it (audit entries, a queued mail, notifications, a loyalty journal, a retention
alert's cause, work items, a digest, a merged duplicate's pointer):

* SQLite: every listed table is AUTOINCREMENT, every row, index and trigger is kept, the
  database checks clean, and each table numbers new rows past its highest id and past the
  highest id still referred to; a row deleted afterwards leaves its id unused too. Down keeps
  the data and removes AUTOINCREMENT; up again works.
* PostgreSQL: nothing changes (a sequence never hands out an id twice): rows kept, numbering
  past the deleted customer.
* The models declare ``sqlite_autoincrement`` for exactly the tables the migrations made so.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from retento.core.db import Base, make_engine
from retento.core.migrate import downgrade, upgrade
from retento.models import import_all_models

NOW = datetime(2026, 12, 7, tzinfo=UTC)
M0054 = importlib.import_module("retento.migrations.versions.0054_never_reused_ids")
TABLES = list(M0054.TABLES)
# What the soft references below name, past every row left in those tables.
REFERENCED = {
    "customers": 12,  # a merged duplicate's pointer (the audit entry names 7)
    "products": 15,  # audit entries
    "orders": 5,  # a loyalty journal's source
    "survey_invitations": 9,  # a queued invitation mail
    "complaints": 4,  # a notification's subject
    "import_jobs": 6,  # an import notification's dedupe key
    "survey_responses": 8,  # a retention alert's cause
    "survey_distributions": 11,  # a work item
    "retention_cases": 1107,  # a batch work item "retention_cases:405-1107"
    "mail_outbox": 20,  # a daily digest
}


def _customer(conn, name: str, fields: str = "{}") -> int:
    """A customer numbered by the database, as the app makes one."""
    return conn.execute(
        text(
            "INSERT INTO customers (kind, party_type, name, name_key, consent_email, "
            "consent_sms, consent_phone, consent_profiling, custom_fields, created_at, "
            "updated_at) VALUES ('consumer', 'person', :n, :k, false, false, false, "
            "false, :f, :t, :t) RETURNING id"
        ),
        {"n": name, "k": name.lower(), "f": fields, "t": NOW},
    ).scalar_one()


def _product(conn, name: str) -> int:
    return conn.execute(
        text(
            "INSERT INTO products (name, unit_price, unit_cost, is_active, created_at, "
            "updated_at, version) VALUES (:n, 1, 1, true, :t, :t, 1) RETURNING id"
        ),
        {"n": name, "t": NOW},
    ).scalar_one()


def _order(conn, customer_id: int) -> int:
    return conn.execute(
        text(
            "INSERT INTO orders (customer_id, ordered_at, status, channel, discount, revenue, "
            "cost, profit, refunded, created_at, updated_at, version) VALUES (:c, :t, "
            "'completed', 'store', 0, 2, 1, 1, 0, :t, :t, 1) RETURNING id"
        ),
        {"c": customer_id, "t": NOW},
    ).scalar_one()


def _fill(conn) -> None:
    """Rows at 0053: customers 1-3 (3 then deleted), products 1-2, orders 1-2, and references
    to records that no longer exist (``REFERENCED``)."""
    user = conn.execute(
        text(
            "INSERT INTO users (username, display_name, role, password_hash, is_active, locale, "
            "created_at, updated_at) VALUES ('ops', 'Ops', 'admin', 'x', true, 'en', :t, :t) "
            "RETURNING id"
        ),
        {"t": NOW},
    ).scalar_one()
    first = _customer(conn, "Ann")
    _customer(conn, "Ben", '{"merged_into": 12}')
    newest = _customer(conn, "Cat")
    assert (first, newest) == (1, 3)
    assert [_product(conn, n) for n in ("Tea", "Cup")] == [1, 2]
    assert [_order(conn, first) for _ in range(2)] == [1, 2]
    audit = (
        "INSERT INTO audit_log (at, actor_name, action, entity, entity_id) "
        "VALUES (:t, 'ops', 'create', :e, :i)"
    )
    for entity, eid in (
        ("customer", "3"),
        ("customer", "7"),
        ("product", "15"),
        ("product", "9"),
        ("product", "not-a-number"),
        ("import", None),
    ):
        conn.execute(text(audit), {"t": NOW, "e": entity, "i": eid})
    conn.execute(
        text(
            "INSERT INTO mail_outbox (recipient, subject, body_text, locale, kind, related_type, "
            "related_id, status, attempts, next_attempt_at, created_at) VALUES ('a@example.com', "
            "'Survey', 'Go: [[link]]', 'en', 'survey_invitation', 'survey_invitation', 9, "
            "'queued', 0, :t, :t)"
        ),
        {"t": NOW},
    )
    notice = (
        "INSERT INTO notifications (user_id, kind, message, subject_type, subject_id, delivery, "
        "dedupe_key, created_at) VALUES (:u, :k, 'm', :st, :si, 'in_app', :d, :t)"
    )
    for kind, st, si, key in (
        ("complaint_assigned", "complaint", 4, "complaint_assigned:c4:1"),
        ("import_finished", "import", None, f"import_finished:job:6:{user}"),
    ):
        conn.execute(text(notice), {"u": user, "k": kind, "st": st, "si": si, "d": key, "t": NOW})
    conn.execute(
        text(
            "INSERT INTO notification_digests (user_id, day, items, outbox_id, created_at) "
            "VALUES (:u, '2026-12-06', 3, 20, :t)"
        ),
        {"u": user, "t": NOW},
    )
    conn.execute(
        text(
            "INSERT INTO loyalty_journals (kind, source_type, source_id, reason, created_at) "
            "VALUES ('earn', 'order', '5', 'Order 5', :t)"
        ),
        {"t": NOW},
    )
    conn.execute(
        text(
            "INSERT INTO retention_alerts (customer_id, rule, cause_key, severity, reason_code, "
            "reason_params, value_class, status, created_at) VALUES (1, 'survey', 'survey:8', "
            "'high', 'detractor', '{}', 'key', 'open', :t)"
        ),
        {"t": NOW},
    )
    for ref in ("survey_distribution:11", "retention_cases:405-1107", "score_run:99999"):
        conn.execute(
            text(
                "INSERT INTO work_items (kind, ref, payload, status, progress, attempts, "
                "created_at) VALUES ('x', :r, '{}', 'done', 1, 1, :t)"
            ),
            {"r": ref, "t": NOW},
        )
    conn.execute(text("DELETE FROM customers WHERE id = :i"), {"i": newest})


def _rows(url: str) -> dict[str, list]:
    """Every row of the listed tables and of the tables referring to them softly."""
    eng = make_engine(url)
    out = {}
    with eng.connect() as conn:
        for table in [*TABLES, "audit_log", "notifications", "notification_digests", "work_items"]:
            out[table] = [
                tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))
            ]
    eng.dispose()
    return out


def _plain(value):
    """Reflected data comparable with ``==`` (types and clauses as their SQL text)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _schema(url: str) -> dict:
    """Indexes, triggers and columns of the listed tables (SQLite: from sqlite_master)."""
    eng = make_engine(url)
    insp = inspect(eng)
    out = {
        t: _plain((insp.get_columns(t), insp.get_indexes(t), insp.get_foreign_keys(t)))
        for t in TABLES
    }
    if url.startswith("sqlite"):
        with eng.connect() as conn:
            out["_objects"] = conn.execute(
                text(
                    "SELECT type, name, tbl_name, sql FROM sqlite_master "
                    "WHERE type IN ('index', 'trigger', 'view') ORDER BY name"
                )
            ).all()
    eng.dispose()
    return out


def _sqlite_state(url: str) -> tuple[set[str], dict[str, int], list, list]:
    """AUTOINCREMENT tables, sqlite_sequence, integrity_check and foreign_key_check."""
    eng = make_engine(url)
    with eng.connect() as conn:
        auto = {
            name
            for name, sql in conn.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
            )
            if "AUTOINCREMENT" in (sql or "")
        }
        seq = dict(conn.execute(text("SELECT name, seq FROM sqlite_sequence")).all())
        checked = conn.execute(text("PRAGMA integrity_check")).scalars().all()
        fks = conn.execute(text("PRAGMA foreign_key_check")).all()
    eng.dispose()
    return auto, seq, checked, fks


def test_ids_number_past_every_id_used_or_referred_to_and_rows_are_kept(scratch_db_url):
    url = scratch_db_url
    sqlite = url.startswith("sqlite")
    upgrade(url, "0053")
    eng = make_engine(url)
    with eng.begin() as conn:
        _fill(conn)
    eng.dispose()
    before, schema = _rows(url), _schema(url)
    assert [r[0] for r in before["customers"]] == [1, 2]
    if sqlite:
        auto, seq, _, _ = _sqlite_state(url)
        assert auto == {"insight_segments"} and "customers" not in seq

    upgrade(url, "0054")
    assert _rows(url) == before
    if sqlite:
        auto, seq, checked, fks = _sqlite_state(url)
        assert auto == {"insight_segments", *TABLES}
        assert (checked, fks) == (["ok"], [])
        assert {t: seq[t] for t in REFERENCED} == REFERENCED
        # The others: past their highest id (the journal, the alert), or from 1 when empty.
        unreferenced = {t: seq.get(t) for t in TABLES if t not in REFERENCED}
        assert unreferenced == {t: None for t in unreferenced} | {
            "loyalty_journals": 1,
            "retention_alerts": 1,
        }
        assert _schema(url) == schema  # columns, indexes, foreign keys, triggers
    else:
        assert _schema(url) == schema

    eng = make_engine(url)
    with eng.begin() as conn:
        if sqlite:
            assert _customer(conn, "Dan") == 13  # past the pointer to 12, not 3 again
            assert _product(conn, "Pot") == 16  # past audit entries of product 15
            assert _order(conn, 1) == 6  # past the journal of order 5
        else:
            assert _customer(conn, "Dan") == 4  # the sequence: past the deleted 3
            assert _product(conn, "Pot") == 3
            assert _order(conn, 1) == 3
        dan = conn.execute(text("SELECT max(id) FROM customers")).scalar()
        # The search triggers still fire on the table whose definition changed.
        assert conn.execute(
            text("SELECT count(*) FROM customer_search WHERE customer_id = :i"), {"i": dan}
        ).scalar()
        conn.execute(text("DELETE FROM customers WHERE id = :i"), {"i": dan})
        assert _customer(conn, "Eve") == dan + 1  # nor the one deleted just now
        # Foreign keys still hold: an order of a customer that does not exist is refused.
        with pytest.raises(IntegrityError), conn.begin_nested():
            _order(conn, dan)
    eng.dispose()

    kept = _rows(url)
    downgrade(url, "0053")
    assert _rows(url) == kept
    if sqlite:
        auto, seq, checked, fks = _sqlite_state(url)
        assert auto == {"insight_segments"} and not set(seq) & set(TABLES)
        assert (checked, fks) == (["ok"], [])
    upgrade(url, "0054")
    assert _rows(url) == kept
    upgrade(url)  # the later migrations apply on top (some add columns to these tables: 0057)
    if sqlite:
        auto, seq, checked, _ = _sqlite_state(url)
        assert auto >= set(TABLES) and checked == ["ok"]
        assert seq["customers"] == 14 and seq["products"] == 16


def test_models_declare_the_tables_the_migrations_made_autoincrement(engine):
    """``sqlite_autoincrement`` in a model's ``__table_args__`` and AUTOINCREMENT in the
    migrated SQLite table agree (autogenerate does not compare it); on PostgreSQL each of
    those tables numbers its ids from a sequence."""
    import_all_models()
    declared = {
        t.name for t in Base.metadata.sorted_tables if t.dialect_options["sqlite"]["autoincrement"]
    }
    assert declared == {"insight_segments", *TABLES}
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            made = {
                name
                for name, sql in conn.execute(
                    text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
                )
                if "AUTOINCREMENT" in (sql or "")
            }
            assert made == declared
        else:
            seqs = {
                t: conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": t}).scalar()
                for t in declared
            }
            assert all(seqs.values()), seqs
