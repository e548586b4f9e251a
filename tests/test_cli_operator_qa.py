"""An operator's findings on the command line (SQLite and PostgreSQL): the choices an error lists
are the codes one types, a typo'd filter is refused, the README's user example works, a newer or
unusable database is said in words (no traceback), and `surveys distribute` names its options
in the command line's language."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, select, text
from typer.testing import CliRunner

from retento.auth.models import User
from retento.auth.password_policy import password_problem
from retento.cli import app
from retento.core.config import get_settings
from retento.core.db import make_engine, make_session_factory
from retento.core.migrate import upgrade
from tests.conftest import scratch_pg_database
from tests.factories import make_customer, make_user

runner = CliRunner()
LANGS = ["en", "zh_CN"]


@pytest.fixture(scope="module")
def cli_db(backend, tmp_path_factory, request):
    """One migrated database of the backend for the module, with an admin (``boss``)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('cliop') / 'cli.db'}"
        upgrade(url)
    else:
        database = scratch_pg_database(
            prefix="retento_cliop", template=request.getfixturevalue("pg_template")
        )
        url = database.__enter__()
        request.addfinalizer(lambda: database.__exit__(None, None, None))
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as s:
        make_user(s, username="boss", role="admin")
        make_customer(s, name="Operator QA", party_type="person")
        s.commit()
    yield url, factory
    engine.dispose()


@pytest.fixture
def cli(cli_db, monkeypatch):
    url, factory = cli_db
    _use(monkeypatch, url)
    yield factory
    get_settings.cache_clear()


def _use(monkeypatch, url: str) -> None:
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    monkeypatch.delenv("RETENTO_LANG", raising=False)
    monkeypatch.setenv("LANG", "C")
    get_settings.cache_clear()


def _out(result) -> str:
    return "".join(result.output.split())  # Rich wraps long lines anywhere


def _run(lang: str, *args: str):
    return runner.invoke(app, ["--lang", lang, *args])


def _has(result, expected: str) -> bool:
    return "".join(expected.split()) in _out(result)


# 1. A refused choice lists the codes the option takes, in both languages ----------------------

CHOICES = [
    (
        ["export", "orders", "--status", "bogus"],
        "Status (status) must be one of: placed, paid, shipped, completed, cancelled.",
        "状态（status）必须是以下之一：placed、paid、shipped、completed、cancelled。",
    ),
    (
        ["export", "customers", "--kind", "alien"],
        "Kind (kind) must be one of: consumer, business, distributor, supplier, department, "
        "branch.",
        "类型（kind）必须是以下之一：consumer、business、distributor、supplier、department、branch。",
    ),
    (
        ["export", "touchpoints", "--direction", "sideways"],
        "(direction) must be one of: inbound, outbound.",
        "（direction）必须是以下之一：inbound、outbound。",
    ),
    (  # a typo'd party type exported an empty file without a word
        ["export", "customers", "--party-type", "org"],
        "Person or organisation (party_type) must be one of: person, organisation.",
        "个人或组织（party_type）必须是以下之一：person、organisation。",
    ),
]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("args", "en", "zh"), CHOICES)
def test_refused_choices_list_the_codes_to_type(cli, tmp_path, lang, args, en, zh):
    target = tmp_path / "out.csv"
    result = _run(lang, *args, "--output", str(target))
    assert result.exit_code == 1, result.output
    assert _has(result, en if lang == "en" else zh), result.output
    assert "Placed" not in result.output and "已下单" not in result.output  # not the labels
    assert not target.exists()


def test_a_right_party_type_still_exports(cli, tmp_path):
    target = tmp_path / "people.csv"
    result = _run("en", "export", "customers", "--party-type", "person", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert "Operator QA" in target.read_text(encoding="utf-8-sig")


# 2. The README's user example ---------------------------------------------------------------


def test_a_short_username_inside_a_word_does_not_refuse_the_password():
    # "bo" is inside "Harbour": the README's `user create bo ... 'quiet-Harbour-77'` failed.
    assert password_problem("quiet-Harbour-77", "bo") is None
    assert password_problem("li-Kettle-lime-9", "li") is None
    refused = "Do not put the username in the password."
    assert password_problem("alice-in-chains", "Alice") == refused
    assert password_problem("xbob-harbour-77", "bob") == refused


def test_readme_user_examples_work_as_written(cli):
    steps = [
        ["user", "create", "alice", "--role", "manager", "--password", "amber-Kettle-19"],
        [
            "user", "create", "bo", "--role", "agent", "--password", "quiet-Harbour-77",
            "--manager", "alice",
        ],
    ]  # fmt: skip
    for args in steps:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    assert "Created agent bo" in " ".join(result.output.split())
    with cli() as s:
        bo = s.scalar(select(User).where(User.username == "bo"))
        alice = s.scalar(select(User).where(User.username == "alice"))
        assert bo is not None and bo.role == "agent" and bo.manager_id == alice.id


# 3. A database this version cannot use ------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("command", [["db", "upgrade"], ["db", "current"]])
def test_a_database_migrated_by_a_newer_version_is_said_in_words(
    scratch_db_url, monkeypatch, lang, command
):
    _stamp(scratch_db_url, "0999")
    _use(monkeypatch, scratch_db_url)
    try:
        result = _run(lang, *command)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    if lang == "en":
        assert _has(result, "is at revision 0999, which this version of Retento does not know")
    else:
        assert _has(result, "处于版本 0999，当前版本的 Retento 不认识该版本")
    # Nothing was migrated over it.
    engine = create_engine(scratch_db_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert tables == {"alembic_version"}


BAD_URLS = [
    (
        "garbage",
        "RETENTO_DATABASE_URL is not a database address.",
        "RETENTO_DATABASE_URL 不是数据库地址。",
    ),
    (
        "mysql://someone@somewhere/retento",
        "RETENTO_DATABASE_URL names mysql, which Retento does not support.",
        "RETENTO_DATABASE_URL 指定的是 mysql，Retento 不支持该数据库。",
    ),
]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("url", "en", "zh"), BAD_URLS)
@pytest.mark.parametrize("command", [["db", "upgrade"], ["user", "list"]])
def test_an_unusable_database_url_is_said_in_words(monkeypatch, lang, url, en, zh, command):
    _use(monkeypatch, url)
    try:
        result = _run(lang, *command)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert _has(result, en if lang == "en" else zh), result.output
    assert _has(result, "postgresql+psycopg://")


# 4. `surveys distribute` names its options, in the command line's language --------------------

DISTRIBUTE = [
    (
        ["--channel", "fax"],
        "Channel (--channel) must be one of: online, phone, mail, onsite.",
        "渠道（--channel）必须是以下之一：online、phone、mail、onsite。",
    ),
    (
        ["--expires-in-days", "0"],
        "Links valid for (days) (--expires-in-days) must be between 1 and 365.",
        "链接有效期（天）（--expires-in-days）必须在 1 到 365 之间。",
    ),
    (
        ["--segment", "everyone"],
        "Segment (--segment) must be one of: all, value_class, tag, complaint_closed, "
        "customers, insight.",
        "客户群（--segment）必须是以下之一：all、value_class、tag、complaint_closed、customers、"
        "insight。",
    ),
    (
        ["--segment", "tag"],
        "--segment tag needs --value.",
        "--segment tag 需要 --value。",
    ),
    (
        ["--segment", "customers"],
        "--segment customers needs --customers",
        "--segment customers 需要 --customers",
    ),
    (
        ["--segment", "complaint_closed", "--closed-since", "someday"],
        "Complaints closed since (--closed-since): Enter a date and time.",
        "（--closed-since）：请输入日期和时间。",
    ),
]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("args", "en", "zh"), DISTRIBUTE)
def test_distribute_option_errors_are_named_and_translated(cli, lang, args, en, zh):
    result = _run(lang, "surveys", "distribute", "--survey", "1", "--no-send", *args)
    assert result.exit_code == 1, result.output
    assert _has(result, en if lang == "en" else zh), result.output
    assert "Input should" not in result.output  # not pydantic's English


# 5. `customers field-add` says a refused value as the Customer fields page does ----------------

FIELD_ADD = [
    (
        ["Bad-Key", "Tier"],
        "Key (key): Use lower-case letters, digits and _ only, starting with a letter.",
        "键（key）：只能使用小写字母、数字和 _，并以字母开头。",
    ),
    (
        ["tier_x", "Tier", "--type", "colour"],
        "Type (--type) must be one of: text, number, date, boolean, choice.",
        "类型（--type）必须是以下之一：text、number、date、boolean、choice。",
    ),
    (
        ["tier_x", "Tier", "--type", "choice"],
        "options: a choice field needs at least one option.",
        "选项：选项字段至少需要一个选项。",
    ),
]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("args", "en", "zh"), FIELD_ADD)
def test_field_add_refusals_are_named_and_translated(cli, lang, args, en, zh):
    from retento.customers.field_models import CustomFieldDefinition

    result = _run(lang, "customers", "field-add", *args)
    assert result.exit_code == 1, result.output
    assert _has(result, en if lang == "en" else zh), result.output
    assert "Value error" not in result.output and "Input should" not in result.output
    with cli() as s:
        defined = select(CustomFieldDefinition).where(CustomFieldDefinition.key == "tier_x")
        assert s.scalar(defined) is None


# 6. `db current` says where the database stands, in the command line's language ---------------


def _stamp(url: str, revision: str | None) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        if revision is not None:
            conn.execute(text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})
    engine.dispose()


@pytest.mark.parametrize("lang", LANGS)
def test_db_current_says_the_revision_and_what_to_do(scratch_db_url, monkeypatch, lang):
    from retento.core.migrate import head_revision

    head = head_revision()
    older = f"{int(head) - 1:04d}"
    _use(monkeypatch, scratch_db_url)
    try:
        empty = _run(lang, "db", "current")
        _stamp(scratch_db_url, older)
        behind = _run(lang, "db", "current")
    finally:
        get_settings.cache_clear()
    assert empty.exit_code == 0 and behind.exit_code == 0, empty.output + behind.output
    assert "Current revision(s)" not in empty.output + behind.output  # not Alembic's English
    if lang == "en":
        assert _has(empty, "has no schema yet: run `retento db upgrade`.")
        assert _has(behind, f"is at revision {older}; this version's newest is {head}")
    else:
        assert _has(empty, "上的数据库尚无表结构：请运行 `retento db upgrade`。")
        assert _has(behind, f"处于版本 {older}；当前版本 Retento 的最新版本为 {head}")


@pytest.mark.parametrize("lang", LANGS)
def test_db_current_at_head(cli, lang):
    from retento.core.migrate import head_revision

    result = _run(lang, "db", "current")
    assert result.exit_code == 0, result.output
    said = "is at revision" if lang == "en" else "上的数据库已处于版本"
    assert _has(result, f"{said} {head_revision()}")


@pytest.mark.parametrize("lang", LANGS)
def test_db_upgrade_to_a_revision_that_does_not_exist(scratch_db_url, monkeypatch, lang):
    from retento.core.migrate import head_revision

    _use(monkeypatch, scratch_db_url)
    try:
        result = _run(lang, "db", "upgrade", "9999")
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    if lang == "en":
        assert _has(result, f"There is no migration 9999; the newest is {head_revision()}.")
    else:
        assert _has(result, f"不存在迁移版本 9999；最新版本为 {head_revision()}。")
    engine = create_engine(scratch_db_url)
    assert inspect(engine).get_table_names() == []  # nothing created
    engine.dispose()
