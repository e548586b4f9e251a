"""What every CLI command shares: one transaction, the acting user, errors as messages."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from retento.core.cli_language import cli_locale, spaced

# The one check and writer of the files commands write (``--output``, ``--out``, ``--rejects``).
from retento.core.cli_usage import OutputError as OutputError
from retento.core.cli_usage import check_output as check_output
from retento.core.cli_usage import output_file as output_file
from retento.core.cli_usage import written as written
from retento.core.config import get_settings
from retento.core.db import make_engine, make_session_factory, transaction
from retento.core.errors import FieldError, InvalidInput, Msg, RetentoError, Terms, param
from retento.web.i18n import N_, join_list, message_text, translate

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
            N_(
                "No admin user exists yet: run `retento user create NAME --role admin --password P` first, or pass --as USER."
            ),
        )
    return user


# The words friendly_errors adds itself (Chinese in messages.po).
ERROR = N_("Error:")
IN_FIELD = N_("%(message)s (field: %(field)s)")
AT_LINE_COLUMN = N_("line %(line)s, column %(column)s: %(message)s")
AT_LINE = N_("line %(line)s: %(message)s")
AT_COLUMN = N_("column %(column)s: %(message)s")
MORE = N_("… and %(n)s more")
DATABASE_ERROR = N_("Database error:")
DATABASE_HINT = N_("Check RETENTO_DATABASE_URL and run `retento db upgrade`.")
CONFLICT = N_("Conflict:")
ROWS_SHOWN = 50

# Readers of a domain's English reasons with values inside (the importer's row messages, by
# their shape: ``dataio.messages.translate``), registered by the domain's CLI module:
# ``reader(text, gettext)`` is the text in gettext's language, or ``text`` itself if unknown.
Reader = Callable[[str, Callable[[str], str]], str]
_reason_readers: list[Reader] = []


def register_reason_reader(reader: Reader) -> None:
    """Let ``friendly_errors`` show a domain's reasons as its web pages do."""
    if reader not in _reason_readers:
        _reason_readers.append(reader)


def error_head(locale: str, label: str) -> str:
    """``label`` ("Error:") in ``locale`` in bold red, with the space English puts after its
    colon (Chinese writes a full-width colon and no space)."""
    text = translate(locale, label)
    return f"[bold red]{escape(text)}[/]" + spaced(text)[len(text) :]


def with_codes(message: str, locale: str) -> str:
    """``message`` with the choices it lists (``core.errors.Terms``: "Status (status) must be one
    of: …") as their codes, in both languages: on the command line a person types the code
    (``--status placed``), never the label the web shows ("Placed", "已下单")."""
    if not isinstance(message, Msg):
        return message
    params = {
        k: join_list(locale, list(v.terms))
        if isinstance(v, Terms)
        else with_codes(v, locale)
        if isinstance(v, Msg)
        else v
        for k, v in message.params.items()
    }
    return Msg(message.template, **params)


def error_lines(exc: RetentoError, locale: str) -> list[str]:
    """``exc`` and its row/column errors as lines of text in ``locale`` (Rich markup escaped):
    the message as the web shows it (``web.i18n.message_text``), a reason of a known shape as
    the domain's pages show it (the import wizard's row messages: ``register_reason_reader``)."""

    def gettext(msgid: str) -> str:
        return translate(locale, msgid)

    def said(message: str) -> str:
        if not isinstance(message, Msg):
            for reader in _reason_readers:
                shown = reader(message, gettext)
                if shown is not message:
                    return shown
        return message_text(locale, with_codes(message, locale))

    text = said(exc.message)
    if exc.field:
        text = translate(locale, IN_FIELD, message=text, field=exc.field)
    lines = [error_head(locale, ERROR) + escape(text)]
    errors = exc.errors
    if len(errors) == 1 and not errors[0].row and errors[0].message == exc.message:
        errors = []  # the one field's error is the message itself: said once
    for e in errors[:ROWS_SHOWN]:
        reason = said(e.message)
        if e.row and e.field:
            where = translate(locale, AT_LINE_COLUMN, line=e.row, column=e.field, message=reason)
        elif e.row:
            where = translate(locale, AT_LINE, line=e.row, message=reason)
        elif e.field:
            where = translate(locale, AT_COLUMN, column=e.field, message=reason)
        else:
            where = reason
        lines.append("  " + escape(where))
    if len(exc.errors) > ROWS_SHOWN:
        lines.append("  " + escape(translate(locale, MORE, n=len(exc.errors) - ROWS_SHOWN)))
    return lines


BAD_URL = N_(
    "RETENTO_DATABASE_URL is not a database address. Give sqlite:///PATH or "
    "postgresql+psycopg://USER@HOST/DATABASE."
)
UNSUPPORTED_URL = N_(
    "RETENTO_DATABASE_URL names %(backend)s, which Retento does not support. Give "
    "sqlite:///PATH or postgresql+psycopg://USER@HOST/DATABASE."
)
SUPPORTED_BACKENDS = ("sqlite", "postgresql")


def database_url_problem(url: str) -> Msg | None:
    """Why ``url`` (``RETENTO_DATABASE_URL``) cannot be used, or ``None``."""
    from sqlalchemy.engine import make_url

    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        return Msg(BAD_URL)
    if backend not in SUPPORTED_BACKENDS:
        return Msg(UNSUPPORTED_URL, backend=backend)
    return None


def friendly_errors(func: F) -> F:
    """Print a RetentoError (or a database error) in the user's language (``cli_locale``) and
    exit non-zero."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RetentoError as exc:
            for line in error_lines(exc, cli_locale()):
                err_console.print(line)
            sys.exit(1)
        except OutputError as exc:  # a file the command was told to write (``check_output``)
            for line in error_lines(InvalidInput(Msg(exc.template, **exc.params)), cli_locale()):
                err_console.print(line)
            sys.exit(1)
        except OperationalError as exc:
            locale = cli_locale()
            err_console.print(error_head(locale, DATABASE_ERROR) + escape(str(exc.orig)))
            err_console.print(escape(translate(locale, DATABASE_HINT)))
            sys.exit(1)
        except IntegrityError as exc:
            err_console.print(error_head(cli_locale(), CONFLICT) + escape(str(exc.orig)))
            sys.exit(1)
        except (ArgumentError, ModuleNotFoundError):
            # A typo in RETENTO_DATABASE_URL ("sqlite//x.db", "mysql://..."): said, not a
            # traceback. Anything else of these kinds is a fault and is raised as it is.
            problem = database_url_problem(get_settings().database_url)
            if problem is None:
                raise
            locale = cli_locale()
            err_console.print(
                error_head(locale, DATABASE_ERROR) + escape(message_text(locale, problem))
            )
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def option_error(problem: FieldError) -> InvalidInput:
    """The refusal of a command-line option made with ``core.errors.choice_error``,
    ``number_error`` or ``range_error`` given the option as the name ("Model (--model) must be
    one of: bgnbd, mbgnbd, pareto."): the message names the option, so it is printed once,
    without a "(field: ...)" after it."""
    return InvalidInput(problem.message)


def invalid_options(exc: Any, schema: Any, options: Mapping[str, tuple[str, str]]) -> InvalidInput:
    """The first of pydantic's refusals (``exc``, a ``ValidationError`` of ``schema``) of the
    values a command was given, naming the option and saying why as the web forms do, in the
    command line's language: ``options`` maps the schema's field to the option and its label
    (a msgid), ``{"password": ("--password", N_("Password"))}``. A choice or a range the schema
    sets is said as ``choice_error`` and ``range_error`` say it; other reasons as the forms'
    messages (``web.render.PYDANTIC_MESSAGES``, in the catalogues)."""
    import re

    from retento.core.errors import choice_error, number_error, range_error

    e = exc.errors()[0]
    name = str(e["loc"][0]) if e.get("loc") else ""
    option, label = options.get(name, ("--" + name.replace("_", "-"), name))
    kind, ctx = e["type"], e.get("ctx") or {}
    if kind == "literal_error" and "expected" in ctx:
        return option_error(choice_error(option, label, re.findall(r"'([^']*)'", ctx["expected"])))
    if kind in ("int_parsing", "int_type", "float_parsing", "decimal_parsing"):
        return option_error(number_error(option, label, whole=kind.startswith("int")))
    if kind in ("greater_than_equal", "less_than_equal"):
        metadata = getattr(schema.model_fields.get(name), "metadata", ())
        low = next((m.ge for m in metadata if hasattr(m, "ge")), None)
        top = next((m.le for m in metadata if hasattr(m, "le")), None)
        if low is not None and top is not None:
            return option_error(range_error(option, label, low, top))
    reason = pydantic_reason(e)
    return InvalidInput(Msg("%(field)s: %(message)s", field=param(option, label), message=reason))


def pydantic_reason(e: Mapping[str, Any]) -> Msg:
    """Why pydantic refused a value (one entry of ``ValidationError.errors()``) as the web forms
    say it, translatable (``web.render.PYDANTIC_MESSAGES``): never pydantic's own English
    ("Input should be less than or equal to 4") in a Chinese import report."""
    from retento.web.render import PYDANTIC_LIMIT_MESSAGES, PYDANTIC_MESSAGES

    kind, ctx = e["type"], e.get("ctx") or {}
    name = str(e["loc"][-1]) if e.get("loc") else ""
    error = ctx.get("error")
    limit = PYDANTIC_LIMIT_MESSAGES.get(kind)
    reason: str | Msg
    if kind == "string_pattern_mismatch" and name.endswith("email"):
        reason = "Enter an email address such as name@example.com."  # as the web says it
    elif isinstance(error, Exception) and error.args and isinstance(error.args[0], Msg):
        reason = error.args[0]  # our validators' ValueError(Msg(...))
    elif limit is not None and limit[0] in ctx:
        reason = Msg(limit[1], n=ctx[limit[0]])
    elif kind in PYDANTIC_MESSAGES:
        reason = PYDANTIC_MESSAGES[kind]
    else:  # a validator's English sentence: translated when the catalogues have it
        reason = str(e.get("msg", "")).removeprefix("Value error, ")
    # A bare template is translated with the message around it (``web.i18n.message_text``).
    return reason if isinstance(reason, Msg) else Msg(reason)
