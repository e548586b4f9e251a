"""The loyalty measure's results in words: one English and one Chinese sentence per customer.

:func:`_reasons` writes, for each customer, what they bought and when, the context that decided
their loyalty type (no alternative supplier, affiliation, discounts and points, tier and tenure),
what they said in surveys and complaints, the type's name and, when flagged, the satisfaction
trap with its numbers. :func:`_facts` gathers the numbers the sentences quote. Both serve
:meth:`retento.analytics.loyalty.LoyaltyMeasure.transform` and ``describe``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from retento.analytics.loyalty_columns import LOYALTY_TYPE_NAMES, _num


def _facts(
    X: pd.DataFrame,
    n: np.ndarray | None,
    before_rate: np.ndarray,
    recent_rate: np.ndarray,
) -> dict[str, np.ndarray]:
    """The numbers the reasons quote, per customer."""
    n_rows = len(X)
    gap = np.where(n >= 2, _num(X, "median_gap_days"), np.nan) if n is not None else None
    if gap is None:  # no order counts: no rhythm either
        gap = np.full(n_rows, np.nan)
    n_c = np.nan_to_num(_num(X, "complaints"), nan=0.0)
    return {
        "n": n if n is not None else np.full(n_rows, np.nan),
        "first": _num(X, "days_since_first_order"),
        "last": _num(X, "days_since_last_order"),
        "gap": gap,
        "recent": _num(X, "orders_recent"),
        "discount": _num(X, "discount_share"),
        "points": _num(X, "points_redeemed_share"),
        "tier": _names(X, "tier_name"),
        # the tier's Chinese name for the Chinese sentence, where it has one
        "tier_zh": _names(X, "tier_name_zh"),
        "tenure": _num(X, "tenure_days"),
        "sat": _num(X, "satisfaction"),
        "repurchase": _num(X, "repurchase_intent"),
        "recommend": _num(X, "recommend"),
        "complaints": n_c if "complaints" in X.columns else np.full(n_rows, np.nan),
        "open": np.nan_to_num(_num(X, "complaints_open"), nan=0.0),
        "before_rate": before_rate,
        "recent_rate": recent_rate,
    }


def _names(X: pd.DataFrame, column: str) -> np.ndarray:
    """A text column as objects, None where missing (or where there is no such column)."""
    if column not in X.columns:
        return np.full(len(X), None, dtype=object)
    return X[column].astype(object).where(X[column].notna(), None).to_numpy()


def _f(v: float) -> str:
    """A number without a pointless ``.0`` (4.0 → "4", 3.5 → "3.5")."""
    return f"{v:.0f}" if abs(v - round(v)) < 0.05 else f"{v:.1f}"


def _d(v: float) -> str:
    """Days as a whole number."""
    return f"{round(v):.0f}"


def _every(gap: float) -> tuple[str, str]:
    """A purchase gap in days as friendly words, in English and Chinese."""
    if gap < 14:
        d = max(1, round(gap))
        return (f"every {d} day{'s' if d != 1 else ''}", f"每 {d} 天")
    if gap < 90:
        wk = round(gap / 7)
        return (f"every {wk} weeks", f"每 {wk} 周")
    mo = round(gap / 30.4)
    return (f"every {mo} months", f"每 {mo} 个月")


def _ok(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def _reasons(
    ltype: np.ndarray,
    rule: np.ndarray,
    signal: np.ndarray,
    facts: dict[str, np.ndarray],
    k: float,
    recent_days: float,
) -> tuple[list[str], list[str]]:
    """One English and one Chinese sentence per customer, with the numbers filled in."""
    cols = {name: arr.tolist() for name, arr in facts.items()}
    en_out: list[str] = []
    zh_out: list[str] = []
    for i, (t, r, sig) in enumerate(
        zip(ltype.tolist(), rule.tolist(), signal.tolist(), strict=True)
    ):
        g = {name: values[i] for name, values in cols.items()}
        en: list[str] = []
        zh: list[str] = []
        n, gap, last = g["n"], g["gap"], g["last"]
        # Behaviour.
        if not _ok(n):
            en.append("purchases unknown")
            zh.append("购买情况未知")
        elif n == 0:
            en.append("has not bought yet")
            zh.append("尚未购买")
        elif n == 1:
            if _ok(last):
                en.append(f"bought once, {_d(last)} days ago")
                zh.append(f"只购买过一次（{_d(last)} 天前）")
            else:
                en.append("bought once")
                zh.append("只购买过一次")
        else:
            if _ok(gap):
                e, z = _every(gap)
                en.append(f"buys {e} ({_f(n)} purchases)")
                zh.append(f"{z}购买一次（共 {_f(n)} 次）")
            else:
                en.append(f"{_f(n)} purchases")
                zh.append(f"共购买 {_f(n)} 次")
            if _ok(last):
                en.append(f"last {_d(last)} days ago")
                zh.append(f"最近一次在 {_d(last)} 天前")
        # Context relevant to the rule.
        if r == "R2":
            en.append("has no alternative supplier")
            zh.append("没有其他可选的供应商")
        if r == "R3":
            en.append("is affiliated (employee, relative or related company)")
            zh.append("是关联客户（员工、亲属或关联企业）")
        if r in ("R4", "R5a", "R5b"):
            d, p = g["discount"], g["points"]
            if _ok(d):
                if d < 0.2:
                    en.append(f"rarely uses discounts ({d * 100:.0f} % of orders)")
                    zh.append(f"很少使用折扣（{d * 100:.0f}% 的订单）")
                else:
                    en.append(f"uses discounts on {d * 100:.0f} % of orders")
                    zh.append(f"{d * 100:.0f}% 的订单使用了折扣")
            if _ok(p):
                en.append(f"has redeemed {p * 100:.0f} % of earned points")
                zh.append(f"已兑换 {p * 100:.0f}% 的积分")
        if r in ("R5a", "R5b"):
            tier, tenure = g["tier"], g["tenure"]
            tier_zh = g["tier_zh"] if _ok(g["tier_zh"]) and g["tier_zh"] else tier
            bits_en, bits_zh = [], []
            if _ok(tier):
                bits_en.append(f"tier {tier}")
                bits_zh.append(f"会员等级 {tier_zh}")
            if _ok(tenure):
                years = tenure / 365.25
                if years >= 1:
                    bits_en.append(f"a customer for {_f(years)} years")
                    bits_zh.append(f"已是 {_f(years)} 年的老客户")
                else:
                    bits_en.append(f"a customer for {_f(tenure / 30.4)} months")
                    bits_zh.append(f"已是 {_f(tenure / 30.4)} 个月的客户")
            if r == "R5a" and bits_en:
                en.append("leaving would cost them (" + ", ".join(bits_en) + ")")
                zh.append("流失成本高（" + "，".join(bits_zh) + "）")
            elif r == "R5b":
                en.append(
                    "stays out of habit" + (" (" + ", ".join(bits_en) + ")" if bits_en else "")
                )
                zh.append("出于习惯而留下" + ("（" + "，".join(bits_zh) + "）" if bits_zh else ""))
        # Attitude.
        sat, rep, rec = g["sat"], g["repurchase"], g["recommend"]
        said_en: list[str] = []
        said_zh: list[str] = []
        if _ok(sat):
            said_en.append(f"rated satisfaction {_f(sat)}/5")
            said_zh.append(f"满意度评分 {_f(sat)}/5")
        if _ok(rep):
            said_en.append(f"repurchase intent {_f(rep)}/5")
            said_zh.append(f"再购意愿 {_f(rep)}/5")
        if _ok(rec):
            said_en.append(f"would recommend {_f(rec)}/10")
            said_zh.append(f"推荐意愿 {_f(rec)}/10")
        if not said_en:
            said_en.append("answered no survey, so attitude is unknown")
            said_zh.append("未回答过调查，态度未知")
        c = g["complaints"]
        if _ok(c) and c > 0:
            opened = g["open"]
            extra_en = f", {_f(opened)} open" if _ok(opened) and opened > 0 else ""
            extra_zh = f"，{_f(opened)} 起未结" if _ok(opened) and opened > 0 else ""
            said_en.append(f"{_f(c)} complaint{'s' if c != 1 else ''}{extra_en}")
            said_zh.append(f"投诉 {_f(c)} 起{extra_zh}")
        name_en, name_zh = LOYALTY_TYPE_NAMES[t]
        sentence_en = ", ".join(en) + "; " + ", ".join(said_en) + f" — {name_en}"
        sentence_zh = "，".join(zh) + "；" + "，".join(said_zh) + f" —— {name_zh}"
        if sig == "overdue":
            sentence_en += (
                f". Satisfaction trap: satisfied, but the last purchase was {_d(last)} days ago, "
                f"more than {_f(k)} × their usual {_d(gap)} days"
            )
            sentence_zh += (
                f"。满意陷阱：表示满意，但最近一次购买在 {_d(last)} 天前，"
                f"超过其平常间隔 {_d(gap)} 天的 {_f(k)} 倍"
            )
        elif sig == "slowing":
            before = g["before_rate"] * recent_days
            now = g["recent"]
            sentence_en += (
                f". Satisfaction trap: satisfied, but only {_f(now)} purchases in the last "
                f"{_f(recent_days)} days against {_f(before)} per {_f(recent_days)} days before"
            )
            sentence_zh += (
                f"。满意陷阱：表示满意，但最近 {_f(recent_days)} 天只购买 {_f(now)} 次，"
                f"此前平均每 {_f(recent_days)} 天 {_f(before)} 次"
            )
        en_out.append(sentence_en)
        zh_out.append(sentence_zh)
    return en_out, zh_out
