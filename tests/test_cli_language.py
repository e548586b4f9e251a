"""Every CLI command with a language option takes both spellings, ``--lang`` and ``--locale``:
review found ``analyze`` taking --lang only and ``user create`` and ``retention alerts``
--locale only, so a user had to remember which command spelt it how."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
import typer.main
from typer.testing import CliRunner

from retento.cli import app

SPELLINGS = {"--lang", "--locale"}
runner = CliRunner()


def _commands(cmd: Any, path: tuple[str, ...] = ()):
    """(path, command) of every command under ``cmd``, groups walked (Typer's own click
    classes, so by shape rather than by type)."""
    if hasattr(cmd, "commands"):
        for name, sub in cmd.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield path, cmd


def _language_options() -> dict[tuple[str, ...], Any]:
    root = typer.main.get_command(app)
    out = {}
    for path, cmd in _commands(root):
        for p in cmd.params:
            names = {*p.opts, *p.secondary_opts}
            if p.param_type_name == "option" and names & {*SPELLINGS, "--language"}:
                out[path] = p
    return out


def test_every_language_option_takes_both_spellings_and_its_help_shows_them():
    found = _language_options()
    assert {
        ("user", "create"),
        ("retention", "alerts"),
        ("retention", "report"),
        ("analyze", "churn"),
        ("analyze", "segments"),
    } <= set(found)
    for path, option in found.items():
        assert SPELLINGS <= set(option.opts), (path, option.opts)
        shown = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert shown.exit_code == 0, shown.output
        assert "--lang" in shown.output and "--locale" in shown.output, path


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    from retento.core.config import get_settings
    from retento.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_user_create_takes_lang(cli_db):
    from retento.auth.models import User
    from retento.core.db import make_engine, make_session_factory, transaction

    r = runner.invoke(
        app,
        ["user", "create", "wang", "--role", "agent", "--password", "ledger-Sesame-42",
         "--lang", "zh_CN"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    engine = make_engine(cli_db)
    with transaction(make_session_factory(engine)) as s:
        assert s.query(User).filter_by(username="wang").one().locale == "zh_CN"
    engine.dispose()


@pytest.mark.parametrize(
    ("option", "stored"),
    [
        (("--lang", "zh"), "zh_CN"),
        (("--locale", "zh-CN"), "zh_CN"),
        (("--locale", "zh_cn"), "zh_CN"),
        (("--lang", "en"), "en"),
    ],
)
def test_user_create_takes_the_spellings_other_commands_take(cli_db, option, stored):
    """``zh`` / ``zh-CN``, as ``retention alerts --lang zh`` takes them (the shared
    ``web.i18n.normalise_locale``), are stored as the user's ``zh_CN``."""
    from retento.auth.models import User
    from retento.core.db import make_engine, make_session_factory, transaction

    r = runner.invoke(
        app,
        ["user", "create", "li", "--role", "agent", "--password", "ledger-Sesame-42", *option],
    )
    assert r.exit_code == 0, r.output
    engine = make_engine(cli_db)
    with transaction(make_session_factory(engine)) as s:
        assert s.query(User).filter_by(username="li").one().locale == stored
    engine.dispose()


def test_user_create_refuses_another_language_naming_the_option(cli_db):
    r = runner.invoke(
        app,
        ["user", "create", "li", "--role", "agent", "--password", "ledger-Sesame-42",
         "--lang", "fr"],
    )  # fmt: skip
    assert r.exit_code != 0 and "locale" in r.output, r.output


@pytest.mark.parametrize("option", [("--locale", "zh_CN"), ("--lang", "zh"), ("--locale", "zh")])
def test_analyze_segments_takes_locale_and_zh_cn(tmp_path, option):
    """``--locale zh_CN`` as the database commands write it, ``--lang zh`` as before."""
    rows = [(c, f"2024-0{m}-10", 10.0 * c * m) for c in range(1, 9) for m in range(1, 1 + c % 4)]
    csv = tmp_path / "t.csv"
    pd.DataFrame(rows, columns=["id", "date", "amount"]).to_csv(csv, index=False)
    out = tmp_path / "seg.csv"
    args = ["analyze", "segments", str(csv), "--customer-col", "id", "--date-col", "date",
            "--amount-col", "amount", "--k", "2", "--output", str(out), *option]  # fmt: skip
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert pd.read_csv(out)["segment_name"].str.contains("[\u4e00-\u9fff]").all()


def test_analyze_refuses_another_language(tmp_path):
    r = runner.invoke(app, ["analyze", "segments", str(tmp_path / "none.csv"), "--customer-col",
                            "id", "--date-col", "d", "--amount-col", "a", "-o",
                            str(tmp_path / "o.csv"), "--locale", "fr"])  # fmt: skip
    assert r.exit_code == 1 and "--lang must be en or zh, not 'fr'" in r.output


@pytest.fixture
def english_operator(monkeypatch):
    """An operator whose environment says nothing of a language: the replies are English."""
    for name in ("RETENTO_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "RETENTO_DEFAULT_LOCALE"):
        monkeypatch.delenv(name, raising=False)


def test_user_create_lang_is_the_new_users_not_the_reply(cli_db, english_operator):
    """``user create --lang zh_CN`` gives the new user Chinese; the administrator who typed it
    reads the reply, an error and a usage error in their own language (review found all three
    switched to Chinese)."""
    pw = ["--password", "ledger-Sesame-42"]
    r = runner.invoke(app, ["user", "create", "wang", "--role", "agent", *pw, "--lang", "zh"])
    assert r.exit_code == 0 and "Created agent wang" in r.output, r.output
    r = runner.invoke(
        app, ["user", "create", "li", "--role", "agent", "--password", "short", "--lang", "zh"]
    )
    assert r.exit_code == 1 and "Write at least 12 characters" in r.output, r.output
    r = runner.invoke(app, ["user", "create", "li", "--role", "agent", "--lang", "zh", "--bogus"])
    assert r.exit_code == 2 and "No such option" in r.output, r.output
    # The operator's own language still decides: the global option, or the environment.
    r = runner.invoke(
        app, ["--lang", "zh", "user", "create", "zhao", "--role", "agent", *pw, "--lang", "en"]
    )
    assert r.exit_code == 0 and "已创建" in r.output, r.output
    r = runner.invoke(
        app, ["--lang", "zh", "user", "create", "qian", "--role", "agent", "--lang", "en", "-x"]
    )
    assert r.exit_code == 2 and "未知的选项" in r.output, r.output
