"""Loyalty web pages: dashboard, member page, counter redemption, programme configuration,
and the loyalty panel on the customer 360 page.

Other features add boxes to the dashboard with ``register_dashboard_panel`` (see
``docs/loyalty.md``): a template plus a loader returning its context, like the 360 panels.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from retento.auth.models import User
from retento.auth.permissions import can, require
from retento.core.db import utcnow
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, RetentoError
from retento.core.idempotency import KEY_REUSED
from retento.core.validation import DbId, id_from_text
from retento.customers.models import Customer
from retento.customers.panels import Panel, register_panel
from retento.customers.service import get_customer
from retento.loyalty import earning, programme, reports, service
from retento.loyalty import home as loyalty_home
from retento.loyalty.config_pages import REWARD_FIELDS, TIER_FIELDS
from retento.loyalty.models import LoyaltyJournal, LoyaltyLot, LoyaltyTier
from retento.loyalty.notices import notice_states
from retento.loyalty.panels import DASHBOARD_PANELS, register_dashboard_panel
from retento.loyalty.reason_labels import reason_labeller
from retento.loyalty.schemas import ProgrammeUpdate, RewardIn, RuleIn, TierIn
from retento.scoring import pages_filtered
from retento.scoring import queries as scoring_queries
from retento.web import pickers
from retento.web.conflict import STALE, conflict_page, form_base, form_version, read_base
from retento.web.forms import PageForm, decimal_input, reissue_key_on_reuse
from retento.web.i18n import N_
from retento.web.labels import register_field_labels, register_labels
from retento.web.nav import NavItem, register_nav
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
HISTORY_PAGE = 50  # history entries per page of the member page
EXPIRING_SHOWN = 20  # members listed under "Points expiring soon" on the dashboard


def _include_measure_pages() -> None:
    """The loyalty-measurement pages (``measure_pages.py``) are served through this module,
    which is the one the web app discovers for the loyalty domain."""
    measure_pages = _measure_pages()
    if measure_pages is not None:
        router.include_router(measure_pages.router)


def _measure_pages():
    import importlib
    import importlib.util

    if importlib.util.find_spec("retento.loyalty.measure_pages") is None:
        return None
    return importlib.import_module("retento.loyalty.measure_pages")


_include_measure_pages()

register_labels(
    "entity",
    {
        "loyalty_programme": N_("Loyalty programme"),
        "loyalty_tier": N_("Loyalty tier"),
        "loyalty_rule": N_("Earning rule"),
        "loyalty_reward": N_("Reward"),
        "loyalty_redemption": N_("Redemption"),
        "loyalty_journal": N_("Points journal"),
        "loyalty_members": N_("Loyalty members"),
        "loyalty_measurement_run": N_("Loyalty measurement run"),
        "loyalty_club": N_("Member club"),
        "loyalty_club_member": N_("Club member"),
        "loyalty_club_event": N_("Club event"),
        "loyalty_attendance": N_("Club attendance"),
    },
)
register_nav(NavItem("loyalty", N_("Loyalty"), "/loyalty", "loyalty:read", 35))
register_nav(
    NavItem(
        "admin.loyalty",
        N_("Loyalty programme"),
        "/loyalty/programme",
        "loyalty:manage",
        40,
        "admin",
    )
)


def _panel(request: Request, session: Session, customer: Customer, user: User) -> dict | None:
    v = service.member_view(session, customer.id, actor=user)
    return {"view": v, "customer": customer}


register_panel(
    Panel(
        key="loyalty",
        title=N_("Loyalty"),
        template="loyalty/_panel.html",
        load=_panel,
        permission="loyalty:read",
        order=25,
        slot="side",
    )
)


@router.get("/loyalty")
def dashboard(request: Request, session: DbSession, user: PageUser) -> Response:
    """Members, active rate, liability, redemption and breakage, tiers, expiring soon."""
    locale = request_locale(request)
    d = reports.dashboard(session, actor=user, locale=locale)
    f = pages_filtered.parse(request, default_period="all")
    filtered = None
    if f.segment or f.start is not None:
        run_id = scoring_queries.latest_run_id(session) if f.segment else None
        customers = (
            scoring_queries.segment_customers(run_id or -1, f.segment_kind, f.segment_value)
            if f.segment
            else None
        )
        filtered = loyalty_home.filtered_members(
            session, start=f.start, end=f.end, customers=customers, locale=locale
        )
    extra = []
    for p in sorted(DASHBOARD_PANELS, key=lambda x: (x.order, x.key)):
        if p.permission and not can(user, p.permission):
            continue
        ctx = p.load(request, session, user)
        if ctx is not None:
            extra.append((p, ctx))
    prog = programme.get_programme(session, actor=user)
    expiring = service.expiring_soon(session, actor=user, limit=EXPIRING_SHOWN)
    # A full list may have left members out: say how many there are in all.
    expiring_total = (
        service.expiring_count(session, actor=user)
        if len(expiring) == EXPIRING_SHOWN
        else len(expiring)
    )
    now = utcnow()
    return render(
        request,
        "loyalty/dashboard.html",
        d=d,
        programme=prog,
        expiring=expiring,
        expiring_total=expiring_total,
        notices=notice_states(
            session,
            [row[0] for row in expiring],
            now,
            now + timedelta(days=prog.expiring_soon_days),
        ),
        panels=extra,
        filtered=filtered,
        **pages_filtered.template_context(request, f, "/loyalty"),
    )


@router.get("/loyalty/counter")
def counter(request: Request, session: DbSession, user: PageUser, q: str = "") -> Response:
    """Counter: find the member by customer number or id, then redeem on the member page."""
    require(user, "loyalty:redeem")
    q = q.strip()
    if q:
        c = session.scalar(select(Customer).where(Customer.external_id == q))
        if c is None and (number := id_from_text(q)) is not None:
            c = session.get(Customer, number)
        if c is None:
            # A name, phone or email typed without the picker's JavaScript: its only match.
            try:
                found = id_from_text(pickers.resolve(request, session, "customer", "q", q, user))
                c = session.get(Customer, found) if found is not None else None
            except InvalidInput as exc:
                flash(request, error_text(request, exc.message), "error")
                return render(request, "loyalty/counter.html", q=q)
        if c is not None:
            return redirect(request, f"/loyalty/members/{c.id}#redeem")
        flash(request, tr(request, "No customer with this number."), "error")
    return render(request, "loyalty/counter.html", q=q)


def _member_page(
    request: Request,
    session: Session,
    user: User,
    customer_id: int,
    errors: dict | None = None,
    form: dict | None = None,
    status_code: int = 200,
    failed: str = "redeem",
    history_offset: int = 0,
) -> Response:
    """The member page; ``failed`` names the form whose ``errors`` are shown (its card says
    what went wrong: redeem, adjust or referral). The history shows ``HISTORY_PAGE`` entries
    from ``history_offset`` (newest first), with links to the older and newer ones."""
    customer = get_customer(session, customer_id, actor=user)
    view = service.member_view(session, customer.id, actor=user)
    # One more than shown: whether older entries exist (the lines shown then do not add up
    # to the balance, and the page must say there are more).
    history = service.history(
        session, customer.id, actor=user, limit=HISTORY_PAGE + 1, offset=history_offset
    )
    history_more = len(history) > HISTORY_PAGE
    history = history[:HISTORY_PAGE]
    lots = service.lots(session, customer.id, actor=user)
    return render(
        request,
        "loyalty/member.html",
        status_code=status_code,
        customer=customer,
        view=view,
        lots=lots,
        # Each lot's source as the history names it ("Order DO00000388", "Birthday 2026").
        lot_journals=lot_journals(session, lots),
        pending=earning.pending(session, customer.id) if view is not None else [],
        now=utcnow(),
        history=history,
        history_offset=history_offset,
        history_size=HISTORY_PAGE,
        history_more=history_more,
        # The pager's links always lead to this page (also when it answers a form's POST).
        history_url=lambda history=None: (
            f"/loyalty/members/{customer.id}"
            + (f"?history={history}" if history else "")
            + "#history"
        ),
        # A redemption's reason names its reward: shown in the reader's language.
        rewards_by_journal=service.redeemed_rewards(
            session, [j.id for j, _ in history], actor=user
        ),
        journal_reason=reason_labeller(request_locale(request), session),
        tier_history=service.tier_history(session, customer.id, actor=user),
        rewards=programme.list_rewards(session, actor=user, active_only=True),
        errors=errors or {},
        failed=failed,
        form=form or {},
        # Each form its own key: a key sent by one form is never reused by the other.
        new_key=uuid.uuid4().hex,
        new_adjust_key=uuid.uuid4().hex,
        # The referral form's picked customer, named under the field when it is shown again.
        referred=pickers.label_of(session, "customer", (form or {}).get("referred_id"), user),
    )


def lot_journals(session: Session, lots: list[LoyaltyLot]) -> dict[int, LoyaltyJournal]:
    """The journal that earned each lot's points, by lot id: its reason names the lot's source
    as the member's history does (the order's number, the win-back offer's case, the birthday's
    year), where the lot's own source is only an id ("order" 42, "birthday" 2026-13).

    A lot is written by the journal that earned it, except one split off by a merge of two
    members (written by the merge's journal, keeping the source of the lot it came from): its
    points were earned by the journal of the lot with its source that such a journal wrote.
    A lot whose earning journal is not found has none here (the page shows its source)."""
    if not lots:
        return {}
    ids = {lot.journal_id for lot in lots}
    by_id = {
        j.id: j for j in session.scalars(select(LoyaltyJournal).where(LoyaltyJournal.id.in_(ids)))
    }
    out: dict[int, LoyaltyJournal] = {}
    moved: list[LoyaltyLot] = []
    for lot in lots:
        j = by_id.get(lot.journal_id)
        if j is not None and (j.source_type, j.source_id) == (lot.source_type, lot.source_id):
            out[lot.id] = j
        elif lot.source_id is not None:
            moved.append(lot)
    for lot in moved:
        earned = session.scalar(
            select(LoyaltyJournal)
            .join(LoyaltyLot, LoyaltyLot.journal_id == LoyaltyJournal.id)
            .where(
                LoyaltyLot.source_type == lot.source_type,
                LoyaltyLot.source_id == lot.source_id,
                LoyaltyJournal.source_type == lot.source_type,
                LoyaltyJournal.source_id == lot.source_id,
            )
            .order_by(LoyaltyJournal.id)
            .limit(1)
        )
        if earned is not None:
            out[lot.id] = earned
    return out


def _in_savepoint(session: Session, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a savepoint so a refused change leaves nothing half-written."""
    sp = session.begin_nested()
    try:
        return fn()
    except BaseException:
        sp.rollback()
        raise


@router.get("/loyalty/members/{customer_id:int}")
def member(
    request: Request, session: DbSession, user: PageUser, customer_id: DbId, history: int = 0
) -> Response:
    """Balance, lots with expiry, history (``history``: entries skipped, newest first) and tier
    progress; redemption for agents."""
    return _member_page(
        request, session, user, customer_id, history_offset=max(0, min(history, 2**31 - 1))
    )


@router.post("/loyalty/members/{customer_id:int}/redeem")
def redeem(
    request: Request, form: PageForm, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    reward = str(form.get("reward_id") or "").strip()
    pts = str(form.get("points") or "").strip()
    key = str(form.get("idempotency_key") or "").strip() or None
    try:
        reward_id = int(reward) if reward else None
        if reward_id is not None and id_from_text(reward) is None:
            # Not a row id (0, past 2^63): the database would refuse the lookup (a bare 422).
            raise InvalidInput(tr(request, "Choose a reward from the list."), field="reward_id")
        points = int(pts) if pts else None
        if reward_id is None and points is None:
            raise InvalidInput(tr(request, "Choose a reward or enter points."), field="points")
        r = _in_savepoint(
            session,
            lambda: service.redeem(
                session,
                customer_id,
                actor=user,
                points=points,
                reward_id=reward_id,
                idempotency_key=key,
            ),
        )
    except ValueError:
        return _member_page(
            request,
            session,
            user,
            customer_id,
            {"points": tr(request, "Enter a whole number.")},
            dict(form),
            422,
        )
    except RetentoError as exc:
        errs, shown = form_errors(request, exc), dict(form)
        if "Idempotency-Key" in errs:
            # Sent again (Back, then another value): say what the first sending recorded and
            # give the form a new key, so sending it again records a second redemption.
            reissue_key_on_reuse(errs, shown, name="idempotency_key")
            errs[""] = _sent_before(request, session, user, key)
        return _member_page(request, session, user, customer_id, errs, shown, exc.status)
    flash(request, tr(request, "%(n)s points redeemed.", n=r.points))
    return redirect(request, f"/loyalty/members/{customer_id}")


@router.post("/loyalty/members/{customer_id:int}/adjust")
def adjust(
    request: Request, form: PageForm, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    try:
        pts = int(str(form.get("adj_points") or "").strip())
        _in_savepoint(
            session,
            lambda: service.adjust(
                session,
                customer_id,
                pts,
                actor=user,
                reason=str(form.get("reason") or ""),
                idempotency_key=str(form.get("idempotency_key") or "").strip() or None,
            ),
        )
    except ValueError:
        return _member_page(
            request,
            session,
            user,
            customer_id,
            {"adj_points": tr(request, "Enter a whole number.")},
            dict(form),
            422,
            failed="adjust",
        )
    except RetentoError as exc:
        errs = form_errors(request, exc)
        if "points" in errs:
            errs["adj_points"] = errs.pop("points")
        shown = dict(form)
        if "Idempotency-Key" in errs:
            # Sent again (Back, then another value): say what the first sending recorded and
            # give the form a new key, so sending it again records a second adjustment.
            reissue_key_on_reuse(errs, shown, name="idempotency_key")
            errs[""] = _sent_before(request, session, user, form.get("idempotency_key"))
        return _member_page(
            request, session, user, customer_id, errs, shown, exc.status, failed="adjust"
        )
    flash(request, tr(request, "Points adjusted."))
    return redirect(request, f"/loyalty/members/{customer_id}")


def _sent_before(request: Request, session: Session, user: User, key: Any) -> str:
    """What the member page's form first sent with ``key`` recorded (an adjustment or a
    redemption), for the form sent again with other values; never the header's jargon."""
    key = str(key or "").strip()
    if (done := service.recorded_adjustment(session, key, actor=user)) is not None:
        return tr(
            request,
            "This form was already sent: an adjustment of %(points)s points "
            "(“%(reason)s”) was recorded. Check the values and send the form again "
            "to record another adjustment.",
            points=f"{done[1]:+d}",
            reason=done[2],
        )
    if (red := service.recorded_redemption(session, key, actor=user)) is not None:
        _cid, points, reward = red
        if reward is not None:
            return tr(
                request,
                "This form was already sent: a redemption of %(points)s points (%(reward)s) "
                "was recorded. Check the values and send the form again to record another "
                "redemption.",
                points=points,
                reward=reward.name_in(request_locale(request)),
            )
        return tr(
            request,
            "This form was already sent: a redemption of %(points)s points was recorded. "
            "Check the values and send the form again to record another redemption.",
            points=points,
        )
    return error_text(request, KEY_REUSED)


@router.post("/loyalty/members/{customer_id:int}/referral")
def referral(
    request: Request, form: PageForm, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """Record that the member referred a customer (picked with the customer picker): the
    referral event rules award it, once per referred customer (``events.record_referral``)."""
    from retento.loyalty.events import record_referral

    require(user, "loyalty:adjust")
    raw = str(form.get("referred_id") or "").strip()
    try:
        if not raw:
            raise InvalidInput(
                tr(request, "Choose the customer who was referred."), field="referred_id"
            )
        picked = pickers.resolve(request, session, "customer", "referred_id", raw, user)
        referred_id = id_from_text(picked)
        if referred_id is None:
            raise InvalidInput(
                tr(request, "No customer matches “%(q)s”.", q=raw[:100]), field="referred_id"
            )
        r = _in_savepoint(
            session, lambda: record_referral(session, customer_id, referred_id, actor=user)
        )
    except RetentoError as exc:
        if exc.status == 403:
            raise
        return _member_page(
            request,
            session,
            user,
            customer_id,
            form_errors(request, exc),
            dict(form),
            exc.status,
            failed="referral",
        )
    if r.created:
        flash(request, tr(request, "Referral recorded."))
    else:
        flash(request, tr(request, "This referral was recorded before; no more points."))
    return redirect(request, f"/loyalty/members/{customer_id}#history")


# --- programme configuration -------------------------------------------------------------------


PROGRAMME_FIELDS = (
    "name",
    "point_value",
    "currency",
    "expiry_days",
    "expiring_soon_days",
    "pending_days",
    "refund_policy",
    "negative_limit",
    "tier_basis",
    "tier_window_days",
    "hold_minutes",
    "active_days",
)
PROGRAMME_CHECKS = ("active", "auto_enrol")


def _programme_posted(current: Any) -> dict[str, str]:
    """The programme settings as their form posts them unchanged (input name → value): the
    form's hidden base of a three-way stale-edit page (``web.conflict``)."""
    out = {
        k: "" if getattr(current, k) is None else str(getattr(current, k)) for k in PROGRAMME_FIELDS
    }
    out["point_value"] = decimal_input(current.point_value)
    return out | {k: "1" if getattr(current, k) else "" for k in PROGRAMME_CHECKS}


def _programme_compared(form: Any) -> dict[str, Any]:
    """Settings form inputs → the values the stale-edit page compares (read as a save reads
    them)."""
    data = ProgrammeUpdate(**_clean(form, PROGRAMME_FIELDS, PROGRAMME_CHECKS))
    return data.model_dump(include={k for k in PROGRAMME_LABELS if k in data.model_fields_set})


def _config_page(
    request, session, user, errors=None, form=None, status_code=200, base=None
) -> Response:
    """The programme page; its settings form carries the values it was loaded with (``base``,
    for the stale-edit page), kept when it comes back with errors."""
    require(user, "loyalty:manage")
    current = programme.get_programme(session, actor=user)
    return render(
        request,
        "loyalty/programme.html",
        status_code=status_code,
        programme=current,
        point_value=decimal_input(current.point_value),  # "0.01", not the stored "0.010000"
        tiers=programme.list_tiers(session, actor=user),
        rules=programme.list_rules(session, actor=user),
        rewards=programme.list_rewards(session, actor=user),
        errors=errors or {},
        form=form or {},
        base=base if base is not None else _programme_posted(current),
    )


@router.get("/loyalty/programme")
def config(request: Request, session: DbSession, user: PageUser) -> Response:
    """Programme settings, tiers, earning rules and rewards (managers)."""
    return _config_page(request, session, user)


def _clean(form, fields: tuple[str, ...], checks: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields:
        v = str(form.get(f) or "").strip()
        if v != "":
            out[f] = v
    for f in checks:
        out[f] = form.get(f) == "1"
    return out


def _save(request, form: FormData, session, user, what: str, fn) -> Response:
    try:
        sp = session.begin_nested()
        try:
            fn(form)
        except BaseException:
            sp.rollback()
            raise
    except (ValidationError, RetentoError) as exc:
        return _config_page(
            request,
            session,
            user,
            form_errors(request, exc),
            {"_what": what, **dict(form)},
            exc.status if isinstance(exc, RetentoError) else 422,
        )
    flash(request, tr(request, "Saved."))
    return redirect(request, "/loyalty/programme")


@router.post("/loyalty/programme")
def save_programme(
    request: Request, form: PageForm, session: DbSession, user: PageUser
) -> Response:
    expected = form_version(form)
    try:
        data = ProgrammeUpdate(**_clean(form, PROGRAMME_FIELDS, PROGRAMME_CHECKS))
    except ValidationError as exc:
        return _config_page(
            request,
            session,
            user,
            form_errors(request, exc),
            {"_what": "programme", **dict(form)},
            422,
            form_base(form),
        )
    sp = session.begin_nested()
    try:
        programme.update_programme(session, data, actor=user, expected_version=expected)
    except STALE:
        sp.rollback()
        session.expire_all()
        current = programme.get_programme(session, actor=user)
        keys = [k for k in PROGRAMME_LABELS if k in data.model_fields_set]
        return conflict_page(
            request,
            session,
            entity="loyalty_programme",
            record=current,
            title=tr(request, "Loyalty programme"),
            submitted=data.model_dump(include=set(keys)),
            current={k: getattr(current, k) for k in keys},
            labels=PROGRAMME_LABELS,
            form=form,
            action="/loyalty/programme",
            reload_url="/loyalty/programme",
            cancel_url="/loyalty",
            expected=expected,
            base=read_base(form, _programme_compared),
            current_form=_programme_posted(current),
        )
    except RetentoError as exc:
        sp.rollback()
        return _config_page(
            request,
            session,
            user,
            form_errors(request, exc),
            {"_what": "programme", **dict(form)},
            exc.status,
            form_base(form),
        )
    flash(request, tr(request, "Saved."))
    return redirect(request, "/loyalty/programme")


# Field names on the conflict page (the settings form's labels).
PROGRAMME_LABELS = {
    "name": N_("Name"),
    "point_value": N_("Value of one point"),
    "currency": N_("Currency"),
    "expiry_days": N_("Points expire after (days)"),
    "expiring_soon_days": N_('"Expiring soon" means within (days)'),
    "pending_days": N_("Points pending during the return window (days)"),
    "refund_policy": N_("When refunded points were already spent"),
    "negative_limit": N_("Negative balance limit (points)"),
    "tier_basis": N_("Tiers qualify on"),
    "tier_window_days": N_("Qualification window (days)"),
    "hold_minutes": N_("Checkout holds time out after (minutes)"),
    "active_days": N_("Active member: activity within (days)"),
    "active": N_("Programme active (orders earn points)"),
    "auto_enrol": N_("Enrol customers with their first order"),
}
# The audit log names the programme's fields as the settings form does.
register_field_labels(
    "loyalty_programme", {k: v for k, v in PROGRAMME_LABELS.items() if k != "name"}
)


@router.post("/loyalty/programme/tiers")
def add_tier(request: Request, form: PageForm, session: DbSession, user: PageUser) -> Response:
    fields = TIER_FIELDS  # the tier form's fields (config_pages)
    return _save(
        request,
        form,
        session,
        user,
        "tier",
        lambda f: programme.save_tier(
            session,
            TierIn(**_clean(f, fields, ("invite_only",))),
            actor=user,
            tier_id=int(f["tier_id"]) if str(f.get("tier_id") or "").isdigit() else None,
        ),
    )


@router.post("/loyalty/programme/rules")
def add_rule(request: Request, form: PageForm, session: DbSession, user: PageUser) -> Response:
    fields = (
        "name",
        "name_zh",
        "kind",
        "rate",
        "fixed_points",
        "product_id",
        "category",
        "event",
        "min_spend",
        "cap_points",
        "cap_period_days",
    )
    return _save(
        request,
        form,
        session,
        user,
        "rule",
        lambda f: programme.save_rule(
            session, RuleIn(**_clean(f, fields, ("apply_multiplier", "active"))), actor=user
        ),
    )


@router.post("/loyalty/programme/rewards")
def add_reward(request: Request, form: PageForm, session: DbSession, user: PageUser) -> Response:
    fields = REWARD_FIELDS  # the reward form's fields (config_pages)
    return _save(
        request,
        form,
        session,
        user,
        "reward",
        lambda f: programme.save_reward(
            session, RewardIn(**_clean(f, fields, ("active",))), actor=user
        ),
    )


def tier_options(session: Session) -> list[tuple[int, str]]:
    return [(t.id, t.name) for t in session.scalars(select(LoyaltyTier).order_by(LoyaltyTier.rank))]


def _register_measure_dashboard() -> None:
    hook = getattr(_measure_pages(), "register_dashboard", None)
    if hook is not None:
        hook(register_dashboard_panel)


_register_measure_dashboard()


# Tier editing, earning rules and the rewards catalogue: config_pages.py.
from retento.loyalty.config_pages import router as _config_router  # noqa: E402

router.include_router(_config_router)

# Member clubs, their events and attendance: club_pages.py.
from retento.loyalty.club_pages import router as _club_router  # noqa: E402

router.include_router(_club_router)

# The members list, member import and export: member_pages.py.
from retento.loyalty.member_pages import router as _member_router  # noqa: E402

router.include_router(_member_router)
