"""Demo survey data: satisfaction that follows behaviour, with a satisfaction trap built in.

Customers who still buy are mostly satisfied and lapsed ones mostly not, but a share of the
lapsed customers report high satisfaction anyway (SPEC §4 顾客满意陷阱: satisfied is not loyal).
The ECSI survey's items are drawn from a known structural model so the CSI estimation has a
truth to recover.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import insert
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.surveys import distributions, service
from retento.surveys.models import (
    Survey,
    SurveyAnswer,
    SurveyDistribution,
    SurveyInvitation,
    SurveyResponse,
)
from retento.surveys.schemas import DistributionCreate, SegmentIn, SurveyFromTemplate
from retento.surveys.tokens import hash_token, make_token
from retento.web.i18n import installation_locale

CHUNK = 20_000
MAX_RESPONDENTS = 5_000
RESPONSE_SHARE = 0.3
# Customers invited by email in the demo's current distribution (their emails stay queued).
EMAIL_INVITEES = 60
ACTIVE_DAYS = 180
TRAP_SHARE = 0.3  # lapsed customers who still say they are (highly) satisfied
CHANNEL_MIX = (("online", 0.45), ("phone", 0.3), ("mail", 0.15), ("onsite", 0.1))
# Distribution names (English, Simplified Chinese): staff read them, so they are written in the
# installation's language (``RETENTO_DEFAULT_LOCALE``).
PAST_DISTRIBUTION = ("Demo mailing", "演示问卷发放")
EMAIL_DISTRIBUTION = ("Demo: email invitations", "演示：邮件邀请")
# Structural model of the demo ECSI data (standardised latent scores).
ECSI_TRUTH: dict[str, dict[str, float]] = {
    "Expectation": {"Image": 0.5},
    "Quality": {"Expectation": 0.55},
    "Value": {"Expectation": 0.2, "Quality": 0.55},
    "Satisfaction": {"Image": 0.2, "Expectation": 0.1, "Quality": 0.4, "Value": 0.25},
    "Complaints": {"Satisfaction": 0.5},
    "Loyalty": {"Image": 0.2, "Satisfaction": 0.55, "Complaints": 0.1},
}


def _latents(rng: np.random.Generator, image: np.ndarray) -> dict[str, np.ndarray]:
    """Latent scores with unit variance from the ECSI_TRUTH paths, given the Image scores."""
    lv = {"Image": image}
    for target, sources in ECSI_TRUTH.items():
        signal = sum(w * lv[s] for s, w in sources.items())
        noise_sd = np.sqrt(max(1e-6, 1 - np.var(signal)))
        lv[target] = signal + rng.normal(0, noise_sd, len(image))
        lv[target] = (lv[target] - lv[target].mean()) / lv[target].std()
    return lv


def _item(rng: np.random.Generator, latent: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """A Likert item loading ~0.85 on its latent."""
    mid = (lo + hi) / 2 + 0.15 * (hi - lo)
    raw = mid + (hi - lo) / 5 * (0.85 * latent + 0.5 * rng.normal(size=len(latent)))
    return np.clip(np.rint(raw), lo, hi)


def mood(
    rng: np.random.Generator, active: np.ndarray, trap_share: float = TRAP_SHARE
) -> np.ndarray:
    """Standardised satisfaction per respondent: higher for active buyers, with the trap."""
    base = np.where(active, 0.7, -0.8) + rng.normal(0, 0.8, len(active))
    trapped = (~active) & (rng.random(len(active)) < trap_share)
    return np.where(trapped, 1.0 + np.abs(rng.normal(0, 0.5, len(active))), base)


def _staff_text(text: tuple[str, str]) -> str:
    """``text`` in the installation's language (Chinese or English)."""
    return text[int(installation_locale() == "zh_CN")]


def _question_ids(survey: Survey) -> dict[str, Any]:
    return {q.code: q for q in survey.questions}


def _insert_returning(session: Session, table: Any, rows: list[dict]) -> list[int]:
    conn = session.connection()
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids: list[int] = []
    for i in range(0, len(rows), CHUNK):
        ids.extend(conn.execute(stmt, rows[i : i + CHUNK]).scalars().all())
    return ids


def _insert(session: Session, table: Any, rows: list[dict]) -> None:
    conn = session.connection()
    for i in range(0, len(rows), CHUNK):
        conn.execute(insert(table), rows[i : i + CHUNK])


def _write(
    session: Session,
    rng: np.random.Generator,
    survey: Survey,
    customer_ids: np.ndarray,
    answers: list[dict[str, tuple[float | None, float | None, list[str] | None]]],
    times: list[datetime],
    agent_id: int | None,
) -> int:
    """Bulk-insert invitations, responses and answers; online ones come with a distribution."""
    n = len(customer_ids)
    names, p = zip(*CHANNEL_MIX, strict=True)
    channel = np.asarray(names, dtype=object)[rng.choice(len(names), size=n, p=p)]
    first = min(times) - timedelta(days=7)
    expires = max(times) + timedelta(days=30)
    dist_id = _insert_returning(
        session,
        SurveyDistribution.__table__,
        [
            {
                "survey_id": survey.id,
                "name": _staff_text(PAST_DISTRIBUTION),
                "channel": "online",
                "segment_kind": "all",
                "segment_value": None,
                "invited": 0,
                "expires_at": expires,
                "created_at": first,
            }
        ],
    )[0]
    # Online respondents answered an invitation; half as many invitees never answered.
    online = np.flatnonzero(channel == "online")
    silent = rng.choice(n, size=min(n, len(online) // 2 + 1), replace=False)
    inv_rows = []
    for k, idx in enumerate(np.concatenate([online, silent]).tolist()):
        done = k < len(online)
        salt = f"{rng.integers(0, 2**63):016x}{rng.integers(0, 2**63):016x}"
        inv_rows.append(
            {
                "distribution_id": dist_id,
                "survey_id": survey.id,
                "customer_id": int(customer_ids[idx]),
                "channel": "online",
                "token_hash": hash_token(make_token(salt)),
                "token_salt": salt,
                "expires_at": expires,
                "sent_at": first,
                "reminder_count": 0 if done else 1,
                "reminded_at": None if done else first + timedelta(days=3),
                "opened_at": times[idx] if done or rng.random() < 0.4 else None,
                "completed_at": times[idx] if done else None,
                "created_at": first,
            }
        )
    # A customer appears at most once per distribution.
    seen: set[int] = set()
    inv_rows = [r for r in inv_rows if not (r["customer_id"] in seen or seen.add(r["customer_id"]))]
    inv_ids = _insert_returning(session, SurveyInvitation.__table__, inv_rows)
    session.connection().execute(
        SurveyDistribution.__table__.update()
        .where(SurveyDistribution.__table__.c.id == dist_id)
        .values(invited=len(inv_rows))
    )
    inv_for = {
        r["customer_id"]: i for r, i in zip(inv_rows, inv_ids, strict=True) if r["completed_at"]
    }
    resp_rows = [
        {
            "survey_id": survey.id,
            "customer_id": int(customer_ids[i]),
            "invitation_id": inv_for.get(int(customer_ids[i])) if channel[i] == "online" else None,
            "channel": channel[i],
            "source": {"online": "token", "phone": "agent"}.get(channel[i], "bulk"),
            "status": "completed",
            "entered_by_id": agent_id if channel[i] != "online" else None,
            "started_at": times[i] - timedelta(minutes=6),
            "completed_at": times[i],
            "updated_at": times[i],
        }
        for i in range(n)
    ]
    resp_ids = _insert_returning(session, SurveyResponse.__table__, resp_rows)
    qs = _question_ids(survey)
    ans_rows = []
    for rid, ans in zip(resp_ids, answers, strict=True):
        for code, (number, expectation, choices) in ans.items():
            ans_rows.append(
                {
                    "response_id": rid,
                    "question_id": qs[code].id,
                    "number": number,
                    "expectation": expectation,
                    "text": None,
                    "choices": choices,
                }
            )
    _insert(session, SurveyAnswer.__table__, ans_rows)
    return n


def _standard_answers(
    rng: np.random.Generator, s: np.ndarray
) -> list[dict[str, tuple[float | None, float | None, list[str] | None]]]:
    n = len(s)

    def scale(shift: float, lo: int, hi: int, spread: float = 1.0) -> np.ndarray:
        mid = (lo + hi) / 2 + 0.2 * (hi - lo)
        raw = mid + shift + spread * (hi - lo) / 5 * (s + 0.6 * rng.normal(size=n))
        return np.clip(np.rint(raw), lo, hi)

    sat = scale(0, 1, 5)
    rec = scale(0.3, 0, 10, 1.1)
    ces = scale(0, 1, 7)
    pairs = {}
    for code, gap in (
        ("product_performance", 0.1),
        ("product_price", -0.5),
        ("product_quality", 0.2),
        ("product_packaging", 0.3),
        ("service_promise", -0.1),
        ("service_content", 0.0),
        ("service_response_time", -0.4),
        ("service_staff_attitude", 0.2),
    ):
        a = np.clip(np.rint(3.8 + 0.7 * rng.normal(size=n)), 2, 5)
        b = np.clip(np.rint(a + gap + 0.8 * s + 0.6 * rng.normal(size=n)), 1, 5)
        pairs[code] = (a, b)
    costs = {
        "product_money_cost": scale(-0.3, 1, 5, -0.6),
        "service_time_cost": scale(-0.6, 1, 5, -0.7),
        "service_energy_cost": scale(-0.8, 1, 5, -0.7),
        "service_physical_cost": scale(-1.0, 1, 5, -0.5),
    }
    problem = rng.random(n) < 1 / (1 + np.exp(1.2 + 1.5 * s))
    told = rng.random(n)

    def near(delta_lo: int, delta_hi: int) -> np.ndarray:
        return np.clip(sat + rng.integers(delta_lo, delta_hi, n), 1, 5)

    singles = {
        "overall_satisfaction": sat,
        "overall_expectation": np.clip(np.rint(3.9 + rng.normal(0, 0.7, n)), 1, 5),
        "overall_quality": scale(0.1, 1, 5),
        "overall_expectations_met": near(-1, 2),
        "intent_recommend": rec,
        "intent_repurchase": near(-1, 1),
        "service_ces": ces,
        "product_value_for_money": near(-1, 2),
        "competition_reputation": near(0, 2),
        "problem_handling_confidence": near(-1, 1),
        **costs,
    }
    out = []
    for i in range(n):
        ans: dict[str, tuple[float | None, float | None, list[str] | None]] = {
            code: (float(v[i]), None, None) for code, v in singles.items()
        }
        ans["problem_experienced"] = (None, None, ["yes" if problem[i] else "no"])
        for code, (a, b) in pairs.items():
            ans[code] = (float(b[i]), float(a[i]), None)
        if problem[i]:
            reported = "no" if told[i] < 0.5 else ("informal" if told[i] < 0.85 else "formal")
            ans["problem_reported"] = (None, None, [reported])
            if reported != "no":
                ans["problem_resolved"] = (None, None, ["yes" if s[i] > -0.3 else "no"])
        out.append(ans)
    return out


def _ecsi_answers(
    rng: np.random.Generator, s: np.ndarray
) -> list[dict[str, tuple[float | None, float | None, list[str] | None]]]:
    n = len(s)
    # Image carries the behaviour-linked mood into the model, so satisfaction follows it too.
    image = 0.6 * (s - s.mean()) / (s.std() or 1) + 0.8 * rng.normal(size=n)
    lv = _latents(rng, (image - image.mean()) / image.std())
    items = {
        "Image": ("IMAG1", "IMAG2", "IMAG3", "IMAG4", "IMAG5"),
        "Expectation": ("CUEX1", "CUEX2", "CUEX3"),
        "Quality": ("PERQ1", "PERQ2", "PERQ3", "PERQ4", "PERQ5", "PERQ6", "PERQ7"),
        "Value": ("PERV1", "PERV2"),
        "Satisfaction": ("CUSA1", "CUSA2", "CUSA3"),
        "Complaints": ("CUSCO",),
        "Loyalty": ("CUSL1", "CUSL2", "CUSL3"),
    }
    cols = {
        code: _item(rng, lv[latent], 1, 10) for latent, codes in items.items() for code in codes
    }
    return [{code: (float(v[i]), None, None) for code, v in cols.items()} for i in range(n)]


def generate_survey_responses(
    session: Session,
    rng: np.random.Generator,
    customer_ids: np.ndarray,
    last_order_days: np.ndarray,
    now: datetime,
    *,
    manager: User,
    agent_id: int | None = None,
) -> dict[str, int]:
    """Create the demo standard and ECSI surveys and their responses for a sample of customers.

    ``last_order_days`` is the days since each customer's last order (NaN: never bought).
    """
    bought = np.flatnonzero(~np.isnan(last_order_days))
    if len(bought) < 20:
        return {"survey_responses": 0}
    k = min(MAX_RESPONDENTS, max(20, int(len(bought) * RESPONSE_SHARE)))
    pick = np.sort(rng.choice(bought, size=min(k, len(bought)), replace=False))
    active = last_order_days[pick] <= ACTIVE_DAYS
    s = mood(rng, active)
    offsets = rng.uniform(1, 300, len(pick))
    times = [now - timedelta(days=float(d)) for d in offsets]
    total = emailed = 0
    for template, make in (("standard", _standard_answers), ("ecsi", _ecsi_answers)):
        survey = service.create_from_template(
            session, SurveyFromTemplate(template=template), actor=manager
        )
        survey.status = "active"
        session.flush()
        total += _write(session, rng, survey, customer_ids[pick], make(rng, s), times, agent_id)
        if template == "standard":
            others = np.setdiff1d(customer_ids, customer_ids[pick])
            emailed = _email_distribution(session, rng, survey, others, manager, now)
    return {"surveys": 2, "survey_responses": total, "survey_emails_queued": emailed}


def _email_distribution(
    session: Session,
    rng: np.random.Generator,
    survey: Survey,
    candidates: np.ndarray,
    manager: User,
    now: datetime,
) -> int:
    """A current online distribution through the real service, so the outbox holds queued
    invitation emails; the demo has no SMTP server, so they stay queued (nothing pretends to
    have been sent)."""
    if len(candidates) == 0:
        return 0
    chosen = rng.choice(candidates, size=min(EMAIL_INVITEES, len(candidates)), replace=False)
    dist, _ = distributions.create_distribution(
        session,
        survey.id,
        DistributionCreate(
            name=_staff_text(EMAIL_DISTRIBUTION),
            channel="online",
            segment=SegmentIn(kind="customers", customer_ids=sorted(int(c) for c in chosen)),
        ),
        actor=manager,
        now=now,
    )
    return distributions.distribution_emails(session, dist).queued


def step_surveys(session: Session, rng: np.random.Generator, ctx: Any) -> None:
    """Demo pipeline step (``retento.demo.generator.STEPS``): surveys after orders."""
    if ctx.customer_ids is None or ctx.order_time is None or "manager" not in ctx.user_ids:
        return
    n_c = len(ctx.customer_ids)
    last = np.full(n_c, -np.inf)
    np.maximum.at(last, ctx.order_customer, ctx.order_time.astype(float))
    # Not later than the real time: generated before noon UTC, the invitations would wait in the
    # outbox until then (as the complaints and loyalty steps do).
    now = min(datetime.combine(ctx.today, time(12), tzinfo=UTC), datetime.now(UTC))
    horizon_secs = (now - ctx.start).total_seconds()
    days = np.where(np.isfinite(last), (horizon_secs - last) / 86400, np.nan)
    manager = session.get(User, ctx.user_ids["manager"])
    summary = generate_survey_responses(
        session,
        rng,
        np.asarray(ctx.customer_ids),
        days,
        now,
        manager=manager,
        agent_id=ctx.user_ids.get("agent"),
    )
    ctx.summary.update(summary)
    ctx.progress("surveys", 1.0)
