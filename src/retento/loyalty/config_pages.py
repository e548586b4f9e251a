"""Loyalty configuration pages: tier editing, earning rules and the rewards catalogue.

Configuration needs ``loyalty:manage``; the lists need ``loyalty:read`` — the same permissions
as the JSON API, enforced by the service functions in ``programme.py``. A refused or invalid
form is shown again with the message next to the field and nothing written (savepoint). The
form helpers here are shared with the member club pages (``club_pages``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, NotFound, RetentoError
from retento.core.types import ID_MAX
from retento.core.validation import DbId
from retento.loyalty import programme
from retento.loyalty.config_conflict import stale_page
from retento.loyalty.models import (
    REWARD_KINDS,
    RULE_KINDS,
    LoyaltyReward,
    LoyaltyRule,
    LoyaltyTier,
)
from retento.loyalty.schemas import RewardIn, RuleIn, TierIn
from retento.web import pickers
from retento.web.conflict import STALE, as_posted, delete_conflict_page, form_base, form_version
from retento.web.forms import PageForm, decimal_input
from retento.web.i18n import N_
from retento.web.labels import (
    label_msgid,
    register_field_labels,
    register_labels,
    register_value_labels,
)
from retento.web.render import (
    PageUser,
    flash,
    form_errors,
    page_router,
    redirect,
    render,
    request_locale,
    tr,
)

router = page_router()

TIER_FIELDS = (
    "code",
    "name",
    "name_zh",
    "rank",
    "threshold",
    "multiplier",
    "sla_class",
    "grace_days",
    "benefits",
)
RULE_FIELDS = (
    "name",
    "name_zh",
    "kind",
    "rate",
    "fixed_points",
    "product_id",
    "category",
    "event",
    "min_spend",
    "valid_from",
    "valid_until",
    "cap_points",
    "cap_period_days",
)
REWARD_FIELDS = (
    "code",
    "name",
    "name_zh",
    "kind",
    "points_cost",
    "stock",
    "min_tier_id",
    "description",
)
# Field names on the conflict page (the forms' labels).
TIER_LABELS = {
    "code": N_("Code"),
    "name": N_("Name"),
    "name_zh": N_("Chinese name"),
    "rank": N_("Rank"),
    "threshold": N_("Threshold"),
    "multiplier": N_("Multiplier"),
    "sla_class": N_("SLA class for complaints"),
    "grace_days": N_("Grace (days)"),
    "benefits": N_("Benefits"),
    "invite_only": N_("Invite only (no automatic qualification)"),
}
RULE_LABELS = {
    "name": N_("Name"),
    "name_zh": N_("Chinese name"),
    "kind": N_("Kind"),
    "rate": N_("Points per currency unit"),
    "fixed_points": N_("Fixed points"),
    "product_id": N_("Product"),
    "category": N_("Category"),
    "event": N_("Event"),
    "min_spend": N_("Minimum spend"),
    "valid_from": N_("Valid from"),
    "valid_until": N_("Valid until"),
    "cap_points": N_("Cap per member (points)"),
    "cap_period_days": N_("Cap period (days)"),
    "apply_multiplier": N_("Tier multiplier applies"),
    "active": N_("Active"),
}
REWARD_LABELS = {
    "code": N_("Code"),
    "name": N_("Name"),
    "name_zh": N_("Chinese name"),
    "kind": N_("Kind"),
    "points_cost": N_("Points"),
    "stock": N_("Stock"),
    "min_tier_id": N_("For tier"),
    "description": N_("Description"),
    "active": N_("Active"),
}
# The same names in the audit log's before/after view of these records.
register_field_labels("loyalty_tier", TIER_LABELS)
register_field_labels("loyalty_rule", RULE_LABELS)
register_field_labels("loyalty_reward", REWARD_LABELS)
RULE_EVENTS = (
    ("birthday", N_("Birthday")),
    ("referral", N_("Referral")),
    ("survey_answered", N_("Survey answered")),
    ("club_attendance", N_("Club event attended")),
    ("complaint_remedy", N_("Complaint remedy")),
)
# What a rule earns on (its kind) and the event it is for, in the rules tables.
register_labels(
    "loyalty_rule_kind",
    {
        "spend": N_("Per currency unit spent"),
        "product": N_("Per product"),
        "category": N_("Per category"),
        "event": N_("Per event"),
    },
)
register_labels("loyalty_rule_event", dict(RULE_EVENTS))
# What a reward is, in the catalogue and its form.
register_labels(
    "loyalty_reward_kind",
    {"voucher": N_("Voucher"), "gift": N_("Gift"), "service": N_("Service")},
)
# The same labels for these codes in the audit log and on the stale-edit page; a tier's SLA
# class is one of the complaint SLA policies' value classes.
register_value_labels("loyalty_reward", {"kind": "loyalty_reward_kind"})
register_value_labels("loyalty_rule", {"kind": "loyalty_rule_kind", "event": "loyalty_rule_event"})
register_value_labels("loyalty_tier", {"sla_class": "value_class"})


# --- helpers -----------------------------------------------------------------------------------


def _clean(form, fields: tuple[str, ...], checks: tuple[str, ...] = ()) -> dict[str, Any]:
    """Non-empty text fields, and checkboxes as booleans (absent = unchecked)."""
    out: dict[str, Any] = {}
    for f in fields:
        v = str(form.get(f) or "").strip()
        if v != "":
            out[f] = v
    for f in checks:
        out[f] = form.get(f) == "1"
    return out


def _tz(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.timezone)


def _parse_local(request: Request, value: str, field: str) -> datetime:
    """A ``datetime-local`` value, read in the installation's time zone."""
    try:
        naive = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInput(tr(request, "Enter a date and time."), field=field) from exc
    return naive.replace(tzinfo=_tz(request)) if naive.tzinfo is None else naive


def _local(request: Request, value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(_tz(request)).strftime("%Y-%m-%dT%H:%M")


# Whole-form checks of the schemas (English, naming a field) -> field and translated message.
SHAPE_MESSAGES = {
    "a product rule needs product_id": ("product_id", N_("A product rule needs a product.")),
    "a category rule needs category": ("category", N_("A category rule needs a category.")),
    "an event rule needs event": ("event", N_("An event rule needs an event.")),
    "valid_until must be after valid_from": ("valid_until", N_("Must be after the start.")),
}


def _errors(request: Request, exc: ValidationError | RetentoError, fields: tuple[str, ...]):
    """Field -> message; a whole-form check naming a field ("needs product_id") goes there,
    and the services' English messages about a field become translated ones."""
    errs = form_errors(request, exc)
    msg = errs.get("")
    if msg and isinstance(exc, ValidationError):
        # Matched on the schema's own English text: the form's message is already translated.
        raw = (str(e.get("msg", "")).removeprefix("Value error, ") for e in exc.errors())
        shape = next((SHAPE_MESSAGES[r] for r in raw if r in SHAPE_MESSAGES), None)
        if shape is not None:
            field, text = shape
            errs.pop("")
            errs[field] = tr(request, text)
        else:
            for f in sorted(fields, key=len, reverse=True):
                if f in msg:
                    errs[f] = errs.pop("")
                    break
    if isinstance(exc, RetentoError) and exc.field in fields:
        if exc.status == 409:
            errs[exc.field] = tr(request, "This value is already used.")
        elif exc.field in ("product_id", "min_tier_id") and "does not exist" in exc.message:
            errs[exc.field] = tr(request, "No record with this id.")
    return errs


def _attempt(session: Session, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a savepoint so a refused change leaves nothing half-written."""
    sp = session.begin_nested()
    try:
        return fn()
    except BaseException:
        sp.rollback()
        raise


def _status(exc: Exception) -> int:
    return exc.status if isinstance(exc, RetentoError) else 422


def _get(session: Session, model, obj_id: int, what: str):
    obj = session.get(model, obj_id) if 0 < obj_id <= ID_MAX else None
    if obj is None:
        raise NotFound(what, obj_id)
    return obj


def _options(request: Request, group: str, codes: tuple[str, ...]) -> list[tuple[str, str]]:
    """``(code, label)`` of a form's dropdown: the same labels as the tables show."""
    return [(c, tr(request, label_msgid(group, c))) for c in codes]


def _tiers(session: Session) -> list[LoyaltyTier]:
    return list(session.scalars(select(LoyaltyTier).order_by(LoyaltyTier.rank)))


# --- tiers -------------------------------------------------------------------------------------


def _tier_form(
    request, session, user, tier, values, errors=None, status_code=200, base=None
) -> Response:
    """The tier form; a tier's carries the values it was loaded with (``base``, for the
    stale-edit page), kept when it comes back with errors (also of the rule and reward forms)."""
    require(user, "loyalty:manage")
    return render(
        request,
        "loyalty/tier_form.html",
        status_code=status_code,
        tier=tier,
        f=values,
        errors=errors or {},
        base=base if base is not None or tier is None else as_posted(_tier_values(tier)),
        programme=programme.get_programme(session, actor=user),
    )


def _tier_values(t: LoyaltyTier) -> dict[str, Any]:
    v = {k: getattr(t, k) for k in TIER_FIELDS}
    v["invite_only"] = t.invite_only
    v["version"] = t.version
    return {k: ("" if x is None else x) for k, x in v.items()}


@router.get("/loyalty/tiers/new")
def new_tier(request: Request, session: DbSession, user: PageUser) -> Response:
    return _tier_form(
        request, session, user, None, {"multiplier": "1", "grace_days": "30", "threshold": "0"}
    )


@router.get("/loyalty/tiers/{tier_id:int}")
def edit_tier(request: Request, session: DbSession, user: PageUser, tier_id: DbId) -> Response:
    require(user, "loyalty:manage")
    t = _get(session, LoyaltyTier, tier_id, "Tier")
    return _tier_form(request, session, user, t, _tier_values(t))


def _save_tier(request, form, session, user, tier_id: int | None) -> Response:
    require(user, "loyalty:manage")
    tier = _get(session, LoyaltyTier, tier_id, "Tier") if tier_id is not None else None
    data = None
    try:
        data = TierIn(**_clean(form, TIER_FIELDS, ("invite_only",)))
        _attempt(
            session,
            lambda: programme.save_tier(
                session,
                data,
                actor=user,
                tier_id=tier_id,
                expected_version=form_version(form),
            ),
        )
    except STALE:
        return stale_page(
            request, session, form, model=LoyaltyTier, entity="loyalty_tier", obj_id=tier_id,
            data=data, labels=TIER_LABELS, action=f"/loyalty/tiers/{tier_id}",
            cancel_url="/loyalty/programme#tiers",
            read=lambda v: TierIn(**_clean(v, TIER_FIELDS, ("invite_only",))), values=_tier_values,
        )  # fmt: skip
    except (ValidationError, RetentoError) as exc:
        values = {**dict(form), "invite_only": form.get("invite_only") == "1"}
        return _tier_form(
            request,
            session,
            user,
            tier,
            values,
            _errors(request, exc, TIER_FIELDS),
            _status(exc),
            form_base(form),
        )
    flash(request, tr(request, "Tier saved."))
    return redirect(request, "/loyalty/programme#tiers")


@router.post("/loyalty/tiers/new")
def create_tier(request: Request, form: PageForm, session: DbSession, user: PageUser) -> Response:
    return _save_tier(request, form, session, user, None)


@router.post("/loyalty/tiers/{tier_id:int}")
def update_tier(
    request: Request, form: PageForm, session: DbSession, user: PageUser, tier_id: DbId
) -> Response:
    return _save_tier(request, form, session, user, tier_id)


@router.post("/loyalty/tiers/{tier_id:int}/delete")
def delete_tier(
    request: Request, form: PageForm, session: DbSession, user: PageUser, tier_id: DbId
) -> Response:
    """Retire a tier: refused while members are in it (move them first). A delete from a page
    loaded before someone else saved the tier deletes nothing: 409 saying what changed (a form
    without a version, from a page older than this check, deletes as before)."""
    require(user, "loyalty:manage")
    t = _get(session, LoyaltyTier, tier_id, "Tier")
    expected = form_version(form)  # a version that is no number: 422, nothing deleted
    try:
        _attempt(
            session,
            lambda: programme.delete_tier(session, tier_id, actor=user, version=expected),
        )
    except STALE:
        session.expire_all()
        t = _get(session, LoyaltyTier, tier_id, "Tier")
        return delete_conflict_page(
            request,
            session,
            entity="loyalty_tier",
            record_id=t.id,
            title=t.name_in(request_locale(request)),
            expected=expected,
            version=t.version,
            action=f"/loyalty/tiers/{tier_id}/delete",
            reload_url=f"/loyalty/tiers/{tier_id}",
            cancel_url="/loyalty/programme#tiers",
            labels=TIER_LABELS,
        )
    except RetentoError as exc:
        errs = {"": tr(request, "Members are in this tier; move them to another tier first.")}
        if exc.status != 409:
            errs = form_errors(request, exc)
        return _tier_form(request, session, user, t, _tier_values(t), errs, exc.status)
    flash(request, tr(request, "Tier removed."))
    return redirect(request, "/loyalty/programme#tiers")


# --- earning rules -----------------------------------------------------------------------------


@router.get("/loyalty/rules")
def rules(request: Request, session: DbSession, user: PageUser) -> Response:
    """Earning rules: what earns points, how many, when, and the caps."""
    return render(
        request,
        "loyalty/rules.html",
        rules=programme.list_rules(session, actor=user),
    )


def _rule_values(request: Request, r: LoyaltyRule) -> dict[str, Any]:
    v: dict[str, Any] = {k: getattr(r, k) for k in RULE_FIELDS}
    v["rate"] = decimal_input(r.rate)  # "1", not the stored "1.0000"
    v["valid_from"] = _local(request, r.valid_from)
    v["valid_until"] = _local(request, r.valid_until)
    v["apply_multiplier"] = r.apply_multiplier
    v["active"] = r.active
    v["version"] = r.version
    return {k: ("" if x is None else x) for k, x in v.items()}


def _rule_form(
    request, session, user, rule, values, errors=None, status_code=200, base=None
) -> Response:
    require(user, "loyalty:manage")
    posted = rule is not None and base is None
    return render(
        request,
        "loyalty/rule_form.html",
        status_code=status_code,
        rule=rule,
        f=values,
        errors=errors or {},
        base=as_posted(_rule_values(request, rule)) if posted else base,
        kinds=_options(request, "loyalty_rule_kind", RULE_KINDS),
        events=RULE_EVENTS,
        product=pickers.label_of(session, "product", values.get("product_id"), user),
    )


@router.get("/loyalty/rules/new")
def new_rule(request: Request, session: DbSession, user: PageUser) -> Response:
    defaults = {"kind": "spend", "apply_multiplier": True, "active": True}
    return _rule_form(request, session, user, None, defaults)


@router.get("/loyalty/rules/{rule_id:int}")
def edit_rule(request: Request, session: DbSession, user: PageUser, rule_id: DbId) -> Response:
    require(user, "loyalty:manage")
    r = _get(session, LoyaltyRule, rule_id, "Rule")
    return _rule_form(request, session, user, r, _rule_values(request, r))


def _rule_in(request: Request, form) -> RuleIn:
    data = _clean(form, RULE_FIELDS, ("apply_multiplier", "active"))
    for f in ("valid_from", "valid_until"):
        if f in data:
            data[f] = _parse_local(request, data[f], f)
    if data.get("kind") != "event":
        data.pop("event", None)
    if data.get("kind") != "product":
        data.pop("product_id", None)
    if data.get("kind") != "category":
        data.pop("category", None)
    return RuleIn(**data)


def _save_rule(request, form, session, user, rule_id: int | None) -> Response:
    require(user, "loyalty:manage")
    rule = _get(session, LoyaltyRule, rule_id, "Rule") if rule_id is not None else None
    data = None
    try:
        data = _rule_in(request, form)
        _attempt(
            session,
            lambda: programme.save_rule(
                session, data, actor=user, rule_id=rule_id, expected_version=form_version(form)
            ),
        )
    except STALE:
        return stale_page(
            request, session, form, model=LoyaltyRule, entity="loyalty_rule", obj_id=rule_id,
            data=data, labels=RULE_LABELS, action=f"/loyalty/rules/{rule_id}",
            cancel_url="/loyalty/rules", read=lambda v: _rule_in(request, v),
            values=lambda r: _rule_values(request, r),
        )  # fmt: skip
    except (ValidationError, RetentoError) as exc:
        values = {
            **dict(form),
            "apply_multiplier": form.get("apply_multiplier") == "1",
            "active": form.get("active") == "1",
        }
        errs = _errors(request, exc, RULE_FIELDS)
        base = form_base(form)
        return _rule_form(request, session, user, rule, values, errs, _status(exc), base)
    flash(request, tr(request, "Earning rule saved."))
    return redirect(request, "/loyalty/rules")


@router.post("/loyalty/rules/new")
def create_rule(request: Request, form: PageForm, session: DbSession, user: PageUser) -> Response:
    return _save_rule(request, form, session, user, None)


@router.post("/loyalty/rules/{rule_id:int}")
def update_rule(
    request: Request, form: PageForm, session: DbSession, user: PageUser, rule_id: DbId
) -> Response:
    return _save_rule(request, form, session, user, rule_id)


@router.post("/loyalty/rules/{rule_id:int}/active")
def toggle_rule(
    request: Request, form: PageForm, session: DbSession, user: PageUser, rule_id: DbId
) -> Response:
    """Deactivate (or reactivate) a rule; its past awards stay in the ledger."""
    require(user, "loyalty:manage")
    r = _get(session, LoyaltyRule, rule_id, "Rule")
    try:
        data = RuleIn.model_validate(
            {k: getattr(r, k) for k in RuleIn.model_fields if k != "version"}
            | {"active": form.get("active") == "1"}
        )
        _attempt(session, lambda: programme.save_rule(session, data, actor=user, rule_id=r.id))
    except (ValidationError, RetentoError) as exc:
        errs = _errors(request, exc, RULE_FIELDS)
        return _rule_form(request, session, user, r, _rule_values(request, r), errs, _status(exc))
    msg = "Earning rule activated." if data.active else "Earning rule deactivated."
    flash(request, tr(request, msg))
    return redirect(request, "/loyalty/rules")


# --- rewards catalogue -------------------------------------------------------------------------


@router.get("/loyalty/rewards")
def rewards(request: Request, session: DbSession, user: PageUser) -> Response:
    """The rewards catalogue: vouchers, gifts and services with their point cost and stock."""
    return render(
        request, "loyalty/rewards.html", rewards=programme.list_rewards(session, actor=user)
    )


def _reward_form(request, session, user, reward, values, errors=None, status_code=200, base=None):
    require(user, "loyalty:manage")
    return render(
        request,
        "loyalty/reward_form.html",
        status_code=status_code,
        reward=reward,
        f=values,
        errors=errors or {},
        base=base if base is not None or reward is None else as_posted(_reward_values(reward)),
        kinds=_options(request, "loyalty_reward_kind", REWARD_KINDS),
        tiers=_tiers(session),
    )


@router.get("/loyalty/rewards/new")
def new_reward(request: Request, session: DbSession, user: PageUser) -> Response:
    return _reward_form(request, session, user, None, {"kind": "voucher", "active": True})


@router.get("/loyalty/rewards/{reward_id:int}")
def edit_reward(request: Request, session: DbSession, user: PageUser, reward_id: DbId) -> Response:
    require(user, "loyalty:manage")
    r = _get(session, LoyaltyReward, reward_id, "Reward")
    return _reward_form(request, session, user, r, _reward_values(r))


def _reward_values(r: LoyaltyReward) -> dict[str, Any]:
    values = {k: getattr(r, k) for k in REWARD_FIELDS} | {"active": r.active, "version": r.version}
    return {k: ("" if x is None else x) for k, x in values.items()}


def _save_reward(request, form, session, user, reward_id: int | None) -> Response:
    require(user, "loyalty:manage")
    reward = _get(session, LoyaltyReward, reward_id, "Reward") if reward_id is not None else None
    data = None
    try:
        data = RewardIn(**_clean(form, REWARD_FIELDS, ("active",)))
        _attempt(
            session,
            lambda: programme.save_reward(
                session,
                data,
                actor=user,
                reward_id=reward_id,
                expected_version=form_version(form),
            ),
        )
    except STALE:
        return stale_page(
            request, session, form, model=LoyaltyReward, entity="loyalty_reward",
            obj_id=reward_id, data=data, labels=REWARD_LABELS,
            action=f"/loyalty/rewards/{reward_id}", cancel_url="/loyalty/rewards",
            read=lambda v: RewardIn(**_clean(v, REWARD_FIELDS, ("active",))),
            values=_reward_values,
        )  # fmt: skip
    except (ValidationError, RetentoError) as exc:
        values = {**dict(form), "active": form.get("active") == "1"}
        errs = _errors(request, exc, REWARD_FIELDS)
        base = form_base(form)
        return _reward_form(request, session, user, reward, values, errs, _status(exc), base)
    flash(request, tr(request, "Reward saved."))
    return redirect(request, "/loyalty/rewards")


@router.post("/loyalty/rewards/new")
def create_reward(request: Request, form: PageForm, session: DbSession, user: PageUser) -> Response:
    return _save_reward(request, form, session, user, None)


@router.post("/loyalty/rewards/{reward_id:int}")
def update_reward(
    request: Request, form: PageForm, session: DbSession, user: PageUser, reward_id: DbId
) -> Response:
    return _save_reward(request, form, session, user, reward_id)
