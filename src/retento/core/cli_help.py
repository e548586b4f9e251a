"""Help pages (``--help``, or a group run without its command) in the command line's language.

Typer 0.29 prints a help page from the command objects' English texts (the command's ``help``,
its parameters' ``help``, the first paragraph of each subcommand's) and its own fixed words (the
"Arguments", "Options" and "Commands" panels, "[default: ...]", "[required]" of
``typer.rich_utils``; click's "Usage:"), all read while the page is printed. So the texts stay
English in the code, and when a page is printed in Chinese :func:`localized_help` puts the
Chinese of each (``locale/zh_CN/LC_MESSAGES/cli_help.po``, merged into the catalogues as every
domain's is) in their place for that page only and puts the English back afterwards. In English
nothing is touched: the page is Typer's own, byte for byte.

Which language: a usage error's (``core.cli_usage.usage_locale``, asked by
``cli_usage.HelpLanguageContext``): the first ``--lang`` / ``--locale`` typed on the command
line, else ``core.cli_language.cli_locale``. ``--help`` is eager: the page is printed while the
arguments are parsed, before any ``--lang`` is acted on.

Message ids: a help text as the page shows it (:func:`msgid`: cleaned of the docstring's
indentation, each paragraph's line breaks and runs of spaces made one space), so re-wrapping a
docstring keeps its translation. :func:`help_texts` lists every text of a command tree:
``tests/test_cli_help_language.py`` fails when one has no Chinese, and
``python -m retento.cli_help_catalog`` prints the missing ones as .po entries.

Imported (with the catalogues, Babel) only when a help page is printed in Chinese.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from typer._click.core import Command, Context
from typer._click.formatting import HelpFormatter


def N_(message: str) -> str:
    """Mark a message for the catalogues (``cli_help.po``), as ``web.i18n.N_`` does."""
    return message


# Typer's words around the texts with Rich: ``typer.rich_utils``' module attributes, read while
# a page is printed (the test checks they are still these).
RICH_WORDS = {
    "ARGUMENTS_PANEL_TITLE": N_("Arguments"),
    "OPTIONS_PANEL_TITLE": N_("Options"),
    "COMMANDS_PANEL_TITLE": N_("Commands"),
    "DEFAULT_STRING": N_("[default: {}]"),
    "ENVVAR_STRING": N_("[env var: {}]"),
    "REQUIRED_LONG_STRING": N_("[required]"),
    "DEPRECATED_STRING": N_("(deprecated) "),
}
# ... and without Rich (``TYPER_USE_RICH=0``): ``typer.core``'s gettext calls, and "Usage:"
# (``cli_words.USAGE``) for both.
PLAIN_WORDS = (
    N_("Arguments"),
    N_("Options"),
    N_("Commands"),
    N_("default: {default}"),
    N_("required"),
    N_("env var: {var}"),
    N_("(dynamic)"),
)

_PARAGRAPHS = re.compile(r"\n[ \t]*\n")


def msgid(text: str) -> str:
    """The catalogue's message id of a help text: its paragraphs (up to a ``\\f``, as Typer
    cuts a command's help) with their line breaks and runs of spaces made one space, one blank
    line between them. A click ``\\b`` (no re-wrap) paragraph is kept as it is."""
    text = inspect.cleandoc(text).partition("\f")[0]
    paragraphs = (p.strip("\n") for p in _PARAGRAPHS.split(text))
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs if p)


def _shown(command: Command, ctx: Context) -> Iterator[tuple[Any, str]]:
    """(object, attribute) of every text on ``command``'s help page: its own, its visible
    parameters' (the help option too) and, for a group, its visible subcommands'."""
    for attr in ("help", "short_help", "epilog"):
        yield command, attr
    for param in command.get_params(ctx):
        if not getattr(param, "hidden", False):
            yield param, "help"
            yield param, "rich_help_panel"
    for name in getattr(command, "commands", {}):
        sub = command.get_command(ctx, name)  # type: ignore[attr-defined]
        if sub is not None and not sub.hidden:
            for attr in ("help", "short_help", "rich_help_panel"):
                yield sub, attr


def help_texts(command: Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """(where, message id) of every text the help pages of ``command`` and of the commands
    under it show; ``where`` is the command's path, and the parameter's name for its help."""
    ctx = Context(command, info_name=path[-1] if path else None)
    for obj, attr in _shown(command, ctx):
        text = getattr(obj, attr, None)
        if not text or (isinstance(obj, Command) and obj is not command):
            continue  # a subcommand's text: listed with its own page's
        where = path if obj is command else (*path, obj.opts[0] if obj.opts else obj.name)
        yield " ".join(where) or "(top)", msgid(text)
    for name, sub in getattr(command, "commands", {}).items():
        yield from help_texts(sub, (*path, name))


def words() -> tuple[str, ...]:
    """Every fixed word Typer prints on a help page, as message ids."""
    from retento.core.cli_words import USAGE

    return (USAGE, *RICH_WORDS.values(), *PLAIN_WORDS)


def localized_help(ctx: Context, locale: str, render: Callable[[], str]) -> str:
    """``render()`` (``Context.get_help``: print or write the page of ``ctx``) in ``locale``,
    with the Chinese of every text and word in place for this page only."""
    swaps = _Swaps()
    try:
        _translate(ctx, locale, swaps)
        return render()
    finally:
        swaps.undo()


class _Swaps:
    """Attributes set for one page, put back as they were afterwards."""

    def __init__(self) -> None:
        self._undo: list[tuple[Any, str, bool, Any]] = []

    def set(self, obj: Any, name: str, value: Any) -> None:
        if getattr(obj, name, None) is value:
            return
        own = vars(obj)
        self._undo.append((obj, name, name in own, own.get(name)))
        setattr(obj, name, value)

    def undo(self) -> None:
        while self._undo:
            obj, name, had, old = self._undo.pop()
            if had:
                setattr(obj, name, old)
            else:
                delattr(obj, name)


def _first_sentence(text: str) -> str:
    """A Chinese help text's first sentence, as click's plain layout lists a subcommand (its
    ``make_default_short_help`` counts space-separated words, which Chinese has few of)."""
    first = text.split("\n\n", 1)[0]
    end = first.find("。")
    return first if end == -1 else first[: end + 1]


def _translate(ctx: Context, locale: str, swaps: _Swaps) -> None:
    import typer.core

    from retento.core.cli_language import spaced
    from retento.core.cli_words import USAGE
    from retento.web.i18n import gettext

    def said(text: str) -> str:
        key = msgid(text)
        chinese = gettext(locale, key) if key else key
        return text if chinese == key else chinese

    command = ctx.command
    rich = typer.core.HAS_RICH and getattr(command, "rich_markup_mode", None) is not None
    for obj, attr in _shown(command, ctx):
        text = getattr(obj, attr, None)
        if isinstance(text, str) and text:
            swaps.set(obj, attr, said(text))
    if not rich:
        for name in getattr(command, "commands", {}):
            sub = command.get_command(ctx, name)  # type: ignore[attr-defined]
            if sub is not None and sub.short_help is None and sub.help:
                swaps.set(sub, "short_help", _first_sentence(sub.help))

    def word(message: str) -> str:
        return gettext(locale, message)

    if rich:
        from typer import rich_utils

        for name, message in RICH_WORDS.items():
            swaps.set(rich_utils, name, word(message))
        swaps.set(rich_utils, "_make_rich_text", _breaking(rich_utils._make_rich_text))
        swaps.set(rich_utils, "highlighter", _highlighter(rich_utils, word(USAGE)))
    swaps.set(typer.core, "_", word)
    swaps.set(ctx, "formatter_class", _formatter(spaced(word(USAGE))))


def _highlighter(rich_utils: Any, usage: str) -> Any:
    """Typer's highlighter, which colours "Usage: ", colouring ``usage`` as well."""
    base = type(rich_utils.highlighter)

    class Highlighter(base):  # type: ignore[valid-type, misc]
        highlights = [*base.highlights, rf"(?P<usage>{re.escape(usage)})"]

    return Highlighter()


# Chinese breaks a line between any two characters (not before a closing mark nor after an
# opening one); Rich only at spaces, so a Chinese sentence is one long word to it: a panel
# would make its column that wide and cut the option names short with "…".
_CJK = "\u2e80-\u2fff\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
_OPENING = "（《「『“‘【〔"
_CLOSING = "，。、；：！？）》」』”’】〕…"


@cache
def _unit() -> re.Pattern[str]:
    """What a line may not be broken inside: a Chinese character, or a run of others, with the
    marks that keep to it and the spaces after it (compiled when first needed: ~6 ms)."""
    return re.compile(rf"[{_OPENING}]*(?:[{_CJK}]|[^\s{_CJK}]+)[{_CLOSING}]*\s*")


def _breaking(make: Callable[..., Any]) -> Callable[..., Any]:
    """``rich_utils._make_rich_text`` whose text breaks lines the Chinese way."""

    def made(**kwargs: Any) -> Any:
        from rich.text import Text

        text = make(**kwargs)
        return _ChineseText(text) if isinstance(text, Text) else text

    return made


class _ChineseText:
    """A Rich ``Text`` broken into lines at spaces and between Chinese characters."""

    def __init__(self, text: Any) -> None:
        self.text = text

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        from rich.cells import cell_len
        from rich.measure import Measurement

        widest = Measurement.get(console, options, self.text).maximum
        units = _unit().findall(self.text.plain)
        narrowest = max((cell_len(u.rstrip()) for u in units), default=widest)
        return Measurement(min(narrowest, widest), widest)

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        width = options.max_width
        for line in self.text.split("\n", allow_blank=True):
            for part in line.divide(_breaks(line.plain, width)):
                part.rstrip()  # the space a line was broken at
                yield part


def _breaks(plain: str, width: int) -> list[int]:
    """Where to break ``plain`` into lines of at most ``width`` cells (``rich._wrap.divide_line``
    with Chinese units for words; a unit wider than a line is left to Rich to fold)."""
    from rich.cells import cell_len

    breaks: list[int] = []
    used = 0
    for unit in _unit().finditer(plain):
        size = cell_len(unit.group().rstrip())
        if used and used + size > width:
            breaks.append(unit.start())
            used = 0
        used += cell_len(unit.group())
    return breaks


def _formatter(usage: str) -> type[HelpFormatter]:
    """click's formatter with ``usage`` before the usage line and a full-width colon after a
    heading (the plain layout's "Options:")."""

    class Formatter(HelpFormatter):
        def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
            super().write_usage(prog, args, usage if prefix is None else prefix)

        def write_heading(self, heading: str) -> None:
            self.write(f"{'':>{self.current_indent}}{heading}：\n")

    return Formatter
