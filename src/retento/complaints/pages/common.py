"""Helpers shared by the complaint screens: option lists in the page's language, the queue's
SLA colour, form value parsing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.auth.service import assignable_user_choices
from retento.complaints.models import (
    Complaint,
    ComplaintCategory,
)
from retento.complaints.settings import category_tree
from retento.complaints.sla_clocks import sla_badge
from retento.core.errors import RetentoError
from retento.web.i18n import Formatter
from retento.web.labels import LABELS, label_msgid
from retento.web.render import (
    tr,
)

# --- shared helpers ----------------------------------------------------------------------------


def opts(request: Request, group: str, codes: Any) -> list[tuple[str, str]]:
    """``(code, translated label)`` pairs for a select or checkbox list."""
    return [(str(c), tr(request, label_msgid(group, str(c)))) for c in codes]


def root_cause_options(request: Request, recorded: Any = ()) -> list[tuple[str, str]]:
    """``(stored value, name in the page's language)`` of the common root causes and of
    ``recorded`` ones, for a form's suggestions: picking one stores the value the Pareto and the
    improvements group by, whatever language the reader types in."""
    codes = dict.fromkeys(c for c in LABELS.get("root_cause", {}) if c != "unclassified")
    codes.update(dict.fromkeys(c for c in recorded if c and c != "unclassified"))
    return sorted(opts(request, "root_cause", codes), key=lambda o: o[1].lower())


def cat_name(request: Request, c: ComplaintCategory) -> str:
    """A category's name in the page's language."""
    return c.name_zh if is_zh(request) and c.name_zh else c.name


def tree_label(request: Request, path: list[ComplaintCategory]) -> str:
    """``Parent › Child`` in the page's language."""
    return " › ".join(cat_name(request, c) for c in path)


def category_options(
    request: Request, session: Session, user: User, keep: int | None = None
) -> list[tuple[str, str]]:
    """Categories offered on intake as ``(id, Parent › Child)``, in tree order.

    ``keep``: a complaint's current category, listed even when deactivated since (an edit must
    not silently move the complaint elsewhere).
    """
    require(user, "complaint:read")
    # Offered = what ``category_tree(active_only=True)`` keeps: every category on the path from
    # the root is active (one query instead of reading the categories twice).
    return [
        (str(c.id), tree_label(request, path))
        for c, _, path in category_tree(session)
        if c.id == keep or all(p.is_active for p in path)
    ]


def public_category_options(request: Request, session: Session) -> list[tuple[str, str]]:
    """Offered categories by code, for the public form (no login)."""
    return [
        (c.code, tree_label(request, path))
        for c, _, path in category_tree(session, active_only=True)
    ]


def is_zh(request: Request) -> bool:
    """True when the page is shown in Chinese."""
    from retento.web.render import request_locale

    return request_locale(request) == "zh_CN"


def user_options(session: Session) -> list[tuple[str, str]]:
    """People complaints can be assigned to."""
    return assignable_user_choices(session)


def sla_flag(c: Complaint, now: datetime | None = None) -> str:
    """The SLA badge of a complaint (``sla_clocks.sla_badge``): which target was missed, or
    ``ok``, ``near_breach``, ``paused``, ``done`` …"""
    return sla_badge(c, now)


def when(request: Request, value: datetime) -> str:
    """A timestamp in the page's language and the installation's time zone."""
    from retento.web.render import request_locale

    settings = request.app.state.settings
    return Formatter(request_locale(request), settings.timezone, settings.currency).datetime(
        value, "short"
    )


def int_or_none(value: str) -> int | None:
    """A whole number from a form value, ``None`` if blank or not a number."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def map_errors(errors: dict[str, str], mapping: dict[str, str]) -> dict[str, str]:
    """Rename schema field names to the form's input names."""
    return {mapping.get(k, k): v for k, v in errors.items()}


def reraise_access(exc: Exception) -> None:
    """Permission and not-found errors become error pages, not form messages."""
    if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
        raise exc
