"""Ids past 2^31 (migration 0032, ``core.types.BigId``).

* The models and the migrated schema agree (Alembic's autogenerate finds nothing to do) on
  SQLite and PostgreSQL.
* PostgreSQL: every id, foreign key and sequence is 64-bit; with every sequence moved past 2^31,
  real flows through the API (customer, order with lines, complaint, survey response and
  distribution, loyalty posting, touchpoint, retention alert, audit entry, work item, search,
  COPY import, scoring run) store ids past 2^31 and read them back by path.
* SQLite: an ``INTEGER PRIMARY KEY`` is still the rowid alias, numbering new rows past 2^31.
* Migration 0032 keeps views and materialised views that read the columns, and goes back down.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text

from retento.core.db import Base
from retento.core.migrate import downgrade, upgrade
from retento.core.types import ID_MAX
from retento.models import import_all_models
from tests.factories.raw_rows import insert_customer, insert_product

BIG = 2**31
BASE = 3_000_000_000  # every sequence starts past 2^31, each table 10M apart


# --- Models and schema ----------------------------------------------------------------------


def _pg_only_index(obj, name, type_, reflected, compare_to) -> bool:
    """Leave out the trigram GIN indexes on SQLite, where they do not exist (migration 0022)."""
    return not (type_ == "index" and obj.dialect_options["postgresql"].get("using") == "gin")


def test_models_match_the_migrated_schema(engine):
    import_all_models()
    opts = {"compare_type": True}
    if engine.dialect.name == "sqlite":
        opts["include_object"] = _pg_only_index
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)
    assert diff == []


def _id_columns():
    import_all_models()
    for table in Base.metadata.sorted_tables:
        for col in table.columns:
            if col.primary_key and col.name == "id" or col.foreign_keys:
                yield table.name, col


def test_every_id_and_foreign_key_is_64_bit(engine):
    insp = inspect(engine)
    types = {
        (t, c["name"]): str(c["type"]) for t in insp.get_table_names() for c in insp.get_columns(t)
    }
    found = list(_id_columns())
    assert len(found) > 150
    if engine.dialect.name == "sqlite":
        # INTEGER (exactly): the rowid alias that numbers new rows; 64-bit on SQLite.
        assert {types[(t, c.name)] for t, c in found} == {"INTEGER"}
        return
    assert {
        (t, c.name): types[(t, c.name)] for t, c in found if types[(t, c.name)] != "BIGINT"
    } == {}
    for t, c in (("mail_outbox", "related_id"), ("notifications", "subject_id")):
        assert types[(t, c)] == "BIGINT"
    with engine.connect() as conn:
        seqs = conn.execute(
            text(
                "SELECT seqrelid::regclass::text, seqtypid::regtype::text, seqmax FROM pg_sequence "
                "WHERE seqrelid::regclass::text NOT LIKE 'pg_%'"
            )
        ).all()
        funcs = conn.execute(
            text(
                "SELECT pg_get_function_identity_arguments(oid) FROM pg_proc "
                "WHERE proname = 'retento_search_refresh'"
            )
        ).scalars()
        assert list(funcs) == ["ids bigint[]"]
    assert len(seqs) > 60
    assert {(typ, mx) for _name, typ, mx in seqs} == {("bigint", ID_MAX)}


# --- PostgreSQL: real flows past 2^31 ---------------------------------------------------------


@pytest.fixture
def big(live_pg):
    """A live database whose every sequence is past 2^31, with one user per role and tokens."""
    from retento.auth.models import User
    from retento.auth.service import issue_token
    from tests.factories import make_user

    with live_pg.engine.begin() as conn:
        seqs = conn.execute(
            text(
                "SELECT c.oid::regclass::text FROM pg_class c "
                "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace ORDER BY 1"
            )
        ).scalars()
        for i, seq in enumerate(list(seqs)):
            conn.execute(text("SELECT setval(:s, :v)"), {"s": seq, "v": BASE + i * 10_000_000})
    headers = {}
    with live_pg.session() as s, s.begin():
        for role in ("admin", "manager", "agent"):
            user = make_user(s, username=role, role=role)
            _, plain = issue_token(s, user, name="test", actor=None)
            headers[role] = {"Authorization": f"Bearer {plain}"}
    with live_pg.session() as s:
        live_pg.user_ids = dict(s.execute(select(User.username, User.id)).all())
    live_pg.headers = headers
    return live_pg


def _ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def _big(*ids):
    for i in ids:
        assert isinstance(i, int) and BIG < i <= ID_MAX, i


def test_flows_past_2_31_through_the_api(big):
    h = big.headers
    agent_id = big.user_ids["agent"]
    _big(agent_id)
    with big.client() as api:
        # Customer (with a contact: the search triggers take bigint ids) and product.
        c = _ok(
            api.post(
                "/api/v1/customers",
                json={
                    "name": "Zhao Bigid",
                    "owner_id": agent_id,
                    "consent_email": True,
                    "contacts": [{"name": "Qian"}],
                },
                headers=h["manager"],
            ),
            201,
        )
        cid = c["id"]
        _big(cid)
        assert _ok(api.get(f"/api/v1/customers/{cid}", headers=h["agent"]))["owner_id"] == agent_id
        found = _ok(api.get("/api/v1/customers", params={"q": "bigid"}, headers=h["agent"]))
        assert [i["id"] for i in found["items"]] == [cid]
        found = _ok(api.get("/api/v1/customers", params={"q": str(cid)}, headers=h["agent"]))
        assert cid in [i["id"] for i in found["items"]]
        r = api.patch(
            f"/api/v1/customers/{cid}",
            json={"name": "Zhao Bigname", "version": c["version"]},
            headers=h["manager"],
        )
        _ok(r)
        found = _ok(api.get("/api/v1/customers", params={"q": "bigname"}, headers=h["agent"]))
        assert [i["id"] for i in found["items"]] == [cid]
        p = _ok(
            api.post(
                "/api/v1/products",
                json={"name": "Big Tea", "unit_price": "12.50", "unit_cost": "7.10"},
                headers=h["manager"],
            ),
            201,
        )
        _big(p["id"])

        # Order with lines, and a refund of one line.
        o = _ok(
            api.post(
                "/api/v1/orders",
                json={
                    "customer_id": cid,
                    "ordered_at": "2025-01-02T10:00:00+08:00",
                    "lines": [
                        {"product_id": p["id"], "quantity": 2, "unit_price": "12.50"},
                        {"product_id": p["id"], "quantity": 1, "unit_price": "9.00"},
                    ],
                },
                headers=h["manager"],
            ),
            201,
        )
        _big(o["id"])
        o = _ok(api.get(f"/api/v1/orders/{o['id']}", headers=h["agent"]))
        assert o["customer_id"] == cid and o["revenue"] == "34.00"
        line_ids = [ln["id"] for ln in o["lines"]]
        _big(*line_ids)
        assert [ln["product_id"] for ln in o["lines"]] == [p["id"], p["id"]]
        ref = _ok(
            api.post(
                f"/api/v1/orders/{o['id']}/refunds",
                json={"amount": "9.00", "line_id": line_ids[1], "quantity": 1},
                headers=h["manager"],
            ),
            201,
        )
        _big(ref["id"])
        orders = _ok(api.get("/api/v1/orders", params={"customer_id": cid}, headers=h["agent"]))
        assert [i["id"] for i in orders["items"]] == [o["id"]]

        # Complaint about the order, assigned to the agent.
        k = _ok(
            api.post(
                "/api/v1/complaints",
                json={
                    "customer_id": cid,
                    "subject": "Late",
                    "description": "Late delivery",
                    "category": "delivery",
                    "order_id": o["id"],
                    "product_id": p["id"],
                    "assignee_id": agent_id,
                },
                headers=h["manager"],
            ),
            201,
        )
        _big(k["id"])
        k = _ok(api.get(f"/api/v1/complaints/{k['id']}", headers=h["manager"]))
        assert (k["customer_id"], k["order_id"], k["assignee_id"]) == (cid, o["id"], agent_id)

        # Touchpoint.
        tp = _ok(
            api.post(
                "/api/v1/touchpoints",
                json={
                    "customer_id": cid,
                    "occurred_at": "2025-02-01T09:30:00Z",
                    "channel": "phone",
                    "stage": "after_sales",
                    "direction": "outbound",
                    "outcome": "resolved",
                },
                headers=h["agent"],
            ),
            201,
        )
        _big(tp["id"])
        tp = _ok(api.get(f"/api/v1/touchpoints/{tp['id']}", headers=h["agent"]))
        assert tp["customer_id"] == cid and tp["owner_id"] == agent_id

        # Survey: a distribution made by the work queue, and a response entered by phone.
        s = _ok(
            api.post(
                "/api/v1/surveys/from-template", json={"template": "standard"}, headers=h["manager"]
            ),
            201,
        )
        _big(s["id"])
        _ok(
            api.patch(f"/api/v1/surveys/{s['id']}", json={"status": "active"}, headers=h["manager"])
        )
        dist = _ok(
            api.post(
                f"/api/v1/surveys/{s['id']}/distributions",
                json={"segment": {"kind": "customers", "customer_ids": [cid]}},
                headers=h["manager"],
            ),
            202,
        )
        _big(dist["id"])
        run = _ok(api.get(dist["url"], headers=h["manager"]))
        assert run["status"] == "done" and len(run["links"]) == 1, str(run)
        work = _ok(api.get("/api/v1/work", headers=h["admin"]))["items"]
        assert work, "the distribution went through the work queue"
        _big(*(w["id"] for w in work))
        item = _ok(api.get(f"/api/v1/work/{work[0]['id']}", headers=h["admin"]))
        assert item["id"] == work[0]["id"] and item["status"] == "done"

        resp = _ok(
            api.post(
                f"/api/v1/surveys/{s['id']}/responses",
                json={
                    "customer_id": cid,
                    "channel": "phone",
                    "answers": [
                        {"question": "overall_satisfaction", "number": 5},
                        {"question": "intent_recommend", "number": 10},
                    ],
                },
                headers=h["agent"],
            ),
            201,
        )
        _big(resp["id"])
        resp = _ok(api.get(f"/api/v1/survey-responses/{resp['id']}", headers=h["manager"]))
        assert resp["customer_id"] == cid and resp["survey_id"] == s["id"]
        # Loyalty: a posting, read back by journal id and on the member.
        j = _ok(
            api.post(
                f"/api/v1/loyalty/members/{cid}/adjustments",
                json={"points": 500, "reason": "welcome"},
                headers=h["manager"],
            ),
            201,
        )
        _big(j["id"])
        assert (
            _ok(api.get(f"/api/v1/loyalty/journals/{j['id']}", headers=h["agent"]))["id"] == j["id"]
        )
        member = _ok(api.get(f"/api/v1/loyalty/members/{cid}", headers=h["agent"]))
        assert member["balance"] == 500

        # Retention: a churn-risk alert from a scored run.
        from tests.retention.helpers import make_run

        with big.session() as db, db.begin():
            make_run(db, {cid: {"value_class": "vip", "churn_risk": 0.9}})
        rep = _ok(
            api.post(
                "/api/v1/retention/evaluate",
                json={"rules": ["churn_risk"], "customer_ids": [cid]},
                headers=h["manager"],
            )
        )
        assert rep["created"] == 1, rep
        alerts = _ok(
            api.get("/api/v1/retention/alerts", params={"customer_id": cid}, headers=h["agent"])
        )["items"]
        assert len(alerts) == 1
        _big(alerts[0]["id"])
        alert = _ok(api.get(f"/api/v1/retention/alerts/{alerts[0]['id']}", headers=h["agent"]))
        assert alert["customer_id"] == cid and alert["owner_id"] == agent_id

        # Audit entries of the customer.
        audit = _ok(
            api.get(
                "/api/v1/audit",
                params={"entity": "customer", "entity_id": cid},
                headers=h["admin"],
            )
        )["items"]
        assert [a["action"] for a in audit] == ["update", "create"]
        _big(*(a["id"] for a in audit))

        # Past every id: still a 404, not a database error.
        for path in (f"/api/v1/customers/{ID_MAX}", f"/api/v1/orders/{ID_MAX + 1}"):
            assert api.get(path, headers=h["admin"]).status_code == 404


def test_copy_import_past_2_31(big):
    """The COPY paths store ids past 2^31: the import of customers, products and orders (their
    ids drawn from the sequence by the writer thread), and a scoring run's scores."""
    from retento.auth.models import User
    from retento.customers.models import Customer
    from retento.dataio import service
    from retento.orders.models import Order, OrderLine

    customers = "external_id,name\n" + "".join(f"X{i},Copy {i}\n" for i in range(12))
    products = "external_id,name,unit_price,unit_cost\nXP1,Cup,24.00,10.80\n"
    orders = "order_external_id,customer_external_id,ordered_at,product_external_id,quantity,unit_price\n"
    orders += "".join(
        f"XO{i},X{i % 12},2025-0{1 + i % 6}-01T10:00:00Z,XP1,{1 + i % 3},24.00\n" for i in range(48)
    )
    with big.session() as s, s.begin():
        admin = s.scalar(select(User).where(User.username == "admin"))
        for what, body in (("customers", customers), ("products", products), ("orders", orders)):
            service.import_file(s, what, body.encode(), name=f"{what}.csv", actor=admin)
    with big.session() as s:
        ids = s.scalars(select(Customer.id).where(Customer.external_id.like("X%"))).all()
        pairs = s.execute(select(Order.id, Order.customer_id)).all()
        lines = s.execute(select(OrderLine.id, OrderLine.order_id)).all()
    assert len(ids) == 12 and len(pairs) == 48 and len(lines) == 48
    _big(*ids, *(i for p in pairs for i in p), *(i for ln in lines for i in ln))
    with big.client() as api:
        o = _ok(api.get(f"/api/v1/orders/{pairs[0][0]}", headers=big.headers["agent"]))
        assert o["customer_id"] == pairs[0][1]
        run = _ok(
            api.post(
                "/api/v1/scoring/runs",
                json={"model": "bgnbd", "as_of": "2025-07-01T00:00:00Z"},
                headers=big.headers["manager"],
            ),
            201,
        )
        _big(run["id"])
        scores = _ok(api.get(f"/api/v1/customers/{ids[0]}/scores", headers=big.headers["agent"]))
        assert scores and scores[0]["run_id"] == run["id"], scores


# --- SQLite: the rowid alias past 2^31 ----------------------------------------------------------


def test_rowid_alias_numbers_past_2_31(backend, client, db, tokens):
    """A customer made with an id past 2^31; the next ones are numbered after it (SQLite's
    rowid alias, PostgreSQL's sequence moved past it), and its children refer to it."""
    from tests.factories import make_customer, make_product

    c = make_customer(db, id=BASE + 1)
    p = make_product(db, id=BASE + 2)
    db.commit()
    h = tokens["manager"]
    seq = "SELECT pg_get_serial_sequence('customers', 'id')"
    if backend == "postgres":
        # The sequence does not know about the explicit id (nor rolls back: put back after).
        seq = db.scalar(text(seq))
        before = db.execute(text(f"SELECT last_value, is_called FROM {seq}")).one()
        db.execute(text("SELECT setval(:s, :v)"), {"s": seq, "v": BASE + 1})
    try:
        nxt = _ok(client.post("/api/v1/customers", json={"name": "Next"}, headers=h), 201)
    finally:
        if backend == "postgres":
            db.execute(
                text("SELECT setval(:s, :v, :c)"), {"s": seq, "v": before[0], "c": before[1]}
            )
    assert nxt["id"] == BASE + 2
    o = _ok(
        client.post(
            "/api/v1/orders",
            json={
                "customer_id": c.id,
                "ordered_at": "2025-01-02T10:00:00Z",
                "lines": [{"product_id": p.id, "quantity": 1, "unit_price": "5.00"}],
            },
            headers=h,
        ),
        201,
    )
    got = _ok(client.get(f"/api/v1/orders/{o['id']}", headers=h))
    assert got["customer_id"] == BASE + 1 and got["lines"][0]["product_id"] == BASE + 2
    assert _ok(client.get(f"/api/v1/customers/{BASE + 1}", headers=h))["id"] == BASE + 1
    tp = _ok(
        client.post(
            "/api/v1/touchpoints",
            json={
                "customer_id": c.id,
                "occurred_at": "2025-02-01T09:30:00Z",
                "channel": "phone",
                "stage": "after_sales",
                "direction": "inbound",
                "outcome": "resolved",
            },
            headers=h,
        ),
        201,
    )
    assert tp["customer_id"] == BASE + 1


# --- Migration 0032 ---------------------------------------------------------------------------


def _type(eng, table: str, column: str) -> str:
    return next(str(c["type"]) for c in inspect(eng).get_columns(table) if c["name"] == column)


VIEWS = [
    # A view reading an altered column, one on top of it, and a materialised view with an
    # index, a comment and a grant; '%' and ':' in the definitions must survive.
    "CREATE VIEW big_orders AS SELECT o.id, o.customer_id, c.name FROM orders o "
    "JOIN customers c ON c.id = o.customer_id WHERE c.name LIKE '%a%' AND o.note::text IS NULL",
    "CREATE VIEW big_orders_count AS SELECT customer_id, count(*) AS n FROM big_orders "
    "GROUP BY customer_id",
    "CREATE MATERIALIZED VIEW big_lines AS SELECT order_id, sum(quantity) AS q FROM order_lines "
    "GROUP BY order_id",
    "CREATE UNIQUE INDEX big_lines_order ON big_lines (order_id)",
    "COMMENT ON MATERIALIZED VIEW big_lines IS 'units per order'",
    "GRANT SELECT ON big_lines TO PUBLIC",
]


def test_migration_0032_keeps_views_and_goes_back_down(backend, scratch_db_url):
    url = scratch_db_url
    pg = backend == "postgres"
    upgrade(url, "0031")
    eng = create_engine(url)
    now = datetime.now(UTC) - timedelta(days=1)
    with eng.begin() as conn:
        insert_customer(conn, 7, now)
        insert_product(conn, 3, now)
        conn.execute(
            text(
                "INSERT INTO orders (id, customer_id, ordered_at, status, channel, discount, "
                "revenue, cost, profit, refunded, created_at, updated_at, version) "
                "VALUES (11, 7, :t, 'completed', 'store', 0, 2, 1, 1, 0, :t, :t, 1)"
            ),
            {"t": now},
        )
        conn.execute(
            text(
                "INSERT INTO order_lines (order_id, line_no, product_id, quantity, "
                "unit_price, unit_cost, discount) VALUES (11, 1, 3, 2, 1, 1, 0)"
            )
        )
        if pg:
            with conn.connection.driver_connection.cursor() as cur:
                for sql in VIEWS:
                    cur.execute(sql)
    assert _type(eng, "orders", "customer_id") == "INTEGER"
    eng.dispose()

    upgrade(url, "0032")
    eng = create_engine(url)
    assert _type(eng, "orders", "customer_id") == ("BIGINT" if pg else "INTEGER")
    with eng.begin() as conn:
        assert conn.execute(text("SELECT id, customer_id FROM orders")).one() == (11, 7)
        if pg:
            assert conn.execute(text("SELECT * FROM big_orders")).one() == (11, 7, "Ava")
            assert conn.execute(text("SELECT * FROM big_orders_count")).one() == (7, 1)
            assert conn.execute(text("SELECT * FROM big_lines")).one() == (11, 2)
            assert _type(eng, "big_orders", "id") == "BIGINT"
            assert conn.execute(
                text(
                    "SELECT obj_description('big_lines'::regclass, 'pg_class'), "
                    "has_table_privilege('public', 'big_lines', 'SELECT'), "
                    "(SELECT count(*) FROM pg_indexes WHERE indexname = 'big_lines_order')"
                )
            ).one() == ("units per order", True, 1)
            # A row past 2^31 everywhere: ids, the foreign keys, the sequence.
            conn.execute(text("SELECT setval('orders_id_seq', :v)"), {"v": BIG + 5})
            new = conn.execute(
                text(
                    "INSERT INTO orders (customer_id, ordered_at, status, channel, discount, "
                    "revenue, cost, profit, refunded, created_at, updated_at, version) "
                    "VALUES (7, now(), 'completed', 'store', 0, 0, 0, 0, 0, now(), now(), 1) "
                    "RETURNING id"
                )
            ).scalar()
            assert new == BIG + 6
            conn.execute(text("DELETE FROM orders WHERE id = :i"), {"i": new})
            conn.execute(text("SELECT setval('orders_id_seq', 11)"))
    eng.dispose()

    downgrade(url, "0031")
    eng = create_engine(url)
    assert _type(eng, "orders", "customer_id") == "INTEGER"
    if pg:
        with eng.connect() as conn:
            assert conn.execute(text("SELECT * FROM big_orders")).one() == (11, 7, "Ava")
            typ = conn.execute(
                text(
                    "SELECT seqtypid::regtype::text FROM pg_sequence "
                    "WHERE seqrelid = 'orders_id_seq'::regclass"
                )
            ).scalar()
            assert typ == "integer"
    eng.dispose()
    upgrade(url)
