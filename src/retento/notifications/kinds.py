"""The kinds of notification, registered by the domains that raise them.

A domain's ``retento/<domain>/notifications.py`` calls ``register_kind`` with the message id of
the text (``%(name)s`` placeholders filled from the notification's params when it is shown), a
label and description for the preferences page, and the default channel per role. Roles are
the built-in ones: a custom role is offered the kinds, and gets the defaults, of the built-in
role it works like (``auth.permissions.base_role``). The modules are discovered (as
``mail/kinds.py`` discovers ``emails.py``), so this package imports no domain.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retento.auth.permissions import base_role
from retento.core.errors import Msg
from retento.web.i18n import N_, Formatter, gettext
from retento.web.labels import register_field_group, register_labels, register_value_labels

PACKAGE_DIR = Path(__file__).resolve().parent.parent

# in_app: listed in the inbox; email: listed and e-mailed at once; digest: listed and summed up
# in one e-mail a day; off: not raised at all.
CHANNELS: tuple[str, ...] = ("in_app", "email", "digest", "off")
CHANNEL_LABELS: dict[str, str] = {
    "in_app": N_("In the app"),
    "email": N_("E-mail at once"),
    "digest": N_("Daily digest"),
    "off": N_("Off"),
}
# The audit log shows a user's notification settings as kind → channel: each field is a kind,
# named by the kind's label (registered with the kind), each value a channel.
register_labels("notification_channel", CHANNEL_LABELS)
register_labels("notification_kind", {})
register_field_group("notification_preferences", "notification_kind")
register_value_labels("notification_preferences", {"*": "notification_channel"})


@dataclass(frozen=True)
class Kind:
    code: str
    label: str  # message id: the name on the preferences page
    description: str  # message id: who gets it and when
    text: str  # message id with %(param)s placeholders: the notification itself
    defaults: dict[str, str] = field(default_factory=dict)  # role -> channel; "*" for the rest
    group: str = ""  # message id of the heading on the preferences page
    roles: tuple[str, ...] = ()  # who can receive it (listed on their settings page); () = all
    # params that are counts: written grouped in the reader's language ("100,000 rows"), never
    # as stored ("100000"); a number that names something (a run's "#12345") is not one.
    counts: tuple[str, ...] = ()

    def offered_to(self, role: str) -> bool:
        return not self.roles or base_role(role) in self.roles

    def default_for(self, role: str) -> str:
        return self.defaults.get(base_role(role), self.defaults.get("*", "in_app"))


KINDS: dict[str, Kind] = {}
_loaded = False


def register_kind(
    code: str,
    *,
    label: str,
    description: str,
    text: str,
    defaults: dict[str, str],
    group: str = "",
    roles: tuple[str, ...] = (),
    counts: tuple[str, ...] = (),
) -> Kind:
    """Make ``code`` a kind of notification users can receive and choose a channel for."""
    if not code or len(code) > 40:
        raise ValueError(
            Msg("A notification kind is 1 to 40 characters: %(code)s", code=repr(code))
        )
    bad = {c for c in defaults.values() if c not in CHANNELS}
    if bad:
        raise ValueError(
            Msg(
                "Unknown channel(s) %(channels)s for notification kind %(code)s",
                channels=sorted(bad),
                code=repr(code),
            )
        )
    kind = Kind(code, label, description, text, dict(defaults), group, tuple(roles), tuple(counts))
    KINDS[code] = kind
    register_labels("notification_kind", {code: label})
    return kind


def kind_modules() -> list[str]:
    """Every ``retento.<package>.notifications`` module that exists (discovered)."""
    return [
        f"retento.{child.name}.notifications"
        for child in sorted(PACKAGE_DIR.iterdir())
        if child.is_dir() and (child / "notifications.py").is_file()
    ]


def load_kind_modules() -> dict[str, Kind]:
    """Import every domain's ``notifications.py`` once (they register kinds and subscribe)."""
    global _loaded
    if not _loaded:
        for name in kind_modules():
            importlib.import_module(name)
        _loaded = True
    return KINDS


def get_kind(code: str) -> Kind | None:
    return load_kind_modules().get(code)


def shown_params(kind: Kind, params: dict[str, Any] | None, locale: str) -> dict[str, Any]:
    """``params`` as ``kind``'s text shows them in ``locale``: its counts grouped as numbers are
    everywhere in that language (``Formatter.number``: "100,000")."""
    out = dict(params or {})
    if kind.counts:
        number = Formatter(locale).number
        for name in kind.counts:
            value = out.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[name] = number(value)
    return out


def render_text(kind_code: str, params: dict[str, Any] | None, locale: str, fallback: str) -> str:
    """The notification in ``locale``; the stored English text if the kind is gone."""
    kind = get_kind(kind_code)
    if kind is None:
        return fallback
    try:
        return gettext(locale, kind.text) % shown_params(kind, params, locale)
    except (KeyError, TypeError, ValueError):
        return fallback
