"""The home dashboards per role: what each shows and hides, and how the period and segment
filters change the numbers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.web.conftest import Browser

NOW = datetime.now(UTC)


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def _kpi(html: str, kpi_id: str) -> str:
    m = re.search(rf'id="{kpi_id}">.*?<div class="kpi-value[^"]*">([^<]*)</div>', html, re.S)
    assert m, f"no KPI {kpi_id}"
    return m.group(1).strip()


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
    # the shop's run was stored before the interval and the paired test: what exists shows
    assert 'id="model-auc-ci"' not in html and 'id="model-auc-comparison"' not in html
    assert 'id="fresh-customers">3<' in html
    assert 'id="home-queue"' not in html and 'id="manager-kpis"' not in html
    assert "Call Sam" not in html
    # the analyst may also open the manager view, never the agent's
    assert web.get("/?view=manager").status_code == 200
    assert web.get("/?view=agent").status_code == 403


@pytest.mark.parametrize(
    ("difference", "ci95", "verdict", "english", "chinese"),
    [
        (0.112, [0.051, 0.173], "model", "the model ranks customers better.", "模型对客户的排序更好。"),
        (-0.09, [-0.15, -0.03], "baseline", "BG/NBD alone ranks customers better.", "仅用 BG/NBD 的排序更好。"),
        (0.02, [-0.04, 0.08], "unclear", "no clear difference on this test.", "本次检验中两者无明显差别。"),
    ],
)  # fmt: skip
def test_analyst_sees_the_auc_interval_and_the_paired_test(
    web, db, shop, difference, ci95, verdict, english, chinese
):
    """The home card shows the churn AUC's 95 % interval and DeLong's verdict against BG/NBD
    alone from the stored run, in the value dashboard's words."""
    run = shop["run"]
    report = dict(run.report)
    report["churn"] = {
        **report["churn"],
        "holdout": {
            "status": "computed",
            "metrics": {"roc_auc": 0.812, "roc_auc_ci95": [0.781, 0.843]},
            "baseline": {"roc_auc": 0.7},
            "comparison": {"roc_auc_difference": difference, "ci95": ci95, "p_value": 0.01},
        },
    }
    run.report = report
    db.commit()
    web.login("analyst")
    html = web.get("/").text
    said = " ".join(html.split())
    assert re.search(
        r'id="model-auc">0.812 \(BG/NBD alone 0.700\); <span id="model-auc-ci">'
        r"95 % interval of the ROC AUC: 0.781–0.843</span><",
        html,
    )
    low, high = (f"{v:+.3f}" for v in ci95)
    row = re.search(
        r'<dt>Against BG/NBD alone</dt>\s*<dd id="model-auc-comparison"([^>]*)>([^<]*)<', html
    )
    assert row, "no comparison row"
    assert f'data-verdict="{verdict}"' in row.group(1)
    assert row.group(2) == (
        f"ROC AUC difference {difference:+.3f} (95 % interval {low} to {high}): {english}"
    )
    assert "Against BG/NBD alone" in said
    web.post("/locale", {"lang": "zh_CN", "next": "/?view=analyst"})
    zh = web.get("/").text
    m = re.search(r'id="model-auc-ci">([^<]*)<', zh)
    assert m and m.group(1) == "ROC AUC 的 95% 置信区间：0.781–0.843"
    row = re.search(
        r'<dt>与仅用 BG/NBD 相比</dt>\s*<dd id="model-auc-comparison"[^>]*>([^<]*)<', zh
    )
    assert row, "no comparison row in Chinese"
    assert row.group(1) == (
        f"ROC AUC 之差 {difference:+.3f}（95% 置信区间 {low} 至 {high}）：{chinese}"
    )
    assert "仅用 BG/NBD：0.700" in zh


def test_analyst_card_shows_the_interval_of_a_run_stored_without_the_paired_test(web, db, shop):
    run = shop["run"]
    report = dict(run.report)
    report["churn"] = {
        **report["churn"],
        "holdout": {
            "metrics": {"roc_auc": 0.812, "roc_auc_ci95": [0.781, 0.843]},
            "baseline": {"roc_auc": 0.7},
        },
    }
    run.report = report
    db.commit()
    web.login("analyst")
    html = web.get("/").text
    assert 'id="model-auc-ci">95 % interval of the ROC AUC: 0.781–0.843<' in html
    assert 'id="model-auc-comparison"' not in html and "Against BG/NBD alone" not in html


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
