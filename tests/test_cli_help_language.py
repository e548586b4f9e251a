"""Help pages (``--help``, or a group run without its command) are in Chinese when the command
line's language is Chinese, every text on them translated (``core.cli_help``,
``cli_help.po``), and exactly Typer's own in English."""

from __future__ import annotations

import gc
import inspect
import re
import sys
from typing import Any

import pytest
import typer
import typer.core
import typer.main
import typer.testing
from babel.messages.pofile import read_po
from rich.cells import cell_len
from typer import rich_utils
from typer.core import TyperGroup
from typer.testing import CliRunner

from retento.analyze.base import app as analyze_app
from retento.cli import app
from retento.core import cli_help, cli_language
from retento.core.cli_help import PLAIN_WORDS, RICH_WORDS, help_texts, msgid, words
from retento.core.cli_usage import _ARGS, UsageLanguageGroup, _one_line_summary
from retento.core.config import get_settings
from retento.web.i18n import LOCALE_DIR, gettext

runner = CliRunner()
LANGUAGE_VARIABLES = ("RETENTO_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "RETENTO_DEFAULT_LOCALE")
CJK = re.compile("[\u4e00-\u9fff]")
# What an untranslated page would show: Typer's words and the start of Retento's texts.
ENGLISH = re.compile(
    r"Usage|Options|Arguments|Commands|Show this message|\[default|\[required|Retento customer"
    r"|Customers:|Fit a BTYD|Customer id column|Where to write"
)
HEADINGS = ("用法：", "─ 选项 ─", "显示此帮助信息并退出。")


@pytest.fixture
def env(monkeypatch):
    """A clean language environment (``C``: decides nothing); returns ``monkeypatch``."""
    for name in LANGUAGE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def _pages(command: Any, path: tuple[str, ...] = ()):
    """The path of every command and group under ``command``, itself first."""
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _pages(sub, (*path, name))


def _every_page() -> list[tuple[Any, tuple[str, ...]]]:
    full = [(app, p) for p in _pages(typer.main.get_command(app))]
    return full + [(analyze_app, p) for p in _pages(typer.main.get_command(analyze_app))]


def _built_once(monkeypatch) -> dict[Any, Any]:
    """CliRunner builds each app's click commands once (Typer builds them on every run): a
    page of every command is quicker, and a Chinese page must leave the objects as they were
    for the next one."""
    built = {top: typer.main.get_command(top) for top in (app, analyze_app)}
    monkeypatch.setattr(typer.testing, "_get_command", built.__getitem__)
    return built


def _texts() -> list[tuple[str, str]]:
    return [
        *help_texts(typer.main.get_command(app), ("retento",)),
        *help_texts(typer.main.get_command(analyze_app), ("retento analyze",)),
    ]


# The catalogue


def test_every_help_text_and_word_has_chinese():
    texts = _texts()
    assert len(texts) > 400
    wheres = {where for where, _ in texts}
    # commands, groups, options, arguments and the help option are all walked
    assert {
        "retento",
        "retento --lang",
        "retento --help",
        "retento customers",
        "retento customers search",
        "retento customers search query",
        "retento customers search --limit",
        "retento analyze clv transactions",
        "retento analyze",
    } <= wheres
    missing = []
    for where, text in [*texts, *(("Typer", w) for w in words())]:
        chinese = gettext("zh_CN", text)
        if chinese == text or not chinese.strip() or not CJK.search(chinese):
            missing.append(f"{where}: {text!r}")
    assert not missing, "no Chinese (python -m retento.core.cli_help):\n" + "\n".join(missing)


def _catalogue() -> dict[str, str]:
    with (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "cli_help.po").open("rb") as fh:
        return {m.id: m.string for m in read_po(fh) if m.id}


def test_the_catalogue_keeps_names_and_holds_no_stale_text():
    """A translation keeps the option names, placeholders and code of its English, and every
    entry is a text or a word some page shows (a changed text leaves no orphan behind)."""
    catalogue = _catalogue()
    shown = {text for _, text in _texts()} | set(words())
    assert set(catalogue) <= shown, set(catalogue) - shown
    kept = re.compile(r"--[a-z][\w-]*|\{\w*\}|`[^`]+`|\b[A-Z][A-Z_]{3,}\b|\$\w+|local\[\*\]")
    for english, chinese in catalogue.items():
        assert sorted(set(kept.findall(english))) == sorted(set(kept.findall(chinese))), english
        # Rich's option highlighter needs a non-word character before "--"
        assert not re.search(r"[\u4e00-\u9fff]--", chinese), chinese
    # none is overridden by another catalogue merged with it
    assert all(gettext("zh_CN", e) == c for e, c in catalogue.items())


def test_typers_words_are_still_these():
    """A Typer upgrade that changes its words (or how they are read) fails here."""
    for name, english in RICH_WORDS.items():
        assert getattr(rich_utils, name) == english, name
    source = inspect.getsource(typer.core)
    for english in PLAIN_WORDS:
        assert f'_("{english}")' in source, english
    assert "_make_rich_text(" in inspect.getsource(rich_utils._get_parameter_help)
    assert "(?P<usage>Usage: )" in type(rich_utils.highlighter).highlights
    option = typer.main.get_command(app).get_help_option(typer.Context(typer.main.get_command(app)))
    assert option is not None and option.help == "Show this message and exit."


def test_message_ids_are_the_texts_as_shown():
    assert msgid("  Fit a model\n    and score.\n\n  Output:\n  columns.  ") == (
        "Fit a model and score.\n\nOutput: columns."
    )
    assert msgid("One.\f\nHidden.") == "One."


def test_a_new_option_is_listed():
    probe = typer.Typer(cls=UsageLanguageGroup)

    @probe.command("go")
    def go(
        thing: str = typer.Argument(..., help="A brand new\n   argument."),
        speed: int = typer.Option(1, help="A brand new option."),
    ) -> None:
        """A brand new command."""

    @probe.command("stop")
    def stop() -> None:
        """Stop."""

    texts = dict((t, w) for w, t in help_texts(typer.main.get_command(probe), ("probe",)))
    assert texts["A brand new argument."] == "probe go thing"
    assert texts["A brand new option."] == "probe go --speed"
    assert texts["A brand new command."] == "probe go"
    assert gettext("zh_CN", "A brand new option.") == "A brand new option."  # would fail above


# Chinese pages


def test_top_level_group_and_command_in_chinese(env):
    r = runner.invoke(app, ["--lang", "zh_CN", "--help"])
    assert r.exit_code == 0, r.output
    for text in (*HEADINGS, "用法：root [OPTIONS] COMMAND", "Retento 客户保持系统。", "─ 命令 ─"):
        assert text in r.output, text
    assert "输出、错误信息和帮助的语言：en 或 zh_CN" in r.output
    assert "客户：搜索、合并、归档、恢复、数据导出和删除个人信息。" in r.output  # a group's line
    assert not ENGLISH.search(r.output), r.output

    r = runner.invoke(app, ["--lang", "zh_CN", "customers", "--help"])
    assert r.exit_code == 0
    assert "客户：搜索、合并、归档、恢复、数据导出和删除个人信息。" in r.output
    assert "按网页列表和 API 相同的方式查找客户（最匹配的在前）。" in r.output
    assert all(text in r.output for text in (*HEADINGS, "─ 命令 ─"))
    assert not ENGLISH.search(r.output), r.output

    env.setenv("RETENTO_LANG", "zh_CN")
    r = runner.invoke(app, ["analyze", "clv", "--help"])
    assert r.exit_code == 0
    for text in (
        *HEADINGS,
        "─ 参数 ─",
        "拟合 BTYD 模型和 Gamma-Gamma 模型，计算每位客户的顾客终生价值（CLV）。",
        "交易数据：CSV（带表头）或 Parquet。",
        "客户编号列。 [必填]",
        "[默认：bgnbd]",
    ):
        assert text in r.output, text
    assert not ENGLISH.search(r.output), r.output


def test_every_page_in_chinese_is_whole(env):
    """Every page, Chinese through and through, and laid out: no column cut short with "…"
    (Rich breaks lines at spaces only; Chinese is broken between characters)."""
    env.setenv("RETENTO_LANG", "zh_CN")
    _built_once(env)
    for top, path in _every_page():
        r = runner.invoke(top, [*path, "--help"])
        assert r.exit_code == 0, (path, r.output)
        assert "用法：" in r.output and "…" not in r.output, r.output
        assert not ENGLISH.search(r.output), r.output
        assert max(cell_len(line) for line in r.output.splitlines()) <= 80, r.output


@pytest.mark.parametrize(
    ("args", "text"),
    [
        # the command's own --lang, typed after --help is seen (eager) or before
        (["analyze", "churn", "--lang", "zh", "--help"], "每位客户在某一日期的流失风险"),
        (["analyze", "segments", "--help", "--locale=zh_CN"], "按最近购买、购买频率和消费金额"),
        (["--locale", "zh", "work", "list", "--help"], "最新的后台任务"),
    ],
)
def test_a_typed_language_decides(env, args, text):
    r = runner.invoke(app, args)
    assert r.exit_code == 0 and text in r.output, r.output


def test_a_group_without_its_command_shows_its_page_in_chinese(env):
    env.setenv("LANG", "zh_CN.UTF-8")
    r = runner.invoke(app, ["customers"])  # no_args_is_help: the page, exit 2 as before
    assert r.exit_code == 2
    assert "用法：root customers" in r.output and "─ 命令 ─" in r.output
    assert not ENGLISH.search(r.output), r.output
    r = runner.invoke(analyze_app, [])
    assert r.exit_code == 2 and "无需数据库，分析交易文件。" in r.output


def test_without_rich_the_plain_layout(env, monkeypatch):
    monkeypatch.setattr(typer.core, "HAS_RICH", False)
    r = runner.invoke(app, ["--lang", "zh_CN", "customers", "--help"])
    assert r.exit_code == 0
    assert r.output.startswith("用法：root customers [OPTIONS] COMMAND [ARGS]...\n")
    assert "\n选项：\n" in r.output and "\n命令：\n" in r.output
    # a subcommand's first sentence, not click's word-count cut of a Chinese paragraph
    assert "  search     按网页列表和 API 相同的方式查找客户（最匹配的在前）。\n" in r.output
    r = runner.invoke(app, ["--lang", "zh_CN", "analyze", "clv", "--help"])
    assert "\n参数：\n" in r.output and "[必填]" in r.output and "[默认：W]" in r.output
    assert not ENGLISH.search(r.output), r.output
    r = runner.invoke(app, ["--lang", "en", "customers", "--help"])
    assert r.output.startswith("Usage: root customers") and "\nOptions:\n" in r.output
    assert not CJK.search(r.output)


# Not imported for an English page: the catalogues (Babel), the Chinese pages' module and the
# settings (pydantic-settings), which the environment alone decides (core.cli_language).
LAZY = ("retento.web.i18n", "retento.core.cli_help", "retento.core.config")


@pytest.fixture
def console_script(env, monkeypatch, capsys):
    """Runs ``retento ARGS`` through ``retento.entry.main`` as the console script does; checks
    it stayed on the fast path (the full command line not imported) and that an English page
    loaded nothing it does not need (:data:`LAZY`)."""
    from retento.entry import main

    def run(*args: str, english: bool) -> str:
        monkeypatch.setattr(cli_language, "_global", None)
        monkeypatch.setattr(sys, "argv", ["retento", *args])
        for name in ("retento.cli", *LAZY):
            monkeypatch.delitem(sys.modules, name, raising=False)
        with pytest.raises(SystemExit) as stop:
            main()
        assert stop.value.code == 0
        assert gc.isenabled()
        assert "retento.cli" not in sys.modules
        if english:
            assert not set(LAZY) & set(sys.modules)
        else:
            assert "retento.web.i18n" in sys.modules
        return capsys.readouterr().out

    return run


def test_analyze_clv_help_through_the_console_script(console_script, env):
    english = console_script("analyze", "clv", "--help", english=True)
    assert "Usage: retento analyze clv" in english and not CJK.search(english)
    env.setenv("RETENTO_LANG", "zh_CN")
    chinese = console_script("analyze", "clv", "--help", english=False)
    assert "用法：retento analyze clv" in chinese and "─ 选项 ─" in chinese
    assert "计算每位客户的顾客终生价值（CLV）" in chinese and not ENGLISH.search(chinese)
    assert console_script("--lang", "en", "analyze", "clv", "--help", english=True) == english


def test_an_installation_in_chinese_without_loading_its_settings_for_english(console_script, env):
    """Without ``RETENTO_DEFAULT_LOCALE`` the installation's language is the settings'
    default, known without reading them: as long as the settings come from the environment
    alone."""
    from retento.core.config import Settings

    assert Settings.model_fields["default_locale"].default == "en"
    assert not {"env_file", "secrets_dir"} & {k for k, v in Settings.model_config.items() if v}
    assert Settings.model_config.get("case_sensitive") is not True
    env.setenv("retento_default_locale", "zh_CN")  # as pydantic-settings reads it
    chinese = console_script("analyze", "clv", "--help", english=False)
    assert "用法：retento analyze clv" in chinese


# English pages


def _summaries(command: Any) -> None:
    """What Retento's group class changes on an English page: each command's line in its
    group's list is the first paragraph of its help made one line (``_one_line_summary``)."""
    for sub in getattr(command, "commands", {}).values():
        _one_line_summary(sub)
        _summaries(sub)


def test_every_page_in_english_is_typers_own(env, monkeypatch):
    """Byte for byte what Typer prints without Retento's group class (and so without its help
    contexts) but for the command lists' one-line summaries, also after a Chinese page has been
    printed in the same process."""
    pages = _every_page()
    _built_once(monkeypatch)
    assert "用法" in runner.invoke(app, ["--lang", "zh_CN", "analyze", "clv", "--help"]).output
    ours = [runner.invoke(top, [*path, "--help"]) for top, path in pages]
    ours.append(runner.invoke(app, []))
    monkeypatch.setattr(app.info, "cls", TyperGroup)
    monkeypatch.setattr(analyze_app.info, "cls", TyperGroup)
    for command in _built_once(monkeypatch).values():
        _summaries(command)
    typers = [runner.invoke(top, [*path, "--help"]) for top, path in pages]
    typers.append(runner.invoke(app, []))
    for where, mine, plain in zip([*pages, "no arguments"], ours, typers, strict=True):
        assert (mine.exit_code, mine.output) == (plain.exit_code, plain.output), where
    assert all("Usage: " in r.output and "用法" not in r.output for r in ours)


def test_a_chinese_page_leaves_nothing_behind(env, capsys):
    """The Chinese is put in place for the page being printed, and the English put back."""
    group = typer.main.get_command(app).commands["customers"]
    ctx = group.context_class(group, info_name="customers")
    ctx.meta[_ARGS] = ["--lang", "zh_CN", "customers", "--help"]
    shown = [(o, a, getattr(o, a)) for o, a in cli_help._shown(group, ctx)]
    module = {
        name: getattr(rich_utils, name) for name in (*RICH_WORDS, "_make_rich_text", "highlighter")
    }
    gettext_before = typer.core._
    ctx.get_help()
    out = capsys.readouterr().out
    assert "客户：搜索、合并、归档" in out and "─ 选项 ─" in out
    assert [(o, a, getattr(o, a)) for o, a, _ in shown] == shown
    assert group.help == "Customers: search, merge, archive, restore, data export and erasure."
    assert {name: getattr(rich_utils, name) for name in module} == module
    assert typer.core._ is gettext_before
    assert "formatter_class" not in vars(ctx)
    ctx.meta[_ARGS] = ["customers", "--help"]
    ctx.get_help()
    assert "Customers: search" in capsys.readouterr().out


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_a_command_list_breaks_lines_where_the_terminal_ends_not_the_docstring(env, lang):
    """Typer's Rich mode kept a docstring's line breaks in a group's command list, so
    ``retento --help`` showed "… labels, loyalty stage, and" / "churn risk …" on two lines
    however wide the terminal; each command's summary is now one paragraph, wrapped by the
    terminal only (``cli_usage._one_line_summary``)."""
    for args in ([], ["loyalty"], ["analyze"]):
        r = runner.invoke(app, ["--lang", lang, *args, "--help"], env={"COLUMNS": "400"})
        assert r.exit_code == 0, r.output
        panel = r.output.split("─ Commands ─" if lang == "en" else "─ 命令 ─")[1]
        rows = [line.strip("│ ").rstrip() for line in panel.splitlines()[1:-1]]
        names = [row.split()[0] for row in rows if row]
        assert len(rows) == len(names) > 3, rows  # no continuation line
    r = runner.invoke(app, ["--lang", "en", "--help"], env={"COLUMNS": "400"})
    assert "labels, loyalty stage, and churn risk with its top reasons" in r.output


def test_every_option_says_what_it_is_for():
    """35 options had an empty help column (``retento export --status``, every ``--as`` of
    ``retento loyalty``, ``serve --reload`` …): a user reading ``--help`` saw a bare name."""
    bare = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        for param in command.params:
            is_option = getattr(param, "param_type_name", "") == "option"
            if is_option and not param.hidden and not param.help and param.name != "help":
                bare.append(f"{' '.join(path)} {param.opts[0]}")
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ("retento",))
    assert not bare, bare
