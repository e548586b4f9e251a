"""The exploratory tester's CLI findings: output files, negative points, merge confirmation,
option errors named and in the CLI's language (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from retento.cli import app
from retento.core.config import get_settings
from retento.core.db import make_engine, make_session_factory
from retento.core.migrate import upgrade
from tests.conftest import scratch_pg_database
from tests.factories import make_customer, make_user
from tests.factories.loyalty import make_programme

runner = CliRunner()
LANGS = ["en", "zh_CN"]


@pytest.fixture(scope="module")
def cli_db(backend, tmp_path_factory, request):
    """One migrated database of the backend per test module, with an admin (``boss``) and an
    active loyalty programme: (URL, session factory). Each test adds its own customers (``cli``)
    and changes only those, so the module's tests share it instead of migrating one each."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'cli.db'}"
        upgrade(url)
    else:
        database = scratch_pg_database(
            prefix="retento_cli", template=request.getfixturevalue("pg_template")
        )
        url = database.__enter__()
        request.addfinalizer(lambda: database.__exit__(None, None, None))
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as s:
        make_user(s, username="boss", role="admin")
        make_programme(s)
        s.commit()
    yield url, factory
    engine.dispose()


@pytest.fixture
def cli(cli_db, monkeypatch):
    """``cli_db`` as the database ``retento`` commands use, with two new customers of this
    test's own; yields (session factory, customer ids)."""
    url, factory = cli_db
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    monkeypatch.delenv("RETENTO_LANG", raising=False)
    monkeypatch.setenv("LANG", "C")
    get_settings.cache_clear()
    with factory() as s:
        ids = [make_customer(s, name=f"QA {i}").id for i in (1, 2)]
        s.commit()
    yield factory, ids
    get_settings.cache_clear()


def _out(result) -> str:
    return " ".join(result.output.split())  # Rich wraps long lines


def _says(text: str, result) -> bool:
    """``text`` is in the output however Rich wrapped it (a long path is broken mid-word)."""
    return "".join(text.split()) in "".join(result.output.split())


def _run(lang: str, *args: str):
    return runner.invoke(app, ["--lang", lang, *args])


# 1. Output files ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_export_to_a_missing_folder_names_the_option(cli, tmp_path, lang):
    target = tmp_path / "nonexistent" / "dir" / "x.csv"
    r = _run(lang, "export", "customers", "-o", str(target))
    assert r.exit_code == 1 and "Traceback" not in r.output and r.exception.code == 1
    said = {
        "en": f"Error: --output: the folder {target.parent} does not exist.",
        "zh_CN": f"错误：--output：文件夹 {target.parent} 不存在。",
    }[lang]
    assert _says(said, r), _out(r)
    assert not (tmp_path / "nonexistent").exists()


@pytest.mark.parametrize("lang", LANGS)
def test_export_to_a_folder_is_refused_and_leaves_nothing(cli, tmp_path, lang):
    folder = tmp_path / "out"
    folder.mkdir()
    r = _run(lang, "export", "customers", "-o", str(folder))
    assert r.exit_code == 1
    said = {
        "en": "is a folder; name the file to write.",
        "zh_CN": "是文件夹；请指定要写入的文件名。",
    }
    assert "--output" in _out(r) and _says(said[lang], r), _out(r)
    assert not [p for p in tmp_path.iterdir() if "part" in p.name]
    assert list(folder.iterdir()) == []


def test_export_writes_the_whole_file_and_no_part_file(cli, tmp_path):
    target = tmp_path / "c.csv"
    target.write_text("old")
    r = _run("en", "export", "customers", "-o", str(target))
    assert r.exit_code == 0, _out(r)
    assert "QA 1" in target.read_text(encoding="utf-8")
    assert not [p for p in tmp_path.iterdir() if "part" in p.name]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["loyalty", "export", "members", "--out", "{folder}"], "--out"),
        (["loyalty", "export-members", "--out", "{folder}"], "--out"),
        (["customers", "export", "{id}", "--output", "{folder}"], "--output"),
        (["complaints", "export", "--output", "{folder}"], "--output"),
        (["loyalty", "measure", "--output", "{missing}"], "--output"),
    ],
)
@pytest.mark.parametrize("lang", LANGS)
def test_every_command_writing_a_file_checks_it_first(cli, tmp_path, lang, args, option):
    _, (cid, _) = cli
    folder = tmp_path / "out"
    folder.mkdir()
    values = {"folder": str(folder), "missing": str(tmp_path / "no" / "x.csv"), "id": str(cid)}
    r = _run(lang, *[a.format(**values) for a in args])
    assert r.exit_code == 1, _out(r)
    assert "Traceback" not in r.output
    assert (f"{option}：" if lang == "zh_CN" else f"{option}:") in _out(r)
    assert list(folder.iterdir()) == []


def test_customer_export_still_writes_the_zip(cli, tmp_path):
    _, (cid, _) = cli
    out = tmp_path / "c.zip"
    r = _run("en", "customers", "export", str(cid), "-o", str(out))
    assert r.exit_code == 0, _out(r)
    assert out.read_bytes()[:2] == b"PK"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_import_rejects_file_is_checked_before_importing(cli, tmp_path):
    src = tmp_path / "c.csv"
    src.write_text("external_id,name\nX1,Someone\n", encoding="utf-8")
    folder = tmp_path / "rej"
    folder.mkdir()
    r = _run("zh_CN", "import", "customers", str(src), "--skip-invalid", "--rejects", str(folder))
    assert r.exit_code == 1 and "--rejects" in _out(r) and "是文件夹" in _out(r)


# 2. Negative points -------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_loyalty_adjust_takes_a_negative_number_as_a_debit(cli, lang):
    from retento.loyalty.models import LoyaltyJournal

    factory, (cid, _) = cli
    assert _run(lang, "loyalty", "adjust", str(cid), "100", "--reason", "opening").exit_code == 0
    r = _run(lang, "loyalty", "adjust", str(cid), "-30", "--reason", "fix")
    assert r.exit_code == 0, _out(r)
    with factory() as s:
        kinds = s.scalars(select(LoyaltyJournal.kind).order_by(LoyaltyJournal.id)).all()
    assert kinds[-2:] == ["adjust", "adjust"]
    r = _run(lang, "loyalty", "adjust", str(cid), "-99999", "--reason", "x")
    assert r.exit_code == 1
    assert "-9" not in _out(r).split("99999")[0]  # not "No such option: -9"
    said = {"en": "Only 70 points can be taken off.", "zh_CN": "最多只能扣减 70 积分。"}[lang]
    assert _says(said, r), _out(r)
    r = _run(lang, "loyalty", "adjust", str(cid), "5", "--reason", "x", "--bogus")
    assert r.exit_code == 2 and "--bogus" in _out(r)


# 3. Merge, erase, purge: existence first, then --yes, in the CLI's language ------------------


@pytest.mark.parametrize("lang", LANGS)
def test_merge_says_a_missing_customer_before_asking_for_yes(cli, lang):
    _, (a, b) = cli
    r = _run(lang, "customers", "merge", "99999999999", str(a))
    assert r.exit_code == 1
    said = {"en": "Customer 99999999999 does not exist.", "zh_CN": "客户 99999999999 不存在。"}
    assert said[lang] in _out(r) and "--yes" not in _out(r)
    r = _run(lang, "customers", "merge", str(a), str(b))
    assert r.exit_code == 1
    said = {
        "en": f"Merging customer {b} into {a} cannot be undone; add --yes to confirm.",
        "zh_CN": f"把客户 {b} 合并到 {a} 后无法撤销；请加上 --yes 确认。",
    }
    assert said[lang] in _out(r)
    assert _run(lang, "customers", "merge", str(a), str(b), "--yes").exit_code == 0


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    ("command", "en", "zh"),
    [
        ("erase", "Erasing customer {id} cannot be undone", "清除客户 {id} 的数据后无法撤销"),
        ("purge", "Deleting customer {id} cannot be undone", "删除客户 {id} 后无法撤销"),
    ],
)
def test_erase_and_purge_refusals_are_translated(cli, lang, command, en, zh):
    _, (a, _) = cli
    r = _run(lang, "customers", command, "424242")
    assert r.exit_code == 1 and "424242" in _out(r) and "--yes" not in _out(r)
    r = _run(lang, "customers", command, str(a))
    assert r.exit_code == 1
    assert (en if lang == "en" else zh).format(id=a) in _out(r)


# 4. Option errors named and translated --------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "en", "zh"),
    [
        (
            ["score", "--model", "bogus"],
            "Model (--model) must be one of: bgnbd, mbgnbd, pareto.",
            "模型（--model）必须是以下之一：bgnbd、mbgnbd、pareto。",
        ),
        (
            ["score", "--holdout-weeks", "-3"],
            "Holdout weeks (--holdout-weeks) must be between 0 and 260.",
            "验证期（周）（--holdout-weeks）必须在 0 到 260 之间。",
        ),
        (
            ["score", "--as-of", "2026-02-30"],
            "Score as of (--as-of): Enter a date and time.",
            "评分截止日期（--as-of）：请输入日期和时间。",
        ),
        (
            ["score", "--discount-rate", "2"],
            "Discount rate (--discount-rate) must be between 0 and 1.",
            "折现率（--discount-rate）必须在 0 到 1 之间。",
        ),
        (
            ["user", "create", "zed", "--role", "agent", "--password", "x"],
            "Password (--password): Write at least 12 characters.",
            "密码（--password）：请至少填写 12 个字符。",
        ),
        (
            [
                "user",
                "create",
                "zed",
                "--role",
                "agent",
                "--password",
                "Xk3!vv9#pq2Lm",
                "--locale",
                "fr",
            ],
            "Language (--locale) must be one of: en, zh_CN.",
            "语言（--locale）必须是以下之一：en、zh_CN。",
        ),
        (
            ["user", "password", "boss", "--password", "short"],
            "Password (--password): Write at least 12 characters.",
            "密码（--password）：请至少填写 12 个字符。",
        ),
    ],
)
@pytest.mark.parametrize("lang", LANGS)
def test_option_errors_name_the_option_in_the_clis_language(cli, lang, args, en, zh):
    r = _run(lang, *args)
    assert r.exit_code == 1, _out(r)
    assert (en if lang == "en" else zh) in _out(r)
    assert "String should" not in r.output and "Input should" not in r.output
    assert "out of range" not in r.output


def test_output_check_unit(tmp_path):
    from retento.core.cli_usage import OutputError, check_output, written

    with pytest.raises(OutputError) as exc:
        check_output(tmp_path / "a" / "b.csv", "--out")
    assert exc.value.template.startswith("%(option)s: the folder")
    check_output(tmp_path / "a" / "b.csv", "--out", make_folder=True)  # would be created
    (tmp_path / "f").write_text("")
    with pytest.raises(OutputError):
        check_output(tmp_path / "f" / "x.csv", "--out", make_folder=True)  # f is a file
    with pytest.raises(RuntimeError), written(tmp_path / "x.csv.gz", "--out") as tmp:
        assert tmp.name.endswith("x.csv.gz") and tmp.exists()
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
    with written(tmp_path / "x.csv", "--out") as tmp:
        tmp.write_text("done")
    assert Path(tmp_path / "x.csv").read_text() == "done"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "x.csv"]
