"""The navigation registry: each capability appends its entries from its ``pages.py``."""

from __future__ import annotations

from dataclasses import dataclass

from retento.auth.models import User
from retento.auth.permissions import can


@dataclass(frozen=True)
class NavItem:
    """One header link; ``label`` is a message id, ``permission`` hides it from other roles."""

    key: str
    label: str
    href: str
    permission: str | None = None
    order: int = 100
    # "main" (a link in the bar), "more" (the More menu after those links: pages most people
    # open less often, so the bar stays one line at 1366 px in every language) or "admin"
    # (the Administration menu)
    section: str = "main"


NAV: list[NavItem] = []


def register_nav(item: NavItem) -> None:
    """Add (or replace, by key) a navigation entry."""
    for i, existing in enumerate(NAV):
        if existing.key == item.key:
            NAV[i] = item
            return
    NAV.append(item)


def nav_for(user: User | None, section: str = "main") -> list[NavItem]:
    """The entries ``user`` may open, in display order."""
    if user is None:
        return []
    items = [
        n for n in NAV if n.section == section and (n.permission is None or can(user, n.permission))
    ]
    return sorted(items, key=lambda n: (n.order, n.key))


def nav_here(path: str, items: list[NavItem]) -> str | None:
    """The one entry to highlight for ``path``: the longest ``href`` that is the path or a parent
    of it, so /complaints/dashboard lights "Dashboard" only, not "Complaints" as well."""
    best: str | None = None
    for n in items:
        if (path == n.href or path.startswith(n.href.rstrip("/") + "/")) and (
            best is None or len(n.href) > len(best)
        ):
            best = n.href
    return best
