"""The `retento` console script.

`retento analyze ...` works on files without a database and is timed as a whole process
against other libraries (issue 13), so it is dispatched before the full command line - which
imports the web app, every domain and SQLAlchemy (~1.5 s of CPU) - is built.
"""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["analyze"]:
        if argv[1:2] == ["clv"]:
            # A short batch run timed as a whole process (issue 15 point 5): the cyclic
            # collector would only walk the objects created by importing typer, pandas and
            # SciPy, ~60 times (~0.1 s of CPU).
            import gc

            gc.disable()
        from retento.analyze.cli import app as analyze_app

        analyze_app(args=argv[1:], prog_name="retento analyze")
        return
    from retento.cli import main as full

    full()
