"""Web screens for duplicates: find the duplicate of a customer and merge it (managers, admins).

``GET /customers/{id}/merge`` searches for the other record (the customer search) and, once one
is picked, shows both side by side with what moves; ``POST`` merges with both versions as shown,
so a record changed in between gets the conflict page (409) instead of a silent merge.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import func, select

from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput
from retento.core.validation import DbId, id_from_text
from retento.customers import merge, search, service
from retento.customers.models import Customer
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.labels import register_labels
from retento.web.render import PageUser, flash, page_router, redirect, render, tr

router = page_router()

register_labels(
    "duplicate_match",
    {"email": N_("same email"), "phone": N_("same phone"), "name": N_("same name")},
)
register_labels(
    "search_rank",
    {
        "exact": N_("Exact"),
        "prefix": N_("Starts with"),
        "substring": N_("Contains"),
        "fuzzy": N_("Similar"),
    },
)


def _counts(session, customer_id: int) -> dict[str, int]:
    """Rows of the main histories that point at the customer (shown before merging)."""
    out: dict[str, int] = {}
    for table in Customer.metadata.sorted_tables:
        if table.name not in ("orders", "complaints", "survey_responses", "touchpoints"):
            continue
        n = session.scalar(
            select(func.count()).select_from(table).where(table.c.customer_id == customer_id)
        )
        out[table.name] = int(n or 0)
    return out


COUNT_LABELS = {
    "orders": N_("Orders"),
    "complaints": N_("Complaints"),
    "survey_responses": N_("Survey responses"),
    "touchpoints": N_("Touchpoints"),
}


@router.get("/customers/{customer_id:int}/merge")
def merge_form(request: Request, session: DbSession, user: PageUser, customer_id: DbId) -> Response:
    """Pick the duplicate (search) and review the merge."""
    require(user, "customer:archive")
    survivor = service.get_customer(session, customer_id, actor=user)
    q = request.query_params.get("q", "").strip()[:200]
    other_id = id_from_text(request.query_params.get("other", ""))
    results = []
    if q:
        results = [
            (c, search.rank_label(r))
            for c, r in search.search(session, q, limit=20)
            if c.id != survivor.id
        ]
    other = None
    if other_id is not None:
        other = service.get_customer(session, other_id, actor=user)
        if other.id == survivor.id:
            raise InvalidInput("A customer cannot be merged into itself.", field="other")
    return render(
        request,
        "customers/merge.html",
        customer=survivor,
        q=q,
        results=results,
        other=other,
        counts=_counts(session, other.id) if other else {},
        count_labels=COUNT_LABELS,
    )


@router.post("/customers/{customer_id:int}/merge")
def merge_submit(
    request: Request, form: PageForm, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """Merge the duplicate into this customer (versions as reviewed; stale → conflict page)."""
    require(user, "customer:archive")
    other_id = id_from_text(str(form.get("merge_id") or ""))
    if other_id is None:
        raise InvalidInput("Choose the customer to merge into this one.", field="merge_id")
    survivor, moved = merge.merge_customers(
        session,
        customer_id,
        other_id,
        actor=user,
        survivor_version=id_from_text(str(form.get("version") or "")),
        merged_version=id_from_text(str(form.get("merge_version") or "")),
    )
    flash(
        request,
        tr(
            request,
            "Customer %(other)s was merged into %(name)s and archived.",
            other=other_id,
            name=survivor.name,
        ),
    )
    return redirect(request, f"/customers/{survivor.id}")
