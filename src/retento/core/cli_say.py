"""What a command prints for a person, in the command line's language (``cli_language``):
the same choice as its errors and help pages, the same catalogues as the web.

``say(msgid, **params)`` is the line in English with its ``%(name)s`` filled in, or its Chinese
from the catalogues (``locale/zh_CN/LC_MESSAGES/cli_output.po`` and the others, merged as
``web.i18n.translations`` merges them). The msgid is the English text itself, so English output
is the msgid filled in, byte for byte; Babel and the catalogues are imported only once a line
is said in Chinese (the fast path of ``retento analyze`` imports this module only to print).

Machine output (CSV or JSON on stdout, ids and codes a script reads) does not go through here;
``tests/test_cli_output_language.py`` lists it and fails on a new English literal printed
without this.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retento.core.cli_language import cli_locale


def say(message: str, /, **params: object) -> str:
    """``message`` (an English msgid) in the command line's language with its ``%(name)s``
    parameters filled in. Values are put in as they are: escape user text that goes to a Rich
    console with markup (``rich.markup.escape``) before passing it."""
    locale = cli_locale()
    if locale == "en":
        return message % params if params else message
    from retento.web.i18n import translate

    return translate(locale, message, **params)


def say_in(context: str, message: str, /, **params: object) -> str:
    """:func:`say` for a short word that is also a code elsewhere (a table's column ``status``,
    ``naive``): looked up under ``context`` (a ``msgctxt``: ``column`` for a table's headers,
    ``cli`` for other words), so translating it here does not translate the code where the
    catalogues are asked for it (a choice listed in an error, a stored value's label)."""
    locale = cli_locale()
    if locale != "en":
        from retento.web.i18n import normalise_locale, translations

        message = translations(normalise_locale(locale)).pgettext(context, message)
    return message % params if params else message


def say_shaped(text: str, shapes: Any) -> str:
    """``text``, an English sentence a domain or the analytics library wrote with values inside
    (a ledger check's finding, an importer's row reason), in the command line's language when
    its shape is known; as it is in English or when its shape is unknown. ``shapes`` is a
    ``web.i18n.message_shapes`` tuple, or a reader ``reader(text, gettext)`` that does the same
    (``dataio.messages.translate``, ``analyze.messages.said``)."""
    locale = cli_locale()
    if locale == "en":
        return text
    from retento.web.i18n import gettext, translate_shaped

    def in_locale(msgid: str) -> str:
        return gettext(locale, msgid)

    if callable(shapes):
        return shapes(text, in_locale)
    return translate_shaped(shapes, text, in_locale)


def in_words(code: str, labels: Mapping[str, str]) -> str:
    """A code a command shows as it is in English (a progress bar's stage: ``reading``) in the
    command line's language: in Chinese its label in ``labels`` (a msgid) translated, the code
    itself when ``labels`` has none."""
    locale = cli_locale()
    if locale == "en" or code not in labels:
        return code
    from retento.web.i18n import translate

    return translate(locale, labels[code])


def say_message(message: str) -> str:
    """A service's message (a ``core.errors.Msg`` with its values, or a fixed English msgid)
    in the command line's language, as its errors are shown (``web.i18n.message_text``): an
    import's row reason, say. English as it is."""
    locale = cli_locale()
    if locale == "en":
        return str(message)
    from retento.web.i18n import message_text

    return message_text(locale, message)


def say_label(group: str, code: str, register: str | None = None) -> str:
    """A stored code (a CSI latent, a quadrant) as a command shows it: the code itself in
    English, its label in Chinese (``web.labels``, group ``group``, registered by importing
    the module ``register``, a page module, only then)."""
    locale = cli_locale()
    if locale == "en":
        return code
    import importlib

    from retento.web.i18n import translate
    from retento.web.labels import label_msgid

    if register:
        importlib.import_module(register)
    return translate(locale, label_msgid(group, code))
