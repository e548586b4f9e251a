"""The value settings page (``/value/settings``): pyramid cut-offs, loyalty-stage rules and the
share-of-wallet window, with the configured targets next to the latest run's real shares.
Managers and admins edit (``score:configure``); everyone who sees scores reads. Edits are versioned:
a form loaded before someone else saved gets the conflict page (409)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import RetentoError
from retento.scoring import consent, service, value_settings
from retento.scoring.models import STAGES, VALUE_CLASSES, ScoreRun, ValueSettings
from retento.scoring.value_rules import DEFAULTS, rules_from
from retento.web.conflict import STALE, as_posted, conflict_page, form_base, form_version, read_base
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.labels import register_field_labels
from retento.web.render import PageUser, flash, page_router, redirect, render, tr

router = page_router()

FIELD_LABELS = {
    "vip_top_pct": N_("VIP: top % of customers"),
    "major_top_pct": N_("Major: up to % of customers"),
    "ordinary_top_pct": N_("Ordinary: up to % of customers"),
    "small_profit_threshold": N_("Small: profit at or below"),
    "new_days": N_("New for (days after the first purchase)"),
    "regular_per_year": N_("Regular: purchases a year"),
    "loyal_per_year": N_("Loyal: purchases a year"),
    "long_tenure_days": N_("Old and loyal: tenure (days)"),
    "recent_days": N_("Loyal: last purchase within (days)"),
    "frequency_window_days": N_("Frequency window (days)"),
    "lapsed_days": N_("Lapsed after (days without a purchase)"),
    "wallet_window_days": N_("Share of wallet: our sales over (days)"),
    "profiling_needs_consent": N_("Profiling needs the customer's consent"),
}
# The audit log names the settings' fields as the form does.
register_field_labels("value_settings", {**FIELD_LABELS, "updated_by_id": N_("Updated by")})
# One rule per field, shown when the value breaks it (translated; the API says it in English).
FIELD_RULES = {
    "vip_top_pct": N_("Enter a percentage above 0 and below the major cut-off."),
    "major_top_pct": N_("Enter a percentage above the VIP cut-off and below the ordinary one."),
    "ordinary_top_pct": N_("Enter a percentage above the major cut-off, at most 100."),
    "small_profit_threshold": N_("Enter an amount of zero or more."),
    "new_days": N_("Enter a whole number of days from 0 to 3650."),
    "regular_per_year": N_("Enter a number of purchases above 0, at most 365."),
    "loyal_per_year": N_(
        "Enter a number of purchases at least the regular one, at most 365 a year."
    ),
    "long_tenure_days": N_("Enter a whole number of days longer than the new period, to 3650."),
    "recent_days": N_("Enter a whole number of days from 1 up to the frequency window."),
    "frequency_window_days": N_("Enter a whole number of days from 1 to 3650."),
    "lapsed_days": N_("Enter a whole number of days from 0 to 3650."),
    "wallet_window_days": N_("Enter a whole number of days from 1 to 3650."),
}
FIELD_HELP = {
    "vip_top_pct": N_("Customers are ranked by profit; the cut-offs are cumulative."),
    "ordinary_top_pct": N_("Below 100, the customers ranked after it are small."),
    "small_profit_threshold": N_("Customers with a profit at or below this amount are small."),
    "frequency_window_days": N_("Regular customers bought within this window."),
    "wallet_window_days": N_("Compared with the spend recorded in the custom field wallet_spend."),
}
REFERENCE_PROFIT = {"vip": 0.50, "major": 0.30, "ordinary": 0.20}


def _targets(rules_row: ValueSettings | dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Per class: the band (from, to) in % of customers and its target share (0–1)."""
    rules = rules_from(rules_row)
    a, b, c = rules.cutoffs
    bands = {"vip": (0.0, a), "major": (a, a + b), "ordinary": (a + b, a + b + c)}
    out: dict[str, dict[str, float | None]] = {}
    for cls in VALUE_CLASSES:
        lo, hi = bands.get(cls, (None, None))
        out[cls] = {
            "from": None if lo is None else lo * 100,
            "to": None if hi is None else hi * 100,
            "share": None if lo is None or hi is None else hi - lo,
            "reference_profit": REFERENCE_PROFIT.get(cls),
        }
    return out


def comparison(session: Session, row: ValueSettings) -> dict[str, Any]:
    """The configured targets next to the latest successful run's real shares."""
    run: ScoreRun | None = service.latest_run(session)
    report = (run.report or {}) if run is not None else {}
    classes = {c["value_class"]: c for c in (report.get("pyramid") or {}).get("classes", [])}
    used = report.get("settings") or {}
    targets = _targets(row)
    rows = []
    for cls in VALUE_CLASSES:
        actual = classes.get(cls) or {}
        rows.append(
            {
                "code": cls,
                **targets[cls],
                "run_rule": actual.get("rule_share"),
                "customers": actual.get("customers"),
                "customer_share": actual.get("customer_share"),
                "profit_share": actual.get("profit_share"),
            }
        )
    stages = report.get("stages") or {}
    return {
        "run": run,
        "rows": rows,
        "stages": [(s, int(stages.get(s, 0))) for s in STAGES] if run is not None else [],
        # Runs before the settings existed used the defaults (version 1's values).
        "run_version": used.get("version", 1) if run is not None else None,
        "changed_since_run": run is not None and used.get("version", 1) != row.version,
    }


def _shown(row: ValueSettings) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(row, k) for k in DEFAULTS}
    for k in ("vip_top_pct", "major_top_pct", "ordinary_top_pct", "regular_per_year"):
        out[k] = f"{out[k]:g}"
    out["loyal_per_year"] = f"{out['loyal_per_year']:g}"
    out["profiling_needs_consent"] = bool(row.profiling_needs_consent)
    out["version"] = row.version
    return out


def _form_data(form: Any) -> dict[str, Any]:
    """The settings form's values as the service takes them."""
    data: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in DEFAULTS}
    # A checkbox: absent when unticked.
    data["profiling_needs_consent"] = form.get("profiling_needs_consent") == "1"
    return data


def _page(
    request: Request,
    session: Session,
    user: User,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    base: dict[str, Any] | None = None,
) -> Response:
    """The settings page; its form carries the values it was loaded with (``base``, for the
    stale-edit page), kept when it comes back with errors."""
    row = value_settings.get_settings(session, actor=user)
    return render(
        request,
        "scoring/settings.html",
        status_code=status_code,
        s=values or _shown(row),
        base=base if base is not None else as_posted(_shown(row)),
        current=row,
        errors=errors or {},
        labels={k: tr(request, v) for k, v in FIELD_LABELS.items()},
        helps={k: tr(request, v) for k, v in FIELD_HELP.items()},
        cmp=comparison(session, row),
        no_consent=consent.left_out_counts(session),
        pyramid_fields=("vip_top_pct", "major_top_pct", "ordinary_top_pct"),
        stage_fields=(
            "new_days",
            "regular_per_year",
            "loyal_per_year",
            "long_tenure_days",
            "recent_days",
            "frequency_window_days",
            "lapsed_days",
        ),
    )


@router.get("/value/settings")
def settings_page(request: Request, session: DbSession, user: PageUser) -> Response:
    """The value settings and how the latest run compares with them."""
    require(user, "score:read")
    return _page(request, session, user)


@router.post("/value/settings")
def save_settings(request: Request, form: PageForm, session: DbSession, user: PageUser) -> Response:
    """Save the value settings; the next scoring run applies them."""
    require(user, "score:configure")
    data = _form_data(form)
    expected = form_version(form)
    shown = {**data, "version": expected}
    sp = session.begin_nested()
    try:
        value_settings.update_settings(session, data, actor=user, version=expected)
    except STALE:
        sp.rollback()
        session.expire_all()
        current = value_settings.get_settings(session, actor=user)
        return conflict_page(
            request,
            session,
            entity="value_settings",
            record=current,
            title=tr(request, "Value settings"),
            # Both sides read as the service reads them: "10" and 10.0 are one value.
            submitted=value_settings.read_fields(data),
            current=value_settings.as_dict(current),
            labels=FIELD_LABELS,
            form=form,
            action="/value/settings",
            reload_url="/value/settings",
            cancel_url="/value",
            expected=expected,
            base=read_base(form, lambda v: value_settings.read_fields(_form_data(v))),
            current_form=as_posted(_shown(current)),
        )
    except RetentoError as exc:
        sp.rollback()
        if exc.status in (401, 403, 404):
            raise
        fields = [e.field for e in exc.errors] or [exc.field]
        errs = {f: tr(request, FIELD_RULES[f]) for f in fields if f in FIELD_RULES}
        if not errs:
            errs = {"": exc.message}
        return _page(
            request, session, user, values=shown, errors=errs, status_code=exc.status,
            base=form_base(form),
        )  # fmt: skip
    flash(request, tr(request, "Value settings saved. The next scoring run applies them."))
    return redirect(request, "/value/settings")
