"""Read a rendered edit form as a browser would post it, and the stale-edit page's table, for
the two-tab tests of the three-way conflict page (web.conflict)."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class _Form(HTMLParser):
    """The inputs a browser would post from the form whose action is ``action`` (and whose id
    is ``form_id``, when given: a page may have two forms posting to one address)."""

    def __init__(self, action: str, form_id: str | None = None):
        super().__init__()
        self.action, self.form_id, self.inside, self.values = action, form_id, False, []
        self._textarea: str | None = None
        self._select: str | None = None
        self._first_option: str | None = None
        self._chosen = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = (
                a.get("action") == self.action
                and a.get("method") == "post"
                and (self.form_id is None or a.get("id") == self.form_id)
            )
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.values.append([a["name"], a.get("value") or ""])
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self.values.append([a["name"], ""])
        elif tag == "select":
            self._select, self._first_option, self._chosen = a.get("name"), None, False
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value") or ""
            if "selected" in a:
                self.values.append([self._select, a.get("value") or ""])
                self._chosen = True

    def handle_data(self, data):
        if self._textarea is not None:
            self.values[-1][1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            self.values[-1][1] = self.values[-1][1].removeprefix("\n")
            self._textarea = None
        elif tag == "select" and self._select is not None:
            if not self._chosen and self._first_option is not None:
                # Nothing marked selected: a browser sends the first option.
                self.values.append([self._select, self._first_option])
            self._select = None


def form_items(html: str, action: str, form_id: str | None = None) -> list[tuple[str, str]]:
    """Every (name, value) the form posting to ``action`` sends, in order, without its CSRF
    token (a name several inputs share, like ticked boxes, comes once per input)."""
    parser = _Form(action, form_id)
    parser.feed(html)
    assert parser.values, f"no form posting to {action}"
    return [(k, v) for k, v in parser.values if k != "csrf_token"]


def form_of(html: str, action: str, form_id: str | None = None) -> dict[str, str]:
    """The form posting to ``action`` as name → value (the last input of a shared name)."""
    return dict(form_items(html, action, form_id))


def rows_of(html: str) -> dict[str, tuple[str, str]]:
    """The conflict table: field → (your value, value now)."""
    found = re.findall(
        r'<tr data-field="([^"]+)">.*?<td class="yours">(.*?)</td>\s*<td class="current">(.*?)</td>',
        html,
        re.S,
    )
    return {f: (y.strip(), c.strip()) for f, y, c in found}


def form_post(html: str, action: str, form_id: str | None = None) -> dict[str, str | list[str]]:
    """The form posting to ``action`` as the data of a post: a name several inputs share
    (ticked boxes) → the list of their values."""
    out: dict[str, str | list[str]] = {}
    for k, v in form_items(html, action, form_id):
        if k not in out:
            out[k] = v
        else:
            prev = out[k]
            out[k] = [*prev, v] if isinstance(prev, list) else [prev, v]
    return out
