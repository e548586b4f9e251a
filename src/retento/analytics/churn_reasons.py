"""Churn reasons in words: stable reason codes with English and Chinese templates, filled from
each customer's own values ("no purchase for 5 months; usually buys every 6 weeks").

Used by :class:`retento.analytics.churn.ChurnRiskModel` to turn feature contributions into
business language; never raw column names.
"""

from __future__ import annotations

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
        "消费下降：最近{window}{recent}，此前{window}{prior}",
    ),
    "low_spend": ("low spend: {mean} per purchase on average", "消费偏低：平均每次{mean}"),
    "new_customer": ("customer for only {tenure}", "成为客户仅{tenure}"),
    "inactive_model": (
        "the purchase-pattern model gives only a {p} % chance that the customer is still active",
        "购买模式模型估计该客户仍活跃的概率仅为{p}%",
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


def tx_reason(group: str, sub: pd.DataFrame, w: int) -> tuple[np.ndarray, tuple[list, list]]:
    """Reason code and English/Chinese texts for one built-in group on the rows ``sub``."""
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
        few = ~falling
        fill(
            "few_purchases",
            few,
            n=[f"{v:.0f}" for v in col("purchases")[few]],
            tenure=lambda lang: duration_text(col("tenure_days")[few], lang),
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
        fill("low_spend", ~falling, mean=_money(col("spend_mean")[~falling]))
    elif group == "tenure":
        fill(
            "new_customer",
            np.ones(n, bool),
            tenure=lambda lang: duration_text(col("tenure_days"), lang),
        )
    elif group == "btyd":
        p = col("p_alive_mbgnbd")
        fill("inactive_model", np.ones(n, bool), p=[f"{v * 100:.0f}" for v in p])
    return codes, (en, zh)
