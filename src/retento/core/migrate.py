"""Run Alembic programmatically (``retento db upgrade``, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(
    url: str | None = None, revision: str = "head", connection: Connection | None = None
) -> None:
    command.upgrade(alembic_config(url, connection), revision)


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at (None: no schema yet)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    """The newest migration this code has."""
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())


def is_revision(revision: str) -> bool:
    """``revision`` names one of this code's migrations (or ``head``, ``base``, ...)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        ScriptDirectory.from_config(alembic_config()).get_revisions(revision)
    except CommandError:
        return False
    return True


def unknown_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at when this code has no migration of that name
    (a newer Retento migrated it, or a branch's migration), else ``None``."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    rev = current_revision(url)
    if rev is None:
        return None
    try:
        ScriptDirectory.from_config(alembic_config(url)).get_revision(rev)
    except CommandError:
        return rev
    return None


def downgrade(url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def revision(url: str, message: str, autogenerate: bool = True) -> None:
    command.revision(alembic_config(url), message=message, autogenerate=autogenerate)
