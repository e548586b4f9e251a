"""A churn-risk alert's reason joins the model's reasons with the reader's punctuation: the
Chinese pages said "流失风险 84 %（风险模型）: …; …" with ASCII colon and semicolon."""

from __future__ import annotations

from retento.retention.reasons import render_reason

MODEL = [
    {"code": "few_purchases", "params": {"n": 2, "tenure_days": 365}},
    {"code": "lapsed_once", "params": {"since_days": 150}},
]


def test_model_reasons_follow_a_full_width_colon_and_semicolons_in_chinese():
    zh = render_reason("churn_risk", {"risk": 84, "model": MODEL}, "zh_CN")
    head, _, rest = zh.partition("：")
    assert head == "流失风险 84 %（风险模型）", zh
    assert rest.count("；") == 2 and ": " not in zh and "; " not in zh, zh


def test_english_keeps_its_colon_and_semicolons():
    en = render_reason("churn_risk", {"risk": 84, "model": MODEL}, "en")
    assert en.startswith("Churn risk 84 % (risk model): ") and en.count("; ") == 2, en
