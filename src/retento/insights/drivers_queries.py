"""Driver and propensity analyses on the database: per-customer features and outcomes from
orders, order lines, products, complaints, touchpoints, loyalty accounts and survey answers,
handed to :mod:`retento.analytics.drivers` and :mod:`retento.analytics.propensity`."""

from __future__ import annotations

import copy
import csv
import io
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.complaints.models import Complaint
from retento.core.errors import InvalidInput, Msg, NotFound, choice_error, range_error
from retento.customers.models import Customer
from retento.dataio.cells import neutralise_row
from retento.loyalty.models import LoyaltyAccount
from retento.orders.models import Order, OrderLine
from retento.products.models import Product
from retento.surveys.models import Survey, SurveyResponse
from retento.surveys.reports import finite, headline_csat_question, load_responses
from retento.touchpoints.models import Touchpoint
from retento.web.i18n import N_, gettext

OUTCOMES = ("spend", "satisfaction", "survey_items")
OUTCOME_LABELS = {
    "spend": N_("Spend per customer in the outcome period (log scale)"),
    "satisfaction": N_("Satisfaction (headline survey rating, 0-100)"),
    "survey_items": N_("Overall satisfaction explained by the survey's questions"),
}
# Plain-language labels of the behavioural features (message ids).
FEATURE_LABELS = {
    "orders": N_("Number of orders"),
    "spend": N_("Spend to date"),
    "order_value": N_("Average order value"),
    "tenure_days": N_("Days since the first order"),
    "days_since_last": N_("Days since the last order"),
    "categories": N_("Different categories bought"),
    "discount_share": N_("Share of spend discounted"),
    "refund_share": N_("Share of spend refunded"),
    "online_share": N_("Share of orders online"),  # ONLINE_CHANNELS
    "complaints": N_("Complaints"),
    "complaint_severity": N_("Highest complaint severity"),
    "contacts_inbound": N_("Contacts started by the customer"),
    "contacts_outbound": N_("Contacts started by us"),
    "loyalty_member": N_("Loyalty member"),
    "points_balance": N_("Loyalty points balance"),
    "email_consent": N_("Agreed to e-mail"),
    "business": N_("Business customer"),
}

# Order channels (``orders.models.ORDER_CHANNELS``) that are "online": the web shop. Phone,
# e-mail and chat orders are taken by staff; the share was compared with "online", which no
# order channel is, so it was 0 for everyone and dropped as constant.
ONLINE_CHANNELS = ("web",)

# Counts and money are heavy-tailed: a few large customers would decide a least-squares fit
# (held-out R² of -0.8 on a 600-customer demo), so these enter as log(1 + x).
LOG_FEATURES = (
    "orders",
    "spend",
    "order_value",
    "complaints",
    "contacts_inbound",
    "contacts_outbound",
    "points_balance",
)
# The choices of the drivers and propensity forms (message ids), named by these labels when a
# request sends another value (``check_choice``).
CI_LABELS = {"bootstrap": N_("Bootstrap percentiles"), "ols": N_("OLS on the selected drivers")}
KIND_LABELS = {"category": N_("Category"), "product": N_("Product")}
METHOD_LABELS = {"gb": N_("Gradient boosting"), "logistic": N_("Logistic regression")}
CHOICES = {
    "outcome": (N_("Outcome"), OUTCOME_LABELS),
    "ci": (N_("Confidence intervals"), CI_LABELS),
    "kind": (N_("Target is a"), KIND_LABELS),
    "method": (N_("Model"), METHOD_LABELS),
}


def check_choice(name: str, value: str) -> str:
    """``value`` of the form's select ``name`` (``CHOICES``), else the 422 naming the select by
    its label, with its choices (codes in the API's English, labels on the pages)."""
    label, choices = CHOICES[name]
    if value not in choices:
        raise choice_error(name, label, list(choices.items())).refuse()
    return value


MIN_ROWS = 30


def _aware(ts: datetime) -> datetime:
    return ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)


def _frame(session: Session, stmt: Any, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(session.execute(stmt).all(), columns=columns)


# -- purchases ----------------------------------------------------------------------------------
def purchase_lines(session: Session) -> pd.DataFrame:
    """Every line of every non-cancelled order: customer, time, product, category, amount."""
    amount = OrderLine.quantity * OrderLine.unit_price - OrderLine.discount
    stmt = (
        select(
            Order.customer_id,
            Order.ordered_at,
            OrderLine.product_id,
            Product.name,
            Product.category,
            amount,
        )
        .join(Order, Order.id == OrderLine.order_id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(Order.status != "cancelled")
    )
    df = _frame(
        session, stmt, ["customer_id", "ordered_at", "product_id", "product", "category", "amount"]
    )
    df["amount"] = df["amount"].astype(float)
    df["ordered_at"] = pd.to_datetime(df["ordered_at"], utc=True)
    df["category"] = df["category"].fillna("(none)")
    return df


def last_order_day(session: Session) -> datetime | None:
    """The day of the latest non-cancelled order (the default 'as of')."""
    last = session.scalar(select(func.max(Order.ordered_at)).where(Order.status != "cancelled"))
    return None if last is None else last


def _orders(session: Session, until: datetime) -> pd.DataFrame:
    stmt = select(
        Order.customer_id,
        Order.ordered_at,
        Order.revenue,
        Order.discount,
        Order.refunded,
        Order.channel,
    ).where(Order.status != "cancelled", Order.ordered_at <= until)
    df = _frame(session, stmt, ["customer", "at", "revenue", "discount", "refunded", "channel"])
    for c in ("revenue", "discount", "refunded"):
        df[c] = df[c].astype(float)
    df["at"] = pd.to_datetime(df["at"], utc=True)
    return df


def behaviour_features(session: Session, split: datetime) -> pd.DataFrame:
    """Per-customer features from everything known before ``split``: RFM, categories, discounts,
    refunds, channel, complaints, touchpoints, loyalty and consent. Customers without an order
    before ``split`` are absent."""
    o = _orders(session, split)
    o = o[o["at"] < pd.Timestamp(split)]
    if o.empty:
        return pd.DataFrame(columns=list(FEATURE_LABELS))
    cut = pd.Timestamp(split)
    g = o.groupby("customer")
    f = pd.DataFrame(index=g.size().index)
    f["orders"] = g.size().astype(float)
    f["spend"] = g["revenue"].sum()
    f["order_value"] = f["spend"] / f["orders"]
    f["tenure_days"] = (cut - g["at"].min()).dt.days.astype(float)
    f["days_since_last"] = (cut - g["at"].max()).dt.days.astype(float)
    gross = (g["revenue"].sum() + g["discount"].sum()).replace(0.0, np.nan)
    f["discount_share"] = (g["discount"].sum() / gross).fillna(0.0)
    f["refund_share"] = (g["refunded"].sum() / f["spend"].replace(0.0, np.nan)).fillna(0.0)
    f["online_share"] = g["channel"].apply(lambda s: float(s.isin(ONLINE_CHANNELS).mean()))
    lines = select(Order.customer_id, func.count(func.distinct(Product.category))).join(
        OrderLine, OrderLine.order_id == Order.id
    )
    lines = (
        lines.join(Product, Product.id == OrderLine.product_id)
        .where(Order.status != "cancelled", Order.ordered_at < split)
        .group_by(Order.customer_id)
    )
    f["categories"] = pd.Series(dict(session.execute(lines).all()), dtype=float)
    comp = session.execute(
        select(Complaint.customer_id, func.count(), func.max(Complaint.severity))
        .where(Complaint.received_at < split)
        .group_by(Complaint.customer_id)
    ).all()
    f["complaints"] = pd.Series({c: n for c, n, _ in comp}, dtype=float)
    f["complaint_severity"] = pd.Series({c: s for c, _, s in comp}, dtype=float)
    tp = session.execute(
        select(Touchpoint.customer_id, Touchpoint.direction, func.count())
        .where(Touchpoint.occurred_at < split, Touchpoint.stage != "order")
        .group_by(Touchpoint.customer_id, Touchpoint.direction)
    ).all()
    for d in ("inbound", "outbound"):
        f[f"contacts_{d}"] = pd.Series({c: n for c, dd, n in tp if dd == d}, dtype=float)
    acc = session.execute(
        select(LoyaltyAccount.customer_id, LoyaltyAccount.balance).where(
            LoyaltyAccount.customer_id.is_not(None)
        )
    ).all()
    f["loyalty_member"] = pd.Series({c: 1.0 for c, _ in acc}, dtype=float)
    f["points_balance"] = pd.Series({c: float(b) for c, b in acc}, dtype=float)
    cust = session.execute(select(Customer.id, Customer.consent_email, Customer.kind)).all()
    f["email_consent"] = pd.Series({c: float(bool(e)) for c, e, _ in cust}, dtype=float)
    f["business"] = pd.Series({c: float(k == "business") for c, _, k in cust}, dtype=float)
    f = f.reindex(columns=list(FEATURE_LABELS))
    zero = [c for c in f.columns if c not in ("categories",)]
    f[zero] = f[zero].fillna(0.0)
    return f.fillna({"categories": 0.0})


# -- outcomes -----------------------------------------------------------------------------------
def _rescale(value: float | None, lo: int | None, hi: int | None) -> float:
    if value is None or lo is None or hi is None or hi <= lo:
        return float("nan")
    return 100.0 * (float(value) - lo) / (hi - lo)


def satisfaction_per_customer(session: Session) -> pd.Series:
    """Each customer's mean headline rating over all completed responses, on 0-100."""
    values: dict[int, list[float]] = {}
    for survey in session.scalars(select(Survey).order_by(Survey.id)):
        head = headline_csat_question(survey)
        if head is None:
            continue
        for r in load_responses(session, survey.id):
            if r.customer_id is None or head.id not in r.answers:
                continue
            v = _rescale(r.answers[head.id][0], head.scale_min, head.scale_max)
            if math.isfinite(v):
                values.setdefault(r.customer_id, []).append(v)
    return pd.Series({c: float(np.mean(v)) for c, v in values.items()}, dtype=float)


def survey_item_frame(
    session: Session, survey_id: int, locale: str
) -> tuple[pd.DataFrame, pd.Series, dict[str, str]]:
    """One row per completed response: the rated questions on 0-100 (features), the headline
    rating (outcome) and each question's text in ``locale`` (labels)."""
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise NotFound("Survey", survey_id, field="survey_id")
    head = headline_csat_question(survey)
    if head is None:
        raise InvalidInput(
            "This survey has no overall satisfaction rating to explain.", field="survey_id"
        )
    items = [
        q
        for q in survey.questions
        if q.qtype in ("rating", "expectation_perception", "ces")
        and q.id != head.id
        and q.csi_latent not in ("Satisfaction", "Loyalty")
        and q.scale_min is not None
        and q.scale_max is not None
    ]
    if not items:
        raise InvalidInput(
            "This survey has no rated questions besides the overall rating.", field="survey_id"
        )
    rows, y = [], []
    for r in load_responses(session, survey.id):
        if head.id not in r.answers:
            continue
        rows.append(
            {
                q.code: _rescale(r.answers[q.id][0], q.scale_min, q.scale_max)
                if q.id in r.answers
                else np.nan
                for q in items
            }
        )
        y.append(_rescale(r.answers[head.id][0], head.scale_min, head.scale_max))
    labels = {}
    for q in items:
        tr = (q.translations or {}).get(locale) or (q.translations or {}).get(locale.split("_")[0])
        labels[q.code] = (tr or {}).get("text") or q.text
    return pd.DataFrame(rows, columns=[q.code for q in items]), pd.Series(y, dtype=float), labels


# -- driver analysis ----------------------------------------------------------------------------
def driver_report(
    session: Session,
    *,
    actor: User,
    outcome: str = "spend",
    period_days: int = 365,
    survey_id: int | None = None,
    ci: str = "bootstrap",
    n_bootstrap: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Which customer facts explain ``outcome``; standardised coefficients with intervals."""
    require(actor, "score:read")
    locale = actor.locale or "en"
    check_choice("outcome", outcome)
    check_choice("ci", ci)
    if not 30 <= period_days <= 1095:
        raise range_error("period_days", N_("Outcome period (days)"), 30, 1095).refuse()
    key = (
        str(session.get_bind().engine.url),
        "drivers",
        _driver_fingerprint(session),
        outcome,
        period_days,
        survey_id,
        ci,
        n_bootstrap,
        seed,
        locale,
    )
    return _cached(
        key,
        lambda: _drivers(session, locale, outcome, period_days, survey_id, ci, n_bootstrap, seed),
    )


def _driver_fingerprint(session: Session) -> tuple[Any, ...]:
    """Changes whenever the purchases, complaints, contacts, loyalty accounts, survey
    responses or customers behind a driver analysis change."""
    out: list[Any] = list(_purchase_fingerprint(session))
    for model, stamp in (
        (Complaint, Complaint.updated_at),
        (Touchpoint, Touchpoint.updated_at),
        (SurveyResponse, SurveyResponse.updated_at),
    ):
        out.extend(session.execute(select(func.count(model.id), func.max(stamp))).one())
    out.extend(
        session.execute(
            select(
                func.count(LoyaltyAccount.id),
                func.sum(LoyaltyAccount.balance),
                func.max(LoyaltyAccount.last_activity_at),
            )
        ).one()
    )
    return tuple(out)


def _drivers(
    session: Session,
    locale: str,
    outcome: str,
    period_days: int,
    survey_id: int | None,
    ci: str,
    n_bootstrap: int,
    seed: int,
) -> dict[str, Any]:
    from retento.analytics.drivers import DriverAnalysis, importance_performance

    last = last_order_day(session)
    info: dict[str, Any] = {}
    if outcome == "survey_items":
        if survey_id is None:
            raise InvalidInput("Choose a survey for this outcome.", field="survey_id")
        X, y, labels = survey_item_frame(session, survey_id, locale)
        info["survey_id"] = survey_id
    else:
        if last is None:
            raise InvalidInput("There are no orders to analyse yet.", field="outcome")
        labels = {k: gettext(locale, v) for k, v in FEATURE_LABELS.items()}
        end = _aware(last) + timedelta(seconds=1)
        if outcome == "spend":
            split = end - timedelta(days=period_days)
            X = behaviour_features(session, split)
            o = _orders(session, end)
            later = o[o["at"] >= pd.Timestamp(split)]
            spend = later.groupby("customer")["revenue"].sum().reindex(X.index).fillna(0.0)
            y = np.log1p(spend.clip(lower=0.0))
            info.update(features_until=split.date().isoformat(), period_end=end.date().isoformat())
        else:
            X = behaviour_features(session, end)
            sat = satisfaction_per_customer(session)
            X = X.loc[X.index.intersection(sat.index)]
            y = sat.reindex(X.index)
            info["features_until"] = end.date().isoformat()
    if len(X) < MIN_ROWS or int(np.isfinite(np.asarray(y, dtype=float)).sum()) < MIN_ROWS:
        raise InvalidInput(
            Msg(
                "Only %(n)s customers or responses have this outcome; at least %(min)s are needed.",
                n=len(X),
                min=MIN_ROWS,
            ),
            field="survey_id" if outcome == "survey_items" else "outcome",
        )
    logged = [c for c in LOG_FEATURES if c in X.columns] if outcome != "survey_items" else []
    X = X.copy()
    X[logged] = np.log1p(X[logged].clip(lower=0.0))
    model = DriverAnalysis(ci=ci, n_bootstrap=n_bootstrap, labels=labels, random_state=seed)
    try:
        model.fit(X, np.asarray(y, dtype=float))
    except ValueError as exc:
        raise InvalidInput(
            Msg("The drivers cannot be estimated: %(reason)s", reason=str(exc)), field="outcome"
        ) from exc
    s = model.summary()
    perf = None
    if outcome == "survey_items":
        kept = s.index[s["coef"] != 0]
        if len(kept) >= 2:
            perf = importance_performance(s.loc[kept, "coef"], X[kept].mean())
    drivers = []
    for name, row in s.iterrows():
        d = {
            "feature": name,
            "label": row["label"],
            "coef": float(row["coef"]),
            "ci_lower": float(row["ci_lower"]),
            "ci_upper": float(row["ci_upper"]),
            "coef_per_unit": float(row["coef_per_unit"]),
            "importance": float(row["importance"]),
            "selection_frequency": float(row["selection_frequency"]),
            "significant": bool(row["significant"]),
            "scale": "log" if name in logged else "linear",
        }
        if perf is not None and name in perf.index:
            d["performance"] = float(perf.loc[name, "performance"])
            d["quadrant"] = str(perf.loc[name, "quadrant"])
        drivers.append(d)
    return finite(
        {
            "outcome": outcome,
            "outcome_label": gettext(locale, OUTCOME_LABELS[outcome]),
            "rows": int(len(X)),
            "outcome_mean": float(np.nanmean(np.asarray(y, dtype=float))),
            "n_train": model.n_train_,
            "n_test": model.n_test_,
            "r2_train": model.r2_train_,
            "r2_test": model.r2_test_,
            "alpha": model.alpha_,
            "l1_ratio": model.l1_ratio_,
            "ci_method": ci,
            "level": model.level,
            "bootstrap": n_bootstrap if ci == "bootstrap" else None,
            "dropped": model.dropped_,
            "dropped_labels": [labels.get(c, c) for c in model.dropped_],
            "drivers": drivers,
            **info,
        }
    )


# -- propensity ---------------------------------------------------------------------------------
def target_choices(session: Session) -> dict[str, list[str]]:
    """The categories and product names a propensity can target."""
    cats = session.scalars(
        select(Product.category)
        .where(Product.category.is_not(None))
        .distinct()
        .order_by(Product.category)
    ).all()
    prods = session.scalars(select(Product.name).distinct().order_by(Product.name)).all()
    return {"category": list(cats), "product": list(prods)}


def propensity_report(
    session: Session,
    *,
    actor: User,
    kind: str,
    target: str,
    horizon_days: int = 90,
    top_k: int = 100,
    method: str = "gb",
) -> dict[str, Any]:
    """Holdout quality on the latest horizon (trained before it), lift, and the invite list
    scored with a model trained up to the last order day."""
    require(actor, "score:read")
    check_choice("kind", kind)
    if not 7 <= horizon_days <= 365:
        raise range_error("horizon_days", N_("Horizon (days)"), 7, 365).refuse()
    if not 1 <= top_k <= 5000:
        raise range_error("top_k", N_("Customers to invite"), 1, 5000).refuse()
    check_choice("method", method)
    if target not in target_choices(session)[kind]:
        template = (
            N_("No category is called %(target)s.")
            if kind == "category"
            else N_("No product is called %(target)s.")
        )
        raise InvalidInput(Msg(template, target=repr(target)), field="target")
    key = (
        str(session.get_bind().engine.url),
        _purchase_fingerprint(session),
        kind,
        target,
        horizon_days,
        top_k,
        method,
    )
    return _cached(key, lambda: _propensity(session, kind, target, horizon_days, top_k, method))


# The page, its CSV link and the API ask for the same report in a row; it takes seconds and
# depends only on the rows its fingerprint covers, so it is kept per data fingerprint.
_CACHE: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 16


def _cached(key: tuple[Any, ...], compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The report for ``key`` from the cache, or computed (errors are not cached)."""
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return copy.deepcopy(hit)
    report = compute()
    with _CACHE_LOCK:
        _CACHE[key] = copy.deepcopy(report)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return report


def _purchase_fingerprint(session: Session) -> tuple[Any, ...]:
    """Changes whenever an order, order line, product or customer is added or edited."""
    orders = session.execute(
        select(func.count(Order.id), func.max(Order.id), func.max(Order.updated_at))
    ).one()
    lines = session.execute(select(func.count(OrderLine.id), func.max(OrderLine.id))).one()
    products = session.execute(select(func.count(Product.id), func.max(Product.updated_at))).one()
    customers = session.scalar(select(func.max(Customer.updated_at)))
    return (*orders, *lines, *products, customers)


def _propensity(
    session: Session, kind: str, target: str, horizon_days: int, top_k: int, method: str
) -> dict[str, Any]:
    from retento.analytics.propensity import PropensityModel, prepare_lines, propensity_holdout

    raw = purchase_lines(session)
    if raw.empty:
        raise InvalidInput("There are no orders to analyse yet.", field="target")
    item = "category" if kind == "category" else "product"
    lines = prepare_lines(raw, "customer_id", "ordered_at", item, "amount", group_col="category")
    as_of = lines["day"].max()
    model = PropensityModel(target, horizon_days=horizon_days, method=method)
    try:
        hold = propensity_holdout(model, lines, as_of)
        model.fit_transactions(lines, as_of)
    except ValueError as exc:
        raise InvalidInput(
            Msg("The propensity cannot be estimated: %(reason)s", reason=str(exc)),
            field="horizon_days",
        ) from exc
    scores = model.score_transactions(lines, as_of)
    inv = scores.head(top_k).assign(rank=np.arange(1, min(top_k, len(scores)) + 1))
    names = dict(
        session.execute(
            select(Customer.id, Customer.name).where(Customer.id.in_(inv.index.tolist()))
        ).all()
    )
    invite = [
        {
            "rank": int(r["rank"]),
            "customer_id": int(cid),
            "name": names.get(int(cid), ""),
            "propensity": float(r["propensity"]),
            "bought_before": int(r["target_purchases"]),
            "days_since_target": None
            if pd.isna(r["days_since_target"])
            else int(r["days_since_target"]),
            "days_since_last": int(r["days_since_last"]),
            "spend": Decimal(str(round(float(r["spend_total"]), 2))),
        }
        for cid, r in inv.iterrows()
    ]
    return finite(
        {
            "kind": kind,
            "target": target,
            "horizon_days": horizon_days,
            "method": method,
            "as_of": as_of.date().isoformat(),
            "holdout": {
                "cutoff": hold["cutoff"],
                "period_end": hold["period_end"],
                "trained_until": hold["trained_until"],
                "windows": hold["windows"],
                "model": hold["model"],
                "baseline": hold["baseline"],
                "lift": hold["lift"].to_dict(orient="records"),
                "baseline_lift": hold["baseline_lift"].to_dict(orient="records"),
            },
            "trained_until": model.cutoff_,
            "customers_scored": int(len(scores)),
            "invite": invite,
        }
    )


def invite_csv(report: dict[str, Any]) -> str:
    """The invite list as CSV (cells that a spreadsheet would run as formulas are neutralised)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    cols = [
        "rank",
        "customer_id",
        "name",
        "propensity",
        "bought_before",
        "days_since_target",
        "days_since_last",
        "spend",
    ]
    w.writerow(cols)
    for r in report["invite"]:
        row = [r[c] for c in cols]
        row[3] = f"{r['propensity']:.4f}"
        w.writerow(neutralise_row(row))
    return buf.getvalue()
