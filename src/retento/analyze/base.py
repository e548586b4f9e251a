"""The `retento analyze` command group and its one way of failing.

Each subcommand module (``cli`` for clv and churn, ``basket_cli``, ``segments_cli``,
``sequences_cli``) registers its command on :data:`app`; ``cli`` imports them all, so importing
``retento.analyze.cli`` gives the whole group.
"""

from __future__ import annotations

from typing import NoReturn

import typer

from retento.core.cli_usage import UsageLanguageGroup

app = typer.Typer(
    cls=UsageLanguageGroup,  # usage errors in the command line's language, run on its own too
    help="Analyse transaction files without a database.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def N_(message: str) -> str:
    """Mark a message for the catalogues (``analyze.po``), as ``web.i18n.N_`` does: this
    package does not import the web stack until it has something to translate."""
    return message


def fail(message: str, /, **params: object) -> NoReturn:
    """Print ``Error: message`` to stderr and exit with status 1, in the command line's
    language (``core.cli_language``: ``--lang``, then the environment): ``message`` is an English
    template marked with :func:`N_` (its ``%(name)s`` filled from ``params``) or an error's own
    text, shown as it is when no catalogue has it."""
    from retento.core.cli_language import cli_locale, spaced
    from retento.web.i18n import translate

    locale = cli_locale()
    head = spaced(translate(locale, "Error:"))
    typer.echo(f"{head}{translate(locale, message, **params)}", err=True)
    raise typer.Exit(1)


# The language option of every command that has one: ``--lang``, or ``--locale`` as the
# commands that read the database spell it.
LANGUAGE_OPTION_NAMES = ("--lang", "--locale")


def language(value: str | None) -> str:
    """``en`` or ``zh`` from a language option; ``zh_CN`` / ``zh-CN`` (as the rest of Retento
    writes Chinese) are ``zh`` here. Anything else fails. Not given (None): the command line's
    language, as its errors use it (``core.cli_language.cli_locale``: ``retento --lang``,
    ``RETENTO_LANG``, ``LC_ALL`` / ``LC_MESSAGES`` / ``LANG``, the installation default)."""
    if value is None:
        from retento.core.cli_language import cli_locale

        return "zh" if cli_locale() == "zh_CN" else "en"
    v = value.strip().replace("-", "_")
    if v in ("zh", "zh_CN"):
        return "zh"
    if v != "en":
        fail(N_("--lang must be en or zh, not %(value)s"), value=repr(value))
    return v


@app.callback()
def _main() -> None:
    """Analyse transaction files without a database."""
