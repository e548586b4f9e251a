"""Usage errors (an unknown option, a missing argument, a bad value, an unknown command) in
the command line's language.

Typer 0.29 ships its own copy of click whose messages are English f-strings (no gettext), and
its few gettext calls (the "Error" panel's title, "Try ... for help.") run once, at import. So
a usage error cannot be translated where it is written: :class:`UsageLanguageGroup`, the group
class of the top-level apps (``retento`` and ``retento analyze``, run on its own by
``retento.entry``), catches it on its way out and, when the language is Chinese, prints it as
Typer would (the usage line, the help hint, the message in Rich's "Error" panel, or the plain
``Error: ...`` without Rich) in Chinese and exits with the same status (2). The message is read
back by its shape (:data:`SHAPES`, as ``web.i18n.translate_shaped`` reads the importer's row
errors) and rebuilt from the Chinese of its msgid (``locale/zh_CN/LC_MESSAGES/cli_usage.po``); a
reason inside it (pydantic's "Input should be ...", Typer's "... is not one of ...", a Retento
message) is read the same way, else looked up in the catalogues, else left as it is. In English
the error is re-raised and Typer prints it exactly as before.

Which language: a usage error may be raised while the arguments are parsed, before the global
``--lang`` callback or the command's own ``--lang`` has been acted on. The first ``--lang`` /
``--locale`` on the command line that names a language Retento speaks is therefore read as
typed (the global option comes before the command's own, as in ``cli_language.cli_locale``);
without one, ``cli_locale`` decides (``RETENTO_LANG``, ``LC_ALL``/``LC_MESSAGES``/``LANG``,
the installation's ``RETENTO_DEFAULT_LOCALE``). So ``retento --lang zh_CN customers list --bogus``
is in Chinese (the global option was parsed before the subcommand failed, and would be read as
typed even if it had not been), as are ``retento analyze clv --lang zh --bogus`` and
``LANG=zh_CN.UTF-8 retento customers search``; ``retento --lang en ...`` stays English whatever
the environment says.

Help pages: every command under a :class:`UsageLanguageGroup` gets a
:class:`HelpLanguageContext`, whose help page is in the same language (``core.cli_help``).

Light on purpose: the fast path of ``retento analyze`` imports this (typer only); the language
choice, the catalogues (Babel) and Rich are imported once there is an error or a help page to
print.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import IO, Any, NoReturn

import typer

# Typer's own copy of click (``typer.BadParameter`` is its subclass of UsageError).
from typer._click.core import Command, Context
from typer._click.exceptions import NoArgsIsHelpError, NoSuchOption, UsageError
from typer.core import TyperGroup

from retento.core.cli_words import N_, USAGE

# What Typer adds around the message (rich_utils.RICH_HELP, ERRORS_PANEL_TITLE, the usage prefix
# of click's HelpFormatter.write_usage, UsageError.show's "Error: ").
TRY_HELP = N_("Try %(command)s for help.")
ERROR_TITLE = N_("Error")
ERROR = N_("Error:")
USAGE_PREFIX = "Usage: "
_ARGS = "retento.cli_usage.args"  # the command line, in the contexts' shared ``meta``

# A hint names a parameter: '--limit', '--customers' / '-n', 'transactions', --bogus, or with
# Typer's "(env var: 'X')" after it.
_NAME = r"(?P<name>(?:[^:(]|\(env var: [^)]*\))+?)"

# (regular expression of an English message, its msgid): the messages of Typer 0.29.2 (its
# click: exceptions.py, parser.py, core.py; typer/core.py, _param_types.py) and of pydantic 2
# (Typer's coercion) that Retento's options can produce. Groups named ``reason`` are read again
# (a reason inside a message). tests/test_cli_usage_errors_language.py exercises every one.
SHAPES: tuple[tuple[str, str], ...] = (
    (
        r"No such option: (?P<name>\S+) \(Possible options: (?P<options>.+)\)",
        N_("No such option: %(name)s (Possible options: %(options)s)"),
    ),
    (r"No such option: (?P<name>\S+)", N_("No such option: %(name)s")),
    (
        r"No such command (?P<name>.+?)\. Did you mean (?P<options>.+)\?",
        N_("No such command %(name)s. Did you mean %(options)s?"),
    ),
    (r"No such command (?P<name>.+?)\.", N_("No such command %(name)s.")),
    (r"Missing command\.", N_("Missing command.")),
    (r"Missing argument (?P<name>.+?)\.", N_("Missing argument %(name)s.")),
    (
        r"Missing option (?P<name>.+?)\. Choose from:(?P<choices>\n.*)",
        N_("Missing option %(name)s. Choose from:%(choices)s"),
    ),
    (r"Missing option (?P<name>.+?)\.", N_("Missing option %(name)s.")),
    (
        r"Got unexpected extra argument\(s\) \((?P<args>.*)\)",
        N_("Got unexpected extra argument(s) (%(args)s)"),
    ),
    (
        r"Option (?P<name>.+?) requires an argument\.",
        N_("Option %(name)s requires an argument."),
    ),
    (
        r"Option (?P<name>.+?) requires (?P<n>\d+) arguments\.",
        N_("Option %(name)s requires %(n)s arguments."),
    ),
    (
        r"Option (?P<name>.+?) does not take a value\.",
        N_("Option %(name)s does not take a value."),
    ),
    (
        r"Argument (?P<name>.+?) takes (?P<n>\d+) values\.",
        N_("Argument %(name)s takes %(n)s values."),
    ),
    (
        rf"Invalid value for {_NAME}: (?P<reason>.*)",
        N_("Invalid value for %(name)s: %(reason)s"),
    ),
    (r"Invalid value: (?P<reason>.*)", N_("Invalid value: %(reason)s")),
    # reasons
    (
        r"Input should be a valid integer, unable to parse string as an integer",
        N_("Input should be a valid integer, unable to parse string as an integer"),
    ),
    (
        r"Input should be a valid number, unable to parse string as a number",
        N_("Input should be a valid number, unable to parse string as a number"),
    ),
    (
        r"Input should be greater than or equal to (?P<limit>\S+)",
        N_("Input should be greater than or equal to %(limit)s"),
    ),
    (
        r"Input should be less than or equal to (?P<limit>\S+)",
        N_("Input should be less than or equal to %(limit)s"),
    ),
    (
        r"Value error, (?P<value>.+?) is not one of (?P<options>.+)\.",
        N_("Value error, %(value)s is not one of %(options)s."),
    ),
    (r"path (?P<path>.+) does not exist\.", N_("path %(path)s does not exist.")),
    (r"file (?P<path>.+) does not exist\.", N_("file %(path)s does not exist.")),
    (r"dir (?P<path>.+) does not exist\.", N_("dir %(path)s does not exist.")),
    # Retento's own (core.cli_language.output_locale, the global --lang of retento.cli)
    (r"must be en or zh_CN, not (?P<value>.+)", N_("must be en or zh_CN, not %(value)s")),
)

NESTED = ("reason",)


@cache
def _compiled() -> tuple[tuple[re.Pattern[str], str], ...]:
    """:data:`SHAPES` compiled, once a message is to be read (not on every start); each shape
    must match the whole message."""
    return tuple((re.compile(rf"(?:{pattern})\Z", re.S), msgid) for pattern, msgid in SHAPES)


def said(text: str, gettext: Callable[[str], str]) -> str:
    """``text``, an English usage message, in the language of ``gettext``: by its shape
    (``web.i18n.translate_shaped``, the reason inside translated the same way), else as a
    message of the catalogues, else as it is."""
    from retento.web.i18n import translate_shaped

    return translate_shaped(_compiled(), text, gettext, nested=NESTED, unmatched=gettext)


def usage_locale(args: Sequence[str]) -> str:
    """``en`` or ``zh_CN``: the language of a usage error on the command line ``args`` (see
    above): the first ``--lang``/``--locale`` in it that Retento speaks, else ``cli_locale``;
    not the option of a command that stores it (``user create --lang``), which says nothing
    about the language of whoever typed it."""
    from retento.core.cli_language import LANGUAGE_OPTIONS, cli_locale, language_is_data, supported

    words: list[str] = []  # the command's words so far (``user``, ``create``)
    for i, arg in enumerate(args):
        if arg == "--":
            break
        name, eq, value = arg.partition("=")
        if not arg.startswith("-") and (i == 0 or args[i - 1] not in LANGUAGE_OPTIONS):
            words.append(arg)
            if language_is_data(tuple(words[:2])):
                break
        if name in LANGUAGE_OPTIONS:
            locale = supported(value if eq else (args[i + 1] if i + 1 < len(args) else None))
            if locale:
                return locale
    return cli_locale()


def show(exc: UsageError, locale: str, rich: bool) -> None:
    """Print ``exc`` in ``locale`` laid out as Typer prints it (``rich_utils.rich_format_error``
    with Rich, ``UsageError.show`` without)."""
    from retento.core.cli_language import spaced
    from retento.web.i18n import translate

    ctx = exc.ctx
    message = said(exc.format_message(), lambda msgid: translate(locale, msgid))
    usage = command = None
    if ctx is not None:
        usage = ctx.get_usage()
        if usage.startswith(USAGE_PREFIX):
            usage = spaced(translate(locale, USAGE)) + usage[len(USAGE_PREFIX) :]
        if ctx.command.get_help_option(ctx) is not None:
            command = f"{ctx.command_path} {ctx.help_option_names[0]}"
    if rich:
        from rich.markup import escape
        from rich.panel import Panel
        from typer import rich_utils

        console = rich_utils._get_rich_console(stderr=True)
        if usage is not None:
            console.print(rich_utils.highlighter(usage), style=rich_utils.STYLE_USAGE_COMMAND)
        if command is not None:
            hint = translate(locale, TRY_HELP, command=f"[blue]'{escape(command)}'[/]")
            console.print(hint, style=rich_utils.STYLE_ERRORS_SUGGESTION)
        console.print(
            Panel(
                rich_utils.highlighter(message),
                border_style=rich_utils.STYLE_ERRORS_PANEL_BORDER,
                title=translate(locale, ERROR_TITLE),
                title_align=rich_utils.ALIGN_ERRORS_PANEL,
            )
        )
        return
    if usage is not None:
        hint = translate(locale, TRY_HELP, command=f"'{command}'") + "\n" if command else ""
        typer.echo(f"{usage}\n{hint}", err=True, color=ctx.color if ctx else None)
    typer.echo(spaced(translate(locale, ERROR)) + message, err=True)


class HelpLanguageContext(Context):
    """The context of a command under a :class:`UsageLanguageGroup`: its help page (``--help``,
    or a group run without arguments) is in the command line's language
    (``core.cli_help.localized_help``, imported only to print one in Chinese)."""

    def get_help(self) -> str:
        locale = usage_locale(self.meta.get(_ARGS, ()))  # a help page is printed as it is parsed
        if locale == "en":
            return super().get_help()  # Typer's own
        from retento.core.cli_help import localized_help

        return localized_help(self, locale, super().get_help)


# A negative whole number on the command line ("-5"): click reads it as an option.
_NEGATIVE = re.compile(r"-\d+")
# The largest record id (``core.types.ID_MAX``, not imported: the start-up of ``retento analyze``).
_ID_MAX = (1 << 63) - 1


def _id_arguments(command: Command) -> list[Any]:
    """The arguments of ``command`` that take a record's id (a whole number named ``*_id``)."""
    found = []
    for p in command.params:
        if p.param_type_name == "argument" and (p.name or "").endswith("_id"):
            annotation = getattr(getattr(p, "type_descriptor", None), "annotation", None)
            if annotation in (int, int | None):
                found.append(p)
    return found


def _check_ids(ctx: Context, params: list[Any]) -> None:
    """An id argument past the largest id is refused as a bad value of the argument (the
    database cannot even compare it), as Typer refuses one below its ``min``."""
    for p in params:
        value = ctx.params.get(p.name)
        if isinstance(value, int) and value > _ID_MAX:
            raise typer.BadParameter(
                f"Input should be less than or equal to {_ID_MAX}", ctx=ctx, param=p
            )
        if isinstance(value, int) and value < -_ID_MAX:  # an argument without a ``min``
            raise typer.BadParameter("Input should be greater than or equal to 1", ctx=ctx, param=p)


def _negative_ids(command: Command) -> None:
    """A negative number given for ``command``'s id argument (``retento customers
    archive -5``) is read as that argument's value, so it is refused as a bad value of the
    argument (or not found), as 0 is, rather than as "No such option: -5". Only when every
    other option on the command line is one the command knows: an unknown option is still
    refused as one. A number past the largest id is refused too (:func:`_check_ids`)."""
    parse = command.parse_args
    ids = _id_arguments(command)

    def parse_args(ctx: Context, args: list[str]) -> list[str]:
        given = list(args)
        try:
            rest = parse(ctx, args)
            _check_ids(ctx, ids)
            return rest
        except NoSuchOption:
            tokens = given[: given.index("--")] if "--" in given else given
            if not any(_NEGATIVE.fullmatch(t) for t in tokens):
                raise
            # The same command line with positive numbers: an unknown option in it is refused
            # as one (its own error, not the negative number's).
            command.make_parser(ctx).parse_args(
                args=["1" if _NEGATIVE.fullmatch(t) else t for t in given]
            )
        ignoring = ctx.ignore_unknown_options
        ctx.ignore_unknown_options = True  # the negative numbers become arguments
        try:
            rest = parse(ctx, given)
        finally:
            ctx.ignore_unknown_options = ignoring
        _check_ids(ctx, ids)
        return rest

    command.parse_args = parse_args  # type: ignore[method-assign]


def _help_in_language(command: Command) -> None:
    """``command`` and every command under it make :class:`HelpLanguageContext` contexts; a
    command with an id argument reads a negative number as its value
    (:func:`_negative_ids`)."""
    command.context_class = HelpLanguageContext
    subs = getattr(command, "commands", None)
    if subs is None:
        if _id_arguments(command):
            _negative_ids(command)
        return
    for sub in subs.values():
        _one_line_summary(sub)
        _help_in_language(sub)


def _one_line_summary(command: Command) -> None:
    """The line a group's command list shows for ``command``: the first paragraph of its help
    with the docstring's line breaks made spaces (Typer's Rich mode kept them, so the list of
    ``retento --help`` broke "… loyalty stage, and" / "churn risk …" where the source line
    ended, not where the terminal does). A ``\b`` paragraph (no re-wrap) is left alone."""
    if command.short_help is not None or not command.help:
        return
    first = command.help.partition("\f")[0].strip("\n").split("\n\n")[0]
    if "\n" in first.strip() and not first.lstrip().startswith("\b"):
        command.short_help = " ".join(first.split())


class UsageLanguageGroup(TyperGroup):
    """A Typer group whose usage errors are printed in the command line's language (see
    above). Only the group the command line starts from prints: the errors of its subcommands
    and sub-groups pass through it. A Chinese error ends as ``typer.Exit(2)`` (a caller with
    ``standalone_mode=False`` gets 2 back rather than the exception); help pages, shown as
    errors when no arguments are given, are left to Typer; they are in the command line's
    language too, as are the help pages of every command under the group
    (:class:`HelpLanguageContext`)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        _help_in_language(self)  # Typer builds the subcommands first

    def _usage_error(self, exc: UsageError, args: Sequence[str], top: bool) -> NoReturn:
        if not top or isinstance(exc, NoArgsIsHelpError):
            raise exc
        locale = usage_locale(args)
        if locale == "en":
            raise exc  # Typer prints it, as it always has
        from typer.core import HAS_RICH

        show(exc, locale, HAS_RICH and self.rich_markup_mode is not None)
        raise typer.Exit(exc.exit_code)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: Any = None,
        **extra: Any,
    ) -> Any:
        given = list(args)
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except UsageError as exc:
            self._usage_error(exc, given, top=parent is None)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # Before parsing: a help page is printed while the arguments are parsed.
        ctx.meta.setdefault(_ARGS, list(args))  # shared with the sub-contexts
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            self._usage_error(exc, ctx.meta.get(_ARGS, ()), top=ctx.parent is None)


# --- Output files -------------------------------------------------------------------------
# Every command that writes a file it was given (``retento export --output``, the loyalty,
# customer and complaint exports, an import's ``--rejects``, the ``--output`` of the analyze
# commands) checks the path before doing the work (:func:`check_output`) and writes through
# :func:`written`: a hidden file next to the target, renamed onto it once complete and removed
# if anything fails, so a bad path is a message naming the option (exit 1), never a traceback,
# and nothing half-written is left behind. Here rather than in ``cli_support`` because the fast
# path of ``retento analyze`` loads this module anyway and must not import another one; the
# error is printed in the command line's language by ``cli_support.friendly_errors`` and by the
# analyze group (``analyze.base``).

OUTPUT_IS_FOLDER = N_("%(option)s: %(path)s is a folder; name the file to write.")
OUTPUT_NO_FOLDER = N_("%(option)s: the folder %(folder)s does not exist.")
OUTPUT_NOT_FOLDER = N_("%(option)s: %(folder)s is not a folder.")
OUTPUT_DENIED = N_("%(option)s: no permission to write %(path)s.")
OUTPUT_FULL = N_("%(option)s: no space left to write %(path)s.")
OUTPUT_READ_ONLY = N_("%(option)s: %(path)s is on a read-only file system.")
OUTPUT_FAILED = N_("%(option)s: cannot write %(path)s: %(reason)s")


class OutputError(Exception):
    """A file a command was told to write cannot be written: ``template`` (one of the
    ``OUTPUT_*`` messages, naming the option) and its ``params``, translated where it is
    printed."""

    def __init__(self, template: str, **params: object) -> None:
        super().__init__(template % params)
        self.template = template
        self.params = params


def _os_refusal(exc: OSError, option: str, path: Path) -> OutputError:
    """``exc``, raised while writing ``path``, as the error naming ``option``."""
    import errno

    where = {"option": option, "path": str(path)}
    if exc.errno == errno.EISDIR:
        return OutputError(OUTPUT_IS_FOLDER, **where)
    if exc.errno == errno.ENOENT:
        return OutputError(OUTPUT_NO_FOLDER, option=option, folder=str(path.parent))
    if exc.errno in (errno.EACCES, errno.EPERM):
        return OutputError(OUTPUT_DENIED, **where)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return OutputError(OUTPUT_FULL, **where)
    if exc.errno == errno.EROFS:
        return OutputError(OUTPUT_READ_ONLY, **where)
    return OutputError(OUTPUT_FAILED, **where, reason=exc.strerror or str(exc))


def check_output(path: str | os.PathLike[str], option: str, *, make_folder: bool = False) -> None:
    """Raise :class:`OutputError` naming ``option`` if ``path`` cannot be written: it is a
    folder, its folder does not exist (with ``make_folder``, the folders that exist on the way
    to it must be folders one may write in, as :func:`written` creates the rest) or cannot be
    written in."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise OutputError(OUTPUT_IS_FOLDER, option=option, path=str(path))
    folder = target.parent
    if make_folder:
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
    if not folder.exists():
        raise OutputError(OUTPUT_NO_FOLDER, option=option, folder=str(folder))
    if not folder.is_dir():
        raise OutputError(OUTPUT_NOT_FOLDER, option=option, folder=str(folder))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(OUTPUT_DENIED, option=option, path=str(path))


@contextmanager
def written(
    path: str | os.PathLike[str], option: str, *, make_folder: bool = False
) -> Iterator[Path]:
    """A new, empty hidden file next to ``path`` for the block to write (by name: DuckDB's
    ``COPY``, pandas' ``to_csv``); renamed onto ``path`` when the block ends, removed when it
    fails. The name ends with ``path``'s own, so a writer that reads the compression from the
    suffix (``.csv.gz``) reads the same one. Checked first (:func:`check_output`); the file
    system's refusals (no permission, a full disk) are :class:`OutputError` naming ``option``."""
    target = Path(path).expanduser()
    check_output(target, option, make_folder=make_folder)
    try:
        if make_folder:
            target.parent.mkdir(parents=True, exist_ok=True)
        for n in itertools.count():
            tmp = target.with_name(f".{os.getpid()}-{n}.part-{target.name}")
            try:  # created with the permissions any new file gets (0o666 less the umask)
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
                break
            except FileExistsError:
                continue
    except OSError as exc:
        raise _os_refusal(exc, option, target) from None
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
            import errno

            # The disk filling up while writing, or the rename refused.
            ours = exc.filename in (None, str(tmp), str(target))
            if ours and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EACCES,
                                      errno.EPERM, errno.EROFS, errno.EISDIR):  # fmt: skip
                raise _os_refusal(exc, option, target) from None
        raise


@contextmanager
def output_file(
    path: str | os.PathLike[str], option: str, mode: str = "w", **open_args: Any
) -> Iterator[IO[Any]]:
    """``path`` opened for writing (``open``'s ``mode`` and arguments) through :func:`written`:
    the whole file or none of it."""
    with written(path, option) as tmp, open(tmp, mode, **open_args) as fh:
        yield fh
