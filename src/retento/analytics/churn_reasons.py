"""Churn reasons in words: stable reason codes with English and Chinese templates, filled from
each customer's own values ("no purchase for 5 months; usually buys every 6 weeks").

Used by :class:`retento.analytics.churn.ChurnRiskModel` to turn feature contributions into
business language; never raw column names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

# Reason codes (stable, for playbooks and translations) and their texts. Placeholders are
# filled from the customer's own values.
REASONS: dict[str, tuple[str, str]] = {
    "lapsed": (
        "no purchase for {since}; usually buys every {gap}",
        "已{since}未购买；通常每{gap}购买一次",
    ),
    "lapsed_once": ("no purchase for {since}; bought only once", "已{since}未购买；只购买过一次"),
    "purchases_falling": (
        "fewer purchases: {recent} in the last {window} against {prior} in the {window} before",
        "购买减少：最近{window}{recent}次，此前{window}{prior}次",
    ),
    "few_purchases": ("only {n} purchase(s) in {tenure}", "{tenure}内仅购买{n}次"),
    "spend_falling": (
        "spending fell: {recent} in the last {window} against {prior} in the {window} before",
        "消费下降：最近{window}为 {recent}，此前{window}为 {prior}",
    ),
    "low_spend": ("low spend: {mean} per purchase on average", "消费偏低：平均每次{mean}"),
    "new_customer": ("customer for only {tenure}", "成为客户仅{tenure}"),
    "units_falling": (
        "fewer items bought: {recent} in the last {window} against {prior} in the {window} before",
        "购买件数减少：最近{window}{recent}件，此前{window}{prior}件",
    ),
    "units_per_order": (
        "buys {n} item(s) per purchase on average",
        "平均每次购买{n}件",
    ),
    "inactive_model": (
        "the purchase-pattern model gives only a {p} % chance that the customer is still active",
        "购买模式模型估计该客户仍活跃的概率仅为 {p}%",
    ),
    # The same groups when the customer's value is not below the typical customer's (the
    # model's baseline, the population median): the group still raises this customer's risk
    # (trees combine features), but "low" or "only" would contradict the figure shown.
    "spend_level": ("spends {mean} per purchase on average", "平均每次消费{mean}"),
    "purchase_count": ("{n} purchase(s) in {tenure}", "{tenure}内购买{n}次"),
    "tenure": ("customer for {tenure}", "成为客户已{tenure}"),
    "units_level": ("buys {n} item(s) per purchase on average", "平均每次购买{n}件"),
    "active_model": (
        "the purchase-pattern model puts the chance that the customer is still active at {p} %",
        "购买模式模型估计该客户仍活跃的概率为 {p}%",
    ),
}


# -- reason texts -------------------------------------------------------------------------------
_UNITS = {
    "en": (("day", "days"), ("week", "weeks"), ("month", "months"), ("year", "years")),
    "zh": (("天", "天"), ("周", "周"), ("个月", "个月"), ("年", "年")),
}


def duration_text(days: ArrayLike, lang: str = "en") -> list[str]:
    """Days in words: '5 days', '6 weeks', '5 months', '1.5 years' (or Chinese)."""
    d = np.asarray(days, dtype=float)
    out = []
    units = _UNITS[lang]
    for v in d.tolist():
        if not np.isfinite(v):
            out.append("?")
            continue
        if v < 14:
            n, u = round(v), 0
        elif v < 60:
            n, u = round(v / 7), 1
        elif v < 730:
            n, u = round(v / 30.44), 2
        else:
            n, u = round(v / 365.25, 1), 3
            n = int(n) if float(n).is_integer() else n
        name = units[u][0 if n == 1 else 1]
        out.append(f"{n} {name}" if lang == "en" else f"{n}{name}")
    return out


def _money(v: ArrayLike) -> list[str]:
    return [f"{x:,.2f}" for x in np.asarray(v, dtype=float).tolist()]


def _decimal(v: ArrayLike) -> list[str]:
    """One decimal, without a trailing '.0' (2 items, 1.5 items)."""
    out = []
    for x in np.asarray(v, dtype=float).tolist():
        t = f"{x:.1f}" if np.isfinite(x) else "?"
        out.append(t[:-2] if t.endswith(".0") else t)
    return out


def tx_reason(
    group: str, sub: pd.DataFrame, w: int, baseline: dict[str, Any] | None = None
) -> tuple[np.ndarray, tuple[list, list]]:
    """Reason code and English/Chinese texts for one built-in group on the rows ``sub``.

    ``baseline`` (the model's ``baseline_``, population medians) decides between the wording
    of a low value ("low spend", "only 2 purchases") and a plain one ("spends 4,451.28 per
    purchase on average") for a customer whose value is not below the typical customer's;
    without it the low wording is used."""
    n = len(sub)

    def fill(code_name: str, mask: np.ndarray, **vals: Any) -> None:
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        tmpl_en, tmpl_zh = REASONS[code_name]
        for lang, tmpl, target in (("en", tmpl_en, en), ("zh", tmpl_zh, zh)):
            cols = {k: (f(lang) if callable(f) else f) for k, f in vals.items()}
            for j, i in enumerate(idx):
                target[i] = tmpl.format(**{k: v[j] for k, v in cols.items()})
        codes[idx] = code_name

    codes = np.full(n, None, dtype=object)
    en: list[Any] = [None] * n
    zh: list[Any] = [None] * n
    col = lambda c: sub[c].to_numpy(dtype=float) if c in sub else np.full(n, np.nan)  # noqa: E731

    def below(c: str) -> np.ndarray:
        """Rows whose ``c`` is below the typical customer's (all rows without a baseline)."""
        ref = float((baseline or {}).get(c, np.nan))
        if not np.isfinite(ref):
            return np.ones(n, bool)
        v = col(c)
        return ~(v >= ref)  # a missing value counts as low

    window = {lang: duration_text([w], lang)[0] for lang in ("en", "zh")}
    if group == "lapsed":
        once = ~np.isfinite(col("median_gap_days"))
        since = col("days_since_last")
        gap = col("median_gap_days")
        fill("lapsed_once", once, since=lambda lang: duration_text(since[once], lang))
        fill(
            "lapsed",
            ~once,
            since=lambda lang: duration_text(since[~once], lang),
            gap=lambda lang: duration_text(gap[~once], lang),
        )
    elif group == "frequency":
        falling = col("purchase_trend") < 0
        rec, pri = col("purchases_recent"), col("purchases_prior")
        fill(
            "purchases_falling",
            falling,
            recent=[f"{v:.0f}" for v in rec[falling]],
            prior=[f"{v:.0f}" for v in pri[falling]],
            window=lambda lang: [window[lang]] * int(falling.sum()),
        )
        for code_name, rows in (
            ("few_purchases", ~falling & below("purchases")),
            ("purchase_count", ~falling & ~below("purchases")),
        ):
            fill(
                code_name,
                rows,
                n=[f"{v:.0f}" for v in col("purchases")[rows]],
                tenure=lambda lang, rows=rows: duration_text(col("tenure_days")[rows], lang),
            )
    elif group == "spend":
        falling = (col("spend_recent") - col("spend_prior")) < 0
        fill(
            "spend_falling",
            falling,
            recent=_money(col("spend_recent")[falling]),
            prior=_money(col("spend_prior")[falling]),
            window=lambda lang: [window[lang]] * int(falling.sum()),
        )
        low = ~falling & below("spend_mean")
        fill("low_spend", low, mean=_money(col("spend_mean")[low]))
        fill("spend_level", ~falling & ~low, mean=_money(col("spend_mean")[~falling & ~low]))
    elif group == "tenure":
        new = below("tenure_days")
        for code_name, rows in (("new_customer", new), ("tenure", ~new)):
            fill(
                code_name,
                rows,
                tenure=lambda lang, rows=rows: duration_text(col("tenure_days")[rows], lang),
            )
    elif group == "quantity":
        falling = col("units_trend") < 0
        fill(
            "units_falling",
            falling,
            recent=[f"{v:.0f}" for v in col("units_recent")[falling]],
            prior=[f"{v:.0f}" for v in col("units_prior")[falling]],
            window=lambda lang: [window[lang]] * int(falling.sum()),
        )
        few = ~falling & below("units_per_order")
        fill("units_per_order", few, n=_decimal(col("units_per_order")[few]))
        fill("units_level", ~falling & ~few, n=_decimal(col("units_per_order")[~falling & ~few]))
    elif group == "btyd":
        p = col("p_alive_mbgnbd")
        low = below("p_alive_mbgnbd")
        fill("inactive_model", low, p=[f"{v * 100:.0f}" for v in p[low]])
        fill("active_model", ~low, p=[f"{v * 100:.0f}" for v in p[~low]])
    return codes, (en, zh)


# -- reasons from the app's own records (complaints, surveys, touchpoints, loyalty) -------------
# Codes are the feature columns that the app's feature providers add (retento.scoring.features);
# ``{n}`` is the customer's value of that column.
REASONS.update(
    {
        "complaints_open": ("{n} complaint(s) still open", "{n}个投诉尚未解决"),
        "complaints_breached": (
            "{n} complaint(s) in the last 6 months missed the promised response or resolution time",
            "近6个月有{n}个投诉未在承诺时限内响应或解决",
        ),
        "complaint_severity": (
            "a complaint of severity {n} (of 4) in the last 6 months",
            "近6个月有严重程度为{n}级（共4级）的投诉",
        ),
        "nps_detractor": (
            "gave a low recommendation score (0-6 of 10) {n} time(s) in the last year",
            "近一年有{n}次给出低推荐评分（0-6分，满分10分）",
        ),
        "touchpoints_recent": (
            "{n} contact(s) with us in the last 3 months",
            "近3个月与我们联系{n}次",
        ),
        "loyalty_tier": (
            "loyalty tier level {n} (0 = no tier)",
            "会员等级为{n}级（0表示无等级）",
        ),
        "loyalty_activity": (
            "{n} loyalty points transaction(s) in the last 3 months",
            "近3个月积分变动{n}次",
        ),
    }
)

# Where each placeholder of a reason comes from: (feature column, kind). A column "@trend_days"
# is the model's trend window. Kinds: days (a duration in words), count, decimal (one decimal
# place), money, percent (a probability shown as a percentage).
REASON_PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    "lapsed": {"since": ("days_since_last", "days"), "gap": ("median_gap_days", "days")},
    "lapsed_once": {"since": ("days_since_last", "days")},
    "purchases_falling": {
        "recent": ("purchases_recent", "count"),
        "prior": ("purchases_prior", "count"),
        "window": ("@trend_days", "days"),
    },
    "few_purchases": {"n": ("purchases", "count"), "tenure": ("tenure_days", "days")},
    "spend_falling": {
        "recent": ("spend_recent", "money"),
        "prior": ("spend_prior", "money"),
        "window": ("@trend_days", "days"),
    },
    "low_spend": {"mean": ("spend_mean", "money")},
    "spend_level": {"mean": ("spend_mean", "money")},
    "purchase_count": {"n": ("purchases", "count"), "tenure": ("tenure_days", "days")},
    "new_customer": {"tenure": ("tenure_days", "days")},
    "tenure": {"tenure": ("tenure_days", "days")},
    "inactive_model": {"p": ("p_alive_mbgnbd", "percent")},
    "active_model": {"p": ("p_alive_mbgnbd", "percent")},
    "units_level": {"n": ("units_per_order", "decimal")},
    "units_falling": {
        "recent": ("units_recent", "count"),
        "prior": ("units_prior", "count"),
        "window": ("@trend_days", "days"),
    },
    "units_per_order": {"n": ("units_per_order", "decimal")},
}
for _code in (
    "complaints_open",
    "complaints_breached",
    "complaint_severity",
    "nps_detractor",
    "touchpoints_recent",
    "loyalty_tier",
    "loyalty_activity",
):
    REASON_PARAMS[_code] = {"n": (_code, "count")}


def reason_params(code: str, row: Any, *, trend_days: int = 91) -> dict[str, float | None]:
    """The raw values a reason's text needs, from one customer's feature row (a mapping):
    language-neutral, stored with the score and rendered later with :func:`render_reason`."""
    out: dict[str, float | None] = {}
    for name, (col, _kind) in REASON_PARAMS.get(code, {}).items():
        v = float(trend_days) if col == "@trend_days" else row.get(col)
        try:
            f = float(v)
        except (TypeError, ValueError):
            f = float("nan")
        out[name] = round(f, 4) if np.isfinite(f) else None
    return out


def render_reason(
    code: str,
    params: dict[str, Any] | None,
    lang: str = "en",
    money: Callable[[float], str] | None = None,
) -> str:
    """A stored reason ``{code, params}`` in words, English (``en``) or Chinese (``zh``).

    ``money`` formats amounts (e.g. with the currency: ``US$9,928.90``); by default they are
    grouped numbers with two decimals (``9,928.90``). Unknown codes (a reason from a newer
    version) come back as the code itself."""
    texts = REASONS.get(code)
    if texts is None:
        return code
    lang = "zh" if str(lang).lower().startswith("zh") else "en"
    kinds = REASON_PARAMS.get(code, {})
    values: dict[str, str] = {}
    for name, (_col, kind) in kinds.items():
        v = (params or {}).get(name)
        if v is None:
            values[name] = "?"
        elif kind == "days":
            values[name] = duration_text([float(v)], lang)[0]
        elif kind == "money":
            values[name] = money(float(v)) if money is not None else _money([float(v)])[0]
        elif kind == "percent":
            values[name] = f"{float(v) * 100:.0f}"
        elif kind == "decimal":
            values[name] = _decimal([float(v)])[0]
        else:
            values[name] = f"{float(v):.0f}"
    return texts[0 if lang == "en" else 1].format(**values)


def extra_feature_labels(columns: Any) -> dict[str, tuple[str, str]]:
    """``ChurnRiskModel(feature_labels=...)`` templates for app feature columns with a reason
    code above (``{n}`` becomes the model's ``{value}``)."""
    return {
        c: tuple(t.replace("{n}", "{value:.0f}") for t in REASONS[c])  # type: ignore[misc]
        for c in columns
        if c in REASONS
    }
