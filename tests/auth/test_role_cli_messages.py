"""`retento role create/update` refuse a bad value naming the option by the role form's label,
in the CLI's language (they printed pydantic's raw "String should match pattern ..." with the
schema's field name). The values are refused before the database is opened."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from retento.cli import app

runner = CliRunner()


def _run(lang: str, *args: str):
    return runner.invoke(app, ["--lang", lang, "role", *args])


def _flat(text: str) -> str:
    return "".join(text.split())


CASES = [
    (
        ["create", "x"],
        "Name (NAME): Write at least 2 characters.",
        "名称（NAME）：请至少填写 2 个字符。",
    ),
    (
        ["create", "ops", "--scope", "bogus"],
        "Works on (--scope) must be one of: own, all.",
        "作用范围（--scope）必须是以下之一：own、all。",
    ),
    (
        ["create", "ops", "--base-role", "admin"],
        "Works like (--base-role) must be one of: manager, agent, analyst.",
        "视同角色（--base-role）必须是以下之一：manager、agent、analyst。",
    ),
    (
        ["create", "ops", "--name-zh", "长" * 41],
        "Chinese name (--name-zh): Write at most 40 characters.",
        "中文名称（--name-zh）：最多填写 40 个字符。",
    ),
    (
        ["update", "ops", "--name", "a"],
        "Name (--name): Write at least 2 characters.",
        "名称（--name）：请至少填写 2 个字符。",
    ),
]


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
@pytest.mark.parametrize(("args", "en", "zh"), CASES)
def test_role_values_are_named_by_the_forms_labels(monkeypatch, lang, args, en, zh):
    monkeypatch.setenv("RETENTO_DATABASE_URL", "sqlite:////nonexistent/never-opened.db")
    r = runner.invoke(app, ["--lang", lang, "role", *args])
    assert r.exit_code == 1, r.output
    assert _flat(en if lang == "en" else zh) in _flat(r.output), r.output
    assert "String should" not in r.output and "Input should" not in r.output
    assert "name_zh" not in r.output and "base_role" not in r.output
