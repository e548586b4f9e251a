"""The `retento analyze` command group and its one way of failing.

Each subcommand module (``cli`` for clv and churn, ``basket_cli``, ``segments_cli``,
``sequences_cli``) registers its command on :data:`app`; ``cli`` imports them all, so importing
``retento.analyze.cli`` gives the whole group.
"""

from __future__ import annotations

import warnings
from typing import Any, NoReturn

import typer

from retento.core.cli_usage import OutputError, UsageLanguageGroup

# NumPy's floating-point warnings ("overflow encountered in exp" ...) and its empty-slice ones:
# the models' likelihoods take logs and exponents of extreme values on purpose; a person running
# a command gets the result or an error, not these.
NUMPY_WARNINGS = (
    r"(overflow|underflow|divide by zero|invalid value) encountered"
    r"|Mean of empty slice|Degrees of freedom <= 0"
)


class AnalyzeGroup(UsageLanguageGroup):
    """The `retento analyze` group: usage errors in the command line's language (run on its
    own too), and while a command runs NumPy's floating-point warnings silenced, the library's
    own warnings shown as one ``Warning: ...`` line in that language (not Python's
    ``file:line: RuntimeWarning`` and source line), and a file it cannot write
    (``core.cli_usage.OutputError``) an error like its others."""

    def invoke(self, ctx: Any) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", NUMPY_WARNINGS, RuntimeWarning)
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except OutputError as exc:
                fail(exc.template, **exc.params)


def _show_warning(message: Any, category: Any, filename: str, lineno: int, *_: Any) -> None:
    """A warning as one line in the command line's language (``analyze.messages``)."""
    from retento.core.cli_language import cli_locale, spaced

    text, locale = str(message), cli_locale()
    if locale == "en":
        typer.echo(f"Warning: {text}", err=True)
        return
    from retento.analyze.messages import said
    from retento.web.i18n import translate

    head = spaced(translate(locale, "Warning:"))
    typer.echo(f"{head}{said(text, lambda msgid: translate(locale, msgid))}", err=True)


app = typer.Typer(
    cls=AnalyzeGroup,
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
    text (the analytics library's, read by its shape: ``analyze.messages``), shown as it is
    when no catalogue has it."""
    from retento.core.cli_language import cli_locale, spaced
    from retento.web.i18n import translate

    locale = cli_locale()
    head = spaced(translate(locale, "Error:"))
    if params:
        text = translate(locale, message, **params)
    else:
        from retento.analyze.messages import said

        text = said(message, lambda msgid: translate(locale, msgid))
    typer.echo(f"{head}{text}", err=True)
    raise typer.Exit(1)


def check_output(path: Any) -> None:
    """Fail, naming --output, unless ``path`` can be written (``core.cli_usage.check_output``;
    the folders on the way to it that do not exist are created when it is written)."""
    from retento.core.cli_usage import check_output as check

    try:
        check(path, "--output", make_folder=True)
    except OutputError as exc:
        fail(exc.template, **exc.params)


def written(path: Any) -> Any:
    """``core.cli_usage.written`` for --output (creating its folder): a hidden file next to it
    to write, renamed onto it when complete, removed on failure."""
    from retento.core.cli_usage import written as output

    return output(path, "--output", make_folder=True)


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


def echo_clv_tail(
    *, left_out: int, mean_spend: float, holdout: dict | None, total: float, output: Any
) -> None:
    """The lines ``analyze clv`` prints after its fit, for DuckDB and Spark alike: customers the
    spend model left out, the holdout's error, the total CLV and where the scores went."""
    from retento.core.cli_say import say

    if left_out:
        typer.echo(
            say(
                "Spend model left out %(n)s repeat customer(s) whose mean repeat spend is "
                "zero or negative ($0 or refunded repeat purchases); they are scored with "
                "the population mean spend %(mean)s",
                n=f"{left_out:,}",
                mean=f"{mean_spend:,.2f}",
            )
        )
    if holdout is not None:
        typer.echo(
            say(
                "Holdout: MAE %(mae)s per customer; predicted %(predicted)s vs actual "
                "%(actual)s purchases",
                mae=f"{holdout['mae']:.3f}",
                predicted=f"{holdout['total_predicted']:.0f}",
                actual=f"{holdout['total_actual']:.0f}",
            )
        )
    typer.echo(
        say("Total CLV %(total)s; scores written to %(file)s", total=f"{total:,.2f}", file=output)
    )
