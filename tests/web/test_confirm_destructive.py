"""Every form that deletes, removes or revokes asks first (``data-confirm``, read by
retento.js before the form is sent). QA found five that did not: deleting an experience
record, a segment, a loyalty tier, revoking an API token, closing an alert."""

from __future__ import annotations

import re
from pathlib import Path

import retento

TEMPLATES = Path(retento.__file__).parent
DESTRUCTIVE = re.compile(r'action="[^"]*/(delete|revoke)"')


def test_every_delete_and_revoke_form_asks_first():
    missing = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        if "static" in path.parts:
            continue
        for form in re.findall(r"<form\b[^>]*>", path.read_text(encoding="utf-8")):
            if DESTRUCTIVE.search(form) and "data-confirm" not in form:
                missing.append(f"{path.relative_to(TEMPLATES)}: {form}")
    assert missing == []


def test_the_check_sees_forms():
    """A guard that finds nothing proves nothing: it finds the known confirmed forms."""
    found = [
        path.name
        for path in TEMPLATES.rglob("*.html")
        if any(
            DESTRUCTIVE.search(f) and "data-confirm" in f
            for f in re.findall(r"<form\b[^>]*>", path.read_text(encoding="utf-8"))
        )
    ]
    assert {"playbook_form.html", "detail.html", "tier_form.html", "user_detail.html"} <= set(found)
