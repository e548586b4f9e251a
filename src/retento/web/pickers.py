"""Search-as-you-type pickers for record ids (customer, product, ...): a registry and one route.

The web layer knows no domain: each domain registers a ``PickerSource`` from its own
``pickers.py`` (discovered like ``pages.py``), e.g. ``customers/pickers.py``::

    register_picker(PickerSource("customer", "customer:read", search=..., get=...))

A form shows a picker with the ``picker`` macro of ``pickers.html``. Without JavaScript the field
is a plain input where a person types the record's number (or a name: see ``resolve``); with
JavaScript (``static/js/pickers.js``) a search box asks ``GET /pickers/<kind>?q=`` through htmx as
the person types, the options are chosen with the mouse or the arrow keys and Enter, and the
chosen id goes into the (then hidden) input the form submits.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import can, require
from retento.core.deps import DbSession
from retento.core.errors import FieldError, InvalidInput, NotFound
from retento.core.validation import is_id
from retento.web.i18n import N_
from retento.web.render import PACKAGE_DIR, PageUser, page_router, render, tr

MAX_QUERY = 100
LIMIT = 10


@dataclass(frozen=True)
class PickerItem:
    """One option: the id submitted, the label shown in the box, a detail line under it."""

    id: int
    label: str
    detail: str = ""
    note: str = ""  # a msgid shown after the detail, e.g. "Inactive"


@dataclass(frozen=True)
class PickerSource:
    """What a domain registers: how to search its records and how to label a chosen one.

    ``search(session, q, actor, limit)`` returns the best matches first; ``get(session, id,
    actor)`` the item of one id or ``None``; ``sure_search`` (default ``search``) leaves out
    guesses such as fuzzy matches, since a form without JavaScript takes a single match
    unseen. The messages are msgids (translated when shown)."""

    kind: str
    permission: str
    search: Callable[[Session, str, User, int], list[PickerItem]]
    get: Callable[[Session, int, User], PickerItem | None]
    placeholder: str = N_("Type to search")
    no_match: str = N_("Nothing matches “%(q)s”.")
    many: str = N_("%(n)s records match “%(q)s”: choose one from the list or type its number.")
    sure_search: Callable[[Session, str, User, int], list[PickerItem]] | None = None


_SOURCES: dict[str, PickerSource] = {}
_LOADED = False


def register_picker(source: PickerSource) -> None:
    """Make ``/pickers/<kind>`` and the ``picker`` macro available for ``source.kind``."""
    _SOURCES[source.kind] = source


def load_picker_modules() -> list[str]:
    """Import every ``retento.<domain>.pickers`` module (each registers its sources)."""
    global _LOADED
    names = []
    for child in sorted(PACKAGE_DIR.iterdir()):
        if child.is_dir() and child.name != "web" and (child / "pickers.py").is_file():
            names.append(f"retento.{child.name}.pickers")
            importlib.import_module(names[-1])
    _LOADED = True
    return names


def source_for(kind: str) -> PickerSource:
    """The registered source of ``kind`` (404 for an unknown kind)."""
    if not _LOADED:
        load_picker_modules()
    try:
        return _SOURCES[kind]
    except KeyError:
        raise NotFound("Picker", kind) from None


def label_of(session: Session, kind: str, value: object, actor: User) -> PickerItem | None:
    """The item of a submitted id, to show next to the field again (``None`` if not an id)."""
    text = str(value or "").strip()
    if not is_id(text):
        return None
    source = source_for(kind)
    require(actor, source.permission)
    return source.get(session, int(text), actor)


def resolve(
    request: Request, session: Session, kind: str, field: str, value: object, actor: User
) -> str:
    """The id a form field stands for, as text: blank stays blank; a record's id is kept; any
    other text is searched and taken when exactly one record matches, so the form works
    without JavaScript. Otherwise ``InvalidInput`` naming ``field`` with a message saying what
    to do. Digits that are no record's id (ids are 64-bit, so an 11-digit mobile number is in
    range) are searched too, and kept when no single record matches (the service then says
    the record does not exist)."""
    text = str(value or "").strip()
    if not text:
        return text
    source = source_for(kind)
    if is_id(text):
        if not can(actor, source.permission) or source.get(session, int(text), actor) is not None:
            return text  # the service checks the permission and says whether it exists
        found = (source.sure_search or source.search)(session, text, actor, 2)
        return str(found[0].id) if len(found) == 1 else text
    require(actor, source.permission)
    query = text[:MAX_QUERY]
    find = source.sure_search or source.search
    found = find(session, query, actor, 2)
    if len(found) == 1:
        return str(found[0].id)
    if not found:
        raise _invalid(field, tr(request, source.no_match, q=query))
    many = len(find(session, query, actor, LIMIT + 1))
    n = f"{LIMIT}+" if many > LIMIT else str(many)
    raise _invalid(field, tr(request, source.many, n=n, q=query))


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, field=field, errors=[FieldError(field, message)])


router = page_router()


@router.get("/pickers/{kind}")
def picker_options(request: Request, session: DbSession, user: PageUser, kind: str) -> Response:
    """The options matching ``q`` (an htmx fragment of ``role=option`` items)."""
    source = source_for(kind)
    require(user, source.permission)
    q = request.query_params.get("q", "").strip()[:MAX_QUERY]
    field = request.query_params.get("field", kind)
    field = "".join(ch for ch in field if ch.isalnum() or ch in "_-")[:40] or kind
    items = source.search(session, q, user, LIMIT) if q else []
    return render(
        request,
        "pickers/_options.html",
        items=items,
        q=q,
        field=field,
        no_match=tr(request, source.no_match, q=q) if q and not items else "",
    )
