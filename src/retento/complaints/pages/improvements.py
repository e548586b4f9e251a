"""One PDCA improvement: its steps, the evidence, and the form for the next step."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import can, require
from retento.complaints import improvements
from retento.complaints.models import (
    PDCA_STAGES,
    ComplaintCategory,
)
from retento.complaints.pages.common import (
    is_zh,
    reraise_access,
    user_options,
)
from retento.complaints.schemas import (
    ImprovementUpdate,
)
from retento.core.deps import DbSession
from retento.core.errors import FieldError, InvalidInput, RetentoError
from retento.core.validation import DbId, is_id
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.labels import label_msgid
from retento.web.render import (
    PageUser,
    flash,
    form_errors,
    page_router,
    redirect,
    render,
    tr,
)

router = page_router()


# --- PDCA improvement page ---------------------------------------------------------------------

PDCA_NEXT = {"plan": "do", "do": "check", "check": "act", "act": "done"}
PDCA_NOTE = {"plan": "plan", "do": "do_note", "check": "check_result", "act": "act_note"}
PDCA_STEP_TITLES = {
    "plan": N_("Plan: what will change and how success is measured"),
    "do": N_("Do: what was done"),
    "check": N_("Check: the result measured"),
    "act": N_("Act: standardised or adjusted"),
}
PDCA_ADVANCE = {
    "do": N_("Record Do"),
    "check": N_("Record Check"),
    "act": N_("Record Act (standardise)"),
    "done": N_("Close the improvement"),
}
IMPROVEMENT_FIELDS = ("title", "owner_id", "due_on", "plan", "do_note", "check_result", "act_note")


def _improvement_values(a: Any) -> dict[str, str]:
    return {k: "" if getattr(a, k) is None else str(getattr(a, k)) for k in IMPROVEMENT_FIELDS}


def _render_improvement(
    request: Request,
    session: Session,
    user: User,
    a: Any,
    form: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    stage = a.stage
    nxt = PDCA_NEXT.get(stage)
    # Notes shown for editing: every step reached so far plus the one the next step records.
    reached = PDCA_STAGES.index(nxt) if nxt else len(PDCA_STAGES)
    steps = [
        {
            "stage": s,
            "field": PDCA_NOTE[s],
            "title": tr(request, PDCA_STEP_TITLES[s]),
            "open": PDCA_STAGES.index(s) <= reached,
        }
        for s in ("plan", "do", "check", "act")
    ]
    category = session.get(ComplaintCategory, a.category_id) if a.category_id else None
    return render(
        request,
        "complaints/improvement.html",
        status_code=status_code,
        a=a,
        form=form,
        errors=errors or {},
        steps=steps,
        stages=PDCA_STAGES,
        next_stage=nxt,
        advance_label=tr(request, PDCA_ADVANCE[nxt]) if nxt else "",
        owners=user_options(session),
        users={u.id: (u.display_name or u.username) for u in session.scalars(select(User))},
        category=(category.name_zh if is_zh(request) and category.name_zh else category.name)
        if category
        else None,
        evidence=improvements.improvement_evidence(session, a, actor=user),
        may_improve=can(user, "complaint:improve"),
    )


@router.get("/complaints/improvements/{improvement_id:int}")
def improvement_page(
    request: Request, session: DbSession, user: PageUser, improvement_id: DbId
) -> Response:
    """One PDCA improvement: its steps so far, the evidence, and the form for the next step."""
    a = improvements.get_improvement(session, improvement_id, actor=user)
    return _render_improvement(request, session, user, a, _improvement_values(a))


@router.post("/complaints/improvements/{improvement_id:int}")
def improvement_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, improvement_id: DbId
) -> Response:
    """Save an improvement; ``step`` = the next stage records that step (its note is required)."""
    require(user, "complaint:improve")
    a = improvements.get_improvement(session, improvement_id, actor=user)
    shown = {k: str(form.get(k) or "").strip() for k in IMPROVEMENT_FIELDS}
    step = str(form.get("step") or "save")
    data: dict[str, Any] = {"title": shown["title"], "plan": shown["plan"]}
    for key in ("do_note", "check_result", "act_note", "due_on"):
        data[key] = shown[key] or None
    problems: list[FieldError] = []
    if shown["owner_id"] and not is_id(shown["owner_id"]):
        problems.append(FieldError("owner_id", tr(request, "Enter a whole number.")))
    data["owner_id"] = shown["owner_id"] or None
    if step != "save":
        if step != PDCA_NEXT.get(a.stage):
            problems.append(
                FieldError(
                    "step", tr(request, "This step is not the next one for this improvement.")
                )
            )
        data["stage"] = step
        need = PDCA_NOTE.get(a.stage if step == "done" else step)
        if step != "done" and need and not shown[need]:
            problems.append(
                FieldError(need, tr(request, "Describe this step before recording it."))
            )
    try:
        if problems:
            raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
        improvements.update_improvement(
            session,
            improvement_id,
            ImprovementUpdate(**data),
            actor=user,
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        reraise_access(exc)
        a = improvements.get_improvement(session, improvement_id, actor=user)
        errors = form_errors(request, exc)
        if "step" in errors:  # the buttons, not an input: say it above the form
            errors[""] = errors.pop("step")
        return _render_improvement(request, session, user, a, shown, errors, 422)
    if step == "done":
        flash(request, tr(request, "The improvement was closed."))
    elif step != "save":
        label = tr(request, label_msgid("pdca", step))
        flash(request, tr(request, "Step recorded: %(stage)s.", stage=label))
    else:
        flash(request, tr(request, "Saved."))
    return redirect(request, f"/complaints/improvements/{improvement_id}")
