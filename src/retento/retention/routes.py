"""Retention JSON API: warning rules, alerts, playbooks, win-back cases, tasks, uplift report."""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Gt, Lt
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask, BackgroundTasks

from retento.core.deps import CurrentUser, DbSession
from retento.core.errors import NotFound
from retento.core.validation import DbId, Limit, Offset
from retento.core.versioning import IfMatch, parse_if_match, set_etag
from retento.retention import (
    outcomes,
    playbook_apply,
    playbooks,
    points_now,
    report,
    service,
    tasks,
)
from retento.retention.models import RULE_CODES, RetentionCase, RetentionRule
from retento.retention.reasons import RULE_NAMES, label, render_reason
from retento.retention.schemas import (
    AlertPage,
    AlertRead,
    AlertStatusIn,
    ApplyIn,
    CaseRead,
    CaseRun,
    ClassName,
    ConfigRead,
    ConfigUpdate,
    EvaluateIn,
    OutcomeIn,
    PlaybookIn,
    PlaybookRead,
    PlaybookUpdate,
    RuleCode,
    RuleRead,
    RuleUpdate,
    Severity,
    TaskPage,
    TaskRead,
    TaskStatusIn,
    TaskUpdate,
)

router = APIRouter(prefix="/api/v1/retention", tags=["retention"])
Share = Annotated[float, Gt(0), Lt(1)]


def _version(body: int | None, header: str | None) -> int | None:
    return body if body is not None else parse_if_match(header)


def _alerts(session, alerts: list, locale: str) -> list[dict[str, Any]]:
    """The alerts as ``AlertRead``: the reason in ``locale`` and, for a points alert whose
    points changed since, what the ledger says now (as the web's "Now: …" line)."""
    states = points_now.current_states(session, alerts)
    out = []
    for a in alerts:
        row = AlertRead.model_validate(a).model_dump()
        row["reason"] = render_reason(a.reason_code, a.reason_params, locale)
        st = states.get(a.id)
        if st is not None:
            row["now"] = {
                "points": st.points,
                "first_day": st.first_day,
                "last_day": st.last_day,
                "window_days": st.window_days,
                "text": st.text(locale),
            }
        out.append(row)
    return out


def _rule(r: RetentionRule, locale: str) -> dict[str, Any]:
    out = RuleRead.model_validate(r).model_dump()
    out["name"] = label(RULE_NAMES, r.code, locale)
    return out


@router.get("/config", response_model=ConfigRead)
def get_config(session: DbSession, user: CurrentUser, response: Response):
    config = service.get_config(session, actor=user)
    set_etag(response, config)
    return config


@router.patch("/config", response_model=ConfigRead)
def update_config(
    data: ConfigUpdate,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    values = data.model_dump(exclude_unset=True, exclude={"version"})
    config = service.update_config(
        session, values, actor=user, version=_version(data.version, if_match)
    )
    set_etag(response, config)
    return config


@router.get("/rules", response_model=list[RuleRead])
def list_rules(session: DbSession, user: CurrentUser):
    return [_rule(r, user.locale) for r in service.list_rules(session, actor=user)]


# A path code, not ``RuleCode``: an unknown one is the service's 404 naming the kind of code
# ("No warning rule has the code 'bogus'"), not a generic "Code bogus does not exist".
RulePathCode = Annotated[
    str, Path(description="The warning rule's code.", json_schema_extra={"enum": list(RULE_CODES)})
]


@router.patch("/rules/{code}", response_model=RuleRead)
def update_rule(
    code: RulePathCode,
    data: RuleUpdate,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    values = data.model_dump(exclude_unset=True, exclude={"version"})
    rule = service.update_rule(
        session, code, values, actor=user, version=_version(data.version, if_match)
    )
    set_etag(response, rule)
    return _rule(rule, user.locale)


@router.post(
    "/evaluate",
    responses={
        200: {
            "description": "The alerts raised and the win-back cases opened (treated or control, "
            "decided now). The treated cases' actions (e-mail, offer, task) are queued for a "
            "worker: actions_queued counts them, work_item_ids names the work items "
            "(GET /api/v1/work/{id}); each case's action_status is 'queued' until it is done."
        }
    },
)
def evaluate(
    data: EvaluateIn, session: DbSession, user: CurrentUser, request: Request
) -> JSONResponse:
    """Evaluate the warning rules now (the retention_evaluate job does it every 15 minutes)."""
    rep = service.evaluate_now(
        session, actor=user, customer_ids=data.customer_ids, rules=data.rules
    )
    background = None
    if rep.work_item_ids and request.app.state.settings.run_work_in_web:
        from retento.work.queue import run_in_web

        factory = request.app.state.session_factory
        background = BackgroundTasks()
        for item_id in rep.work_item_ids:
            background.add_task(run_in_web, factory, item_id)
    # The alerts, cases and work items are committed before the response goes out.
    return JSONResponse(jsonable_encoder(rep.to_dict()), background=background)


@router.get("/alerts", response_model=AlertPage)
def list_alerts(
    session: DbSession,
    user: CurrentUser,
    status: Annotated[str | None, Query(max_length=20)] = None,
    owner_id: DbId | None = None,
    rule: RuleCode | None = None,
    value_class: ClassName | None = None,
    severity: Severity | None = None,
    customer_id: DbId | None = None,
    mine: bool = False,
    limit: Limit = 50,
    offset: Offset = 0,
):
    rows, total = service.list_alerts(
        session,
        actor=user,
        limit=limit,
        offset=offset,
        status=status,
        owner_id=user.id if mine else owner_id,
        rule=rule,
        value_class=value_class,
        severity=severity,
        customer_id=customer_id,
    )
    return {
        "items": _alerts(session, rows, user.locale),
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/alerts/{alert_id}", response_model=AlertRead)
def get_alert(alert_id: DbId, session: DbSession, user: CurrentUser, response: Response):
    alert = service.get_alert(session, alert_id, actor=user)
    set_etag(response, alert)
    return _alerts(session, [alert], user.locale)[0]


@router.post("/alerts/{alert_id}/status", response_model=AlertRead)
def set_alert_status(
    alert_id: DbId,
    data: AlertStatusIn,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    alert = service.set_alert_status(
        session,
        alert_id,
        data.status,
        actor=user,
        note=data.note,
        version=_version(data.version, if_match),
    )
    set_etag(response, alert)
    return _alerts(session, [alert], user.locale)[0]


def _case_run(session, case: RetentionCase) -> CaseRun:
    from retento.retention import apply_jobs

    stage, fraction = apply_jobs.progress(session, case)
    return CaseRun(
        **CaseRead.model_validate(case).model_dump(),
        stage=stage,
        progress=fraction,
        url=f"/api/v1/retention/cases/{case.id}",
    )


@router.post(
    "/alerts/{alert_id}/apply",
    response_model=CaseRun,
    status_code=202,
    responses={
        202: {
            "description": "The case is open (treated or control, decided now); a treated "
            "case's action (e-mail, offer, task) is queued for a worker: poll the url (also in "
            "the Location header) until action_status is done."
        }
    },
)
def apply_playbook(
    alert_id: DbId, data: ApplyIn, session: DbSession, user: CurrentUser, request: Request
):
    """Apply the matching playbook (or ``playbook_id``) to an alert: the arm is assigned in this
    request, the treated case's action is carried out by a worker."""
    from retento.retention import apply_jobs

    case = playbook_apply.apply_to_alert(
        session, alert_id, actor=user, playbook_id=data.playbook_id, defer_action=True
    )
    item_id = apply_jobs.enqueue(session, case, user.id)
    session.flush()
    body = jsonable_encoder(_case_run(session, case))
    background = None
    if item_id is not None and request.app.state.settings.run_work_in_web:
        from retento.work.queue import run_in_web

        background = BackgroundTask(run_in_web, request.app.state.session_factory, item_id)
    # The case and its work item are committed before the response goes out.
    return JSONResponse(
        body, status_code=202, headers={"Location": body["url"]}, background=background
    )


@router.get("/playbooks", response_model=list[PlaybookRead])
def list_playbooks(session: DbSession, user: CurrentUser):
    return playbooks.list_playbooks(session, actor=user)


@router.post("/playbooks", response_model=PlaybookRead, status_code=201)
def create_playbook(data: PlaybookIn, session: DbSession, user: CurrentUser):
    return playbooks.create_playbook(session, data.model_dump(), actor=user)


@router.get("/playbooks/{playbook_id}", response_model=PlaybookRead)
def get_playbook(playbook_id: DbId, session: DbSession, user: CurrentUser, response: Response):
    pb = playbooks.get_playbook(session, playbook_id, actor=user)
    set_etag(response, pb)
    return pb


@router.patch("/playbooks/{playbook_id}", response_model=PlaybookRead)
def update_playbook(
    playbook_id: DbId,
    data: PlaybookUpdate,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    values = data.model_dump(exclude_unset=True, exclude={"version"})
    pb = playbooks.update_playbook(
        session, playbook_id, values, actor=user, version=_version(data.version, if_match)
    )
    set_etag(response, pb)
    return pb


@router.delete("/playbooks/{playbook_id}", status_code=204)
def delete_playbook(
    playbook_id: DbId, session: DbSession, user: CurrentUser, if_match: IfMatch = None
):
    playbooks.delete_playbook(session, playbook_id, actor=user, version=parse_if_match(if_match))
    return Response(status_code=204)


@router.get("/cases/{case_id}", response_model=CaseRun)
def get_case(case_id: DbId, session: DbSession, user: CurrentUser):
    """A win-back case, with the status and progress of its action."""
    from retento.auth.permissions import require

    require(user, "retention:read")
    case = session.get(RetentionCase, case_id)
    if case is None:
        raise NotFound("Case", case_id)
    return _case_run(session, case)


@router.post("/cases/{case_id}/outcome", response_model=CaseRead)
def record_outcome(
    case_id: DbId,
    data: OutcomeIn,
    session: DbSession,
    user: CurrentUser,
    if_match: IfMatch = None,
):
    return outcomes.record_outcome(
        session,
        case_id,
        actor=user,
        reached=data.reached,
        offer_accepted=data.offer_accepted,
        lost=data.lost,
        note=data.note,
        version=_version(data.version, if_match),
    )


@router.get("/tasks", response_model=TaskPage)
def list_tasks(
    session: DbSession,
    user: CurrentUser,
    status: Annotated[str | None, Query(max_length=20)] = None,
    owner_id: DbId | None = None,
    customer_id: DbId | None = None,
    mine: bool = False,
    limit: Limit = 50,
    offset: Offset = 0,
):
    rows, total = tasks.list_tasks(
        session,
        actor=user,
        limit=limit,
        offset=offset,
        status=status,
        owner_id=user.id if mine else owner_id,
        customer_id=customer_id,
    )
    return {"items": rows, "total": total, "limit": limit, "offset": offset}


@router.get("/tasks/{task_id}", response_model=TaskRead)
def get_task(task_id: DbId, session: DbSession, user: CurrentUser, response: Response):
    task = tasks.get_task(session, task_id, actor=user)
    set_etag(response, task)
    return task


@router.patch("/tasks/{task_id}", response_model=TaskRead)
def update_task(
    task_id: DbId,
    data: TaskUpdate,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    values = data.model_dump(exclude_unset=True, exclude={"version"})
    task = tasks.update_task(
        session, task_id, values, actor=user, version=_version(data.version, if_match)
    )
    set_etag(response, task)
    return task


@router.post("/tasks/{task_id}/status", response_model=TaskRead)
def set_task_status(
    task_id: DbId,
    data: TaskStatusIn,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    task = tasks.set_task_status(
        session,
        task_id,
        data.status,
        actor=user,
        result=data.result,
        note=data.note,
        version=_version(data.version, if_match),
    )
    set_etag(response, task)
    return task


@router.get("/report")
def uplift_report(
    session: DbSession,
    user: CurrentUser,
    playbook_id: DbId | None = None,
    top_k: Share = 0.3,
) -> list[dict[str, Any]]:
    """Per playbook: came-back rate treated vs control (95 % interval), uplift, Qini, top k by
    risk, incremental revenue minus cost."""
    return report.uplift_report(session, actor=user, playbook_id=playbook_id, top_k=top_k)
