"""The last parameters named by raw names, now named as their page labels them, in the
reader's language (the sequel of ``test_param_error_labels_more``): the drivers and propensity
selects (``ci``, ``outcome``, ``kind``, ``method``) and whole numbers, the Value page's run, the
scoring run form's reasons, the Qini curve's ``top_k``, the member export's format, the
segmentation's ``method``, ``k_min`` and ``k_max``, the survey results' ``tolerance``, the CSI
report's ``model``, ``scheme`` and ``bootstrap``, the notification list's page, and the status
and score filters of the API. The API keeps the codes in its English text and in ``field``."""

from __future__ import annotations

import pytest

from retento.core.errors import InvalidInput
from retento.insights import drivers_queries, segments_service
from retento.loyalty import members_io
from retento.notifications import service as notifications
from retento.retention import report as retention_report
from retento.surveys import csi_report
from retento.surveys import reports as survey_reports
from retento.web.i18n import message_text
from tests.web import test_param_error_labels_more as _more
from tests.web.test_param_error_labels import _message, _speak
from tests.web.test_param_error_labels_more import _text

survey_id = _more.survey_id  # the fixture, shared

# Pages given back (422) with the error under the select or field: (url, English, Chinese).
FORM_PAGES = [
    (
        "/insights/drivers?ci=bogus",
        "Confidence intervals (ci) must be one of: Bootstrap percentiles, "
        "OLS on the selected drivers.",
        "置信区间（ci）必须是以下之一：Bootstrap 百分位、对选中因素做 OLS。",
    ),
    (
        "/insights/drivers?outcome=bogus",
        "Outcome (outcome) must be one of: Spend per customer in the outcome period (log scale),",
        "结果（outcome）必须是以下之一：结果期内每位客户的消费（对数尺度）、",
    ),
    (
        "/insights/drivers?period_days=abc",
        "Outcome period (days) (period_days) must be a whole number.",
        "结果期（天）（period_days）必须是整数。",
    ),
    (
        "/insights/propensity?kind=bogus",
        "Target is a (kind) must be one of: Category, Product.",
        "目标类型（kind）必须是以下之一：类别、产品。",
    ),
    (
        "/insights/propensity?kind=category&target=x&method=bogus",
        "Model (method) must be one of: Gradient boosting, Logistic regression.",
        "模型（method）必须是以下之一：梯度提升、逻辑回归。",
    ),
    (
        "/insights/propensity?kind=category&target=x&top_k=many",
        "Customers to invite (top_k) must be a whole number.",
        "邀请客户数（top_k）必须是整数。",
    ),
]

# Pages and downloads answering with the error page: (url, English, Chinese).
ERROR_PAGES = [
    (
        "/insights/drivers/export.csv?ci=bogus",
        "Confidence intervals (ci) must be one of: Bootstrap percentiles, "
        "OLS on the selected drivers.",
        "置信区间（ci）必须是以下之一：Bootstrap 百分位、对选中因素做 OLS。",
    ),
    (
        "/insights/propensity/invite.csv?kind=category&target=x&method=bogus",
        "Model (method) must be one of: Gradient boosting, Logistic regression.",
        "模型（method）必须是以下之一：梯度提升、逻辑回归。",
    ),
    (
        "/value?run=abc",
        "Scoring run (run) must be a whole number.",
        "评分运行（run）必须是整数。",
    ),
    (
        "/retention?top_k=5",
        "Top k by churn risk (top_k) must be a share between 0 and 1.",
        "按流失风险的前 k（top_k）必须是 0 到 1 之间的比例。",
    ),
    (
        "/retention/uplift.csv?top_k=0",
        "Top k by churn risk (top_k) must be a share between 0 and 1.",
        "按流失风险的前 k（top_k）必须是 0 到 1 之间的比例。",
    ),
    (
        "/loyalty/members/export.pdf",
        "File format (format) must be one of: CSV, Excel.",
        "文件格式（format）必须是以下之一：CSV、Excel。",
    ),
]


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_bad_parameters_name_the_control_as_the_page_does(web, users, lang):
    _speak(web, users, "admin", lang)
    for url, en, zh in FORM_PAGES:
        r = web.get(url)
        assert r.status_code == 422, (url, r.status_code)
        assert (en if lang == "en" else zh) in _text(r.text), url
        if lang == "zh_CN":
            assert "must be" not in r.text, url
    for url, en, zh in ERROR_PAGES:
        r = web.get(url)
        assert r.status_code == 422, (url, r.status_code)
        assert _message(r.text) == (en if lang == "en" else zh), url


@pytest.mark.parametrize(
    ("lang", "texts"),
    [
        (
            "en",
            [
                "Smallest k (k_min) must not be larger than Largest k (k_max).",
                "Method (method) must be one of: k-means (k by silhouette), "
                "Gaussian mixture (k by BIC).",
            ],
        ),
        (
            "zh_CN",
            [
                "最小 k（k_min）不能大于最大 k（k_max）。",
                "方法（method）必须是以下之一：k 均值（按轮廓系数选 k）、高斯混合（按 BIC 选 k）。",
            ],
        ),
    ],
)
def test_the_segmentation_form_names_k_min_k_max_and_method(web, users, db, lang, texts):
    _speak(web, users, "admin", lang)
    forms = [
        {"method": "kmeans", "k": "", "k_min": "6", "k_max": "3", "seed": "0"},
        {"method": "dbscan", "k": "", "k_min": "2", "k_max": "8", "seed": "0"},
    ]
    for form, text in zip(forms, texts, strict=True):
        r = web.post("/insights/segments/run", form)
        assert r.status_code == 422, (form, r.status_code)
        assert text in _text(r.text)
        if lang == "zh_CN":
            assert "must" not in r.text
    # nothing was started
    from retento.insights.models import InsightRun

    assert db.query(InsightRun).count() == 0


@pytest.mark.parametrize(
    ("lang", "texts"),
    [
        (
            "en",
            [
                "Scoring could not start: Holdout weeks: Enter a number of at most 260.",
                "Scoring could not start: Churn horizon (days): Enter a number of at least 14.",
                "Scoring could not start: Score as of must be a date as YYYY-MM-DD.",
            ],
        ),
        (
            "zh_CN",
            [
                "无法开始评分：验证期（周）：请输入不大于 260 的数字。",
                "无法开始评分：流失期限（天）：请输入不小于 14 的数字。",
                "无法开始评分：评分截止日期必须是 YYYY-MM-DD 格式的日期。",
            ],
        ),
    ],
)
def test_the_scoring_run_form_names_each_field_by_its_label(web, users, lang, texts):
    """The run form reports every refusal in the Value page's flash (its pattern for all of its
    fields): pydantic's English ("Input should be less than or equal to 260") named no field
    and stayed English on Chinese pages."""
    _speak(web, users, "manager", lang)
    forms = [
        {"model": "bgnbd", "holdout_weeks": "999"},
        {"model": "bgnbd", "churn_horizon_days": "5"},
        {"model": "bgnbd", "as_of": "2026-13-01"},
    ]
    for form, text in zip(forms, texts, strict=True):
        r = web.post("/value/runs", form)
        assert r.status_code == 303 and r.headers["location"] == "/value", form
        page = web.get("/value").text
        assert text in _text(page), form
        assert "Input should" not in page


def test_the_api_keeps_the_codes(client, tokens, survey_id):
    cases = [
        (
            f"/api/v1/surveys/{survey_id}/results?tolerance=0.9",
            "tolerance",
            "Tolerance of c = b/a (tolerance) must be between 0 and 0.5.",
        ),
        (
            "/api/v1/retention/tasks?status=bogus",
            "status",
            "Status (status) must be one of: open, done, cancelled.",
        ),
        (
            "/api/v1/work?status=bogus",
            "status",
            "Status (status) must be one of: queued, running, done, failed.",
        ),
        (
            "/api/v1/scores?stage=bogus",
            "stage",
            "Loyalty stage (stage) must be one of: potential, new, regular, old, loyal.",
        ),
        (
            "/api/v1/scores?label=bogus",
            "label",
            "Label (label) must be one of: mvc, mgc, bz, other.",
        ),
    ]
    for url, field, detail in cases:
        r = client.get(url, headers=tokens["admin"])
        assert r.status_code == 422, (url, r.status_code, r.text)
        body = r.json()
        assert body["code"] == "invalid_input", url
        assert body["field"] == field and body["errors"][0]["field"] == field, url
        assert body["detail"] == detail, url
    r = client.post(
        "/api/v1/insights/segments/runs",
        json={"method": "kmeans", "k_min": 6, "k_max": 3},
        headers=tokens["admin"],
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "invalid_input" and body["field"] == "k_min"
    assert body["detail"] == "Smallest k (k_min) must not be larger than Largest k (k_max)."


def _refusal(call) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value


def test_service_checks_the_pages_do_not_reach_speak_both_languages(db, users, survey_id):
    """Checks the API's types or the pages make first, reached by the command line or a
    caller of the service: the same names, the codes in English."""
    admin = users["admin"]
    cases = [
        (
            lambda: csi_report.csi_report(db, survey_id, actor=admin, model="scsi"),
            "model",
            "Satisfaction index model (model) must be one of: ecsi, acsi.",
            "满意度指数模型（model）必须是以下之一：ECSI、ACSI。",
        ),
        (
            lambda: csi_report.csi_report(db, survey_id, actor=admin, scheme="mode_a"),
            "scheme",
            "Inner weighting scheme (scheme) must be one of: centroid, factorial, path.",
            "内部加权方案（scheme）必须是以下之一：质心加权、因子加权、路径加权。",
        ),
        (
            lambda: csi_report.csi_report(db, survey_id, actor=admin, bootstrap=5000),
            "bootstrap",
            "Bootstrap resamples (bootstrap) must be between 0 and 2000.",
            "Bootstrap 重抽样次数（bootstrap）必须在 0 到 2000 之间。",
        ),
        (
            lambda: survey_reports.survey_results(db, survey_id, actor=admin, tolerance=-0.1),
            "tolerance",
            "Tolerance of c = b/a (tolerance) must be between 0 and 0.5.",
            "c = b/a 的容差（tolerance）必须在 0 到 0.5 之间。",
        ),
        (
            lambda: drivers_queries.driver_report(db, actor=admin, ci="jackknife"),
            "ci",
            "Confidence intervals (ci) must be one of: bootstrap, ols.",
            "置信区间（ci）必须是以下之一：Bootstrap 百分位、对选中因素做 OLS。",
        ),
        (
            lambda: drivers_queries.propensity_report(db, actor=admin, kind="brand", target="x"),
            "kind",
            "Target is a (kind) must be one of: category, product.",
            "目标类型（kind）必须是以下之一：类别、产品。",
        ),
        (
            lambda: drivers_queries.propensity_report(
                db, actor=admin, kind="category", target="x", method="svm"
            ),
            "method",
            "Model (method) must be one of: gb, logistic.",
            "模型（method）必须是以下之一：梯度提升、逻辑回归。",
        ),
        (
            lambda: notifications.list_notifications(db, actor=admin, offset=-1),
            "offset",
            "Position in the list (offset) must not be negative.",
            "列表位置（offset）不能为负数。",
        ),
        (
            lambda: notifications.list_notifications(db, actor=admin, limit=0),
            "limit",
            "Page size (limit) must be between 1 and 500.",
            "每页条数（limit）必须在 1 到 500 之间。",
        ),
        (
            lambda: segments_service.check_params({"k_min": 1, "k_max": 4}),
            "k_min",
            "Smallest k (k_min) must be between 2 and 12.",
            "最小 k（k_min）必须在 2 到 12 之间。",
        ),
        (
            lambda: segments_service.check_params({"k_min": 2, "k_max": 20}),
            "k_max",
            "Largest k (k_max) must be between 2 and 12.",
            "最大 k（k_max）必须在 2 到 12 之间。",
        ),
        (
            lambda: segments_service.check_params({"method": "dbscan"}),
            "method",
            "Method (method) must be one of: kmeans, gmm.",
            "方法（method）必须是以下之一：k 均值（按轮廓系数选 k）、高斯混合（按 BIC 选 k）。",
        ),
        (
            lambda: retention_report.uplift_report(db, actor=admin, top_k=1.5),
            "top_k",
            "Top k by churn risk (top_k) must be a share between 0 and 1.",
            "按流失风险的前 k（top_k）必须是 0 到 1 之间的比例。",
        ),
        (
            lambda: members_io.check_export_format("pdf"),
            "format",
            "File format (format) must be one of: csv, xlsx.",
            "文件格式（format）必须是以下之一：CSV、Excel。",
        ),
    ]
    for call, field, en, zh in cases:
        err = _refusal(call)
        assert err.status == 422 and err.code == "invalid_input", en
        assert err.field == field, (en, err.field)
        assert str(err.message) == en
        assert message_text("zh_CN", err.message) == zh
