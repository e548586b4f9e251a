"""Web export of the customer list as XLSX (the CSV export is in ``customers.pages``, which
includes this router)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.customers import search
from retento.customers.filters import list_filters
from retento.dataio.downloads import Batches, download
from retento.dataio.exporter import export_batches
from retento.web.listfilters import refuse
from retento.web.render import PageUser, page_router, tr

router = page_router()


def _producer(filters: dict[str, Any]):
    def produce(session: Session, actor: User) -> Batches:
        given = dict(filters)
        if "mine_for" in given:  # the user object of the request's session, bound anew
            given["mine_for"] = actor
        return export_batches(session, "customers", given)

    return produce


@router.get("/customers/export.xlsx")
def customer_export_xlsx(request: Request, session: DbSession, user: PageUser) -> Response:
    """The filtered list as an Excel workbook in the importer's columns, streamed."""
    require(user, "data:export")
    filters, _, problems = list_filters(request, user, session)
    refuse(problems)
    filters["dialect"] = search.dialect_of(session)
    return download(
        request, user, _producer(filters), fmt="xlsx", filename="customers",
        sheet=tr(request, "Customers"),
    )  # fmt: skip
