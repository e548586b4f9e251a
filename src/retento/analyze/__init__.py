"""`retento analyze`: analyses of transaction files without a database."""

from retento.analyze.cli import app

__all__ = ["app"]
