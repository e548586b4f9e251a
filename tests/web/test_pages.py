"""Page tests through the ASGI app (SQLite and PostgreSQL): login, CSRF, lists, 360, forms, admin."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from retento.audit.models import AuditEntry
from retento.auth.models import User
from retento.customers.models import Customer
from retento.orders.models import Order, Refund
from retento.touchpoints.models import Touchpoint
from retento.web.csrf import check_csrf
from tests.factories import make_customer, make_order, make_product, make_touchpoint
from tests.web.conftest import csrf_of


def count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


# --- login, logout, CSRF, errors ---------------------------------------------------------


def test_anonymous_is_sent_to_login(web):
    r = web.get("/customers?kind=business", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fcustomers%3Fkind%3Dbusiness"
    assert web.get("/", follow_redirects=False).status_code == 303


def test_login_sets_session_and_logout_clears_it(web):
    bad = web.login("agent", "wrong-password")
    assert bad.status_code == 401
    assert "Wrong username or password." in bad.text
    ok = web.login("agent")
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"]
    assert "retento_session=" in cookie and "httponly" in cookie.lower()
    assert "Max-Age=28800" in cookie
    assert web.get("/customers").status_code == 200
    out = web.post("/logout")
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert web.get("/customers", follow_redirects=False).status_code == 303


def test_login_redirects_only_to_local_paths(web):
    page = web.get("/login")
    r = web.client.post(
        "/login",
        data={
            "username": "agent",
            "password": "ledger-Sesame-42",
            "csrf_token": csrf_of(page.text),
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"


def test_post_without_or_with_wrong_csrf_token_is_refused(web, db):
    web.login("manager")
    before = count(db, Customer)
    r = web.client.post("/customers/new", data={"name": "No token"})
    assert r.status_code == 403
    assert "did not come from this site" in r.text and "<html" in r.text
    r = web.client.post("/customers/new", data={"name": "Bad", "csrf_token": "forged"})
    assert r.status_code == 403
    r = web.client.post(
        "/customers/new", data={"name": "Header"}, headers={"X-CSRF-Token": "forged"}
    )
    assert r.status_code == 403
    assert count(db, Customer) == before


def test_csrf_header_is_accepted(web, db):
    web.login("manager")
    r = web.client.post(
        "/customers/new",
        data={"name": "Via htmx"},
        headers={"X-CSRF-Token": web.token, "HX-Request": "true"},
    )
    assert r.status_code == 200 and r.headers["hx-redirect"].startswith("/customers/")


def test_every_page_post_is_csrf_checked(app):
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.path.startswith("/api/"):
            continue
        if route.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            calls = [d.call for d in route.dependant.dependencies]
            assert check_csrf in calls, route.path


def test_friendly_error_pages(web, app, tokens):
    web.login("agent")
    r = web.get("/customers/999999")
    assert r.status_code == 404 and "Page not found" in r.text and "<html" in r.text
    r = web.get("/no/such/page")
    assert r.status_code == 404 and "Page not found" in r.text
    r = web.get("/customers?owner=abc")
    assert r.status_code == 422 and "Some values are not valid" in r.text
    api = web.client.get("/api/v1/customers/999999", headers=tokens["agent"])
    assert api.headers["content-type"].startswith("application/problem+json")


def test_unexpected_error_shows_a_page_without_traceback(app, users):
    from fastapi.testclient import TestClient

    @app.get("/boom-for-test")
    def boom():
        raise RuntimeError("secret internal detail")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom-for-test")
    assert r.status_code == 500
    assert "Something went wrong" in r.text
    assert "secret internal detail" not in r.text and "Traceback" not in r.text


def test_htmx_request_without_session_gets_hx_redirect(web):
    r = web.get("/customers", headers={"HX-Request": "true"}, follow_redirects=False)
    assert r.headers["hx-redirect"].startswith("/login")


# --- customer list -----------------------------------------------------------------------


def _many(db, users):
    for i in range(60):
        make_customer(
            db,
            name=f"Zeta {i:02d}",
            kind="business" if i % 2 else "consumer",
            owner_id=users["agent"].id if i < 5 else users["manager"].id,
        )
    make_customer(db, name="Alpha Distribution", kind="distributor", email="alpha@example.com")
    tagged = make_customer(db, name="Tagged One")
    from retento.customers.models import CustomerTag

    db.add(CustomerTag(customer_id=tagged.id, tag="vip"))
    db.commit()


def test_customer_list_search_filter_sort_and_pages(web, db, users):
    _many(db, users)
    web.login("agent")
    page1 = web.get("/customers?q=zeta&sort=name")
    assert page1.status_code == 200
    assert page1.text.count('href="/customers/') >= 50
    assert "Zeta 00" in page1.text and "Zeta 49" in page1.text and "Zeta 50" not in page1.text
    assert "offset=50" in page1.text
    page2 = web.get("/customers?q=zeta&sort=name&offset=50")
    assert "Zeta 50" in page2.text and "Zeta 59" in page2.text and "offset=100" not in page2.text
    desc = web.get("/customers?q=zeta&sort=-name")
    assert desc.text.index("Zeta 59") < desc.text.index("Zeta 58")
    assert "Alpha Distribution" in web.get("/customers?scope=internal").text
    assert "Zeta" not in web.get("/customers?scope=internal").text
    assert "Alpha Distribution" in web.get("/customers?q=alpha@example.com").text
    biz = web.get("/customers?kind=business&q=zeta").text
    assert "Zeta 01" in biz and "Zeta 02" not in biz
    assert "Tagged One" in web.get("/customers?tag=VIP").text
    mine = web.get("/customers?mine=1").text
    assert "Zeta 04" in mine and "Zeta 05" not in mine
    owned = web.get(f"/customers?owner={users['manager'].id}&q=zeta").text
    assert "Zeta 05" in owned and "Zeta 04" not in owned


def test_customer_list_htmx_returns_only_the_results(web, db, users):
    _many(db, users)
    web.login("agent")
    r = web.get("/customers?q=zeta", headers={"HX-Request": "true", "HX-Target": "results"})
    assert r.status_code == 200 and "<html" not in r.text and "customer-table" in r.text


def test_customer_count_is_capped(web, db, users):
    _many(db, users)
    web.login("agent")
    assert "60 customers match" in web.get("/customers/count?q=zeta").text
    assert "1 customer matches" in web.get("/customers/count?tag=vip").text


def test_export_csv_streams_the_filtered_list(web, db, users):
    _many(db, users)
    web.login("analyst")
    r = web.get("/customers/export.csv?kind=business&q=zeta")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert len(rows) == 30 and {row["kind"] for row in rows} == {"business"}
    web.post("/logout")
    web.login("agent")
    denied = web.get("/customers/export.csv")
    assert denied.status_code == 403
    assert "Export CSV" not in web.get("/customers").text


# --- customer 360 ------------------------------------------------------------------------


def _history(db):
    c = make_customer(db, name="Acme 360")
    p = make_product(db, unit_price=Decimal("100.00"), unit_cost=Decimal("60.00"))
    o1 = make_order(db, c, lines=[(p, 2)], ordered_at=datetime(2025, 1, 10, 12, tzinfo=UTC))
    make_order(db, c, lines=[(p, 1)], ordered_at=datetime(2025, 3, 5, 12, tzinfo=UTC))
    make_order(
        db, c, lines=[(p, 9)], ordered_at=datetime(2025, 3, 6, tzinfo=UTC), status="cancelled"
    )
    db.add(
        Refund(
            order_id=o1.id,
            amount=Decimal("50.00"),
            refunded_at=datetime(2025, 2, 1, tzinfo=UTC),
            reason="Scratched",
        )
    )
    make_touchpoint(db, c, occurred_at=datetime(2025, 2, 15, tzinfo=UTC), note="Asked for a demo")
    db.flush()
    from retento.orders.service import recompute

    db.refresh(o1)
    recompute(o1)
    db.commit()
    return c


def test_customer_360_shows_totals_chart_and_timeline(web, db):
    c = _history(db)
    web.login("analyst")
    r = web.get(f"/customers/{c.id}")
    assert r.status_code == 200
    html = r.text
    assert "$250.00" in html  # revenue: 200 − 50 refund + 100; the cancelled order is left out
    assert 'id="kpi-orders">2<' in html
    assert "$125.00" in html  # average order value
    assert "2025-01" in html and "2025-03" in html  # chart months
    assert "Scratched" in html and "Asked for a demo" in html
    timeline = html[html.index('id="timeline-list"') :]
    assert timeline.index("Asked for a demo") < timeline.index("Scratched")
    assert "Record a touchpoint" not in html  # analysts change nothing
    assert f'href="/customers/{c.id}/edit"' not in html


def test_customer_360_actions_follow_the_permissions(web, db, users):
    mine = make_customer(db, name="Mine", owner_id=users["agent"].id)
    other = make_customer(db, name="Other", owner_id=users["manager"].id)
    db.commit()
    web.login("agent")
    html = web.get(f"/customers/{mine.id}").text
    assert "Record a touchpoint" in html and f"/customers/{mine.id}/edit" in html
    assert "Delete" not in html
    html = web.get(f"/customers/{other.id}").text
    assert "Record a touchpoint" not in html and f"/customers/{other.id}/edit" not in html
    assert web.get(f"/customers/{other.id}/edit").status_code == 403


# --- forms -------------------------------------------------------------------------------


def test_create_customer_with_contacts_tags_and_owner(web, db, users):
    from tests.factories.custom_fields import define_fields

    define_fields(db, "segment", "region")
    db.commit()
    web.login("manager")
    form = web.get("/customers/new")
    assert form.status_code == 200 and 'name="owner_id"' in form.text
    r = web.post(
        "/customers/new",
        {
            "name": "Fresh Foods",
            "party_type": "organisation",
            "kind": "business",
            "email": "buy@fresh.example",
            "country": "cn",
            "tags": "Wholesale, north",
            "consent_email": "1",
            "owner_id": str(users["agent"].id),
            "custom_fields.segment": "food",
            "custom_fields.region": "north",
            "contacts.0.name": "Li Na",
            "contacts.0.email": "li@fresh.example",
            "contacts.0.is_primary": "1",
            "contacts.1.name": "",
        },
    )
    assert r.status_code == 303
    db.expire_all()
    c = db.scalar(select(Customer).where(Customer.name == "Fresh Foods"))
    assert c.country == "CN" and c.tags == ["north", "wholesale"] and c.consent_email
    assert c.owner_id == users["agent"].id and c.custom_fields == {
        "segment": "food",
        "region": "north",
    }
    assert [k.name for k in c.contacts] == ["Li Na"] and c.contacts[0].is_primary
    assert r.headers["location"] == f"/customers/{c.id}"
    assert "Customer Fresh Foods was created." in web.get(r.headers["location"]).text


def test_customer_form_errors_sit_next_to_the_field_and_nothing_is_saved(web, db):
    web.login("manager")
    before = count(db, Customer)
    r = web.post(
        "/customers/new",
        {
            "name": "Broken",
            "email": "not-an-email",
            "contacts.0.name": "",
            "contacts.1.email": "x@y.z",
        },
    )
    assert r.status_code == 422
    html = r.text
    email_field = html[html.index('id="f-email"') :][:400]
    assert (
        'aria-invalid="true"' in email_field
        and "Enter an email address such as name@example.com." in email_field
    )
    assert 'name="contacts.1.name"' in html and "This field is required." in html
    assert 'value="Broken"' in html
    assert count(db, Customer) == before


def test_country_is_picked_by_name_in_the_users_language(web, db):
    """Issue 14 polish: the country field was a 2-character text box ("China" became "Ch")."""
    c = make_customer(db, name="Picker Co", country="CN")
    db.commit()
    web.login("manager")
    form = web.get(f"/customers/{c.id}/edit").text
    field = form[form.index('id="f-country"') :]
    field = field[: field.index("</select>")]
    assert '<option value="CN" selected>China</option>' in field
    assert '<option value="DE" >Germany</option>' in field.replace('"  >', '" >')
    assert "China" in web.get(f"/customers/{c.id}").text
    r = web.post("/customers/new", {"name": "Nowhere Ltd", "country": "XX"})
    assert r.status_code == 422
    field = r.text[r.text.index('id="f-country"') :]
    assert "is not a country code" in field[:20000]
    assert db.scalar(select(Customer).where(Customer.name == "Nowhere Ltd")) is None
    web.post("/locale", {"lang": "zh_CN", "next": "/"})
    form = web.get(f"/customers/{c.id}/edit").text
    assert '<option value="CN" selected>中国</option>' in form and "国家或地区" in form
    assert (
        "（中国）" in web.get(f"/customers/{c.id}").text
        or "(中国)" in web.get(f"/customers/{c.id}").text
    )


def test_duplicate_external_id_is_reported_on_the_field(web, db):
    make_customer(db, name="Existing", external_id="DUP-1")
    db.commit()
    web.login("manager")
    r = web.post("/customers/new", {"name": "Second", "external_id": "DUP-1"})
    assert r.status_code == 422
    field = r.text[r.text.index('id="f-external_id"') :][:500]
    assert "already used" in field


def test_edit_customer_and_agent_cannot_assign_owner(web, db, users):
    c = make_customer(db, name="Editable", owner_id=users["agent"].id)
    db.commit()
    web.login("agent")
    page = web.get(f"/customers/{c.id}/edit")
    assert 'value="Editable"' in page.text and 'name="owner_id"' not in page.text
    r = web.post(
        f"/customers/{c.id}/edit",
        {"name": "Edited", "kind": "business", "owner_id": str(users["manager"].id)},
    )
    assert r.status_code == 303
    db.expire_all()
    c = db.get(Customer, c.id)
    assert c.name == "Edited" and c.kind == "business" and c.owner_id == users["agent"].id


def test_touchpoint_from_the_360_page_with_htmx(web, db, users):
    c = make_customer(db, name="Touchy", owner_id=users["agent"].id)
    db.commit()
    web.login("agent")
    r = web.post(
        f"/customers/{c.id}/touchpoints",
        {
            "occurred_at": "2025-05-01T10:30",
            "channel": "email",
            "stage": "after_sales",
            "direction": "outbound",
            "outcome": "resolved",
            "note": "Sent the manual",
        },
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200 and r.headers["hx-trigger"] == "timelineChanged"
    assert "The touchpoint was recorded." in r.text
    db.expire_all()
    t = db.scalar(select(Touchpoint).where(Touchpoint.customer_id == c.id))
    assert t.channel == "email" and t.owner_id == users["agent"].id
    assert t.occurred_at == datetime(2025, 5, 1, 10, 30, tzinfo=UTC)
    assert "Sent the manual" in web.get(f"/customers/{c.id}/timeline").text
    bad = web.post(
        f"/customers/{c.id}/touchpoints",
        {"occurred_at": "yesterday", "channel": "email", "stage": "after_sales"},
        headers={"HX-Request": "true"},
    )
    assert "Enter a date and time." in bad.text and "hx-trigger" not in bad.headers
    assert count(db, Touchpoint) == 1


def test_order_form_with_lines_and_price_defaults(web, db, users):
    c = make_customer(db, name="Buyer", owner_id=users["agent"].id)
    p1 = make_product(db, name="Kettle", unit_price=Decimal("40.00"), unit_cost=Decimal("25.00"))
    p2 = make_product(db, name="Mug", unit_price=Decimal("5.00"), unit_cost=Decimal("2.00"))
    db.commit()
    web.login("agent")
    form = web.get(f"/customers/{c.id}/orders/new")
    assert "Kettle" in form.text and 'data-price="40.00"' in form.text
    r = web.post(
        f"/customers/{c.id}/orders/new",
        {
            "ordered_at": "2025-04-02T09:00",
            "status": "completed",
            "channel": "store",
            "lines.0.product_id": str(p1.id),
            "lines.0.quantity": "2",
            "lines.1.product_id": "",
            "lines.2.product_id": str(p2.id),
            "lines.2.quantity": "3",
            "lines.2.unit_price": "4.50",
        },
    )
    assert r.status_code == 303
    db.expire_all()
    o = db.scalar(select(Order).where(Order.customer_id == c.id))
    assert o.revenue == Decimal("93.50") and len(o.lines) == 2
    assert web.get(f"/orders/{o.id}").status_code == 200


def test_order_form_error_points_at_the_line_and_saves_nothing(web, db, users):
    c = make_customer(db, name="Buyer2", owner_id=users["agent"].id)
    p = make_product(db)
    db.commit()
    web.login("agent")
    r = web.post(
        f"/customers/{c.id}/orders/new",
        {
            "ordered_at": "2025-04-02T09:00",
            "lines.0.product_id": "",
            "lines.1.product_id": str(p.id),
            "lines.1.quantity": "0",
        },
    )
    assert r.status_code == 422
    assert 'name="lines.1.quantity" value="0"' in r.text
    qty = r.text[r.text.index('name="lines.1.quantity"') :][:400]
    assert "greater than zero" in qty
    empty = web.post(f"/customers/{c.id}/orders/new", {"ordered_at": "2025-04-02T09:00"})
    assert empty.status_code == 422 and "Add at least one line." in empty.text
    assert count(db, Order) == 0


# --- admin -------------------------------------------------------------------------------


def test_only_admins_open_the_admin_pages(web):
    web.login("agent")
    assert "/admin/users" not in web.get("/customers").text
    for url in ("/admin/users", "/admin/users/new", "/admin/audit", "/admin/users/1"):
        r = web.get(url)
        assert r.status_code == 403 and "You do not have access to this page" in r.text


def test_admin_manages_users_and_tokens(web, db, users):
    web.login("admin")
    assert "analyst" in web.get("/admin/users?q=ana").text
    r = web.post(
        "/admin/users/new",
        {"username": "newbie", "password": "short", "role": "agent", "locale": "zh_CN"},
    )
    assert r.status_code == 422 and "Write at least 12 characters." in r.text
    r = web.post(
        "/admin/users/new",
        {"username": "newbie", "password": "long-enough-1", "role": "agent", "locale": "zh_CN"},
    )
    assert r.status_code == 303
    db.expire_all()
    newbie = db.scalar(select(User).where(User.username == "newbie"))
    assert newbie.locale == "zh_CN"
    r = web.post(f"/admin/users/{newbie.id}", {"role": "manager", "display_name": "New Bie"})
    assert r.status_code == 303
    r = web.post(f"/admin/users/{newbie.id}/tokens", {"name": "ci"})
    assert r.status_code == 200
    plain = r.text.split('id="new-token">')[1].split("<")[0]
    assert len(plain) > 20
    api = web.client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
    assert api.json()["role"] == "manager"
    assert plain not in web.get(f"/admin/users/{newbie.id}").text
    token_id = newbie.tokens[0].id
    assert web.post(f"/admin/tokens/{token_id}/revoke").status_code == 303
    api = web.client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
    assert api.status_code == 401
    assert web.post(f"/admin/users/{newbie.id}", {"is_active": "0"}).status_code == 303
    db.expire_all()
    assert db.get(User, newbie.id).is_active is False


def test_password_reset_logs_the_user_out(client, users, db):
    from fastapi.testclient import TestClient

    from tests.web.conftest import Browser

    agent = Browser(client)
    agent.login("agent")
    assert agent.get("/customers").status_code == 200
    with TestClient(client.app) as other:
        admin = Browser(other)
        admin.login("admin")
        assert (
            admin.post(f"/admin/users/{users['agent'].id}/password", {"password": "brand-new-pw"})
        ).status_code == 303
    assert agent.get("/customers", follow_redirects=False).status_code == 303
    assert agent.login("agent", "brand-new-pw").status_code == 303


def test_admin_cannot_remove_the_last_admin(web, users):
    web.login("admin")
    r = web.post(f"/admin/users/{users['admin'].id}", {"role": "agent"})
    assert r.status_code == 422


def test_audit_log_filters_and_diff(web, db, users):
    web.login("admin")
    web.post("/customers/new", {"name": "Audited", "kind": "consumer"})
    db.expire_all()
    c = db.scalar(select(Customer).where(Customer.name == "Audited"))
    web.post(f"/customers/{c.id}/edit", {"name": "Audited", "kind": "business"})
    html = web.get(f"/admin/audit?entity=customer&entity_id={c.id}&actor=admin").text
    assert html.count("<details>") == 2
    # the kind by its label, not its code (web.labels.register_value_labels)
    assert "<pre>Consumer</pre>" in html and "<pre>Business</pre>" in html
    today = datetime.now(UTC).date().isoformat()
    assert "Audited" in web.get(f"/admin/audit?since={today}&until={today}").text
    assert "No entries match" in web.get("/admin/audit?since=2000-01-01&until=2000-01-02").text
    assert web.get("/admin/audit?since=nonsense").status_code == 422
    assert count(db, AuditEntry) >= 2


def test_audit_log_dates_outside_the_accepted_range_are_refused_naming_the_field(web, users):
    """until=9999-12-31 was a 500 (the day after it overflows); the range is 1900 … 2200."""
    web.login("admin")
    for query in ("until=9999-12-31", "since=0001-01-01", "since=1899-12-31"):
        r = web.get(f"/admin/audit?{query}")
        assert r.status_code == 422 and "Enter a date between 1900-01-01 and 2200-12-31." in r.text
    assert web.get("/admin/audit?until=2200-12-31").status_code == 200
    web.post("/locale", {"lang": "zh_CN", "next": "/admin/audit"})
    zh = web.get("/admin/audit?until=9999-12-31")
    assert zh.status_code == 422 and "请输入 1900-01-01 至 2200-12-31 之间的日期。" in zh.text


def test_audit_filters_offer_every_domains_records_with_names(web, db, users):
    from retento.audit.service import record

    record(db, users["admin"], "update", "sla_policy", 7, {"name": "a"}, {"name": "b"})
    record(db, users["admin"], "merge", "customer", 8, None, {"into": 9})
    db.commit()
    web.login("admin")
    html = web.get("/admin/audit").text
    entity_select = html[html.index('id="f-entity"') :].split("</select>")[0]
    action_select = html[html.index('id="f-action"') :].split("</select>")[0]
    for code, name in (
        ("complaint", "Complaint"),
        ("survey", "Survey"),
        ("sla_policy", "SLA policy"),
        ("loyalty_journal", "Points journal"),
        ("score_run", "Scoring run"),
    ):
        assert f'<option value="{code}" >{name}</option>' in entity_select, code
    assert '<option value="merge" >Merged</option>' in action_select
    rows = web.get("/admin/audit?entity=sla_policy").text
    table = rows.split('id="audit-table"')[1].split("</table>")[0]
    assert "SLA policy" in table and "<code>#7</code>" in table and "sla_policy" not in table
    rows = web.get("/admin/audit?action=merge").text
    table = rows.split('id="audit-table"')[1].split("</table>")[0]
    assert "Merged" in table and "<code>#8</code>" in table
    web.post("/locale", {"lang": "zh_CN", "next": "/admin/audit"})
    zh = web.get("/admin/audit").text
    assert ">SLA 策略</option>" in zh and ">已合并</option>" in zh


# --- language ----------------------------------------------------------------------------


def test_language_switch_for_anonymous_and_logged_in_users(web, db, users):
    web.login("agent")
    db.expire_all()
    assert db.get(User, users["agent"].id).locale == "en"  # nothing chosen: the saved language
    html = web.get("/customers").text
    assert ">Customers<" in html
    r = web.post("/locale", {"lang": "zh_CN", "next": "/customers"})
    assert r.headers["location"] == "/customers"
    db.expire_all()
    assert db.get(User, users["agent"].id).locale == "zh_CN"
    html = web.get("/customers").text
    assert '<html lang="zh-CN">' in html and ">客户<" in html


def test_the_language_chosen_on_the_login_page_survives_the_login(web, db, users):
    page = web.get("/login")
    r = web.client.post(
        "/locale",
        data={"lang": "zh_CN", "next": "/login", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "登录" in web.get("/login").text
    web.login("agent")
    html = web.get("/customers").text
    assert '<html lang="zh-CN">' in html and ">客户<" in html
    db.expire_all()
    assert db.get(User, users["agent"].id).locale == "zh_CN"  # remembered for next time
    # Logging out keeps the page language but not the "chosen" mark: the next user who logs in
    # on this browser without choosing gets their own saved language, unchanged.
    web.post("/logout", {})
    web.login("analyst")
    db.expire_all()
    assert db.get(User, users["analyst"].id).locale == "en"
    assert ">Customers<" in web.get("/customers").text


def test_money_and_dates_follow_the_locale(web, db, users):
    c = _history(db)
    users["analyst"].locale = "zh_CN"
    db.commit()
    web.login("analyst")
    html = web.get(f"/customers/{c.id}").text
    assert "US$250.00" in html and "2025年1月10日" in html and "平均订单金额" in html


def test_fast_list_matches_the_service_query(db, users):
    from retento.customers import service
    from retento.customers.models import Contact
    from retento.customers.pages import list_page

    _many(db, users)
    with_contact = make_customer(db, name="Has Contact")
    db.add(Contact(customer_id=with_contact.id, name="K", email="k@example.com", phone="+1 555"))
    db.commit()
    agent = users["agent"]
    cases = [
        {"q": "zeta 1"},
        {"q": "ALPHA"},
        {"q": "alpha@example.com"},
        {"q": "k@example.com"},
        {"q": "+1 555"},
        {"q": str(with_contact.id)},
        {"q": with_contact.external_id},
        {"q": "zeta", "kind": "business", "mine_for": agent},
        {"tag": "vip"},
        {},
    ]
    for filters in cases:
        for sort in ("name", "-id", "kind"):
            expected, _ = service.list_customers(
                db, actor=agent, sort=sort, limit=500, offset=0, count=False, **filters
            )
            got = list_page(db, agent, filters, sort, 500, 0)
            assert [c.id for c in got] == [c.id for c in expected], (filters, sort)
    assert [c.id for c in list_page(db, agent, {"q": "zeta"}, "name", 5, 55)] == [
        c.id
        for c in service.list_customers(db, actor=agent, q="zeta", sort="name", limit=5, offset=55)[
            0
        ]
    ]


def test_one_menu_entry_is_highlighted_per_page(web):
    """Issue 14 polish: /complaints/dashboard, /complaints/sla and /loyalty/programme lit two
    entries at once (a parent's prefix and the page's own entry)."""
    import re

    web.login("admin")
    for path, expected in (
        ("/complaints/dashboard", "/complaints/dashboard"),
        ("/complaints/sla", "/complaints/sla"),
        ("/loyalty/programme", "/loyalty/programme"),
        ("/complaints", "/complaints"),
        ("/customers/new", "/customers"),
    ):
        html = web.get(path).text
        header = html[: html.index("</nav>")]
        lit = re.findall(r'<a href="([^"]+)" class="(?:admin-link |more-link )?active"', header)
        assert lit == [expected], (path, lit)


@pytest.mark.parametrize("role", ["admin", "manager", "agent", "analyst"])
def test_every_page_of_the_menu_is_in_the_header_once(web, users, role):
    """The header keeps to one line by putting pages opened less often under More: each entry
    the user may open is still in it, once, and the More menu holds only those entries."""
    import re

    from retento.web.nav import NAV, nav_for

    web.login(role)
    html = web.get("/customers").text
    header = html[html.index('<nav class="mainnav"') : html.index("</nav>")]
    links = re.findall(r'<a href="([^"]+)"', header)
    allowed = [n.href for s in ("main", "more", "admin") for n in nav_for(users[role], s)]
    assert sorted(links) == sorted(allowed) and len(set(links)) == len(links)
    assert allowed and len(allowed) <= len(NAV)
    more = nav_for(users[role], "more")
    if more:
        menu = header[header.index('class="navmenu moremenu"') :].split("</details>")[0]
        assert re.findall(r'<a href="([^"]+)"', menu) == [n.href for n in more]


def test_the_country_picker_lists_chinese_names_in_pinyin_order(web):
    """By code point the Chinese names came in no order a reader knows (不丹, 东帝汶, 中国, …)."""
    import re

    web.login("manager")
    web.post("/locale", {"lang": "zh_CN", "next": "/"})
    html = web.get("/customers/new").text
    picker = html[html.index('<select id="f-country"') :].split("</select>")[0]
    shown = re.findall(r'<option value="[A-Z]{2}"[^>]*>([^<]+)</option>', picker)
    assert shown[:3] == ["阿尔巴尼亚", "阿尔及利亚", "阿富汗"]
    assert shown.index("澳大利亚") < shown.index("巴西") < shown.index("中国")
    assert len(shown) > 240
