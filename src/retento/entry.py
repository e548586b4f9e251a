"""The `retento` console script.

`retento analyze ...` works on files without a database and is timed as a whole process
against other libraries (issue 13), so it is dispatched before the full command line - which
imports the web app, every domain and SQLAlchemy (~1.5 s of CPU) - is built.
"""

from __future__ import annotations

import sys


def _global_language(argv: list[str]) -> tuple[str | None, list[str]]:
    """The leading ``--lang X`` / ``--lang=X`` (or ``--locale``) of ``retento --lang X analyze
    ...`` and the arguments after it, so that form keeps the fast path too."""
    if argv[:1] in (["--lang"], ["--locale"]) and len(argv) > 1:
        return argv[1], argv[2:]
    if argv and argv[0].startswith(("--lang=", "--locale=")):
        return argv[0].split("=", 1)[1], argv[1:]
    return None, argv


def main() -> None:
    argv = sys.argv[1:]
    lang, rest = _global_language(argv)
    if lang is not None and rest[:1] == ["analyze"]:
        from retento.core.cli_language import set_global_language, supported

        if supported(lang):  # anything else: the full command line refuses it, naming --lang
            set_global_language(lang)
            argv = rest
    if argv[:1] == ["analyze"]:
        import gc

        was_enabled = gc.isenabled()
        if argv[1:2] == ["clv"]:
            # A short batch run timed as a whole process (issue 15 point 5): the cyclic
            # collector would only walk the objects created by importing typer, pandas and
            # SciPy, ~60 times (~0.1 s of CPU).
            gc.disable()
        try:
            from retento.analyze.cli import app as analyze_app

            analyze_app(args=argv[1:], prog_name="retento analyze")
        finally:
            # Called in-process (tests, an embedding program), the collector is left as found.
            if was_enabled:
                gc.enable()
        return
    from retento.cli import main as full

    full()
