"""The playbook editor (managers): (customer class × reason) → action, with the suggested script,
due date, control-group share, came-back window and cost. Edits are versioned: a form loaded
before someone else saved gets the conflict page (409)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import RetentoError
from retento.core.money import MAX_MONEY, number_text, to_money
from retento.core.validation import DbId, id_from_text
from retento.retention import playbooks, reasons
from retento.retention.models import ACTIONS, ANY_REASON, CLASSES, RULE_CODES, RetentionPlaybook
from retento.retention.pages_common import tab_counts
from retento.web.conflict import (
    STALE,
    conflict_page,
    delete_conflict_page,
    form_base,
    form_version,
)
from retento.web.forms import PageForm, decimal_input
from retento.web.i18n import N_, Formatter
from retento.web.labels import register_field_labels
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

# core.money's refusals, translated in the money catalogue.
MONEY_MESSAGES = (
    "amount must have at most 2 decimal places",
    "amount must be finite",
    f"amount must be at most {MAX_MONEY} in absolute value",
)

TEXT_FIELDS = ("action", "name_en", "name_zh", "script_en", "script_zh")
NUMBER_FIELDS = ("due_days", "control_share", "window_days", "cost", "offer_points")
# The editor's labels (the service's, so its messages name a field as the form does); class and
# reason are fixed once a playbook exists, so the conflict page does not compare them.
FIELD_LABELS = {
    k: v for k, v in playbooks.FIELD_LABELS.items() if k not in ("value_class", "reason")
}
# The audit log names a playbook's fields as the editor does (the segment filter is stored as
# two columns).
register_field_labels(
    "retention_playbook",
    {k: v for k, v in playbooks.FIELD_LABELS.items() if k != "segment"}
    | {"segment_id": N_("Segmentation"), "segment_cluster": N_("Segment")},
)


def _values(pb: RetentionPlaybook) -> dict[str, Any]:
    v: dict[str, Any] = {k: getattr(pb, k) for k in (*TEXT_FIELDS, *NUMBER_FIELDS, "enabled")}
    v["value_class"], v["reason"] = pb.value_class, pb.reason
    v["offer_reward_id"] = pb.offer_reward_id or ""
    v["segment"] = playbooks.segment_value(pb)
    return v


def _posted(pb: RetentionPlaybook) -> dict[str, str]:
    """The playbook as its edit form posts it unchanged (input name → value): the form's
    hidden base of a three-way stale-edit page (``web.conflict``), read back by ``_data``."""
    v = _values(pb)
    out = {k: "" if v[k] is None else str(v[k]) for k in (*TEXT_FIELDS, *NUMBER_FIELDS)}
    out["cost"] = decimal_input(pb.cost)
    out["offer_reward_id"] = str(v["offer_reward_id"])
    out["segment"] = v["segment"]
    out["enabled"] = "1" if pb.enabled else ""
    return out


def _data(form) -> tuple[dict[str, Any], dict[str, str]]:
    """Service data from the form, and field errors for numbers that do not parse."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in TEXT_FIELDS:
        data[f] = str(form.get(f) or "").strip()
        if f in ("name_en", "name_zh") and not data[f]:
            # Else the service's "name_en is required." (the code, in English) is shown.
            errors[f] = N_("This field is required.")
    for f in NUMBER_FIELDS:
        raw = str(form.get(f) or "").strip()
        if not raw:
            errors[f] = N_("This field is required.")
            continue
        try:
            raw = number_text(raw)  # "1,250" is 1250; "10,5" is refused, saying why
        except ValueError as exc:
            errors[f] = exc.args[0]
            continue
        if f == "cost":
            # Read like every money field (core.money): NaN, Infinity, 1e400 and a third decimal
            # are refused here, naming the field; the service's check cannot compare a NaN.
            try:
                data[f] = to_money(raw)
            except ValueError as exc:
                errors[f] = str(exc) if str(exc) in MONEY_MESSAGES else N_("Enter a number.")
            continue
        try:
            data[f] = float(raw) if f == "control_share" else int(raw)
        except ValueError:
            errors[f] = (
                N_("Enter a number.") if f == "control_share" else N_("Enter a whole number.")
            )
    raw = str(form.get("offer_reward_id") or "").strip()
    if raw:
        # A row id (or 0, none): a number past 2^63 reached the database, refused field-less.
        reward_id = id_from_text(raw) if raw != "0" else 0
        if reward_id is None:
            errors["offer_reward_id"] = N_("Choose a reward from the list.")
        else:
            data["offer_reward_id"] = reward_id
    else:
        data["offer_reward_id"] = 0  # no voucher
    data["segment"] = str(form.get("segment") or "").strip()  # "" = every customer of the class
    data["enabled"] = form.get("enabled") == "1"
    return data, errors


def _options(request: Request) -> dict[str, Any]:
    locale = request_locale(request)
    return {
        "classes": [(c, reasons.label(reasons.CLASS_NAMES, c, locale)) for c in CLASSES],
        "reasons_opts": [(ANY_REASON, tr(request, "Any other reason"))]
        + [(c, reasons.label(reasons.RULE_NAMES, c, locale)) for c in RULE_CODES],
        "actions": [(a, reasons.label(reasons.ACTION_NAMES, a, locale)) for a in ACTIONS],
    }


def _form(
    request: Request,
    session: Session,
    user: User,
    pb: RetentionPlaybook | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    version: int | None = None,
    base: dict[str, str] | None = None,
) -> Response:
    """The editor; an existing playbook's form carries the version it edits and the values it
    was loaded with (``base``, for the stale-edit page), both kept when it comes back with
    errors."""
    require(user, "retention:manage")
    from retento.retention.offers import programme_point_value

    loyalty_active, point_value = programme_point_value(session)
    return render(
        request,
        "retention/playbook_form.html",
        loyalty_active=loyalty_active,
        point_value=decimal_input(point_value),
        rewards=_reward_options(request, session, pb),
        segments=_segment_options(request, session, pb),
        status_code=status_code,
        pb=pb,
        f=values,
        errors=errors or {},
        version=version if version is not None else (pb.version if pb else None),
        base=base if base is not None else (_posted(pb) if pb else None),
        counts=tab_counts(session, user),
        **_options(request),
    )


def _reward_options(
    request: Request, session: Session, pb: RetentionPlaybook | None
) -> list[tuple[int, str]]:
    """Active rewards of the loyalty catalogue (and the playbook's own, if since withdrawn)."""
    from sqlalchemy import or_, select

    from retento.loyalty.models import LoyaltyReward

    cond = LoyaltyReward.active.is_(True)
    if pb is not None and pb.offer_reward_id:
        cond = or_(cond, LoyaltyReward.id == pb.offer_reward_id)
    locale = request_locale(request)
    out = []
    for r in session.scalars(select(LoyaltyReward).where(cond).order_by(LoyaltyReward.name)):
        extra = [tr(request, "%(n)s points", n=r.points_cost)]
        if r.stock is not None:
            extra.append(tr(request, "%(n)s in stock", n=r.stock))
        if not r.active:
            extra.append(tr(request, "withdrawn"))
        out.append((r.id, f"{r.name_in(locale)} ({r.code}; {', '.join(extra)})"))
    return out


def _segment_options(
    request: Request, session: Session, pb: RetentionPlaybook | None
) -> list[tuple[str, str]]:
    """Every cluster of every saved segmentation (Insights), and the playbook's own filter even
    if its segmentation was deleted since (it then matches nobody)."""
    from retento.insights.segments_service import filter_choices

    out = filter_choices(session, request_locale(request))
    own = playbooks.segment_value(pb) if pb is not None else ""
    if own and own not in dict(out):
        out.append((own, tr(request, "Deleted segment %(value)s (matches nobody)", value=own)))
    return out


def _segment_names(
    request: Request, session: Session, books: list[RetentionPlaybook]
) -> dict[int, str]:
    from retento.insights.segments_service import filter_label

    locale = request_locale(request)
    return {
        p.id: filter_label(session, (p.segment_id, p.segment_cluster or 0), locale)
        for p in books
        if p.segment_id is not None
    }


def _reward_names(session: Session, books: list[RetentionPlaybook], locale: str) -> dict[int, str]:
    from sqlalchemy import select

    from retento.loyalty.models import LoyaltyReward

    ids = {p.offer_reward_id for p in books if p.offer_reward_id}
    if not ids:
        return {}
    rows = session.scalars(select(LoyaltyReward).where(LoyaltyReward.id.in_(ids)))
    return {r.id: r.name_in(locale) for r in rows}


@router.get("/retention/playbooks")
def playbook_list(request: Request, session: DbSession, user: PageUser) -> Response:
    """Every playbook by class and reason, with its action and control share."""
    require(user, "retention:manage")
    locale = request_locale(request)
    books = playbooks.list_playbooks(session, actor=user)
    return render(
        request,
        "retention/playbooks.html",
        books=books,
        reward_names=_reward_names(session, books, locale),
        segment_names=_segment_names(request, session, books),
        zh=locale == "zh_CN",
        class_name=lambda c: reasons.label(reasons.CLASS_NAMES, c, locale),
        reason_name=lambda r: (
            tr(request, "Any other reason")
            if r == ANY_REASON
            else reasons.label(reasons.RULE_NAMES, r, locale)
        ),
        action_name=lambda a: reasons.label(reasons.ACTION_NAMES, a, locale),
        counts=tab_counts(session, user),
    )


@router.get("/retention/playbooks/new")
def playbook_new(request: Request, session: DbSession, user: PageUser) -> Response:
    defaults = {
        "action": "task",
        "reason": ANY_REASON,
        "due_days": 3,
        "control_share": 0.1,
        "window_days": 60,
        "cost": "0.00",
        "offer_points": 0,
        "enabled": True,
    }
    return _form(request, session, user, None, defaults)


def _all_errors(
    request: Request, data: dict[str, Any], errors: dict[str, str], pb: RetentionPlaybook | None
) -> dict[str, str]:
    """The form's own errors (numbers that do not parse, empty names) and, at once, what the
    service would refuse in the other fields (ranges, cost), each on its field."""
    out = {k: error_text(request, v) for k, v in errors.items()}
    rest = {k: v for k, v in data.items() if k not in errors and v != ""}
    for fe in playbooks.check_values(rest, pb):
        out.setdefault(fe.field or "", error_text(request, fe.message))
    return out


def _errors(request: Request, exc: RetentoError) -> dict[str, str]:
    errs = form_errors(request, exc)
    if exc.status == 409 and exc.field == "reason":
        errs["reason"] = tr(request, "A playbook for this class and reason exists already.")
    return errs


@router.post("/retention/playbooks/new")
def playbook_create(
    request: Request, form: PageForm, session: DbSession, user: PageUser
) -> Response:
    require(user, "retention:manage")
    data, errors = _data(form)
    data["value_class"] = str(form.get("value_class") or "")
    data["reason"] = str(form.get("reason") or ANY_REASON)
    shown = {**dict(form), "enabled": data["enabled"]}
    if errors:
        errs = _all_errors(request, data, errors, None)
        return _form(request, session, user, None, shown, errs, 422)
    sp = session.begin_nested()
    try:
        pb = playbooks.create_playbook(session, data, actor=user)
    except RetentoError as exc:
        sp.rollback()
        if exc.status in (401, 403):
            raise
        return _form(request, session, user, None, shown, _errors(request, exc), exc.status)
    flash(request, tr(request, "Playbook saved."))
    return redirect(request, f"/retention/playbooks#playbook-{pb.id}")


@router.get("/retention/playbooks/{playbook_id:int}")
def playbook_edit(
    request: Request, session: DbSession, user: PageUser, playbook_id: DbId
) -> Response:
    require(user, "retention:manage")
    pb = playbooks.get_playbook(session, playbook_id, actor=user)
    return _form(request, session, user, pb, _values(pb))


@router.post("/retention/playbooks/{playbook_id:int}")
def playbook_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, playbook_id: DbId
) -> Response:
    """Save a playbook; a stale form (someone saved since it was loaded) gets the conflict page,
    which compares three ways: the version the form was loaded with, the user's values and the
    stored ones. A form without its version is refused (422 naming it): it would overwrite
    unseen changes."""
    require(user, "retention:manage")
    pb = playbooks.get_playbook(session, playbook_id, actor=user)
    expected = form_version(form, required=True)
    data, errors = _data(form)
    base = form_base(form)
    shown = {**dict(form), "enabled": data["enabled"]}
    shown["value_class"], shown["reason"] = pb.value_class, pb.reason
    if errors:
        errs = _all_errors(request, data, errors, pb)
        return _form(request, session, user, pb, shown, errs, 422, expected, base)
    sp = session.begin_nested()
    try:
        playbooks.update_playbook(session, playbook_id, data, actor=user, version=expected)
    except STALE:
        sp.rollback()
        session.expire_all()
        current = playbooks.get_playbook(session, playbook_id, actor=user)
        # Every side read by the one parser of the form, so equal values compare equal (a
        # stored "no voucher" is the form's 0, not "").
        current_form = _posted(current)
        now = _data(current_form)[0]
        return conflict_page(
            request,
            session,
            entity="retention_playbook",
            record=current,
            title=current.name_zh if request_locale(request) == "zh_CN" else current.name_en,
            submitted={k: data[k] for k in FIELD_LABELS if k in data},
            current={k: now[k] for k in FIELD_LABELS if k in now},
            labels=FIELD_LABELS,
            form=form,
            action=f"/retention/playbooks/{playbook_id}",
            reload_url=f"/retention/playbooks/{playbook_id}",
            cancel_url="/retention/playbooks",
            expected=expected,
            base=_data(base)[0] if base else None,
            current_form=current_form,
            shown=_shown(request, session, current),
        )
    except RetentoError as exc:
        sp.rollback()
        if exc.status in (401, 403, 404):
            raise
        errs = _errors(request, exc)
        return _form(request, session, user, pb, shown, errs, exc.status, expected, base)
    flash(request, tr(request, "Playbook saved."))
    return redirect(request, f"/retention/playbooks#playbook-{playbook_id}")


def _shown(
    request: Request, session: Session, pb: RetentionPlaybook
) -> dict[str, Callable[[Any], str]]:
    """How the stale-edit page writes a playbook's values: as the editor shows them (money with
    its currency, an action, voucher or segment by its name in the reader's language)."""
    settings = request.app.state.settings
    locale = request_locale(request)
    fmt = Formatter(locale, settings.timezone, settings.currency)
    rewards = {str(k): v for k, v in _reward_options(request, session, pb)}
    segments = dict(_segment_options(request, session, pb))

    def reward(v: Any) -> str:
        if not v:
            return tr(request, "No voucher")
        return rewards.get(str(v)) or tr(request, "Voucher %(id)s", id=v)

    def segment(v: Any) -> str:
        return segments.get(v, v) if v else tr(request, "Every customer of the class")

    return {
        "action": lambda v: reasons.label(reasons.ACTION_NAMES, v, locale),
        "cost": fmt.money,
        "control_share": fmt.decimal,
        "due_days": fmt.number,
        "window_days": fmt.number,
        "offer_points": fmt.number,
        "offer_reward_id": reward,
        "segment": segment,
    }


@router.post("/retention/playbooks/{playbook_id:int}/delete")
def playbook_delete(
    request: Request, form: PageForm, session: DbSession, user: PageUser, playbook_id: DbId
) -> Response:
    """Delete a playbook without cases (one with cases is disabled instead). A delete from a
    page loaded before someone else saved the playbook deletes nothing: 409 saying what changed
    (a form without a version, from a page older than this check, deletes as before)."""
    require(user, "retention:manage")
    version = form_version(form)  # a version that is no number: 422, nothing deleted
    sp = session.begin_nested()
    try:
        playbooks.delete_playbook(session, playbook_id, actor=user, version=version)
    except STALE:
        sp.rollback()
        session.expire_all()
        current = playbooks.get_playbook(session, playbook_id, actor=user)
        return delete_conflict_page(
            request,
            session,
            entity="retention_playbook",
            record_id=current.id,
            title=current.name_zh if request_locale(request) == "zh_CN" else current.name_en,
            expected=version,
            version=current.version,
            action=f"/retention/playbooks/{playbook_id}/delete",
            reload_url=f"/retention/playbooks/{playbook_id}",
            cancel_url="/retention/playbooks",
        )
    except RetentoError as exc:
        sp.rollback()
        if exc.status in (401, 403, 404):
            raise
        flash(
            request,
            tr(request, "This playbook has win-back cases: disable it instead of deleting it."),
            "error",
        )
        return redirect(request, f"/retention/playbooks/{playbook_id}")
    flash(request, tr(request, "Playbook deleted."))
    return redirect(request, "/retention/playbooks")
