"""The customer list's filters, read from the query string: shared by the list, its count and
its CSV and XLSX exports (``pages``, ``export_pages``)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.core.errors import FieldError, RetentoError
from retento.core.validation import is_id
from retento.customers.models import KINDS
from retento.web.i18n import N_
from retento.web.render import tr

SORT_OPTIONS = (
    ("relevance", N_("Best match")),
    ("name", N_("Name A–Z")),
    ("-name", N_("Name Z–A")),
    ("-id", N_("Newest first")),
    ("id", N_("Oldest first")),
    ("external_id", N_("External id")),
    ("kind", N_("Kind")),
)
SORTS = {code for code, _ in SORT_OPTIONS}


def list_filters(
    request: Request, user: User, session: Session | None = None
) -> tuple[dict[str, Any], dict[str, str], list[FieldError]]:
    """Service filters and the raw values to echo back in the form, from the query string.
    ``session`` reads the custom field definitions for the ``field`` filter (without one, the
    filter is not applied)."""
    qp = request.query_params
    raw = {
        k: qp.get(k, "").strip()
        for k in (
            "q", "kind", "scope", "tag", "owner", "mine", "sort", "archived", "segment", "field",
        )
    }  # fmt: skip
    problems: list[FieldError] = []
    filters: dict[str, Any] = {}
    if raw["q"]:
        filters["q"] = raw["q"][:200]
    # A value that is not one of the form's choices (a hand-edited or stale link) is named,
    # not dropped: a dropped filter would list every customer under the filter's heading.
    for key, allowed in (("kind", KINDS), ("scope", ("external", "internal"))):
        if raw[key] in allowed:
            filters[key] = raw[key]
        elif raw[key]:
            problems.append(FieldError(key, tr(request, "Choose one of the listed values.")))
    if raw["tag"]:
        filters["tag"] = raw["tag"][:50]
    if raw["owner"]:
        if is_id(raw["owner"]):
            filters["owner_id"] = int(raw["owner"])
        else:
            problems.append(FieldError("owner", tr(request, "Choose one of the listed values.")))
    if raw["mine"] == "1":
        filters["mine_for"] = user
    if raw["segment"]:
        # A saved Insights segment, "<segment id>:<cluster>".
        from retento.insights import segments_service

        try:
            chosen = segments_service.parse_filter(raw["segment"])
        except RetentoError as exc:
            problems.append(FieldError("segment", exc.message))
        else:
            if chosen is not None:
                filters["member_of"] = segments_service.members_select(chosen)
    if raw["field"] and session is not None:
        # A choice or yes/no custom field, "<key>:<value>" (customers.field_values).
        from retento.customers.field_values import parse_filter

        try:
            filters["custom_field"] = parse_filter(session, raw["field"][:200])
        except RetentoError as exc:
            problems.append(FieldError("field", tr(request, exc.message)))
    if raw["sort"] and raw["sort"] not in SORTS:
        problems.append(FieldError("sort", tr(request, "Choose one of the listed orders.")))
    # Unchosen, the order is the best match (by name while nothing is searched): the form sends
    # its select back with every search, so a "name" shown here on the plain list would then
    # sort a search by name and bury the exact match ("Mia Smith" below "Chloe Smith").
    if raw["sort"] not in SORTS:
        raw["sort"] = "relevance"
    # Archived customers are hidden unless asked for: "1" only them, "all" everyone.
    if raw["archived"] not in ("", "0", "1", "all"):
        problems.append(FieldError("archived", tr(request, "Choose one of the listed values.")))
    filters["archived"] = {"1": True, "all": None}.get(raw["archived"], False)
    if raw["archived"] not in ("1", "all"):
        raw["archived"] = ""
    return filters, raw, problems
