"""The warning rules and the retention settings (managers): the six rules with enabled, threshold,
window, severity and watched classes, an edit form per rule, and the settings (default owner,
auto-apply playbooks, notify the owner). Edits are versioned: a form loaded before someone else
saved gets the conflict page (409)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.auth.service import assignable_user_choices
from retento.core.deps import DbSession
from retento.core.errors import Msg, RetentoError
from retento.core.money import number_text
from retento.retention import reasons, service
from retento.retention.models import CLASSES, RULE_CODES, SEVERITIES, RetentionConfig, RetentionRule
from retento.retention.pages_common import tab_counts
from retento.web.conflict import STALE, conflict_page, form_base, form_version, read_base
from retento.web.forms import PageForm, decimal_input
from retento.web.i18n import N_, Formatter, join_list
from retento.web.render import (
    PageUser,
    error_text,
    flash,
    form_errors,
    page_router,
    redirect,
    render,
    request_locale,
    tr,
)

router = page_router()

MAX_WINDOW_DAYS = 3650

RULE_LABELS = {
    "enabled": N_("Enabled"),
    "threshold": N_("Threshold"),
    "window_days": N_("Window (days)"),
    "severity": N_("Severity"),
    "classes": N_("Watched classes"),
}
SETTING_LABELS = {
    "default_owner_id": N_("Default owner"),
    "auto_apply": N_("Apply playbooks automatically"),
    "notify_owner": N_("Notify the owner"),
}

# What the threshold means for each rule (shown next to the field and in the list).
THRESHOLD_HELP = {
    "churn_risk": N_("Churn risk from 0 to 1: an alert when the risk is above it."),
    "rhythm": N_(
        "Multiple of the customer's usual gap between orders: an alert when the time since the "
        "last order is longer."
    ),
    "complaint": N_(
        "Lowest complaint severity that raises an alert (a breached deadline always does)."
    ),
    "survey": N_("Highest recommendation score (0-10) that counts as a detractor."),
    "tier_downgrade": N_("Not used: every tier drop raises an alert."),
    "points_expiring": N_("Fewest points expiring that raise an alert."),
}
WINDOW_HELP = N_("How far back (or ahead, for expiring points) the rule looks, in days.")
# The churn risk is a probability, written with two decimals (0.70); the other thresholds are
# counts, levels, scores and multiples, written with the decimals they have (100, 2, 1.5).
FIXED_THRESHOLD_DIGITS = {"churn_risk": 2}


def threshold_text(fmt: Formatter, code: str, value: float | None) -> str:
    """A rule's threshold as the rules list shows it: "0.70" for the churn risk, "100" points
    or severity "2" rather than "100.00" and "2.00", "1.5" times the usual gap."""
    if code in FIXED_THRESHOLD_DIGITS:
        return fmt.number(value, FIXED_THRESHOLD_DIGITS[code])
    return fmt.decimal(value)


def _rule_values(rule: RetentionRule) -> dict[str, Any]:
    return {
        "enabled": rule.enabled,
        "threshold": rule.threshold,
        "window_days": rule.window_days,
        "severity": rule.severity,
        "classes": list(rule.classes or []),
    }


def _rule_posted(rule: RetentionRule) -> dict[str, Any]:
    """The rule as its edit form posts it unchanged (input name → value, the ticked classes a
    list): the form's hidden base of a three-way stale-edit page (``web.conflict``)."""
    v = _rule_values(rule)
    return {
        "enabled": "1" if v["enabled"] else "",
        "threshold": decimal_input(rule.threshold),
        "window_days": str(v["window_days"]),
        "severity": v["severity"],
        "classes": v["classes"],
    }


def _settings_posted(config: RetentionConfig) -> dict[str, str]:
    """The retention settings as their form posts them unchanged (the three-way base)."""
    owner = config.default_owner_id
    return {
        "default_owner_id": "" if owner is None else str(owner),
        "auto_apply": "1" if config.auto_apply else "",
        "notify_owner": "1" if config.notify_owner else "",
    }


def _settings_data(form: Any) -> dict[str, Any]:
    """The settings form's values for the service (the owner as chosen, not yet checked)."""
    raw_owner = str(form.get("default_owner_id") or "").strip()
    return {
        "auto_apply": form.get("auto_apply") == "1",
        "notify_owner": form.get("notify_owner") == "1",
        "default_owner_id": int(raw_owner) if raw_owner.isdigit() and len(raw_owner) < 19 else None,
    }


def _rule_data(request: Request, code: str, form) -> tuple[dict[str, Any], dict[str, str]]:
    """Service data from the rule form, and translated field errors for values out of range."""
    data: dict[str, Any] = {"enabled": form.get("enabled") == "1"}
    errors: dict[str, str] = {}
    raw = str(form.get("threshold") or "").strip()
    try:
        raw = number_text(raw)  # "1,250" is 1250; "0,5" is refused, saying why
        threshold = float(raw)
        if not math.isfinite(threshold):
            raise ValueError(raw)
    except ValueError as exc:
        comma = exc.args and isinstance(exc.args[0], Msg)
        errors["threshold"] = (
            error_text(request, exc.args[0]) if comma else tr(request, "Enter a number.")
        )
    else:
        if code == "churn_risk" and not 0.0 <= threshold <= 1.0:
            errors["threshold"] = tr(request, "The risk threshold must be between 0 and 1.")
        elif threshold < 0:
            errors["threshold"] = tr(request, "The threshold must not be negative.")
        else:
            data["threshold"] = threshold
    raw = str(form.get("window_days") or "").strip()
    if not raw.isdigit() or len(raw) > 5 or int(raw) > MAX_WINDOW_DAYS:
        errors["window_days"] = tr(request, "Enter a whole number from 0 to 3650.")
    else:
        data["window_days"] = int(raw)
    severity = str(form.get("severity") or "")
    if severity not in SEVERITIES:
        errors["severity"] = tr(request, "Choose a severity.")
    else:
        data["severity"] = severity
    classes = [c for c in form.getlist("classes") if isinstance(c, str)]
    if any(c not in CLASSES for c in classes):
        errors["classes"] = tr(request, "Choose customer classes from the list.")
    else:
        data["classes"] = classes
    return data, errors


def _options(request: Request) -> dict[str, Any]:
    locale = request_locale(request)
    settings = request.app.state.settings
    fmt = Formatter(locale, settings.timezone, settings.currency)
    return {
        "class_opts": [(c, reasons.label(reasons.CLASS_NAMES, c, locale)) for c in CLASSES],
        "severity_opts": [
            (s, reasons.label(reasons.SEVERITY_NAMES, s, locale)) for s in SEVERITIES
        ],
        "rule_name": lambda c: reasons.label(reasons.RULE_NAMES, c, locale),
        "class_name": lambda c: reasons.label(reasons.CLASS_NAMES, c, locale),
        # "重要客户、普通客户", not "重要客户, 普通客户"
        "class_list": lambda codes: join_list(
            locale, [reasons.label(reasons.CLASS_NAMES, c, locale) for c in codes]
        ),
        "severity_name": lambda s: reasons.label(reasons.SEVERITY_NAMES, s, locale),
        "threshold_help": lambda c: tr(request, THRESHOLD_HELP[c]) if c in THRESHOLD_HELP else "",
        "threshold_text": lambda c, v: threshold_text(fmt, c, v),
    }


def _owner_opts(session: Session) -> list[tuple[int, str]]:
    return [(int(i), name) for i, name in assignable_user_choices(session)]


def _list(
    request: Request,
    session: Session,
    user: User,
    *,
    settings: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    base: dict[str, Any] | None = None,
) -> Response:
    """The rules and the settings form, which carries the values it was loaded with (``base``,
    for the stale-edit page), kept when it comes back with errors."""
    require(user, "retention:manage")
    config = service.get_config(session, actor=user)
    shown = settings or {
        "default_owner_id": config.default_owner_id,
        "auto_apply": config.auto_apply,
        "notify_owner": config.notify_owner,
        "version": config.version,
    }
    return render(
        request,
        "retention/rules.html",
        status_code=status_code,
        rules=service.list_rules(session, actor=user),
        s=shown,
        errors=errors or {},
        base=base if base is not None else _settings_posted(config),
        owner_opts=_owner_opts(session),
        counts=tab_counts(session, user),
        **_options(request),
    )


def _form(
    request: Request,
    user: User,
    rule: RetentionRule,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    version: int | None = None,
    base: dict[str, Any] | None = None,
) -> Response:
    """The rule's form; it carries the version it edits and the values it was loaded with
    (``base``, for the stale-edit page), both kept when it comes back with errors."""
    require(user, "retention:manage")
    return render(
        request,
        "retention/rule_form.html",
        status_code=status_code,
        rule=rule,
        f=values,
        errors=errors or {},
        version=version if version is not None else rule.version,
        base=base if base is not None else _rule_posted(rule),
        window_help=tr(request, WINDOW_HELP),
        counts=tab_counts(Session.object_session(rule), user),
        **_options(request),
    )


def _rule_or_404(session: Session, code: str, user: User) -> RetentionRule:
    if code not in RULE_CODES:
        raise service.unknown_rule(code)
    return service.get_rule(session, code, actor=user)


@router.get("/retention/rules")
def rule_list(request: Request, session: DbSession, user: PageUser) -> Response:
    """The warning rules and the retention settings."""
    return _list(request, session, user)


@router.get("/retention/rules/{code}")
def rule_edit(request: Request, session: DbSession, user: PageUser, code: str) -> Response:
    require(user, "retention:manage")
    rule = _rule_or_404(session, code, user)
    return _form(
        request, user, rule, _rule_values(rule) | {"threshold": decimal_input(rule.threshold)}
    )


@router.post("/retention/rules/{code}")
def rule_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, code: str
) -> Response:
    """Save a rule; a stale form (someone saved since it was loaded) gets the conflict page."""
    require(user, "retention:manage")
    rule = _rule_or_404(session, code, user)
    data, errors = _rule_data(request, code, form)
    expected = form_version(form)
    shown = {
        "enabled": data["enabled"],
        "threshold": form.get("threshold"),
        "window_days": form.get("window_days"),
        "severity": form.get("severity"),
        "classes": [c for c in form.getlist("classes") if isinstance(c, str)],
    }
    if errors:
        return _form(request, user, rule, shown, errors, 422, expected, form_base(form))
    sp = session.begin_nested()
    try:
        service.update_rule(session, code, data, actor=user, version=expected)
    except STALE:
        sp.rollback()
        session.expire_all()
        current = service.get_rule(session, code, actor=user)
        locale = request_locale(request)
        return conflict_page(
            request,
            session,
            entity="retention_rule",
            record=current,
            title=reasons.label(reasons.RULE_NAMES, code, locale),
            submitted={k: data[k] for k in RULE_LABELS if k in data},
            current=_rule_values(current),
            labels=RULE_LABELS,
            form=form,
            action=f"/retention/rules/{code}",
            reload_url=f"/retention/rules/{code}",
            cancel_url="/retention/rules",
            expected=expected,
            base=read_base(form, lambda v: _rule_compared(request, code, v)),
            current_form=_rule_posted(current),
        )
    except RetentoError as exc:
        sp.rollback()
        if exc.status in (401, 403, 404):
            raise
        errs = {k: tr(request, v) for k, v in form_errors(request, exc).items()}
        return _form(request, user, rule, shown, errs, exc.status, expected, form_base(form))
    flash(request, tr(request, "Warning rule saved."))
    return redirect(request, f"/retention/rules#rule-{code}")


def _rule_compared(request: Request, code: str, form: Any) -> dict[str, Any]:
    """Rule form inputs → the values the stale-edit page compares (read as a save reads them)."""
    data, errors = _rule_data(request, code, form)
    if errors:
        raise ValueError(errors)
    return {k: data[k] for k in RULE_LABELS if k in data}


@router.post("/retention/settings")
def settings_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser
) -> Response:
    """Save the retention settings (versioned like the rules)."""
    require(user, "retention:manage")
    raw_owner = str(form.get("default_owner_id") or "").strip()
    data: dict[str, Any] = {
        "auto_apply": form.get("auto_apply") == "1",
        "notify_owner": form.get("notify_owner") == "1",
    }
    expected = form_version(form)
    shown = {**data, "default_owner_id": raw_owner, "version": expected}
    owners = {str(uid) for uid, _ in _owner_opts(session)}
    if raw_owner and raw_owner not in owners:
        errs = {"default_owner_id": tr(request, "Choose an owner from the list.")}
        return _list(
            request, session, user, settings=shown, errors=errs, status_code=422,
            base=form_base(form),
        )  # fmt: skip
    data["default_owner_id"] = int(raw_owner) if raw_owner else None
    sp = session.begin_nested()
    try:
        service.update_config(session, data, actor=user, version=expected)
    except STALE:
        sp.rollback()
        session.expire_all()
        current: RetentionConfig = service.get_config(session, actor=user)
        return conflict_page(
            request,
            session,
            entity="retention_config",
            record=current,
            title=tr(request, "Retention settings"),
            submitted=data,
            current={k: getattr(current, k) for k in SETTING_LABELS},
            labels=SETTING_LABELS,
            form=form,
            action="/retention/settings",
            reload_url="/retention/rules",
            cancel_url="/retention/rules",
            expected=expected,
            base=read_base(form, _settings_data),
            current_form=_settings_posted(current),
        )
    except RetentoError as exc:
        sp.rollback()
        if exc.status in (401, 403, 404):
            raise
        errs = {k: tr(request, v) for k, v in form_errors(request, exc).items()}
        return _list(
            request, session, user, settings=shown, errors=errs, status_code=exc.status,
            base=form_base(form),
        )  # fmt: skip
    flash(request, tr(request, "Retention settings saved."))
    return redirect(request, "/retention/rules#settings")
