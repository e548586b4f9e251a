"""`retento analyze`: the analytics library's English messages in the CLI's language (by their
shape, at the CLI layer), NumPy's warnings kept from the user, --output checked first, and the
success path of `analyze clv` loading nothing more for it."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from retento.analyze.base import AnalyzeGroup
from retento.analyze.cli import app

runner = CliRunner()


@pytest.fixture(params=["en", "zh_CN"])
def lang(request, monkeypatch):
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RETENTO_LANG", request.param)
    return request.param


def _clv(csv: Path, out: Path, customer: str = "id") -> list[str]:
    return [
        "clv", str(csv), "--customer-col", customer, "--date-col", "date", "--amount-col",
        "amount", "--output", str(out),
    ]  # fmt: skip


def _said(result) -> str:
    return " ".join(result.stderr.split())


@pytest.mark.parametrize(
    ("content", "customer", "en", "zh"),
    [
        (
            "cust,date,amount\n,2024-01-01,3\n1,2024-01-02,4\n",
            "cust",
            "Column 'cust' has a missing customer id on data row 1 of",
            "列 'cust' 在 {csv} 的第 1 个数据行缺少客户编号（共 1 行有误）",
        ),
        (
            "id,date,amount\n1,2024-01-01,3\n1,2024-02-30,4\n",
            "id",
            "Column 'date' has a missing or unparseable date on data row 2",
            "的第 2 个数据行缺少日期或日期无法识别",
        ),
        ("", "id", "File is empty: {csv}", "文件是空的：{csv}"),
        (
            "id,date,amount\n1,2024-01-01,3\n",
            "day",
            "Column 'day' not found in",
            "中没有列 'day'；现有的列：id, date, amount",
        ),
        (
            "id,date,amount\n1,2024-01-01,3\n2,2024-01-02,4\n1,2024-01-09,0\n",
            "id",
            "fewer than two customers with repeat purchases of positive mean value",
            "重复购买平均金额为正的客户少于两位：无法拟合消费金额模型",
        ),
    ],
)
def test_clv_library_errors_in_the_clis_language(tmp_path, lang, content, customer, en, zh):
    csv = tmp_path / "tx.csv"
    csv.write_text(content)
    out = tmp_path / "o.csv"
    r = runner.invoke(app, _clv(csv, out, customer))
    assert r.exit_code == 1 and "Traceback" not in r.output
    head, text = ("Error: ", en) if lang == "en" else ("错误：", zh)
    assert _said(r).startswith(head)
    assert text.format(csv=csv) in _said(r)
    assert not out.exists()


def test_churn_library_errors_in_the_clis_language(tmp_path, lang):
    csv = tmp_path / "tx.csv"
    csv.write_text("id,date,amount\n1,2024-01-01,3\n2,2024-01-02,4\n1,2024-01-09,5\n")
    args = [
        "churn", str(csv), "--customer-col", "id", "--date-col", "date", "--amount-col",
        "amount", "--calibration-end", "2024-01-05", "--horizon-days", "30", "-o",
        str(tmp_path / "c.csv"),
    ]  # fmt: skip
    r = runner.invoke(app, args)
    assert r.exit_code == 1
    said = {
        "en": "not enough history before the cut-off 2024-01-05 to train",
        "zh_CN": "截止日期 2024-01-05 之前的历史数据不足以训练：数据从 2024-01-01 开始",
    }
    assert said[lang] in _said(r)


def test_every_library_shape_has_a_chinese_translation():
    from retento.analyze.messages import FIXED, SHAPES
    from retento.web.i18n import translate

    for _, msgid in SHAPES:
        assert translate("zh_CN", msgid) != msgid, msgid
    for msgid in FIXED:
        assert translate("zh_CN", msgid) != msgid, msgid


def test_warnings_are_one_line_in_the_clis_language_and_numpy_s_are_silenced(lang):
    import numpy as np

    demo = typer.Typer(cls=AnalyzeGroup)

    @demo.command("fit")
    def fit() -> None:
        np.log(np.zeros(3))  # "divide by zero encountered in log"
        warnings.warn(
            "BetaGeoModel fit may not have converged: ABNORMAL: ", RuntimeWarning, stacklevel=1
        )
        typer.echo("done")

    @demo.command("other")
    def other() -> None:
        pass

    r = runner.invoke(demo, ["fit"])
    assert r.exit_code == 0 and "done" in r.stdout
    assert "divide by zero" not in r.stderr and "RuntimeWarning" not in r.stderr
    said = {
        "en": "Warning: BetaGeoModel fit may not have converged: ABNORMAL:",
        "zh_CN": "警告：BetaGeoModel 拟合可能没有收敛：ABNORMAL:",
    }
    assert r.stderr.strip() == said[lang]


@pytest.mark.parametrize("command", ["clv", "churn"])
def test_output_is_checked_before_the_work(tmp_path, lang, command):
    csv = tmp_path / "tx.csv"
    csv.write_text("id,date,amount\n1,2024-01-01,3\n")
    folder = tmp_path / "out"
    folder.mkdir()
    args = _clv(csv, folder)
    args[0] = command
    if command == "churn":
        args += ["--calibration-end", "2024-01-05", "--horizon-days", "30"]
    r = runner.invoke(app, args)
    assert r.exit_code == 1
    said = {
        "en": f"Error: --output: {folder} is a folder; name the file to write.",
        "zh_CN": f"错误：--output：{folder} 是文件夹；请指定要写入的文件名。",
    }
    assert _said(r) == said[lang]
    (tmp_path / "file").write_text("")
    args[args.index(str(folder))] = str(tmp_path / "file" / "x.csv")
    r = runner.invoke(app, args)
    assert r.exit_code == 1 and "--output" in _said(r) and "Traceback" not in r.output


def test_clv_writes_into_a_new_folder_without_leaving_a_part_file(tmp_path):
    rows = ["id,date,amount"]
    for c in range(1, 61):
        rows.append(f"{c},2024-01-{1 + c % 20:02d},{10 + c % 7}")
        if c % 2 == 0:
            rows.append(f"{c},2024-03-{1 + c % 25:02d},{5 + c % 11}")
            rows.append(f"{c},2024-05-{1 + c % 25:02d},{7 + c % 5}")
    csv = tmp_path / "tx.csv"
    csv.write_text("\n".join(rows) + "\n")
    out = tmp_path / "new" / "deeper" / "scores.csv"
    r = runner.invoke(app, _clv(csv, out))
    assert r.exit_code == 0, r.output
    assert out.read_text().startswith("id,frequency")
    assert [p.name for p in out.parent.iterdir()] == ["scores.csv"]


def test_the_clv_success_path_loads_no_translation_machinery(tmp_path):
    """`retento analyze clv` is timed as a whole process: what the error and warning paths use
    (the shapes, the catalogues, core.errors) is not imported when it succeeds in English. Its
    lines follow the command line's language, so the choice (``core.cli_language``, os and
    typer only) and ``core.cli_say`` are read; the catalogues only for Chinese."""
    rows = ["id,date,amount"]
    for c in range(1, 61):
        rows.append(f"{c},2024-01-{1 + c % 20:02d},{10 + c % 7}")
        if c % 2 == 0:
            rows.append(f"{c},2024-03-{1 + c % 25:02d},{5 + c % 11}")
            rows.append(f"{c},2024-05-{1 + c % 25:02d},{7 + c % 5}")
    csv = tmp_path / "tx.csv"
    csv.write_text("\n".join(rows) + "\n")
    code = (
        "import sys; from retento.entry import main; sys.argv = ['retento'] + sys.argv[1:]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "bad = sorted(m for m in sys.modules if m in ('retento.analyze.messages', "
        "'retento.web.i18n', 'retento.core.errors', 'retento.core.cli_support') "
        "or m.split('.')[0] in ('babel', 'rich', 'sqlalchemy'))\n"
        "print('BAD', bad)"
    )
    out = tmp_path / "o.csv"
    done = subprocess.run(
        [sys.executable, "-c", code, "analyze", *_clv(csv, out)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=True,
    )
    assert "BAD []" in done.stdout, done.stdout + done.stderr
    assert out.exists()
