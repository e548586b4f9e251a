"""The command line prints its errors in the user's language, with the web's translations:
the global ``retento --lang``, else the command's own ``--lang``, else ``RETENTO_LANG`` and the
POSIX ``LC_ALL`` / ``LC_MESSAGES`` / ``LANG``, else ``RETENTO_DEFAULT_LOCALE``
(``core.cli_language``)."""

from __future__ import annotations

import re
import sys

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from retento.cli import app
from retento.core import cli_language
from retento.core.cli_language import cli_locale, supported
from retento.core.config import get_settings

runner = CliRunner()
LANGUAGE_VARIABLES = ("RETENTO_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "RETENTO_DEFAULT_LOCALE")
BAD_ROWS = "external_id,name,email,country\nc1,Ann,notmail,US\nc2,,b@x.com,USA\n"


def _flat(output: str) -> str:
    """The output without whitespace: Rich wraps long lines (Chinese ones anywhere)."""
    return re.sub(r"\s+", "", output)


def _says(result, *texts: str) -> None:
    for t in texts:
        assert _flat(t) in _flat(result.output), result.output


@pytest.fixture
def env(monkeypatch):
    """A clean language environment (``C``: decides nothing); returns ``monkeypatch``."""
    for name in LANGUAGE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def import_db(tmp_path_factory):
    """A migrated SQLite database with an admin and a file with bad rows (a failed import
    writes nothing, so the tests share it)."""
    from retento.core.migrate import upgrade

    folder = tmp_path_factory.mktemp("cli_lang")
    url = f"sqlite:///{folder / 'cli.db'}"
    upgrade(url)
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (username, display_name, role, password_hash, is_active, locale,"
                " created_at, updated_at) VALUES ('admin', 'Admin', 'admin', 'x', 1, 'en',"
                " '2025-01-01 00:00:00', '2025-01-01 00:00:00')"
            )
        )
    eng.dispose()
    bad = folder / "bad.csv"
    bad.write_text(BAD_ROWS)
    return url, bad


@pytest.fixture
def bad_import(import_db, env):
    url, bad = import_db
    env.setenv("RETENTO_DATABASE_URL", url)
    return ["import", "customers", str(bad)]


ENGLISH_ROWS = (
    "Error: 2 row(s) of bad.csv are invalid; nothing was imported",
    "(field: email)",
    "line 2, column email: 'notmail' is not an e-mail address",
    "line 3, column name: is empty",
    "line 3, column country: must be a two-letter country code",
)
CHINESE_ROWS = (
    "错误：bad.csv 中有 2 行无效，未导入任何数据",
    "（字段：email）",
    "第 2 行，email 列：'notmail' 不是电子邮件地址",
    "第 3 行，name 列：为空",
    "第 3 行，country 列：必须是两个字母的国家代码",
)


def test_import_row_errors_are_english_by_default(bad_import):
    r = runner.invoke(app, bad_import)
    assert r.exit_code == 1
    _says(r, *ENGLISH_ROWS)


@pytest.mark.parametrize(
    "variables",
    [
        {"LANG": "zh_CN.UTF-8"},
        {"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"},
        {"LC_ALL": "zh_CN.GB18030", "LC_MESSAGES": "en_US.UTF-8"},
        {"RETENTO_LANG": "zh", "LANG": "en_US.UTF-8"},
    ],
)
def test_import_row_errors_in_chinese_through_the_environment(bad_import, env, variables):
    for name, value in variables.items():
        env.setenv(name, value)
    r = runner.invoke(app, bad_import)
    assert r.exit_code == 1
    _says(r, *CHINESE_ROWS)
    assert "line 3" not in r.output


def test_import_row_errors_in_chinese_through_the_global_option(bad_import, env):
    env.setenv("LANG", "en_US.UTF-8")
    r = runner.invoke(app, ["--lang", "zh_CN", *bad_import])
    assert r.exit_code == 1
    _says(r, *CHINESE_ROWS)
    # the option wins over the environment, and is not left behind for the next command
    env.setenv("RETENTO_LANG", "zh_CN")
    r = runner.invoke(app, ["--locale=en", *bad_import])
    _says(r, *ENGLISH_ROWS)
    env.delenv("RETENTO_LANG")
    _says(runner.invoke(app, bad_import), *ENGLISH_ROWS)


def test_the_global_option_refuses_another_language(env):
    r = runner.invoke(app, ["--lang", "fr", "permissions"])
    assert r.exit_code == 2 and "must be en or zh_CN, not 'fr'" in r.output


@pytest.fixture
def no_database(env, tmp_path):
    env.setenv("RETENTO_DATABASE_URL", f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    return env


def test_database_error_and_its_hint_in_chinese(no_database):
    no_database.setenv("RETENTO_LANG", "zh_CN")
    r = runner.invoke(app, ["customers", "search", "x"])
    assert r.exit_code == 1
    _says(r, "数据库错误：", "请检查 RETENTO_DATABASE_URL，并运行 `retento db upgrade`。")
    r = runner.invoke(app, ["--lang", "en", "customers", "search", "x"])
    _says(r, "Database error:", "Check RETENTO_DATABASE_URL and run `retento db upgrade`.")


def test_the_installation_language_when_nothing_else_says(no_database):
    no_database.setenv("RETENTO_DEFAULT_LOCALE", "zh_CN")
    get_settings.cache_clear()
    _says(runner.invoke(app, ["customers", "search", "x"]), "数据库错误：")
    no_database.setenv("LANG", "en_GB.UTF-8")  # the environment comes first
    _says(runner.invoke(app, ["customers", "search", "x"]), "Database error:")


def test_a_commands_own_lang_when_given_and_the_global_option_over_it(no_database):
    no_database.setenv("LANG", "zh_CN.UTF-8")
    r = runner.invoke(app, ["retention", "alerts", "--lang", "en"])
    _says(r, "Database error:")
    r = runner.invoke(app, ["retention", "alerts"])  # its default "en" was not given
    _says(r, "数据库错误：")
    r = runner.invoke(app, ["--lang", "zh_CN", "retention", "alerts", "--locale", "en"])
    _says(r, "数据库错误：")


ANALYZE = ["analyze", "segments", "missing.csv", "--customer-col", "id", "--date-col", "d",
           "--amount-col", "a", "-o", "out.csv"]  # fmt: skip


def test_analyze_errors_follow_lang_and_the_environment(env):
    r = runner.invoke(app, ANALYZE)
    assert r.exit_code == 1 and "Error: file not found: missing.csv" in r.output
    r = runner.invoke(app, [*ANALYZE, "--lang", "zh_CN"])
    assert r.exit_code == 1 and "错误：找不到文件：missing.csv" in r.output
    env.setenv("LANG", "zh_CN.UTF-8")
    assert "错误：找不到文件：missing.csv" in runner.invoke(app, ANALYZE).output
    assert "Error: file not found" in runner.invoke(app, ["--lang", "en", *ANALYZE]).output


@pytest.mark.parametrize("option", [["--lang", "zh_CN"], ["--locale=zh"]])
def test_the_console_script_keeps_analyze_light_with_the_global_option(
    env, monkeypatch, capsys, option
):
    """``retento --lang zh_CN analyze ...`` still skips the full command line (``entry``)."""
    from retento.entry import main

    monkeypatch.setattr(cli_language, "_global", None)  # main() leaves it set, as a process
    monkeypatch.setattr(sys, "argv", ["retento", *option, *ANALYZE])
    monkeypatch.delitem(sys.modules, "retento.cli")  # not imported again by the fast path
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 1
    assert "retento.cli" not in sys.modules
    assert "错误：找不到文件：missing.csv" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "locale"),
    [("zh", "zh_CN"), ("zh-CN", "zh_CN"), ("zh_TW.UTF-8", "zh_CN"), ("en_US.UTF-8", "en"),
     ("en", "en"), ("C", None), ("POSIX", None), ("C.UTF-8", None), ("fr_FR", None), ("", None)],
)  # fmt: skip
def test_language_tags(value, locale):
    assert supported(value) == locale


def test_posix_order_lc_all_first_and_c_decides_nothing(env):
    env.setenv("LC_ALL", "C")
    env.setenv("LANG", "zh_CN.UTF-8")
    assert cli_locale() == "en"  # LC_ALL=C wins, then the installation's default
    env.setenv("RETENTO_LANG", "zh_CN")
    assert cli_locale() == "zh_CN"


def test_a_commands_output_follows_the_same_choice_unless_its_own_lang_is_given(
    import_db, env, tmp_path
):
    """Labels, reasons and names a command prints follow the command line's language when its
    own ``--lang`` is not given: the global option, then the environment."""
    url, _ = import_db
    env.setenv("RETENTO_DATABASE_URL", url)
    _says(runner.invoke(app, ["work", "list"]), "No work items.")
    _says(runner.invoke(app, ["--lang", "zh_CN", "work", "list"]), "没有工作项。")
    env.setenv("LANG", "zh_CN.UTF-8")
    _says(runner.invoke(app, ["work", "list"]), "没有工作项。")
    _says(runner.invoke(app, ["work", "list", "--lang", "en"]), "No work items.")
    r = runner.invoke(app, ["work", "list", "--lang", "fr"])
    assert r.exit_code != 0 and "--lang" in r.output, r.output

    rows = "".join(f"{c},2024-0{m}-10,{10 * c * m}\n" for c in range(1, 9) for m in range(1, 4))
    (tmp_path / "t.csv").write_text("id,date,amount\n" + rows)
    names = {}
    for lang in ([], ["--lang", "en"]):
        out = tmp_path / f"seg{len(lang)}.csv"
        args = ["analyze", "segments", str(tmp_path / "t.csv"), "--customer-col", "id",
                "--date-col", "date", "--amount-col", "amount", "--k", "2", "--output",
                str(out), *lang]  # fmt: skip
        assert runner.invoke(app, args).exit_code == 0
        names[bool(lang)] = out.read_text(encoding="utf-8")
    assert re.search("[\u4e00-\u9fff]", names[False])  # LANG says Chinese
    assert not re.search("[\u4e00-\u9fff]", names[True])  # its own --lang en wins
