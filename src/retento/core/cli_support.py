"""What every CLI command shares: one transaction, the acting user, errors as messages."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from rich.console import Console
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from retento.core.config import get_settings
from retento.core.db import make_engine, make_session_factory, transaction
from retento.core.errors import RetentoError

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def cli_session() -> Iterator[Session]:
    """A session on ``RETENTO_DATABASE_URL``: commits if the command succeeds."""
    from retento.models import import_all_models

    import_all_models()
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


def cli_actor(session: Session, username: str | None):
    """The user a CLI command acts as: ``--as USER``, else the first active admin."""
    from sqlalchemy import select

    from retento.auth.models import User
    from retento.auth.roles import sync
    from retento.auth.service import get_user_by_name

    sync(session)  # the custom roles' permissions, for the checks the command makes as the user
    if username:
        return get_user_by_name(session, username)
    user = session.scalar(
        select(User).where(User.role == "admin", User.is_active.is_(True)).order_by(User.id)
    )
    if user is None:
        raise RetentoError(
            400,
            "no_admin",
            "No admin user exists yet: run `retento user create NAME --role admin --password P` first, or pass --as USER.",
        )
    return user


def friendly_errors(func: F) -> F:
    """Print a RetentoError (or a database error) as one clear line and exit non-zero."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RetentoError as exc:
            err_console.print(f"[bold red]Error:[/] {exc}")
            for e in exc.errors[:50]:
                where = ", ".join(
                    p
                    for p in (
                        f"line {e.row}" if e.row else "",
                        f"column {e.field}" if e.field else "",
                    )
                    if p
                )
                err_console.print(f"  {where}: {e.message}" if where else f"  {e.message}")
            if len(exc.errors) > 50:
                err_console.print(f"  … and {len(exc.errors) - 50} more")
            sys.exit(1)
        except OperationalError as exc:
            err_console.print(f"[bold red]Database error:[/] {exc.orig}")
            err_console.print("Check RETENTO_DATABASE_URL and run `retento db upgrade`.")
            sys.exit(1)
        except IntegrityError as exc:
            err_console.print(f"[bold red]Conflict:[/] {exc.orig}")
            sys.exit(1)

    return wrapper  # type: ignore[return-value]
