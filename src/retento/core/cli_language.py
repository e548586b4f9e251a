"""The language the command line speaks: one choice, used by every command's errors and,
when a command's own ``--lang`` is not given, by what it prints in words (``output_locale``).

In order: the global option (``retento --lang zh_CN customers ...``), else the command's own
``--lang``/``--locale`` when it has one and it was given (and is not a value the command stores,
as ``user create``'s is: ``LANGUAGE_IS_DATA``), else the environment
(``RETENTO_LANG``, then the POSIX ``LC_ALL``, ``LC_MESSAGES``, ``LANG``: ``zh*`` is Chinese,
``en*`` English; ``C``, ``POSIX`` and languages Retento does not speak decide nothing), else the
installation's ``RETENTO_DEFAULT_LOCALE``.

Usage errors (an unknown option, a missing argument, ...) may be raised while Typer parses the
arguments, before either ``--lang`` has been acted on: ``core.cli_usage`` reads the first one as
typed (``retento --lang zh_CN customers list --bogus`` is in Chinese), else asks
:func:`cli_locale`.

Light on purpose (``os`` and typer, which every command has loaded): ``retento analyze`` is dispatched
before the web stack and SQLAlchemy are imported (``retento.entry``) and reads this only when
it fails.
"""

from __future__ import annotations

import os
import sys

# Typer ships its own copy of click: the context of a running command is typer's.
from typer.main import get_current_context

# The one spelling of a language option on the command line (``analyze.base`` and the
# database commands spell theirs the same way).
LANGUAGE_OPTIONS = ("--lang", "--locale")
ENV_VARIABLES = ("RETENTO_LANG", "LC_ALL", "LC_MESSAGES", "LANG")

_global: str | None = None


def supported(value: str | None) -> str | None:
    """``en`` or ``zh_CN`` for a language tag (``zh``, ``zh-CN``, ``zh_CN.UTF-8``, ``en_US``);
    None for anything else (``C``, ``POSIX``, ``fr_FR``, empty)."""
    tag = (value or "").strip().split(".")[0].split("@")[0].replace("-", "_").lower()
    if tag.startswith("zh"):
        return "zh_CN"
    if tag == "en" or tag.startswith("en_"):
        return "en"
    return None


def set_global_language(value: str | None) -> None:
    """Record the top-level ``--lang`` (None when it was not given) for this invocation."""
    global _global
    _global = supported(value) if value else None


# Commands whose ``--lang`` is a value they store, not the language to answer in: ``retento
# user create --lang zh_CN`` gives the new user Chinese, and the administrator who runs it still
# reads the reply (and any error) in their own language.
LANGUAGE_IS_DATA = frozenset({("user", "create")})


def language_is_data(path: tuple[str, ...]) -> bool:
    """Whether the command at ``path`` (its words after ``retento``) stores its ``--lang``."""
    return tuple(path) in LANGUAGE_IS_DATA


def _command_option() -> str | None:
    """The running command's own language option, if it was given (not its default), unless
    the command stores it as data (:func:`language_is_data`)."""
    ctx = get_current_context(silent=True)
    if ctx is None:
        return None
    if language_is_data(tuple(ctx.command_path.split()[1:])):
        return None
    for param in ctx.command.params:
        if not set(param.opts) & set(LANGUAGE_OPTIONS) or param.name is None:
            continue
        source = ctx.get_parameter_source(param.name)  # None or DEFAULT: not given
        if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT"):
            value = ctx.params.get(param.name)
            return value if isinstance(value, str) else None
    return None


def _environment() -> str | None:
    """``RETENTO_LANG``, else the first of the POSIX variables that is set (as ``setlocale``
    reads them: ``LC_ALL`` wins over ``LC_MESSAGES``, which wins over ``LANG``)."""
    if supported(os.environ.get("RETENTO_LANG")):
        return os.environ["RETENTO_LANG"]
    for name in ENV_VARIABLES[1:]:
        if os.environ.get(name):
            return os.environ[name]
    return None


def _installation() -> str:
    if "retento.core.config" not in sys.modules and not any(
        name.upper() == "RETENTO_DEFAULT_LOCALE" for name in os.environ
    ):
        # The settings are read from the environment alone (case-insensitively): without the
        # variable it is the default, English, known without importing pydantic-settings
        # (~60 ms of a help page of the `retento analyze` fast path).
        return "en"
    try:
        from retento.core.config import get_settings

        return supported(get_settings().default_locale) or "en"
    except Exception:  # a broken setting must not hide the error being reported
        return "en"


def cli_locale() -> str:
    """``en`` or ``zh_CN``: the language the command line writes its errors in (see above)."""
    for value in (_global, _command_option(), _environment()):
        locale = supported(value)
        if locale:
            return locale
    return _installation()


def output_locale(value: str | None, option: str = "--lang") -> str:
    """``en`` or ``zh_CN`` for a command's own output (labels, reasons, names): its
    ``--lang`` when given, else the same choice as its errors (:func:`cli_locale`). A language
    Retento does not speak is refused, naming the option."""
    if value is None:
        return cli_locale()
    locale = supported(value)
    if locale is None:
        import typer

        raise typer.BadParameter(f"must be en or zh_CN, not {value!r}", param_hint=option)
    return locale


def spaced(label: str) -> str:
    """A translated head ("Error:", "错误：") with what follows it: the space English puts after
    its colon, none after Chinese's full-width one (``cli_support.error_head``, ``analyze``)."""
    return label if label.endswith("：") else label + " "
