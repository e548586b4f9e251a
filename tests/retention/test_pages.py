"""Retention web pages: the at-risk list (filters, sort by value at risk, CSV/XLSX export), the
retention dashboard, the alerts inbox, the owner's task list and the playbook editor, in English
and Chinese, for the roles that may open them (403 for the others)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from retento.scoring.models import CustomerScore, ScoreRun
from tests.factories import make_customer
from tests.web.conftest import Browser

LAPSED = {"code": "lapsed", "params": {"since": 152.0, "gap": 42.0}}
LAPSED_ONCE = {"code": "lapsed_once", "params": {"since": 240.0}}
SPEND = {"code": "spend_falling", "params": {"recent": 10.0, "prior": 90.0, "window": 91.0}}


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def _score(run, customer, value_class, clv, risk, reasons, **over):
    return CustomerScore(
        run_id=run.id,
        customer_id=customer.id,
        order_count=over.get("order_count", 3),
        last_order_on=over.get("last_order_on", date(2025, 1, 10)),
        revenue=Decimal("100.00"),
        profit=Decimal("40.00"),
        monetary=Decimal("30.00"),
        clv=None if clv is None else Decimal(clv),
        p_alive=0.5,
        value_class=value_class,
        label="other",
        loyalty_stage="regular",
        churn_risk=risk,
        churn_reasons=reasons,
    )


def _run(db, as_of, *, horizon=90):
    run = ScoreRun(
        model="mbgnbd",
        status="succeeded",
        as_of=as_of,
        finished_at=as_of,
        customers_scored=0,
        params={"churn": {"horizon_days": horizon}},
        report={},
    )
    db.add(run)
    db.flush()
    return run


@pytest.fixture
def scored(db, users):
    """Two scoring runs with churn risk; the latest has five customers of known value at risk."""
    agent, manager = users["agent"], users["manager"]
    c = {
        "vip": make_customer(db, name="Vera VIP", external_id="R-1", owner_id=agent.id),
        "major": make_customer(db, name="Mark Major", external_id="R-2", owner_id=manager.id),
        "ord": make_customer(db, name="Olga Ordinary", external_id="R-3", owner_id=agent.id),
        "small": make_customer(db, name="=Sam Small", external_id="R-4"),
        "calm": make_customer(db, name="Carl Calm", external_id="R-5", owner_id=agent.id),
    }
    old = _run(db, datetime(2025, 3, 31, tzinfo=UTC))
    for cust in c.values():
        db.add(_score(old, cust, "ordinary", "100.00", 0.2, [LAPSED]))
    new = _run(db, datetime(2025, 6, 30, tzinfo=UTC))
    db.add_all(
        [
            _score(new, c["vip"], "vip", "5000.00", 0.8, [LAPSED, SPEND]),  # 4000.00 at risk
            _score(new, c["major"], "major", "8000.00", 0.25, [SPEND]),  # 2000.00
            _score(new, c["ord"], "ordinary", "900.00", 0.9, [LAPSED_ONCE]),  # 810.00
            _score(new, c["small"], "small", "50.00", 0.6, [LAPSED]),  # 30.00
            _score(new, c["calm"], "ordinary", "3000.00", 0.05, []),  # 150.00
        ]
    )
    db.commit()
    return c


def _names(html: str, names) -> list[str]:
    """The given customer names in the order they appear on the page."""
    found = [(html.find(n), n) for n in names if n in html]
    return [n for _, n in sorted(found)]


ALL = ("Vera VIP", "Mark Major", "Olga Ordinary", "Sam Small", "Carl Calm")


def test_at_risk_list_sorted_by_value_at_risk_with_reasons_in_words(web, scored):
    web.login("analyst")
    page = web.get("/retention/at-risk")
    assert page.status_code == 200
    assert _names(page.text, ALL) == [
        "Vera VIP", "Mark Major", "Olga Ordinary", "Carl Calm", "Sam Small"
    ]  # fmt: skip
    assert "No purchase for 5 months; usually buys every 6 weeks" in page.text
    assert "bought only once" in page.text
    assert "$4,000.00" in page.text and "$6,990.00" in page.text  # row and filtered total
    assert "scoring run #" in page.text and "90 days" in page.text
    assert page.text.count('class="active"') == 1  # one highlighted nav item


def test_reasons_write_amounts_in_the_installation_currency(web, scored, db, users):
    # "spend fell: 10.00 in the last 3 months" gave no currency; the amounts are money.
    web.login("analyst")
    page = web.get("/retention/at-risk?value_class=major").text
    assert "$10.00" in page and "$90.00" in page
    users["analyst"].locale = "zh_CN"
    db.commit()
    page = web.get("/retention/at-risk?value_class=major").text
    assert "US$10.00" in page and "US$90.00" in page


def test_at_risk_rows_say_what_to_do(web, scored, db, users):
    from retento.retention.defaults import ensure_defaults

    ensure_defaults(db)
    _alert(db, scored["vip"], users["agent"], rule="churn_risk", reason_code="churn_risk")
    db.commit()
    web.login("manager")
    page = web.get("/retention/at-risk?value_class=vip").text
    assert "Key customer: strive to win back (Task for the owner)" in page
    assert "Alert open" in page
    small = web.get("/retention/at-risk?value_class=small").text
    assert "Small customer: opportunistic email (Automated email)" in small
    assert "Alert open" not in small


def test_at_risk_filters_by_class_owner_reason_and_risk(web, scored, users):
    web.login("manager")
    assert _names(web.get("/retention/at-risk?value_class=vip").text, ALL) == ["Vera VIP"]
    mine = web.get(f"/retention/at-risk?owner={users['agent'].id}").text
    assert _names(mine, ALL) == ["Vera VIP", "Olga Ordinary", "Carl Calm"]
    assert _names(web.get("/retention/at-risk?owner=me").text, ALL) == ["Mark Major"]
    assert _names(web.get("/retention/at-risk?owner=none").text, ALL) == ["Sam Small"]
    # The reason filter matches the strongest reason (indexed); any_rank=1 also the 2nd/3rd.
    top = web.get("/retention/at-risk?reason=spend_falling").text
    assert _names(top, ALL) == ["Mark Major"]
    by_reason = web.get("/retention/at-risk?reason=spend_falling&any_rank=1").text
    assert _names(by_reason, ALL) == ["Vera VIP", "Mark Major"]
    assert _names(web.get("/retention/at-risk?min_risk=0.7").text, ALL) == [
        "Vera VIP", "Olga Ordinary"
    ]  # fmt: skip
    by_risk = web.get("/retention/at-risk?sort=risk").text
    assert _names(by_risk, ALL)[:2] == ["Olga Ordinary", "Vera VIP"]
    part = web.get(
        "/retention/at-risk?value_class=vip", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert part.status_code == 200 and "<html" not in part.text and "Vera VIP" in part.text
    for bad in (
        "value_class=gold", "owner=x", "reason=moon", "min_risk=2", "sort=name", "any_rank=yes"
    ):  # fmt: skip
        r = web.get(f"/retention/at-risk?{bad}")
        assert r.status_code == 422, bad
        assert bad.split("=")[0] in r.text


def test_at_risk_csv_and_xlsx_export(web, scored):
    web.login("manager")
    r = web.get("/retention/at-risk/export.csv?value_class=vip")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:8] == [
        "customer_id", "external_id", "name", "value_class", "owner", "clv", "churn_risk",
        "value_at_risk",
    ]  # fmt: skip
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["name"] == "Vera VIP" and row["value_at_risk"] == "4000.00"
    assert row["reason_code_1"] == "lapsed"
    assert row["reason_1"] == "no purchase for 5 months; usually buys every 6 weeks"
    full = web.get("/retention/at-risk/export.csv").content.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(full)))) == 6
    assert "'=Sam Small" in full  # a formula-looking name is neutralised

    from openpyxl import load_workbook

    x = web.get("/retention/at-risk/export.xlsx?sort=risk")
    assert x.status_code == 200
    ws = load_workbook(io.BytesIO(x.content)).active
    values = list(ws.iter_rows(values_only=True))
    assert values[0][2] == "name" and values[1][2] == "Olga Ordinary" and len(values) == 6

    agent = Browser(web.client)
    web.client.cookies.clear()
    agent.login("agent")
    assert agent.get("/retention/at-risk").status_code == 200
    assert agent.get("/retention/at-risk/export.csv").status_code == 403


def test_at_risk_xlsx_shows_money_with_two_decimals(web, scored):
    """QA: the XLSX export wrote 4000.00 as "4000" (Excel's General format): money cells carry
    a two-decimal format and their exact value; the churn risk stays a plain number."""
    from openpyxl import load_workbook

    from retento.dataio.downloads import MONEY_FORMAT

    web.login("manager")
    x = web.get("/retention/at-risk/export.xlsx?value_class=vip")
    assert x.status_code == 200
    ws = load_workbook(io.BytesIO(x.content)).active
    row = dict(zip([c.value for c in ws[1]], ws[2], strict=True))
    assert row["name"].value == "Vera VIP"
    assert row["value_at_risk"].value == 4000 and row["value_at_risk"].number_format == MONEY_FORMAT
    assert row["clv"].value == 5000 and row["clv"].number_format == MONEY_FORMAT
    assert row["churn_risk"].value == 0.8 and row["churn_risk"].number_format == "General"


def test_at_risk_and_dashboard_in_chinese(web, scored, users, db):
    users["analyst"].locale = "zh_CN"
    db.commit()
    web.login("analyst")
    page = web.get("/retention/at-risk")
    assert page.status_code == 200
    assert "已5个月未购买；通常每6周购买一次" in page.text
    assert "流失风险" in page.text
    d = web.get("/retention")
    assert d.status_code == 200 and "风险价值" in d.text


def test_dashboard_value_at_risk_and_trend(web, scored):
    web.login("manager")
    d = web.get("/retention")
    assert d.status_code == 200
    assert 'id="kpi-var"' in d.text and "$6,990.00" in d.text
    assert 'id="trend-chart"' in d.text and 'id="var-chart"' in d.text
    # Trend: the March run (mean risk 20 %) and the June run (mean 52 %).
    assert "20.0 %" in d.text and "52.0 %" in d.text
    assert d.text.count('class="active"') == 1


def test_pages_without_a_run_say_so(web, users):
    web.login("manager")
    assert 'id="at-risk-empty"' in web.get("/retention/at-risk").text
    assert 'id="dashboard-empty"' in web.get("/retention").text


PAGES = {
    "/retention": ("admin", "manager", "agent", "analyst"),
    "/retention/at-risk": ("admin", "manager", "agent", "analyst"),
    "/retention/at-risk/export.csv": ("admin", "manager", "analyst"),
    "/retention/at-risk/export.xlsx": ("admin", "manager", "analyst"),
    "/retention/alerts": ("admin", "manager", "agent", "analyst"),
    "/retention/tasks": ("admin", "manager", "agent"),
    "/retention/playbooks": ("admin", "manager"),
    "/retention/playbooks/new": ("admin", "manager"),
}


@pytest.mark.parametrize("role", ["admin", "manager", "agent", "analyst"])
def test_every_page_opens_for_its_roles_only(web, scored, role):
    web.login(role)
    for path, roles in PAGES.items():
        r = web.get(path)
        assert r.status_code == (200 if role in roles else 403), (role, path, r.status_code)
        if r.status_code == 200 and "html" in r.headers["content-type"]:
            assert r.text.count('class="active"') == 1, (role, path)


def test_anonymous_visitors_are_sent_to_login(client):
    r = client.get("/retention/at-risk", follow_redirects=False)
    assert r.status_code in (302, 303, 401)


# --- alerts, tasks, playbooks ------------------------------------------------------------------


def _alert(db, customer, owner, *, rule="complaint", cls="key", severity="high", **over):
    from retento.retention.models import RetentionAlert

    a = RetentionAlert(
        customer_id=customer.id,
        rule=rule,
        cause_key=over.pop("cause_key", f"c-{customer.id}-{rule}"),
        severity=severity,
        reason_code=over.pop("reason_code", "complaint_breached"),
        reason_params=over.pop("reason_params", {"code": "C-7", "days": 12}),
        value_class=cls,
        risk=0.8,
        owner_id=owner.id if owner else None,
        status="open",
        **over,
    )
    db.add(a)
    db.flush()
    return a


@pytest.fixture
def alerts(db, users):
    agent, manager = users["agent"], users["manager"]
    vip = make_customer(db, name="Vera VIP", owner_id=agent.id)
    big = make_customer(db, name="Bo Big", owner_id=manager.id)
    out = {
        "agent": _alert(db, vip, agent),
        "manager": _alert(
            db,
            big,
            manager,
            rule="rhythm",
            cls="ordinary",
            severity="medium",
            reason_code="rhythm",
            reason_params={"days": 120, "gap": 30},
        ),
    }
    db.commit()
    return out


def test_alerts_inbox_mine_and_all(web, alerts, users):
    web.login("agent")
    page = web.get("/retention/alerts")
    assert page.status_code == 200
    assert "Vera VIP" in page.text and "Bo Big" not in page.text
    assert "Complaint C-7 breached its SLA 12 days ago" in page.text
    assert "Bo Big" not in web.get("/retention/alerts?scope=all").text  # agents see their own
    assert page.text.count('class="active"') == 1

    mgr = Browser(web.client)
    web.client.cookies.clear()
    mgr.login("manager")
    everyone = mgr.get("/retention/alerts").text
    assert "Vera VIP" in everyone and "Bo Big" in everyone
    assert "No purchase for 120 days; usually buys every 30 days" in everyone
    assert "Vera VIP" not in mgr.get("/retention/alerts?scope=mine").text
    assert "Bo Big" not in mgr.get("/retention/alerts?rule=complaint").text
    assert "Vera VIP" not in mgr.get("/retention/alerts?class=ordinary").text
    assert mgr.get("/retention/alerts?severity=huge").status_code == 422


def test_alert_acknowledge_close_and_stale_button(web, alerts, db):
    from retento.retention.models import RetentionAlert

    web.login("agent")
    a = alerts["agent"]
    r = web.post(f"/retention/alerts/{a.id}/status", {"status": "acknowledged", "version": "1"})
    assert r.status_code == 303
    db.expire_all()
    assert db.get(RetentionAlert, a.id).status == "acknowledged"
    # A second press from the page loaded before (version 1) is refused, nothing changes.
    r = web.post(
        f"/retention/alerts/{a.id}/status", {"status": "closed", "version": "1"},
        follow_redirects=True,
    )  # fmt: skip
    assert "Someone else changed this alert" in r.text
    db.expire_all()
    assert db.get(RetentionAlert, a.id).status == "acknowledged"
    r = web.post(
        f"/retention/alerts/{a.id}/status", {"status": "closed", "version": "2", "note": "called"}
    )
    assert r.status_code == 303
    db.expire_all()
    closed = db.get(RetentionAlert, a.id)
    assert closed.status == "closed" and closed.close_note == "called"
    other = alerts["manager"]
    assert web.post(f"/retention/alerts/{other.id}/status", {"status": "closed"}).status_code == 403


def test_apply_playbook_to_alert(web, alerts, db):
    from retento.retention.models import RetentionCase, RetentionTask

    web.login("manager")
    a = alerts["agent"]
    assert "Apply playbook" in web.get("/retention/alerts").text  # the default playbooks exist
    r = web.post(f"/retention/alerts/{a.id}/apply", {}, follow_redirects=True)
    assert r.status_code == 200 and "Playbook applied" in r.text
    case = db.query(RetentionCase).filter_by(alert_id=a.id).one()
    tasks = db.query(RetentionTask).filter_by(case_id=case.id).all()
    assert (case.arm == "treated") == (len(tasks) == 1)
    again = web.post(f"/retention/alerts/{a.id}/apply", {}, follow_redirects=True)
    assert "Not done" in again.text  # one case per alert
    assert db.query(RetentionCase).filter_by(alert_id=a.id).count() == 1


def test_analyst_reads_alerts_but_cannot_act(web, alerts):
    web.login("analyst")
    page = web.get("/retention/alerts")
    assert page.status_code == 200 and "Vera VIP" in page.text
    assert "/status" not in page.text and "Apply playbook" not in page.text
    a = alerts["agent"]
    assert web.post(f"/retention/alerts/{a.id}/status", {"status": "closed"}).status_code == 403
    assert web.post(f"/retention/alerts/{a.id}/apply", {}).status_code == 403
    assert web.get("/retention/tasks").status_code == 403  # analysts own no tasks
    assert web.get("/retention/playbooks").status_code == 403


def _task(db, owner, customer, **over):
    from retento.retention.models import RetentionTask

    t = RetentionTask(
        customer_id=customer.id,
        owner_id=owner.id,
        kind="task",
        title=over.pop("title", f"Win back {customer.name}"),
        script=over.pop("script", "Call and ask what went wrong."),
        due_on=over.pop("due_on", date(2020, 1, 1)),
        status="open",
        **over,
    )
    db.add(t)
    db.flush()
    return t


def test_owner_task_list_and_mark_done(web, db, users):
    from retento.retention.models import RetentionTask

    c = make_customer(db, name="Tina Task", owner_id=users["agent"].id)
    mine = _task(db, users["agent"], c)
    _task(db, users["manager"], c, title="Manager's own task")
    db.commit()
    web.login("agent")
    page = web.get("/retention/tasks")
    assert page.status_code == 200
    assert "Win back Tina Task" in page.text and "Call and ask what went wrong." in page.text
    assert "Overdue" in page.text and "Manager&#39;s own task" not in page.text
    assert page.text.count('class="active"') == 1
    assert web.get(f"/retention/tasks?owner={users['manager'].id}").status_code == 403
    r = web.post(
        f"/retention/tasks/{mine.id}/status",
        {"status": "done", "version": "1", "note": "left a voicemail"},
        follow_redirects=True,
    )  # fmt: skip
    assert "Choose what happened" in r.text
    # QA: the refused form's note was lost; the page gives it back once.
    assert (
        f'id="note-{mine.id}" name="note" type="text" maxlength="5000" value="left a voicemail"'
        in r.text
    )
    assert 'value="left a voicemail"' not in web.get("/retention/tasks").text
    stale = web.post(
        f"/retention/tasks/{mine.id}/status",
        {"status": "done", "result": "reached", "version": "0", "note": "stale try"},
        follow_redirects=True,
    )  # fmt: skip
    assert 'value="stale try"' in stale.text and '<option value="reached" selected>' in stale.text
    db.expire_all()
    assert db.get(RetentionTask, mine.id).status == "open"
    r = web.post(
        f"/retention/tasks/{mine.id}/status",
        {"status": "done", "result": "offer_accepted", "note": "voucher", "version": "1"},
    )
    assert r.status_code == 303
    db.expire_all()
    done = db.get(RetentionTask, mine.id)
    assert (done.status, done.result, done.note) == ("done", "offer_accepted", "voucher")
    assert f'id="task-{mine.id}"' not in web.get("/retention/tasks").text
    assert f'id="task-{mine.id}"' in web.get("/retention/tasks?status=done").text

    mgr = Browser(web.client)
    web.client.cookies.clear()
    mgr.login("manager")
    other = mgr.get(f"/retention/tasks?owner={users['agent'].id}&status=done")
    assert other.status_code == 200 and "Win back Tina Task" in other.text


PLAYBOOK = {
    "action": "task",
    "name_en": "Key complaint: visit",
    "name_zh": "重要客户投诉：上门拜访",
    "script_en": "Visit the customer.",
    "script_zh": "上门拜访客户。",
    "due_days": "2",
    "control_share": "0.2",
    "window_days": "60",
    "cost": "80.00",
    "offer_points": "0",
    "enabled": "1",
}


def test_playbook_editor_create_edit_and_conflict(web, db, users):
    from retento.retention.models import RetentionPlaybook

    web.login("manager")
    listing = web.get("/retention/playbooks")
    assert listing.status_code == 200 and "Key customer: strive to win back" in listing.text
    assert listing.text.count('class="active"') == 1
    assert web.get("/retention/playbooks/new").status_code == 200
    r = web.post("/retention/playbooks/new", {**PLAYBOOK, "value_class": "key", "reason": "survey"})
    assert r.status_code == 303, r.text
    pb = db.query(RetentionPlaybook).filter_by(value_class="key", reason="survey").one()
    assert pb.control_share == 0.2 and pb.cost == Decimal("80.00")
    dup = web.post(
        "/retention/playbooks/new", {**PLAYBOOK, "value_class": "key", "reason": "survey"}
    )
    assert dup.status_code == 409 and "exists already" in dup.text
    bad = web.post(
        f"/retention/playbooks/{pb.id}", {**PLAYBOOK, "due_days": "soon", "version": "1"}
    )
    assert bad.status_code == 422 and "Enter a whole number." in bad.text
    share = web.post(
        f"/retention/playbooks/{pb.id}", {**PLAYBOOK, "control_share": "1.5", "version": "1"}
    )
    assert share.status_code == 422 and "control_share" in share.text
    ok = web.post(f"/retention/playbooks/{pb.id}", {**PLAYBOOK, "due_days": "3", "version": "1"})
    assert ok.status_code == 303
    stale = web.post(f"/retention/playbooks/{pb.id}", {**PLAYBOOK, "due_days": "9", "version": "1"})
    assert stale.status_code == 409
    assert "Due after (days)" in stale.text
    db.expire_all()
    assert db.get(RetentionPlaybook, pb.id).due_days == 3
    # A version that is no number is refused, not read as "no version" (the stale check).
    tampered = web.post(f"/retention/playbooks/{pb.id}/delete", {"version": "abc"})
    assert tampered.status_code == 422
    assert db.query(RetentionPlaybook).filter_by(id=pb.id).count() == 1
    assert web.post(f"/retention/playbooks/{pb.id}/delete", {"version": "2"}).status_code == 303
    assert db.query(RetentionPlaybook).filter_by(id=pb.id).count() == 0

    agent = Browser(web.client)
    web.client.cookies.clear()
    agent.login("agent")
    assert agent.get("/retention/playbooks").status_code == 403
    assert agent.post("/retention/playbooks/new", PLAYBOOK).status_code == 403


def test_playbook_without_names_names_both_fields_in_the_reader_s_language(web, db, users):
    """An empty name said "name_en is required." (the code, in English), and only that."""
    from retento.retention.models import RetentionPlaybook

    users["manager"].locale = "zh_CN"
    db.commit()
    web.login("manager")
    before = db.query(RetentionPlaybook).count()
    form = {**PLAYBOOK, "value_class": "key", "reason": "survey", "name_en": "", "name_zh": ""}
    r = web.post("/retention/playbooks/new", form)
    assert r.status_code == 422 and "name_en is required" not in r.text
    assert r.text.count("此项为必填。") == 2
    assert db.query(RetentionPlaybook).count() == before


@pytest.mark.parametrize(
    ("cost", "message"),
    [
        ("NaN", "amount must be finite"),
        ("Infinity", "amount must be finite"),
        ("1e400", "amount must be at most"),
        ("1.005", "amount must have at most 2 decimal places"),
        ("abc", "Enter a number."),
    ],
)
def test_playbook_cost_that_is_no_amount_is_refused_naming_the_field(web, db, users, cost, message):
    """A cost of "NaN" was a 500 (the service compared a NaN); every odd amount is a 422 on the
    cost field, read like every other money field, and the playbook is unchanged."""
    from retento.retention.models import RetentionPlaybook

    web.login("manager")
    created = web.post(
        "/retention/playbooks/new", {**PLAYBOOK, "value_class": "key", "reason": "survey"}
    )
    assert created.status_code == 303
    pb = db.query(RetentionPlaybook).filter_by(value_class="key", reason="survey").one()
    r = web.post(
        f"/retention/playbooks/{pb.id}", {**PLAYBOOK, "cost": cost, "due_days": "9", "version": "1"}
    )
    assert r.status_code == 422 and message in r.text
    db.expire_all()
    pb = db.get(RetentionPlaybook, pb.id)
    assert pb.cost == Decimal("80.00") and pb.due_days == 2 and pb.version == 1
    grouped = web.post(
        f"/retention/playbooks/{pb.id}", {**PLAYBOOK, "cost": "1,000.50", "version": "1"}
    )
    assert grouped.status_code == 303
    db.expire_all()
    assert db.get(RetentionPlaybook, pb.id).cost == Decimal("1000.50")


def test_playbook_voucher_that_is_no_id_is_refused_on_its_field(web, db, users):
    """A voucher id past 2^63 reached PostgreSQL (a field-less 'A value is outside what the
    database can store.'); it is refused on the voucher field."""
    from retento.retention.models import RetentionPlaybook

    web.login("manager")
    web.post("/retention/playbooks/new", {**PLAYBOOK, "value_class": "key", "reason": "survey"})
    pb = db.query(RetentionPlaybook).filter_by(value_class="key", reason="survey").one()
    for typed in ("9223372036854775808", "-1", "abc"):
        r = web.post(
            f"/retention/playbooks/{pb.id}", {**PLAYBOOK, "offer_reward_id": typed, "version": "1"}
        )
        assert r.status_code == 422 and "Choose a reward from the list." in r.text, typed
        assert "outside what the database" not in r.text
    db.expire_all()
    assert db.get(RetentionPlaybook, pb.id).version == 1


def test_playbook_cost_error_in_chinese(web, db, users):
    from retento.retention.models import RetentionPlaybook

    users["manager"].locale = "zh_CN"
    db.commit()
    web.login("manager")
    web.post("/retention/playbooks/new", {**PLAYBOOK, "value_class": "key", "reason": "survey"})
    pb = db.query(RetentionPlaybook).filter_by(value_class="key", reason="survey").one()
    r = web.post(f"/retention/playbooks/{pb.id}", {**PLAYBOOK, "cost": "NaN", "version": "1"})
    assert r.status_code == 422 and "请输入有效的金额" in r.text


def test_dashboard_shows_alerts_and_winback_in_chinese(web, alerts, users, db):
    users["manager"].locale = "zh_CN"
    db.commit()
    web.login("manager")
    d = web.get("/retention")
    assert d.status_code == 200
    assert 'id="alerts-chart"' in d.text and 'id="winback-table"' in d.text
    assert "重要客户：全力挽回" in d.text
    a = web.get("/retention/alerts")
    assert a.status_code == 200 and "流失预警" in a.text
    assert web.get("/retention/tasks").status_code == 200
    assert web.get("/retention/playbooks").status_code == 200


def test_customer_360_shows_alerts_tasks_and_cases(web, alerts, db, users):
    from retento.customers.models import Customer

    vip = db.get(Customer, alerts["agent"].customer_id)
    _task(db, users["agent"], vip, title="Call Vera about the breach")
    db.commit()
    web.login("agent")
    page = web.get(f"/customers/{vip.id}")
    assert page.status_code == 200 and 'id="retention-panel"' in page.text
    assert "Complaint C-7 breached its SLA 12 days ago" in page.text
    assert "Call Vera about the breach" in page.text
    calm = make_customer(db, name="Quiet Customer")
    db.commit()
    assert 'id="retention-panel"' not in web.get(f"/customers/{calm.id}").text


def test_every_churn_reason_filter_option_has_a_name_in_both_languages():
    """The at-risk reason filter showed the codes units_falling / units_per_order as options."""
    from retento.retention.pages_common import reason_codes
    from retento.web.i18n import gettext
    from retento.web.labels import label_msgid

    for code in reason_codes():
        name = label_msgid("churn_reason", code)
        assert name != code, code
        assert gettext("zh_CN", name) != name, code


def test_a_task_that_cannot_change_so_is_explained_in_chinese(web, db, users):
    """ "Not done: A task that is done cannot become cancelled." was English, with codes, on the
    Chinese task list; the statuses are now named as the list names them."""
    from retento.retention.models import RetentionTask
    from retento.web.i18n import gettext

    c = make_customer(db, name="Tina Zh", owner_id=users["agent"].id)
    t = _task(db, users["agent"], c, result="reached")
    t.status = "done"
    users["agent"].locale = "zh_CN"
    db.commit()
    web.login("agent")
    r = web.post(
        f"/retention/tasks/{t.id}/status", {"status": "cancelled", "version": str(t.version)},
        follow_redirects=True,
    )  # fmt: skip
    done, cancelled = gettext("zh_CN", "Done"), gettext("zh_CN", "Cancelled")
    assert f"状态为“{done}”的任务不能改为“{cancelled}”。" in r.text
    assert "cannot become" not in r.text
    db.expire_all()
    assert db.get(RetentionTask, t.id).status == "done"


@pytest.mark.parametrize(
    ("locale", "note"),
    [
        ("en", "The trend line appears once there are two scoring runs with churn risk."),
        ("zh_CN", "有两次含流失风险的评分运行后，这里会显示趋势线。"),
    ],
)
def test_dashboard_trend_with_one_run_says_it_needs_two(web, db, users, locale, note):
    """One scoring run is one point, no line: a note instead of a lone dot; the run's row stays."""
    c = make_customer(db, name="Una Only")
    run = _run(db, datetime(2025, 6, 30, tzinfo=UTC))
    db.add(_score(run, c, "ordinary", "1000.00", 0.4, [LAPSED]))
    users["manager"].locale = locale
    db.commit()
    web.login("manager")
    d = web.get("/retention")
    assert d.status_code == 200
    assert 'id="trend-chart"' not in d.text
    assert 'id="trend-empty"' in d.text and note in d.text
    assert 'id="trend-table"' in d.text and f"<td>#{run.id}</td>" in d.text
    # A second run: the chart, no note.
    later = _run(db, datetime(2025, 9, 30, tzinfo=UTC))
    db.add(_score(later, c, "ordinary", "1000.00", 0.6, [LAPSED]))
    db.commit()
    d = web.get("/retention")
    assert 'id="trend-chart"' in d.text and 'id="trend-empty"' not in d.text
