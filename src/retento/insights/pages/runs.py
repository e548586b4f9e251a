"""The progress box of an analysis computing in the background (polled by htmx every second);
once the run is over it sends the browser to the run's page."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import NotFound
from retento.core.validation import DbId
from retento.insights import runs
from retento.insights.models import InsightRun
from retento.insights.registry import render_insight
from retento.insights.web import progress_context
from retento.web.render import PageUser, is_htmx, page_router, redirect

router = page_router()

PAGES = {
    "segments": "/insights/segments",
    "basket": "/insights/baskets",
    "sequences": "/insights/sequences",
}


# (The parameter's name is what a 404 for a malformed id calls the thing: "Insight run", not
# the scoring run that "Run" is in the catalogues.)
@router.get("/insights/runs/{insight_run_id}/progress")
def run_progress(
    request: Request, session: DbSession, user: PageUser, insight_run_id: DbId
) -> Response:
    require(user, "score:read")
    run = session.get(InsightRun, insight_run_id)
    if run is None:
        raise NotFound("Insight run", insight_run_id)
    page = f"{PAGES[run.kind]}?run={run.id}"
    if runs.state(run) != "running":
        if is_htmx(request):
            return Response(status_code=200, headers={"HX-Redirect": page})
        return redirect(request, page)
    return render_insight(
        request, user, "insights/_progress.html", **progress_context(request, run, page)
    )
