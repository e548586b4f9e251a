"""Texts the system stored once (in the installation's language) shown in the reader's.

A touchpoint's note written on a tier change, a ledger reason written for a win-back offer, the
names of the SLA policies a fresh installation starts with: the system writes these into a
record with :func:`retento.web.i18n.system_text`, in the installation's language, so a reader in
another language would see them untranslated. A domain registers each such message id here
for the field it writes it into (a typed note "Major" in a touchpoint is not the SLA policy
"Major"), with a context when the bare word means something else elsewhere, and how to show a
parameter in another language; pages call :func:`localize_system_text` for that field, which
recognises the stored text in any supported language (rows written in English before the installation switched to Chinese,
or the other way round) and rebuilds it from the translated message id with the same values.
Anything else (a note someone typed, a renamed policy) is shown exactly as stored, so nothing is
migrated and the API and exports keep the stored text.

The lower layer imports no domain: domains register when their package is imported::

    register_system_text(N_("Loyalty tier raised to %(tier)s"), field="touchpoint.note",
                         params={"tier": tier_name})
    register_system_text(pgettext("sla policy", "Major"), field="sla_policy.name",
                         context="sla policy")
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from retento.web.i18n import LOCALES, normalise_locale, translations

# ``(value, reader's locale, session or None) -> value shown``: a parameter stored in one
# language (a tier's name) in the reader's; ``session`` is given where the page has one.
ParamLocalizer = Callable[[str, str, Any], str]

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class SystemText:
    """One message the system stores, with its context and its parameters' localizers."""

    field: str
    msgid: str
    context: str | None = None
    params: Mapping[str, ParamLocalizer] = field(default_factory=dict)

    def render(self, locale: str, values: dict[str, str], session: Any = None) -> str:
        """The message in ``locale`` with ``values`` (each localized when it has a localizer)."""
        cat = translations(locale)
        text = cat.pgettext(self.context, self.msgid) if self.context else cat.gettext(self.msgid)
        shown = {
            k: (self.params[k](v, locale, session) if k in self.params else v)
            for k, v in values.items()
        }
        return text % shown if shown else text


def pgettext_noop(context: str, message: str) -> str:
    """``N_`` with a context: marks ``message`` for extraction under ``context`` (imported as
    ``pgettext``, the name the extractor knows) and returns it untranslated."""
    return message


_TEXTS: list[SystemText] = []
_INDEX: dict[str, Any] = {}  # field -> {"exact": {...}, "shapes": [...]}, built on first use


def register_system_text(
    msgid: str,
    *,
    field: str,
    context: str | None = None,
    params: Mapping[str, ParamLocalizer] | None = None,
) -> None:
    """Recognise ``msgid`` (in any supported language) in the stored ``field`` ("table.column",
    e.g. ``touchpoint.note``) and show it translated."""
    key = (field, msgid, context)
    _TEXTS[:] = [t for t in _TEXTS if (t.field, t.msgid, t.context) != key]
    _TEXTS.append(SystemText(field, msgid, context, dict(params or {})))
    _INDEX.clear()


def _shape(message: str) -> re.Pattern[str] | None:
    """A pattern of ``message`` with each ``%(name)s`` a named group (``None``: no parameter)."""
    parts = _PLACEHOLDER.split(message)
    if len(parts) == 1:
        return None
    out = []
    for i, part in enumerate(parts):
        out.append(re.escape(part.replace("%%", "%")) if i % 2 == 0 else f"(?P<{part}>.+?)")
    return re.compile("".join(out) + r"\Z", re.S)


def _index(field: str) -> dict[str, Any]:
    """Exact texts (no parameters) and patterns of ``field``'s messages, built once per
    registration, for every supported language's wording; longer literals first, so
    "Loyalty tier raised to %(tier)s" is tried before a shorter shape that also matches."""
    found = _INDEX.get(field)
    if found is not None:
        return found
    exact: dict[str, SystemText] = {}
    shapes: list[tuple[int, re.Pattern[str], SystemText]] = []
    for t in _TEXTS:
        if t.field != field:
            continue
        wordings = {t.msgid}
        for loc in LOCALES:
            cat = translations(loc)
            wordings.add(cat.pgettext(t.context, t.msgid) if t.context else cat.gettext(t.msgid))
        for wording in wordings:
            pattern = _shape(wording)
            if pattern is None:
                exact.setdefault(wording, t)
            else:
                shapes.append((len(_PLACEHOLDER.sub("", wording)), pattern, t))
    shapes.sort(key=lambda s: -s[0])
    built = {"exact": exact, "shapes": [(p, t) for _, p, t in shapes]}
    _INDEX[field] = built  # one assignment: a reader sees the whole index or none
    return built


def localize_system_text(locale: str, text: str | None, session: Any = None, *, field: str) -> str:
    """The stored ``field`` value ``text`` in ``locale`` when the system wrote it (a message
    registered for the field, in any supported language), else as stored; ``None`` is ``""``."""
    if not text:
        return ""
    locale = normalise_locale(locale)
    index = _index(field)
    hit = index["exact"].get(text)
    if hit is not None:
        return hit.render(locale, {})
    for pattern, t in index["shapes"]:
        m = pattern.match(text)
        if m:
            return t.render(locale, m.groupdict(), session)
    return text
