"""The command line's usage errors (an unknown option or command, a missing argument, a bad
value: what Typer and its click write themselves) are in Chinese when the command line's
language is Chinese, and exactly as Typer prints them otherwise (``core.cli_usage``)."""

from __future__ import annotations

import enum
import gc
import re
import sys
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from retento.analyze.base import app as analyze_app
from retento.cli import app
from retento.core import cli_language
from retento.core.cli_usage import SHAPES, UsageLanguageGroup, said, usage_locale
from retento.core.config import get_settings
from retento.web.i18n import translate, translations

runner = CliRunner()
LANGUAGE_VARIABLES = ("RETENTO_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "RETENTO_DEFAULT_LOCALE")
CJK = re.compile("[\u4e00-\u9fff]")


def _flat(output: str) -> str:
    """The output without whitespace and the panel's borders: Rich wraps long lines."""
    return re.sub(r"[\s│]+", "", output)


def _says(output: str, *texts: str) -> None:
    for t in texts:
        assert _flat(t) in _flat(output), output


@pytest.fixture
def env(monkeypatch):
    """A clean language environment (``C``: decides nothing); returns ``monkeypatch``."""
    for name in LANGUAGE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.fixture
def chinese(env):
    env.setenv("RETENTO_LANG", "zh_CN")
    return env


CLV_OPTIONS = ["--customer-col", "c", "--date-col", "d", "--amount-col", "a", "-o", "o.csv"]
# (arguments of the full command line, what Typer says in English, the same in Chinese)
FULL = [
    (
        ["customers", "search", "x", "--bogus"],
        "No such option: --bogus",
        "未知的选项：--bogus",
    ),
    (["customers", "search"], "Missing argument 'query'.", "缺少参数 'query'。"),
    (
        ["customers", "search", "x", "--limit", "abc"],
        "Invalid value for '--limit': Input should be a valid integer, unable to parse string "
        "as an integer",
        "'--limit' 的值无效：必须是整数，无法将该字符串解析为整数",
    ),
    (
        ["customers", "search", "x", "--limit", "0"],
        "Invalid value for '--limit': Input should be greater than or equal to 1",
        "'--limit' 的值无效：必须大于或等于 1",
    ),
    (["bogus"], "No such command 'bogus'.", "未知的命令 'bogus'。"),
    (
        ["customers", "serch"],
        "No such command 'serch'. Did you mean 'search'?",
        "未知的命令 'serch'。您是想用 'search' 吗？",
    ),
    (
        ["analyze", "clv", "a.csv", "b.csv", *CLV_OPTIONS],
        "Got unexpected extra argument(s) (b.csv)",
        "多余的参数（b.csv）",
    ),
]


def _command(args: list[str]) -> str:
    """The command path the usage line names (``root``: CliRunner's program name)."""
    words = ["root"]
    for a in args:
        if a.startswith("-") or a in ("x", "a.csv", "bogus", "serch"):
            break
        words.append(a)
    return " ".join(words)


@pytest.mark.parametrize(("args", "english", "chinese_text"), FULL)
def test_usage_errors_in_chinese(chinese, args, english, chinese_text):
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    command = _command(args)
    _says(r.output, f"用法：{command} ", f"运行 '{command} --help' 查看帮助。", chinese_text)
    assert "─ 错误 ─" in r.output
    assert not re.search(r"Usage|Try|Error|Invalid|No such|Missing|Input", r.output), r.output


@pytest.mark.parametrize(("args", "english", "chinese_text"), FULL)
def test_usage_errors_in_english_are_typers_own(env, monkeypatch, args, english, chinese_text):
    """Byte for byte what Typer prints without Retento's group class."""
    r = runner.invoke(app, args)
    assert r.exit_code == 2
    _says(r.output, english, f"Try '{_command(args)} --help' for help.")
    assert "─ Error ─" in r.output and not CJK.search(r.output)
    monkeypatch.setattr(app.info, "cls", TyperGroup)
    plain = runner.invoke(app, args)
    assert (plain.exit_code, plain.output) == (r.exit_code, r.output)


def test_the_global_option_decides_even_where_parsing_stopped(env):
    env.setenv("LANG", "en_US.UTF-8")
    # the subcommand failed after the global option was parsed
    r = runner.invoke(app, ["--lang", "zh_CN", "customers", "search", "x", "--bogus"])
    assert r.exit_code == 2 and "未知的选项：--bogus" in r.output
    # the top level failed before its callback ran
    r = runner.invoke(app, ["--locale=zh", "--bogus", "customers"])
    assert r.exit_code == 2 and "未知的选项：--bogus" in r.output
    r = runner.invoke(app, ["--lang", "zh_CN"])
    assert r.exit_code == 2 and "缺少命令。" in r.output
    r = runner.invoke(app, ["--lang"])  # no language given: the environment's
    assert r.exit_code == 2 and "Option '--lang' requires an argument." in r.output
    env.setenv("LANG", "zh_CN.UTF-8")
    assert "选项 '--lang' 需要一个值。" in runner.invoke(app, ["--lang"]).output
    # the option wins over the environment, and nothing is left behind for the next command
    r = runner.invoke(app, ["--lang", "en", "customers", "search", "x", "--bogus"])
    assert "No such option: --bogus" in r.output and not CJK.search(r.output)
    env.setenv("LANG", "en_US.UTF-8")
    runner.invoke(app, ["--lang", "zh_CN", "customers", "search", "x", "--bogus"])
    r = runner.invoke(app, ["customers", "search", "x", "--bogus"])
    assert "No such option: --bogus" in r.output and not CJK.search(r.output)


def test_a_commands_own_lang_and_the_environment(env):
    args = ["analyze", "segments", "t.csv", "--lang", "zh", "--k", "x"]
    r = runner.invoke(app, args)
    assert r.exit_code == 2
    _says(r.output, "'--k' 的值无效：必须是整数，无法将该字符串解析为整数")
    for name, value in (("LC_ALL", "zh_CN.UTF-8"), ("LC_MESSAGES", "zh_CN.UTF-8")):
        env.setenv(name, value)
        assert "缺少参数 'query'。" in runner.invoke(app, ["customers", "search"]).output
        env.delenv(name)
    env.setenv("RETENTO_DEFAULT_LOCALE", "zh_CN")
    get_settings.cache_clear()
    assert "缺少参数 'query'。" in runner.invoke(app, ["customers", "search"]).output


def test_retentos_own_bad_parameter_reasons(chinese):
    r = runner.invoke(app, ["--lang", "fr", "customers"])
    assert r.exit_code == 2
    _says(r.output, "--lang 的值无效：必须是 en 或 zh_CN，而不是 'fr'")
    r = runner.invoke(app, ["work", "list", "--lang", "fr"])
    _says(r.output, "--lang 的值无效：必须是 en 或 zh_CN，而不是 'fr'")


def test_help_pages_are_not_errors(chinese):
    r = runner.invoke(app, [])  # no arguments: the help page (in Chinese: cli_help), as before
    assert r.exit_code == 2 and "用法：root" in r.output
    assert runner.invoke(analyze_app, []).exit_code == 2


# ``retento analyze`` on its own: the console script's fast path and CliRunner

ANALYZE = [
    (["clv", "t.csv", "--bogus"], "No such option: --bogus", "未知的选项：--bogus"),
    (["clv"], "Missing argument 'transactions'.", "缺少参数 'transactions'。"),
    (
        ["clv", "t.csv", "--customer-col", "c", "--date-col", "d", "--amount-col", "a"],
        "Missing option '--output' / '-o'.",
        "缺少选项 '--output' / '-o'。",
    ),
    (
        ["segments", "t.csv", "--k", "two"],
        "Invalid value for '--k': Input should be a valid integer",
        "'--k' 的值无效：必须是整数",
    ),
    (["bogus"], "No such command 'bogus'.", "未知的命令 'bogus'。"),
]


@pytest.mark.parametrize(("args", "english", "chinese_text"), ANALYZE)
def test_analyze_through_clirunner(env, args, english, chinese_text):
    r = runner.invoke(analyze_app, args)
    assert r.exit_code == 2
    _says(r.output, english)
    assert not CJK.search(r.output)
    r = runner.invoke(app, ["--lang", "zh_CN", "analyze", *args])
    assert r.exit_code == 2
    _says(r.output, chinese_text, "用法：root analyze")
    env.setenv("LANG", "zh_CN.UTF-8")
    r = runner.invoke(analyze_app, args)
    assert r.exit_code == 2
    _says(r.output, chinese_text, "用法：root ")


@pytest.fixture
def console_script(env, monkeypatch, capsys):
    """Runs ``retento ARGS`` through ``retento.entry.main`` as the console script does, and
    checks it stayed on the fast path: neither the full command line nor, for an English error,
    the catalogues (Babel) imported."""
    from retento.entry import main

    def run(*args: str, english: bool) -> str:
        monkeypatch.setattr(cli_language, "_global", None)  # main() leaves it set, as a process
        monkeypatch.setattr(sys, "argv", ["retento", *args])
        for name in ("retento.cli", "retento.web.i18n"):
            monkeypatch.delitem(sys.modules, name, raising=False)
        assert gc.isenabled()
        with pytest.raises(SystemExit) as stop:
            main()
        assert stop.value.code == 2
        # `analyze clv` turns the cyclic collector off for its run; in-process it is restored
        # (left off, it once failed an unrelated test later in the same worker).
        assert gc.isenabled()
        assert "retento.cli" not in sys.modules
        assert ("retento.web.i18n" in sys.modules) is not english
        return capsys.readouterr().err

    return run


@pytest.mark.parametrize(("args", "english", "chinese_text"), ANALYZE)
def test_analyze_through_the_console_script(console_script, env, args, english, chinese_text):
    err = console_script("analyze", *args, english=True)
    _says(err, f"Usage: retento analyze {args[0] if args[0] != 'bogus' else ''}", english)
    assert "─ Error ─" in err and not CJK.search(err)
    err = console_script("--lang", "zh_CN", "analyze", *args, english=False)
    _says(err, chinese_text, "用法：retento analyze", "运行 'retento analyze")
    assert "─ 错误 ─" in err
    env.setenv("RETENTO_LANG", "zh")
    _says(console_script("analyze", *args, english=False), chinese_text)
    _says(console_script("--lang=en", "analyze", *args, english=True), english)


def test_without_rich_the_plain_layout(chinese, monkeypatch):
    import typer.core

    monkeypatch.setattr(typer.core, "HAS_RICH", False)
    args = ["analyze", "clv", "a.csv", "b.csv", *CLV_OPTIONS]
    r = runner.invoke(app, args)
    assert r.exit_code == 2
    assert r.output.startswith("用法：root analyze clv [OPTIONS]")
    assert "运行 'root analyze clv --help' 查看帮助。\n\n错误：多余的参数（b.csv）\n" in r.output
    r = runner.invoke(app, ["--lang", "en", *args])
    assert "Try 'root analyze clv --help' for help.\n\nError: Got unexpected extra" in r.output


# Every message Retento reads, written by Typer itself: a Typer or pydantic upgrade that changes
# one fails here (its Chinese would show English).


class Colour(enum.StrEnum):
    red = "red"
    green = "green"


probe = typer.Typer(cls=UsageLanguageGroup)


@probe.command("main")
def _probe_main(
    pair: tuple[int, int] = typer.Argument(...),
    colour: Colour = typer.Option(..., "--colour"),
    ratio: float = typer.Option(1.0, "--ratio"),
    n: int = typer.Option(1, "--n", min=1, max=5),
    two: tuple[int, int] = typer.Option((1, 2), "--two"),
    flag: bool = typer.Option(False, "--flag"),
    path: Path = typer.Option(None, "--path", exists=True),
    file: Path = typer.Option(None, "--file", exists=True, dir_okay=False),
    folder: Path = typer.Option(None, "--dir", exists=True, file_okay=False),
    refuse: str = typer.Option("", "--refuse"),
) -> None:
    if refuse:
        raise typer.BadParameter(refuse)


@probe.command("other")
def _probe_other() -> None:
    pass


@probe.command("needs")
def _probe_needs(name: str = typer.Option(..., "--name")) -> None:
    pass


@probe.callback()
def _probe_group(verbose: bool = typer.Option(False, "--verbose")) -> None:
    pass


OK = ["main", "1", "2", "--colour", "red"]
PROBES = [
    (
        ["main", "1", "2", "--colourr", "red"],
        "No such option: --colourr (Possible options: --colour)",
        "未知的选项：--colourr（相近的选项：--colour）",
    ),
    (["other", "-z"], "No such option: -z", "未知的选项：-z"),
    (["bogus"], "No such command 'bogus'.", "未知的命令 'bogus'。"),
    (
        ["mian"],
        "No such command 'mian'. Did you mean 'main'?",
        "未知的命令 'mian'。您是想用 'main' 吗？",
    ),
    (["main"], "Missing argument 'pair'.", "缺少参数 'pair'。"),
    (
        ["main", "1", "2"],
        "Missing option '--colour'. Choose from:\n\tred,\n\tgreen",
        "缺少选项 '--colour'。可选值：\n\tred,\n\tgreen",
    ),
    (
        ["main", "1", "2", "--colour", "blue"],
        "Invalid value for '--colour': Value error, 'blue' is not one of 'red', 'green'.",
        "'--colour' 的值无效：'blue' 不是以下可选值之一：'red', 'green'。",
    ),
    (
        [*OK, "--ratio", "x"],
        "Invalid value for '--ratio': Input should be a valid number, unable to parse string as "
        "a number",
        "'--ratio' 的值无效：必须是数字，无法将该字符串解析为数字",
    ),
    (
        [*OK, "--n", "1.5"],
        "Invalid value for '--n': Input should be a valid integer, unable to parse string as an "
        "integer",
        "'--n' 的值无效：必须是整数，无法将该字符串解析为整数",
    ),
    (
        [*OK, "--n", "0"],
        "Invalid value for '--n': Input should be greater than or equal to 1",
        "'--n' 的值无效：必须大于或等于 1",
    ),
    (
        [*OK, "--n", "6"],
        "Invalid value for '--n': Input should be less than or equal to 5",
        "'--n' 的值无效：必须小于或等于 5",
    ),
    ([*OK, "--n"], "Option '--n' requires an argument.", "选项 '--n' 需要一个值。"),
    ([*OK, "--two", "1"], "Option '--two' requires 2 arguments.", "选项 '--two' 需要 2 个值。"),
    ([*OK, "--flag=1"], "Option '--flag' does not take a value.", "选项 '--flag' 不接受值。"),
    (["main", "1"], "Argument 'pair' takes 2 values.", "参数 'pair' 需要 2 个值。"),
    (
        [*OK, "--path", "/no/such"],
        "Invalid value for '--path': path '/no/such' does not exist.",
        "'--path' 的值无效：路径 '/no/such' 不存在。",
    ),
    (
        [*OK, "--file", "/no/such"],
        "Invalid value for '--file': file '/no/such' does not exist.",
        "'--file' 的值无效：文件 '/no/such' 不存在。",
    ),
    (
        [*OK, "--dir", "/no/such"],
        "Invalid value for '--dir': dir '/no/such' does not exist.",
        "'--dir' 的值无效：目录 '/no/such' 不存在。",
    ),
    (
        [*OK, "--refuse", "must be en or zh_CN, not 'fr'"],
        "Invalid value: must be en or zh_CN, not 'fr'",
        "值无效：必须是 en 或 zh_CN，而不是 'fr'",
    ),
    (["other", "x"], "Got unexpected extra argument(s) (x)", "多余的参数（x）"),
    (["needs"], "Missing option '--name'.", "缺少选项 '--name'。"),
    (["--verbose"], "Missing command.", "缺少命令。"),
]


@pytest.mark.parametrize(("args", "english", "chinese_text"), PROBES)
def test_each_message_typer_writes(env, args, english, chinese_text):
    r = runner.invoke(probe, args)
    assert r.exit_code == 2
    _says(r.output, english)
    env.setenv("LANG", "zh_CN.UTF-8")
    r = runner.invoke(probe, args)
    assert r.exit_code == 2
    _says(r.output, chinese_text)
    assert not re.search(r"Invalid|No such|Missing|Input|Value error|Option|Argument", r.output)
    assert said(english, lambda m: translate("zh_CN", m)) == chinese_text


def test_every_shape_is_exercised_and_translated():
    """Each message of :data:`SHAPES` is met by a probe above, and has its Chinese."""
    met = set()
    for _, english, _ in PROBES:
        for pattern, msgid in SHAPES:
            if re.fullmatch(pattern, english, re.S):
                met.add(msgid)
                break
        inner = english.partition(": ")[2]
        for pattern, msgid in SHAPES:
            if re.fullmatch(pattern, inner, re.S):
                met.add(msgid)
                break
    assert met == {msgid for _, msgid in SHAPES}
    zh = translations("zh_CN")
    for msgid in [m for _, m in SHAPES] + ["Usage:", "Try %(command)s for help.", "Error"]:
        assert CJK.search(zh.gettext(msgid)), msgid


def test_typers_frame_is_as_retento_rebuilds_it():
    """The words Typer puts around the message, which ``cli_usage.show`` writes in Chinese."""
    import inspect

    from typer import rich_utils
    from typer._click import exceptions, formatting

    assert rich_utils.ERRORS_PANEL_TITLE == "Error"
    assert rich_utils.RICH_HELP == "Try [blue]'{command_path} {help_option}'[/] for help."
    assert 'prefix = "Usage: "' in inspect.getsource(formatting.HelpFormatter.write_usage)
    assert 'f"Error: {self.format_message()}"' in inspect.getsource(exceptions.UsageError.show)


@pytest.mark.parametrize(
    ("args", "locale"),
    [
        (["--lang", "zh_CN", "customers"], "zh_CN"),
        (["--locale=zh-CN", "x"], "zh_CN"),
        (["analyze", "clv", "--lang", "fr", "--lang", "zh"], "zh_CN"),
        (["--lang", "en", "analyze", "--lang", "zh"], "en"),
        (["x", "--", "--lang", "zh"], "en"),  # after --: an argument
        (["--lang"], "en"),
    ],
)
def test_usage_locale_reads_the_command_line_as_typed(env, args, locale):
    assert usage_locale(args) == locale
