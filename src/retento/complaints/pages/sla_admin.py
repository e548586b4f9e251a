"""SLA policies and business calendars (managers and admins)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.complaints import settings
from retento.complaints.models import (
    SEVERITIES,
    BusinessCalendarRow,
    SlaPolicy,
)
from retento.complaints.pages.common import (
    opts,
    reraise_access,
    user_options,
)
from retento.complaints.policies import VALUE_CLASSES
from retento.complaints.schemas import (
    CalendarIn,
    SlaPolicyIn,
    SlaPolicyUpdate,
)
from retento.core.deps import DbSession
from retento.core.errors import FieldError, InvalidInput, Msg, NotFound, RetentoError
from retento.core.validation import DbId
from retento.web.conflict import (
    STALE,
    as_posted,
    conflict_page,
    form_base,
    form_version,
    read_base,
)
from retento.web.forms import PageForm
from retento.web.i18n import N_
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
from retento.web.system_texts import localize_system_text

router = page_router()


WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)


# --- SLA admin ---------------------------------------------------------------------------------

POLICY_FIELDS = (
    "name", "severity", "value_class", "priority", "first_response_minutes",
    "resolution_minutes", "warn_fraction", "calendar_id", "auto_reassign_to_id",
)  # fmt: skip


# Field names on the conflict page (the forms' labels).
POLICY_LABELS = {
    "name": N_("Name"),
    "severity": N_("Severity"),
    "value_class": N_("Customer value"),
    "priority": N_("Priority"),
    "first_response_minutes": N_("First response"),
    "resolution_minutes": N_("Resolution"),
    "warn_fraction": N_("Warn at (fraction)"),
    "calendar_id": N_("Business calendar"),
    "auto_reassign_to_id": N_("Reassign on breach to"),
    "is_active": N_("Active"),
}
CALENDAR_LABELS = {
    "name": N_("Name"),
    "timezone": N_("Time zone"),
    "hours": N_("Working hours"),
    "holidays": N_("Holidays"),
}


def _policy_values(p: SlaPolicy | None) -> dict[str, Any]:
    """A policy as form values."""
    if p is None:
        return {"priority": "100", "warn_fraction": "0.8", "is_active": True}
    values = {k: "" if getattr(p, k) is None else str(getattr(p, k)) for k in POLICY_FIELDS}
    for k in ("first_response_minutes", "resolution_minutes"):
        values[k] = duration_input(getattr(p, k))
    values["is_active"] = p.is_active
    values["version"] = str(p.version)
    return values


def _policy_compared(form: Any) -> dict[str, Any]:
    """Policy form inputs → the values the stale-edit page compares (read as a save reads
    them)."""
    update = SlaPolicyUpdate(**_parse_policy(form)[0])
    return update.model_dump(include={k for k in POLICY_LABELS if k in update.model_fields_set})


def _calendar_compared(values: dict[str, Any]) -> dict[str, Any]:
    """A calendar's values as the stale-edit page compares them: each weekday's hours on its
    own (``hours_<day>``, its input's name), so two people who changed different days both
    keep their change."""
    out = {k: values[k] for k in CALENDAR_LABELS if k != "hours"}
    hours = values.get("hours") or {}
    out |= {f"hours_{d}": hours.get(str(d), []) for d in range(7)}
    return out


def _calendar_read(form: Any) -> dict[str, Any]:
    """Calendar form inputs → the values the stale-edit page compares."""
    data, _, problems = _parse_calendar(form)
    if problems:
        raise InvalidInput(problems[0].message, field=problems[0].field)
    return _calendar_compared(CalendarIn(**data).model_dump())


def duration_input(minutes: int) -> str:
    """Minutes as the form shows them: ``45``, ``4h``, ``1h30m``."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return str(rest)
    return f"{hours}h" + (f"{rest}m" if rest else "")


def _calendar_values(row: BusinessCalendarRow | None) -> dict[str, Any]:
    """A calendar as form values: one line of spans per weekday, holidays one per line."""
    if row is None:
        hours = {str(d): [["09:00", "18:00"]] for d in range(5)}
        return {"timezone": "UTC", **_hours_fields(hours), "holidays": ""}
    return {
        "name": row.name,
        "timezone": row.timezone,
        **_hours_fields(row.hours),
        "holidays": "\n".join(row.holidays or []),
        "version": str(row.version),
    }


def _hours_fields(hours: dict[str, Any]) -> dict[str, str]:
    """``{"hours_0": "09:00-12:00, 13:00-18:00", …}``."""
    return {f"hours_{d}": ", ".join(f"{a}-{b}" for a, b in hours.get(str(d), [])) for d in range(7)}


def _parse_calendar(form: Any) -> tuple[dict[str, Any], dict[str, Any], list[FieldError]]:
    """``(CalendarIn payload, values to re-show, problems)``."""
    shown: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in ("name", "timezone")}
    problems: list[FieldError] = []
    hours: dict[str, list[list[str]]] = {}
    for d in range(7):
        key = f"hours_{d}"
        text = str(form.get(key) or "").strip()
        shown[key] = text
        spans = []
        for part in text.replace("，", ",").split(","):
            if not part.strip():
                continue
            start, sep, end = part.strip().partition("-")
            if not sep:
                problems.append(FieldError(key, Msg("Write spans as 09:00-17:00.")))
                break
            spans.append([start.strip(), end.strip()])
        if spans:
            hours[str(d)] = spans
    holidays_text = str(form.get("holidays") or "")
    shown["holidays"] = holidays_text.strip()
    holidays: list[str] = []
    for line in holidays_text.replace(",", "\n").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            holidays.append(date.fromisoformat(line).isoformat())
        except ValueError:
            problems.append(
                FieldError("holidays", Msg("'%(text)s' is not a date (YYYY-MM-DD).", text=line))
            )
            break
    data = {
        "name": shown["name"],
        "timezone": shown["timezone"] or "UTC",
        "hours": hours,
        "holidays": holidays,
    }
    return data, shown, problems


def _parse_policy(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(SlaPolicyIn payload, values to re-show)``."""
    shown: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in POLICY_FIELDS}
    shown["is_active"] = form.get("is_active") == "1"
    data: dict[str, Any] = {k: (v if v != "" else None) for k, v in shown.items()}
    if data["priority"] is None:
        data["priority"] = 100
    if data["warn_fraction"] is None:
        data["warn_fraction"] = 0.8
    return data, shown


def _render_sla(
    request: Request,
    session: Session,
    user: User,
    template: str,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    calendars = settings.list_calendars(session, actor=user)
    return render(
        request,
        template,
        status_code=status_code,
        policies=settings.list_policies(session, actor=user),
        calendars=calendars,
        calendar_opts=[
            (
                str(r.id),
                localize_system_text(
                    request_locale(request), r.name, field="business_calendar.name"
                ),
            )
            for r in calendars
        ],
        severities=opts(request, "severity", SEVERITIES),
        value_classes=opts(request, "value_class", VALUE_CLASSES),
        users=user_options(session),
        weekdays=[tr(request, w) for w in WEEKDAYS],
        **extra,
    )


@router.get("/complaints/sla")
def sla_admin(request: Request, session: DbSession, user: PageUser) -> Response:
    """SLA policies and business calendars (managers and admins)."""
    require(user, "sla:manage")
    return _render_sla(
        request,
        session,
        user,
        "complaints/sla.html",
        policy_form=_policy_values(None),
        calendar_form=_calendar_values(None),
        policy_errors={},
        calendar_errors={},
    )


@router.post("/complaints/sla/policies")
def sla_policy_create(
    request: Request, form: PageForm, session: DbSession, user: PageUser
) -> Response:
    """Create an SLA policy."""
    require(user, "sla:manage")
    data, shown = _parse_policy(form)
    try:
        settings.create_policy(session, SlaPolicyIn(**data), actor=user)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        reraise_access(exc)
        return _render_sla(
            request,
            session,
            user,
            "complaints/sla.html",
            422,
            policy_form=shown,
            calendar_form=_calendar_values(None),
            policy_errors=form_errors(request, exc),
            calendar_errors={},
        )
    flash(request, tr(request, "The SLA policy was saved."))
    return redirect(request, "/complaints/sla")


@router.get("/complaints/sla/policies/{policy_id:int}")
def sla_policy_edit(
    request: Request, session: DbSession, user: PageUser, policy_id: DbId
) -> Response:
    """Edit one SLA policy."""
    require(user, "sla:manage")
    p = session.get(SlaPolicy, policy_id)
    if p is None:
        raise NotFound("SLA policy", policy_id)
    values = _policy_values(p)
    return _render_sla(
        request,
        session,
        user,
        "complaints/sla_policy.html",
        policy=p,
        form=values,
        base=as_posted(values),
    )


@router.post("/complaints/sla/policies/{policy_id:int}")
def sla_policy_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, policy_id: DbId
) -> Response:
    """Save an SLA policy; open complaints under it get new due times."""
    require(user, "sla:manage")
    p = session.get(SlaPolicy, policy_id)
    if p is None:
        raise NotFound("SLA policy", policy_id)
    data, shown = _parse_policy(form)
    expected = form_version(form)
    shown["version"] = "" if expected is None else str(expected)
    update = None
    try:
        update = SlaPolicyUpdate(**data)
        settings.update_policy(session, policy_id, update, actor=user, expected_version=expected)
    except STALE:
        session.rollback()
        current = session.get(SlaPolicy, policy_id)
        if current is None:
            raise NotFound("SLA policy", policy_id) from None
        keys = [k for k in POLICY_LABELS if k in update.model_fields_set]
        return conflict_page(
            request,
            session,
            entity="sla_policy",
            record=current,
            title=current.name,
            submitted=update.model_dump(include=set(keys)),
            current={k: getattr(current, k) for k in keys},
            labels=POLICY_LABELS,
            form=form,
            action=f"/complaints/sla/policies/{policy_id}",
            reload_url=f"/complaints/sla/policies/{policy_id}",
            cancel_url="/complaints/sla",
            expected=expected,
            base=read_base(form, _policy_compared),
            current_form=as_posted(_policy_values(current)),
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        reraise_access(exc)
        p = session.get(SlaPolicy, policy_id)
        return _render_sla(
            request,
            session,
            user,
            "complaints/sla_policy.html",
            422,
            policy=p,
            form=shown,
            errors=form_errors(request, exc),
            base=form_base(form),
        )
    flash(request, tr(request, "The SLA policy was saved."))
    return redirect(request, "/complaints/sla")


@router.post("/complaints/sla/calendars")
def sla_calendar_create(
    request: Request, form: PageForm, session: DbSession, user: PageUser
) -> Response:
    """Create a business calendar."""
    require(user, "sla:manage")
    data, shown, problems = _parse_calendar(form)
    try:
        if problems:
            raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
        settings.create_calendar(session, CalendarIn(**data), actor=user)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        reraise_access(exc)
        return _render_sla(
            request,
            session,
            user,
            "complaints/sla.html",
            422,
            policy_form=_policy_values(None),
            calendar_form=shown,
            policy_errors={},
            calendar_errors=form_errors(request, exc),
        )
    flash(request, tr(request, "The business calendar was saved."))
    return redirect(request, "/complaints/sla")


@router.get("/complaints/sla/calendars/{calendar_id:int}")
def sla_calendar_edit(
    request: Request, session: DbSession, user: PageUser, calendar_id: DbId
) -> Response:
    """Edit one business calendar."""
    require(user, "sla:manage")
    row = session.get(BusinessCalendarRow, calendar_id)
    if row is None:
        raise NotFound("Calendar", calendar_id)
    return _render_sla(
        request,
        session,
        user,
        "complaints/sla_calendar.html",
        calendar=row,
        form=_calendar_values(row),
        base=as_posted(_calendar_values(row)),
    )


@router.post("/complaints/sla/calendars/{calendar_id:int}")
def sla_calendar_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, calendar_id: DbId
) -> Response:
    """Save a business calendar; open complaints using it get new due times."""
    require(user, "sla:manage")
    data, shown, problems = _parse_calendar(form)
    expected = form_version(form)
    shown["version"] = "" if expected is None else str(expected)
    replace = None
    try:
        if problems:
            raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
        replace = CalendarIn(**data)
        settings.update_calendar(
            session, calendar_id, replace, actor=user, expected_version=expected
        )
    except STALE:
        session.rollback()
        current = session.get(BusinessCalendarRow, calendar_id)
        if current is None:
            raise NotFound("Calendar", calendar_id) from None
        # "Working hours · Tuesday": the table names each day's row as the form's heading does.
        hours = tr(request, CALENDAR_LABELS["hours"])
        day_labels = {f"hours_{d}": f"{hours} · {tr(request, w)}" for d, w in enumerate(WEEKDAYS)}
        spans = lambda v: ", ".join(f"{a}-{b}" for a, b in v) or "—"  # noqa: E731
        return conflict_page(
            request,
            session,
            entity="business_calendar",
            record=current,
            title=current.name,
            submitted=_calendar_compared(replace.model_dump()),
            current=_calendar_compared({k: getattr(current, k) for k in CALENDAR_LABELS}),
            labels=CALENDAR_LABELS | day_labels,
            form=form,
            action=f"/complaints/sla/calendars/{calendar_id}",
            reload_url=f"/complaints/sla/calendars/{calendar_id}",
            cancel_url="/complaints/sla",
            expected=expected,
            base=read_base(form, _calendar_read),
            current_form=as_posted(_calendar_values(current)),
            shown=dict.fromkeys(day_labels, spans),
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        reraise_access(exc)
        row = session.get(BusinessCalendarRow, calendar_id)
        return _render_sla(
            request,
            session,
            user,
            "complaints/sla_calendar.html",
            422,
            calendar=row,
            form=shown,
            errors=form_errors(request, exc),
            base=form_base(form),
        )
    flash(request, tr(request, "The business calendar was saved."))
    return redirect(request, "/complaints/sla")
