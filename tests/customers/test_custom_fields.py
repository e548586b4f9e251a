"""Custom field definitions (administrators) and the values checked against them: the API, the
service, the customer list's filter. On both backends."""

from __future__ import annotations

from sqlalchemy import event, select

from retento.audit.models import AuditEntry
from retento.customers import service
from retento.customers.field_defs import FieldDefinitionCreate, create_definition
from retento.customers.models import Customer
from retento.customers.schemas import CustomerUpdate
from tests.factories import make_customer, make_user

FIELDS = [
    {"key": "tier", "label": "Tier", "label_zh": "等级", "field_type": "choice",
     "options": [{"value": "Gold", "label_zh": "金卡"}, {"value": "Silver"}]},
    {"key": "vip", "label": "VIP", "label_zh": "贵宾", "field_type": "boolean"},
    {"key": "budget", "label": "Budget", "field_type": "number"},
    {"key": "first_visit", "label": "First visit", "field_type": "date"},
    {"key": "store", "label": "Preferred store", "field_type": "text", "required": True},
]  # fmt: skip


BUILT_IN = ["wallet_spend", "no_alternative", "affiliated", "language"]  # migration 0049


def define(db, admin, fields=FIELDS):
    out = [create_definition(db, FieldDefinitionCreate(**f), actor=admin) for f in fields]
    db.commit()
    return out


def _errors(r) -> dict[str, str]:
    return {e["field"]: e["message"] for e in r.json().get("errors", [])}


def test_an_admin_defines_fields_through_the_api_and_others_read_them(client, tokens, db):
    r = client.post("/api/v1/customer-fields", json=FIELDS[0], headers=tokens["admin"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["key"] == "tier" and body["options"][0] == {"value": "Gold", "label_zh": "金卡"}
    # after the four built-in fields of migration 0049 (positions 10-40)
    assert body["position"] == 50 and body["version"] == 1 and body["active"] is True
    # the same request again (a retry) returns the field; other content under the key is 409
    again = client.post("/api/v1/customer-fields", json=FIELDS[0], headers=tokens["admin"])
    assert again.status_code == 201 and again.json()["id"] == body["id"]
    other = client.post(
        "/api/v1/customer-fields",
        json={**FIELDS[0], "label": "Level"},
        headers=tokens["admin"],
    )
    assert other.status_code == 409 and other.json()["field"] == "key"
    # managers, agents and analysts read them; only administrators define them
    for role in ("manager", "agent", "analyst"):
        assert client.get("/api/v1/customer-fields", headers=tokens[role]).status_code == 200
    denied = client.post("/api/v1/customer-fields", json=FIELDS[1], headers=tokens["manager"])
    assert denied.status_code == 403
    entry = db.scalar(select(AuditEntry).where(AuditEntry.entity == "custom_field"))
    assert entry.action == "create" and entry.entity_id == str(body["id"])


def test_bad_definitions_are_422_naming_the_field(client, tokens):
    h = tokens["admin"]
    cases = [
        ({"key": "Bad Key", "label": "x", "field_type": "text"}, "key"),
        ({"key": "ok", "label": "x", "field_type": "colour"}, "field_type"),
        ({"key": "ok", "label": "x", "field_type": "choice"}, None),
        ({"key": "ok", "label": "x", "field_type": "text", "options": [{"value": "a"}]}, None),
        ({"key": "ok", "label": "x", "field_type": "choice",
          "options": [{"value": "a"}, {"value": "A"}]}, "options"),
    ]  # fmt: skip
    for payload, field in cases:
        r = client.post("/api/v1/customer-fields", json=payload, headers=h)
        assert r.status_code == 422, (payload, r.text)
        if field:
            assert r.json()["field"] == field, r.text


def test_edits_are_versioned_key_and_type_fixed_and_audited(client, tokens, db):
    h = tokens["admin"]
    fid = client.post("/api/v1/customer-fields", json=FIELDS[0], headers=h).json()["id"]
    r = client.patch(
        f"/api/v1/customer-fields/{fid}",
        json={"version": 1, "label_zh": "会员等级", "options": [{"value": "Gold"}]},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["version"] == 2, r.text
    assert r.headers["ETag"] == '"2"'
    stale = client.patch(
        f"/api/v1/customer-fields/{fid}", json={"version": 1, "label": "Old"}, headers=h
    )
    assert stale.status_code == 409
    stale = client.patch(
        f"/api/v1/customer-fields/{fid}", json={"active": False}, headers={**h, "If-Match": '"1"'}
    )
    assert stale.status_code == 409
    for fixed in ({"key": "level"}, {"field_type": "text"}):
        assert (
            client.patch(f"/api/v1/customer-fields/{fid}", json=fixed, headers=h).status_code == 422
        )
    empty = client.patch(f"/api/v1/customer-fields/{fid}", json={"options": []}, headers=h)
    assert empty.status_code == 422 and empty.json()["field"] == "options"
    actions = db.scalars(
        select(AuditEntry.action).where(AuditEntry.entity == "custom_field").order_by(AuditEntry.id)
    ).all()
    assert actions == ["create", "update"]


def test_customer_values_are_checked_and_stored_in_their_json_shape(client, tokens, db, users):
    define(db, users["admin"])
    h = tokens["manager"]
    r = client.post(
        "/api/v1/customers",
        json={
            "name": "Typed",
            "custom_fields": {
                "tier": "Gold",
                "vip": "yes",
                "budget": 1234.5,
                "first_visit": "2025-03-01",
                "store": " Pudong ",
            },
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert r.json()["custom_fields"] == {
        "tier": "Gold",
        "vip": True,
        "budget": "1234.5",
        "first_visit": "2025-03-01",
        "store": "Pudong",
    }
    cid = r.json()["id"]
    r = client.patch(
        f"/api/v1/customers/{cid}",
        json={"custom_fields": {"store": "Xuhui", "budget": "0.10", "tier": ""}},
        headers=h,
    )
    assert r.status_code == 200
    assert r.json()["custom_fields"] == {"store": "Xuhui", "budget": "0.10"}


def test_bad_values_are_422_naming_custom_fields_key(client, tokens, db, users):
    define(db, users["admin"])
    h = tokens["manager"]
    bad = {
        "tier": "Platinum",
        "vip": "maybe",
        "budget": "lots",
        "first_visit": "01/03/2025",
        "colour": "red",
    }
    r = client.post("/api/v1/customers", json={"name": "Bad", "custom_fields": bad}, headers=h)
    assert r.status_code == 422
    errors = _errors(r)
    assert set(errors) == {f"custom_fields.{k}" for k in [*bad, "store"]}
    assert "not one of: Gold, Silver" in errors["custom_fields.tier"]
    assert "No custom field 'colour' is defined" in errors["custom_fields.colour"]
    assert errors["custom_fields.store"] == "This field is required."
    assert r.json()["field"].startswith("custom_fields.")
    assert db.query(Customer).filter_by(name="Bad").count() == 0
    for value in (True, ["x"], 12):  # text must be text
        r = client.post(
            "/api/v1/customers",
            json={"name": "Bad", "custom_fields": {"store": value}},
            headers=h,
        )
        assert r.status_code == 422 and r.json()["field"] == "custom_fields.store"


def test_stored_values_without_a_definition_survive_edits_but_none_are_added(
    client, tokens, db, users
):
    """Values from before the definitions (and system keys such as merged_into) are kept by an
    edit that leaves them alone; a new undefined key is refused."""
    define(db, users["admin"], FIELDS[:2])
    c = make_customer(db, name="Legacy", custom_fields={"segment": "food", "score": 7})
    db.commit()
    h = tokens["manager"]
    r = client.patch(f"/api/v1/customers/{c.id}", json={"city": "Hangzhou"}, headers=h)
    assert r.status_code == 200 and r.json()["custom_fields"] == {"segment": "food", "score": 7}
    kept = {"segment": "food", "score": 7, "tier": "Silver"}
    r = client.patch(f"/api/v1/customers/{c.id}", json={"custom_fields": kept}, headers=h)
    assert r.status_code == 200 and r.json()["custom_fields"] == kept
    r = client.patch(
        f"/api/v1/customers/{c.id}",
        json={"custom_fields": {**kept, "segment": "drinks", "new_key": "x"}},
        headers=h,
    )
    assert r.status_code == 422
    assert set(_errors(r)) == {"custom_fields.segment", "custom_fields.new_key"}
    # removing one is an edit too
    r = client.patch(
        f"/api/v1/customers/{c.id}", json={"custom_fields": {"tier": "Silver"}}, headers=h
    )
    assert r.status_code == 200 and r.json()["custom_fields"] == {"tier": "Silver"}


def test_a_retired_field_keeps_its_values_but_takes_no_new_ones(client, tokens, db, users):
    tier, vip = define(db, users["admin"], FIELDS[:2])
    c = make_customer(db, name="Retiree", custom_fields={"tier": "Gold"})
    db.commit()
    r = client.patch(
        f"/api/v1/customer-fields/{tier.id}", json={"active": False}, headers=tokens["admin"]
    )
    assert r.status_code == 200 and r.json()["active"] is False
    active = client.get("/api/v1/customer-fields", params={"active": True}, headers=tokens["agent"])
    assert [f["key"] for f in active.json()] == [*BUILT_IN, "vip"]
    h = tokens["manager"]
    same = {"tier": "Gold", "vip": False}
    r = client.patch(f"/api/v1/customers/{c.id}", json={"custom_fields": same}, headers=h)
    assert r.status_code == 200 and r.json()["custom_fields"] == same
    r = client.patch(
        f"/api/v1/customers/{c.id}", json={"custom_fields": {"tier": "Silver"}}, headers=h
    )
    assert r.status_code == 422 and r.json()["field"] == "custom_fields.tier"


def test_a_field_made_required_later_does_not_block_edits_that_leave_custom_fields(db, users):
    define(db, users["admin"])
    c = make_customer(db, name="Before", custom_fields={})
    db.commit()
    got = service.update_customer(db, c.id, CustomerUpdate(city="Suzhou"), actor=users["admin"])
    assert got.city == "Suzhou" and got.custom_fields == {}


def test_the_list_filters_by_a_choice_or_yes_no_field(client, tokens, db, users):
    define(db, users["admin"], FIELDS[:2])
    gold = make_customer(db, name="Gold one", custom_fields={"tier": "Gold", "vip": True})
    silver = make_customer(db, name="Silver one", custom_fields={"tier": "Silver", "vip": False})
    none = make_customer(db, name="Nothing", custom_fields={"vip": 1})
    db.commit()
    h = tokens["analyst"]

    def ids(field):
        r = client.get("/api/v1/customers", params={"field": field, "limit": 50}, headers=h)
        assert r.status_code == 200, r.text
        return {i["id"] for i in r.json()["items"]} & {gold.id, silver.id, none.id}

    assert ids("tier:Gold") == {gold.id}
    assert ids("tier:Silver") == {silver.id}
    assert ids("vip:yes") == {gold.id}
    # "no": false, or no yes/no value at all (the number 1 is not a yes)
    assert ids("vip:no") == {silver.id, none.id}
    for wrong in ("tier:Bronze", "nope:x", "vip:maybe", "tier"):
        r = client.get("/api/v1/customers", params={"field": wrong}, headers=h)
        assert r.status_code == 422 and r.json()["field"] == "field"


def test_the_filter_matches_typed_values_only_on_both_backends(client, tokens, db, users):
    """A value stored before the definitions (0049) in another JSON type is neither the choice
    nor "yes" (the text "true", the number 1 for option "1"), and is "no": the same on SQLite
    and PostgreSQL, where the positive filters are containment tests (migration 0052)."""
    define(db, users["admin"], [{**FIELDS[0], "options": [{"value": "1"}]}, FIELDS[1]])
    typed = make_customer(db, name="Typed", custom_fields={"tier": "1", "vip": True})
    legacy = make_customer(db, name="Legacy", custom_fields={"tier": 1, "vip": "true"})
    db.commit()

    def ids(field):
        r = client.get("/api/v1/customers", params={"field": field}, headers=tokens["analyst"])
        assert r.status_code == 200, r.text
        return {i["id"] for i in r.json()["items"]} & {typed.id, legacy.id}

    assert ids("tier:1") == {typed.id}
    assert ids("vip:yes") == {typed.id}
    assert ids("vip:no") == {legacy.id}


def test_the_list_s_filtered_page_and_count_read_the_custom_fields_index(live_pg):
    """Migration 0052: on PostgreSQL the list's count and page for a choice and for "yes" read
    ``ix_customers_custom_fields``; "no", a negation, cannot. On a few hundred rows PostgreSQL
    would rather scan the table, so it is told not to (with 1,000,000 customers it picks the
    index itself: docs/benchmarks.md). GIN's cost estimate reads counts that VACUUM keeps in
    the index (a never-vacuumed one looks dearer than a walk of a b-tree over every row), and
    VACUUM cannot run in a test's rolled-back transaction: hence a throw-away database."""
    with live_pg.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql(
            "INSERT INTO customers (name, name_key, party_type, kind, consent_email, "
            "consent_sms, consent_phone, consent_profiling, custom_fields, created_at, "
            "updated_at, version) SELECT 'C' || g, 'c' || g, 'person', 'consumer', false, "
            "false, false, false, json_build_object('tier', (ARRAY['Gold', 'Silver', 'Tin', "
            "'Iron', 'Wood'])[1 + mod(g, 5)], 'vip', mod(g, 50) = 0), now(), now(), 1 "
            "FROM generate_series(1, 300) AS g"
        )
        conn.exec_driver_sql("VACUUM ANALYZE customers")

    with live_pg.session() as db:
        analyst = make_user(db, role="analyst")
        conn = db.connection()
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")

        def plans(custom_field) -> list[str]:
            sent = []

            def keep(_conn, _cursor, statement, parameters, _context, _many):
                sent.append((statement, parameters))

            event.listen(conn, "before_cursor_execute", keep)
            try:
                service.list_customers(db, actor=analyst, custom_field=custom_field)
            finally:
                event.remove(conn, "before_cursor_execute", keep)
            count, page = sent[:2]  # then the page's tags, contacts and assignments
            assert "count(*)" in count[0] and "LIMIT" in page[0]
            return [
                "\n".join(str(r[0]) for r in conn.exec_driver_sql("EXPLAIN " + st, params))
                for st, params in (count, page)
            ]

        for custom_field in (("tier", "choice", "Gold"), ("vip", "boolean", True)):
            for plan in plans(custom_field):
                assert "ix_customers_custom_fields" in plan, plan
        for plan in plans(("vip", "boolean", False)):
            assert "ix_customers_custom_fields" not in plan, plan


def test_the_cli_defines_and_lists_fields(tmp_path, monkeypatch):
    from sqlalchemy import create_engine, text
    from typer.testing import CliRunner

    from retento.cli import app
    from retento.core.config import get_settings
    from retento.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    get_settings.cache_clear()
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (username, display_name, role, password_hash, is_active, locale,"
                " created_at, updated_at) VALUES ('admin', 'Admin', 'admin', 'x', 1, 'en',"
                " '2025-01-01 00:00:00', '2025-01-01 00:00:00')"
            )
        )
    eng.dispose()
    runner = CliRunner()
    try:
        r = runner.invoke(
            app,
            ["customers", "field-add", "tier", "Tier", "--type", "choice", "--label-zh", "等级",
             "--option", "Gold|金卡", "--option", "Silver"],
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        bad = runner.invoke(app, ["customers", "field-add", "Bad Key", "X"])
        assert bad.exit_code == 1 and "key" in bad.output
        r = runner.invoke(app, ["customers", "fields"])
        out = " ".join(r.output.split())  # Rich wraps at the terminal's width
        assert r.exit_code == 0 and "tier" in out and "Tier / 等级" in out
        assert "[Gold, Silver]" in out
    finally:
        get_settings.cache_clear()


def test_the_keys_retento_reads_are_defined_and_govern_their_breakdown_keys(client, tokens, db):
    """Migration 0049 defines share of wallet, the loyalty-type flags and the e-mail language,
    so they can be entered from the start; ``wallet_spend.<category>`` takes ``wallet_spend``'s
    type without a definition of its own."""
    c = make_customer(db, name="Wallet")
    db.commit()
    h = tokens["manager"]
    fields = {"wallet_spend": "1,200.50", "wallet_spend.coffee": "300", "no_alternative": "yes"}
    r = client.patch(f"/api/v1/customers/{c.id}", json={"custom_fields": fields}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["custom_fields"] == {
        "wallet_spend": "1200.50",
        "wallet_spend.coffee": "300",
        "no_alternative": True,
    }
    bad = {"wallet_spend.coffee": "a lot", "language": "fr"}
    r = client.patch(f"/api/v1/customers/{c.id}", json={"custom_fields": bad}, headers=h)
    assert r.status_code == 422
    assert set(_errors(r)) == {"custom_fields.wallet_spend.coffee", "custom_fields.language"}
    db.expire_all()
    assert db.get(type(c), c.id).custom_fields["wallet_spend.coffee"] == "300"
