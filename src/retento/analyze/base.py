"""The `retento analyze` command group and its one way of failing.

Each subcommand module (``cli`` for clv and churn, ``basket_cli``, ``segments_cli``,
``sequences_cli``) registers its command on :data:`app`; ``cli`` imports them all, so importing
``retento.analyze.cli`` gives the whole group.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Analyse transaction files without a database.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def fail(message: str) -> None:
    """Print ``Error: message`` to stderr and exit with status 1."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)


# The language option of every command that has one: ``--lang``, or ``--locale`` as the
# commands that read the database spell it.
LANGUAGE_OPTION_NAMES = ("--lang", "--locale")


def language(value: str) -> str:
    """``en`` or ``zh`` from a language option; ``zh_CN`` / ``zh-CN`` (as the rest of Retento
    writes Chinese) are ``zh`` here. Anything else fails."""
    v = value.strip().replace("-", "_")
    if v in ("zh", "zh_CN"):
        return "zh"
    if v != "en":
        fail(f"--lang must be en or zh, not {value!r}")
    return v


@app.callback()
def _main() -> None:
    """Analyse transaction files without a database."""
