"""The home dashboards per role: what each shows and hides, and how the period and segment
filters change the numbers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from retento.retention.models import RetentionAlert, RetentionTask
from retento.scoring.models import CustomerScore, ScoreRun
from retento.surveys import service as survey_service
from retento.surveys.models import SurveyAnswer, SurveyResponse
from retento.surveys.schemas import SurveyFromTemplate
from tests.factories import make_customer, make_order
from tests.factories.complaints import make_complaint
from tests.web.conftest import Browser

NOW = datetime.now(UTC)


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def _kpi(html: str, kpi_id: str) -> str:
    m = re.search(rf'id="{kpi_id}">.*?<div class="kpi-value[^"]*">([^<]*)</div>', html, re.S)
    assert m, f"no KPI {kpi_id}"
    return m.group(1).strip()


@pytest.fixture
def shop(db, users):
    """Three customers (VIP, small, ordinary) with orders 5, 60 and 400 days ago, a scoring run,
    a breaching complaint assigned to the agent, NPS answers, an open alert and a task."""
    vip = make_customer(db, name="Vera Vip")
    small = make_customer(db, name="Sam Small")
    old = make_customer(db, name="Olga Old")
    make_order(db, vip, ordered_at=NOW - timedelta(days=5))  # 2 × 10.00 = 20.00
    make_order(db, vip, ordered_at=NOW - timedelta(days=3))
    make_order(db, small, ordered_at=NOW - timedelta(days=60))
    make_order(db, old, ordered_at=NOW - timedelta(days=400))
    run = ScoreRun(
        model="bgnbd",
        status="succeeded",
        as_of=NOW,
        started_at=NOW - timedelta(seconds=12),
        finished_at=NOW,
        customers_scored=3,
        report={
            "holdout": {"weeks": 26, "mae": 0.1234},
            "churn": {
                "status": "scored",
                "holdout": {"metrics": {"roc_auc": 0.812}, "baseline": {"roc_auc": 0.7}},
            },
        },
    )
    db.add(run)
    db.flush()
    for c, vc, clv, risk in (
        (vip, "vip", "100.00", 0.8),
        (small, "small", "50.00", 0.2),
        (old, "ordinary", "30.00", 0.6),
    ):
        db.add(
            CustomerScore(
                run_id=run.id,
                customer_id=c.id,
                revenue=Decimal("0"),
                profit=Decimal("0"),
                monetary=Decimal("0"),
                clv=Decimal(clv),
                churn_risk=risk,
                value_class=vc,
                label="other",
                loyalty_stage="regular",
            )
        )
    complaint = make_complaint(db, actor=users["manager"], customer_id=vip.id)
    complaint.assignee_id = users["agent"].id
    complaint.resolution_due_at = NOW - timedelta(hours=2)
    calm = make_complaint(db, actor=users["manager"], customer_id=small.id, subject="Late reply")
    calm.assignee_id = users["agent"].id
    calm.resolution_due_at = NOW + timedelta(days=2)
    calm.first_response_due_at = NOW + timedelta(days=1)
    calm.sla_flag = "ok"
    survey = survey_service.create_from_template(
        db, SurveyFromTemplate(template="standard"), actor=users["manager"]
    )
    nps_q = next(q for q in survey.questions if q.qtype == "nps")
    for customer, score, days in ((vip, 10, 2), (small, 3, 2), (old, 9, 40)):
        r = SurveyResponse(
            survey_id=survey.id,
            customer_id=customer.id,
            channel="phone",
            status="completed",
            completed_at=NOW - timedelta(days=days),
        )
        db.add(r)
        db.flush()
        db.add(SurveyAnswer(response_id=r.id, question_id=nps_q.id, number=score))
    db.add(
        RetentionAlert(
            customer_id=vip.id,
            rule="lapsed",
            cause_key="x",
            severity="high",
            reason_code="lapsed",
            value_class="vip",
            status="open",
        )
    )
    db.add(
        RetentionTask(
            customer_id=small.id,
            owner_id=users["agent"].id,
            title="Call Sam about the late parcel",
            due_on=(NOW - timedelta(days=1)).date(),
        )
    )
    db.commit()
    return {"vip": vip, "small": small, "old": old, "run": run, "complaint": complaint}


def test_manager_lands_on_kpis_value_at_risk_breaching_nps_and_alerts(web, shop):
    web.login("manager")
    r = web.get("/")
    assert r.status_code == 200
    html = r.text
    assert 'id="manager-kpis"' in html and "Manager dashboard" in html
    assert _kpi(html, "kpi-customers") == "3"
    assert _kpi(html, "kpi-active") == "1 (33.3 %)"  # only the VIP bought in the last 30 days
    assert _kpi(html, "kpi-revenue") == "$40.00"
    assert _kpi(html, "kpi-repeat") == "100.0 %"
    # CLV × risk: 80 + 10 + 18
    assert _kpi(html, "kpi-var") == "$108.00"
    assert _kpi(html, "kpi-breaching") == "1"
    assert _kpi(html, "kpi-alerts") == "1"
    assert shop["complaint"].tracking_code in html
    assert "Vera Vip" in html  # largest value at risk
    assert 'id="nps-chart"' in html and "data-chart=" in html
    # 30 days: one promoter (10) and one detractor (3) → NPS 0
    assert re.search(r"NPS 0.0 \(2 answers\)", html)
    assert 'href="/retention/alerts"' in html and 'href="/complaints?tab=soon"' in html
    # not the agent's or the analyst's blocks
    assert 'id="home-queue"' not in html and 'id="home-model"' not in html


def test_period_filter_changes_the_numbers(web, shop):
    web.login("manager")
    html = web.get("/?period=90").text
    assert _kpi(html, "kpi-active") == "2 (66.7 %)"
    assert _kpi(html, "kpi-revenue") == "$60.00"
    assert _kpi(html, "kpi-repeat") == "50.0 %"
    assert re.search(r"NPS 100.0 \(1 answers\)", html)  # the 40-day-old promoter's month
    html = web.get("/?period=all").text
    assert _kpi(html, "kpi-active") == "3 (100.0 %)" and _kpi(html, "kpi-revenue") == "$80.00"
    first = (NOW - timedelta(days=70)).date().isoformat()
    last = (NOW - timedelta(days=50)).date().isoformat()
    html = web.get(f"/?period=custom&from={first}&to={last}").text
    assert _kpi(html, "kpi-active") == "1 (33.3 %)" and _kpi(html, "kpi-revenue") == "$20.00"
    assert 'id="f-from"' in html and f'value="{first}"' in html


def test_segment_filter_narrows_to_the_scored_segment(web, shop):
    web.login("manager")
    html = web.get("/?period=all&segment=value_class:vip").text
    assert _kpi(html, "kpi-customers") == "1"
    assert _kpi(html, "kpi-var") == "$80.00"
    assert _kpi(html, "kpi-revenue") == "$40.00"
    assert _kpi(html, "kpi-breaching") == "1"  # the breaching complaint is the VIP's
    assert "VIP" in html
    html = web.get("/?period=all&segment=value_class:small").text
    assert _kpi(html, "kpi-customers") == "1"
    assert _kpi(html, "kpi-var") == "$10.00"
    assert _kpi(html, "kpi-breaching") == "0" and _kpi(html, "kpi-alerts") == "0"
    assert "Vera Vip" not in html


def test_bad_filters_are_422_naming_the_field(web, shop):
    web.login("manager")
    for query, field in (
        ("period=7", "period"),
        ("segment=tier:gold", "segment"),
        ("period=custom&from=2026-02-01&to=2026-01-01", "to"),
        ("period=custom&from=soon&to=2026-01-01", "from"),
        ("view=boss", "view"),
    ):
        r = web.get(f"/?{query}")
        assert r.status_code == 422, query
        assert field in r.text, query


def test_agent_sees_own_queue_breaching_first_and_tasks_not_manager_numbers(web, shop):
    web.login("agent")
    r = web.get("/")
    assert r.status_code == 200
    html = r.text
    assert 'id="agent-kpis"' in html and "My work" in html
    assert _kpi(html, "kpi-queue") == "2" and _kpi(html, "kpi-queue-breaching") == "1"
    assert _kpi(html, "kpi-tasks") == "1" and _kpi(html, "kpi-overdue") == "1"
    queue = html[html.index('id="home-queue-table"') :]
    assert queue.index(shop["complaint"].tracking_code) < queue.index("Late reply")
    assert "Call Sam about the late parcel" in html
    assert 'id="manager-kpis"' not in html and "Value at risk" not in html
    assert 'id="home-model"' not in html and 'id="home-views"' not in html
    assert web.get("/?view=manager").status_code == 403
    assert web.get("/?view=analyst").status_code == 403
    html = web.get("/?segment=value_class:small&period=all").text
    assert _kpi(html, "kpi-queue") == "1" and _kpi(html, "kpi-queue-breaching") == "0"


def test_analyst_sees_model_health_and_freshness(web, shop):
    web.login("analyst")
    html = web.get("/").text
    assert 'id="home-model"' in html and "Model and data health" in html
    assert f'href="/value?run={shop["run"].id}"' in html
    assert re.search(r'id="model-seconds">12.0 s<', html)
    assert re.search(r'id="model-mae">0.1234<', html)
    assert re.search(r'id="model-auc">0.812 \(BG/NBD alone 0.700\)<', html)
    assert 'id="fresh-customers">3<' in html
    assert 'id="home-queue"' not in html and 'id="manager-kpis"' not in html
    assert "Call Sam" not in html
    # the analyst may also open the manager view, never the agent's
    assert web.get("/?view=manager").status_code == 200
    assert web.get("/?view=agent").status_code == 403


def test_admin_lands_on_the_manager_view_and_may_switch(web, shop):
    web.login("admin")
    html = web.get("/").text
    assert 'id="manager-kpis"' in html
    assert 'id="view-agent"' in html and 'id="view-analyst"' in html
    html = web.get("/?view=analyst&period=90").text
    assert 'id="home-model"' in html
    assert '<input type="hidden" name="view" value="analyst">' in html


def test_home_in_chinese(web, shop):
    web.login("manager")
    web.post("/locale", {"lang": "zh_CN", "next": "/"})
    html = web.get("/").text
    assert '<html lang="zh-CN">' in html
    assert "经理看板" in html and "风险价值" in html and "近 30 天" in html
    web.login("agent")
    web.post("/locale", {"lang": "zh_CN", "next": "/"})
    html = web.get("/").text
    assert "我的工作" in html and "我的投诉队列" in html


def test_home_before_any_data(web, users):
    web.login("manager")
    html = web.get("/").text
    assert _kpi(html, "kpi-customers") == "0" and _kpi(html, "kpi-var") == "—"
    assert 'id="nps-empty"' in html
    web.login("analyst")
    assert 'id="model-none"' in web.get("/").text
    # a segment before any scoring run selects no one (not everyone)
    web.login("manager")
    assert web.get("/?segment=value_class:vip").status_code == 200
