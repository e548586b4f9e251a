"""Distribution: sending a survey to a segment, its invitations, links and e-mails."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import Conflict, InvalidInput, NotFound, RetentoError
from retento.core.validation import DbId
from retento.surveys import distribution_jobs, distributions, reports, service
from retento.surveys.link_lists import link_rows, links_csv
from retento.surveys.models import (
    CHANNELS,
    Survey,
    SurveyDistribution,
)
from retento.surveys.pages.common import (
    VALUE_CLASSES,
    form_text,
    in_reader_language,
    opts,
    survey_url,
)
from retento.surveys.schemas import (
    DistributionCreate,
    SegmentIn,
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
    tr,
    tr_count,
)
from retento.work.queue import run_in_web

router = page_router()


def _distribute_page(
    request: Request,
    session: Session,
    user: User,
    survey: Survey,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """Send form, past distributions and response rates per channel."""
    insight_segments = _insight_segments(request, session)
    return render(
        request,
        "surveys/distribute.html",
        status_code=status_code,
        survey=in_reader_language(request, survey),
        distributions=distributions.list_distributions(session, survey.id, actor=user),
        emailed=distributions.emailed_per_distribution(session, survey.id),
        rates=reports.response_rates(session, survey.id),
        form=form or {"channel": "online", "segment_kind": "all"},
        errors=errors or {},
        channels=opts(request, "survey_channel", CHANNELS),
        segment_kinds=opts(
            request, "segment_kind", ("all", "value_class", "tag", "complaint_closed", "insight")
        ),
        value_classes=opts(request, "segment", VALUE_CLASSES),
        insight_segments=insight_segments,
        # A past distribution's segment by its name, as the form offers it (not "3:1").
        insight_names=dict(insight_segments),
        mail_enabled=request.app.state.settings.mail_enabled,
        distribution_key=uuid.uuid4().hex,  # a new distribution's idempotency key
    )


# The form field holding the segment's value, per segment kind.
_VALUE_FIELDS = {"value_class": "value_class", "tag": "tag", "insight": "insight_segment"}


def _insight_segments(request: Request, session: Session) -> list[tuple[str, str]]:
    """Saved Insights segments (``"<id>:<cluster>"``, name) to send a survey to."""
    from retento.insights.segments_service import filter_choices
    from retento.web.render import request_locale

    return filter_choices(session, request_locale(request))


@router.get("/surveys/{survey_id:int}/distribute")
def distribute_form(
    request: Request, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """Send the survey to a segment; see who answered per channel."""
    survey = service.get_survey(session, survey_id, actor=user)
    return _distribute_page(request, session, user, survey)


@router.post("/surveys/{survey_id:int}/distribute")
def distribute_send(
    request: Request, raw: PageForm, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """Create the invitations of one segment on one channel."""
    survey = service.get_survey(session, survey_id, actor=user)
    keys = (
        "name",
        "channel",
        "segment_kind",
        "value_class",
        "tag",
        "insight_segment",
        "closed_since",
        "expires_in_days",
    )
    form = {k: form_text(raw, k) for k in keys}
    # The key drawn with the form (kept when the form comes back with an error, nothing saved):
    # a double click, a refresh or a resubmitted page records one distribution.
    form["distribution_key"] = form_text(raw, "distribution_key")[:120]
    try:
        kind = form["segment_kind"] or "all"
        value = {
            "value_class": form["value_class"],
            "tag": form["tag"],
            "insight": form["insight_segment"],
        }.get(kind)
        since = None
        if kind == "complaint_closed" and form["closed_since"]:
            try:
                since = datetime.fromisoformat(form["closed_since"]).replace(tzinfo=UTC)
            except ValueError:
                raise InvalidInput(
                    tr(request, "Enter a date (YYYY-MM-DD)."), field="closed_since"
                ) from None
        try:
            segment = SegmentIn(kind=kind, value=value or None, closed_since=since)
        except ValidationError:
            field = _VALUE_FIELDS.get(kind, "tag")
            raise InvalidInput(tr(request, "This field is required."), field=field) from None
        data = DistributionCreate(
            channel=form["channel"] or "online",
            segment=segment,
            name=form["name"],
            expires_in_days=form["expires_in_days"] or None,
        )
        dist, created = distributions.start_distribution_once(
            session, survey_id, data, actor=user, idempotency_key=form["distribution_key"]
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        errors = form_errors(request, exc)
        if "segment.value" in errors:
            errors[_VALUE_FIELDS.get(form["segment_kind"], "tag")] = errors.pop("segment.value")
        if "segment.kind" in errors:
            errors["segment_kind"] = errors.pop("segment.kind")
        if "status" in errors:
            errors[""] = errors.pop("status")
        if "Idempotency-Key" in errors:
            # The page was sent before with other choices (the browser's Back button): a fresh
            # key lets the person send these choices as a new distribution.
            errors[""] = errors.pop("Idempotency-Key")
            if isinstance(exc, Conflict):
                errors[""] = tr(
                    request,
                    "This form was already sent with other choices. Check them and send it "
                    "again to create a new distribution.",
                )
            form.pop("distribution_key")
        survey = service.get_survey(session, survey_id, actor=user)
        return _distribute_page(request, session, user, survey, form, errors, 422)
    # The request commits the distribution ('queued') and its work item; a worker creates the
    # invitations and e-mails (or this process after the response, RETENTO_RUN_WORK_IN_WEB),
    # and the distribution's page shows the progress, then the links.
    url = survey_url(survey_id, f"/distributions/{dist.id}")
    if not created:  # the same form again: its distribution, queued once
        flash(request, tr(request, "This form was already sent: here is its distribution."))
        return redirect(request, url)
    item_id = distribution_jobs.enqueue(session, dist, data, user.id)
    flash(request, tr(request, "The invitations are being created."))
    response = redirect(request, url)
    if request.app.state.settings.run_work_in_web:
        response.background = BackgroundTask(run_in_web, request.app.state.session_factory, item_id)
    return response


def _links(
    request: Request, session: Session, user: User, survey_id: DbId, distribution_id: DbId
) -> tuple[SurveyDistribution, list[dict[str, Any]]]:
    """A distribution's open invitations with the customer and the full link (``link_rows``)."""
    dist = _distribution(session, user, survey_id, distribution_id)
    if dist.status != "done":
        raise Conflict(
            "The invitations are still being created; try again when they are done.",
            field="distribution_id",
        )
    rows = link_rows(session, survey_id, distribution_id, str(request.base_url), actor=user)
    return dist, rows


@router.get("/surveys/{survey_id:int}/distributions/{distribution_id:int}")
def distribution_detail(
    request: Request, session: DbSession, user: PageUser, survey_id: DbId, distribution_id: DbId
) -> Response:
    """The open invitations of one distribution with their links (for mail merge); while a
    worker creates them, the progress (polled)."""
    survey = service.get_survey(session, survey_id, actor=user)
    dist = _distribution(session, user, survey_id, distribution_id)
    if dist.status != "done":
        return render(
            request,
            "surveys/distribution.html",
            survey=in_reader_language(request, survey),
            dist=dist,
            rows=[],
            emails=None,
            mail_enabled=request.app.state.settings.mail_enabled,
            **_progress_view(session, dist),
        )
    dist, rows = _links(request, session, user, survey_id, distribution_id)
    return render(
        request,
        "surveys/distribution.html",
        survey=in_reader_language(request, survey),
        dist=dist,
        rows=rows,
        invited_text=tr_count(
            request,
            dist.invited,
            N_("One customer was invited."),
            N_("%(n)s customers were invited."),
        ),
        emails=distributions.distribution_emails(session, dist),
        skipped=distributions.skipped(session, dist.id),
        not_invited=distributions.NOT_INVITED,
        mail_enabled=request.app.state.settings.mail_enabled,
    )


def _distribution(
    session: Session, user: User, survey_id: int, distribution_id: int
) -> SurveyDistribution:
    """A distribution of the survey, to those who may see its links (survey:manage)."""
    require(user, "survey:manage")
    dist = session.get(SurveyDistribution, distribution_id)
    if dist is None or dist.survey_id != survey_id:
        raise NotFound("Distribution", distribution_id, field="distribution_id")
    return dist


def _progress_view(session: Session, dist: SurveyDistribution) -> dict[str, Any]:
    stage, fraction = distribution_jobs.progress(session, dist)
    return {
        "stage_label": distribution_jobs.STAGE_LABELS.get(
            stage or "", N_("Running in another process")
        ),
        "fraction": fraction,
    }


@router.get("/surveys/{survey_id:int}/distributions/{distribution_id:int}/progress")
def distribution_progress(
    request: Request, session: DbSession, user: PageUser, survey_id: DbId, distribution_id: DbId
) -> Response:
    """The progress bar of a distribution being created (polled by htmx); when it has finished
    the page reloads with the links (or the error)."""
    service.get_survey(session, survey_id, actor=user)
    dist = _distribution(session, user, survey_id, distribution_id)
    if dist.status in distribution_jobs.WAITING:
        return render(
            request,
            "surveys/_distribution_progress.html",
            dist=dist,
            **_progress_view(session, dist),
        )
    url = survey_url(survey_id, f"/distributions/{dist.id}")
    return Response(status_code=200, headers={"HX-Redirect": url})


@router.get("/surveys/{survey_id:int}/distributions/{distribution_id:int}/links.csv")
def distribution_csv(
    request: Request, session: DbSession, user: PageUser, survey_id: DbId, distribution_id: DbId
) -> Response:
    """The invitation links as CSV for a mail merge."""
    _, rows = _links(request, session, user, survey_id, distribution_id)
    return Response(
        links_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="survey-{survey_id}-links-{distribution_id}.csv"'
        },
    )
