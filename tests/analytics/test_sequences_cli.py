"""`retento analyze sequences` on files (issue 13 point 9): patterns, evaluation, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
from typer.testing import CliRunner

from retento.analyze.cli import app

runner = CliRunner()


def write_lines(path, rows):
    frame = pd.DataFrame(rows, columns=["cust", "day", "sku"])
    if str(path).endswith(".parquet"):
        import duckdb

        con = duckdb.connect()
        con.register("frame", frame)
        con.execute(f"COPY frame TO '{path}' (FORMAT PARQUET)")
        con.close()
    else:
        frame.to_csv(path, index=False)


ROWS = [
    ("ann", "2024-01-01", "tea"),
    ("ann", "2024-01-01", "milk"),
    ("ann", "2024-01-09", "jam"),
    ("bob", "2024-01-02", "tea"),
    ("bob", "2024-01-03", "bread"),
    ("bob", "2024-01-20", "jam"),
    ("cat", "2024-01-05", "jam"),
    ("cat", "", "tea"),  # no date: left out
    ("dan", "2024-01-06", ""),  # no item: left out
]


def run(*args):
    return runner.invoke(app, ["sequences", *map(str, args)])


def test_patterns_from_a_csv_and_a_parquet_file(tmp_path):
    for name in ("lines.csv", "lines.parquet"):
        src = tmp_path / name
        write_lines(src, ROWS)
        out = tmp_path / f"{name}.out.csv"
        r = run(src, "--customer-col", "cust", "--date-col", "day", "--item-col", "sku",
                "--min-support", "0.6", "--output", out, "--json")  # fmt: skip
        assert r.exit_code == 0, r.output
        summary = json.loads(r.output)
        assert summary["n_sequences"] == 3 and summary["n_lines_skipped"] == 2
        written = pd.read_csv(out)
        assert dict(zip(written["pattern"], written["count"], strict=True)) == {
            "jam": 3,
            "tea": 2,
            "tea > jam": 2,
        }
        assert summary["n_patterns"] == 3 and set(summary["timings"]) >= {"read_s", "patterns_s"}
    # With a gap of one purchase date, bob's tea is two dates before his jam.
    r = run(src, "--customer-col", "cust", "--date-col", "day", "--item-col", "sku",
            "--min-support", "0.3", "--max-gap", "1", "--output", out, "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    counts = dict(zip(*(pd.read_csv(out)[c] for c in ("pattern", "count")), strict=True))
    assert counts["tea > jam"] == 1 and counts["tea > bread > jam"] == 1
    assert counts["milk + tea > jam"] == 1


def test_evaluation_names_the_winner(tmp_path):
    rows = []
    for c in range(60):
        for month in range(1, 7):
            rows.append((f"c{c}", f"2024-{month:02d}-{1 + c % 20:02d}", f"own{c % 15}"))
    src = tmp_path / "lines.csv"
    write_lines(src, rows)
    out = tmp_path / "out.csv"
    r = run(src, "--customer-col", "cust", "--date-col", "day", "--item-col", "sku",
            "--min-support", "0.02", "--evaluate-after", "2024-05-01", "--output", out,
            "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    evaluation = json.loads(r.output)["evaluation"]
    assert evaluation["n_customers"] == 60 and evaluation["k"] == 5
    assert evaluation["hit_rate"]["repeat"] == 1.0
    assert evaluation["winner"] in {"repeat", "patterns"}
    r = run(src, "--customer-col", "cust", "--date-col", "day", "--item-col", "sku",
            "--min-support", "0.02", "--evaluate-after", "2024-05-01", "--output", out)  # fmt: skip
    assert r.exit_code == 0 and "hit-rate@5 after 2024-05-01 over 60 customers" in r.output


def test_bad_input_is_named(tmp_path):
    src = tmp_path / "lines.csv"
    write_lines(src, [("ann", "2024-01-01", "tea"), ("bob", "not a date", "jam")])
    out = tmp_path / "out.csv"
    base = ["--customer-col", "cust", "--date-col", "day", "--item-col", "sku", "--output", out]
    r = run(src, *base, "--min-support", "0.5")
    assert r.exit_code != 0 and "line 3" in r.output and "not a date" in r.output
    r = run(src, *base[:4], "--item-col", "nope", "--output", out, "--min-support", "0.5")
    assert r.exit_code != 0 and "'nope' not found" in r.output
    r = run(src, *base, "--min-support", "0")
    assert r.exit_code != 0 and "--min-support" in r.output
    r = run(src, *base, "--min-support", "0.5", "--max-gap", "0")
    assert r.exit_code != 0 and "--max-gap" in r.output
    r = run(src, *base, "--min-support", "0.5", "--evaluate-after", "soon")
    assert r.exit_code != 0 and "--evaluate-after" in r.output
    r = run(tmp_path / "missing.csv", *base, "--min-support", "0.5")
    assert r.exit_code != 0 and "File not found" in r.output


def test_a_cap_stops_with_a_clear_message(tmp_path):
    rows = [
        (f"c{c}", f"2024-01-{d:02d}", f"p{(c + d) % 7}") for c in range(30) for d in range(1, 9)
    ]
    src = tmp_path / "lines.csv"
    write_lines(src, rows)
    r = run(src, "--customer-col", "cust", "--date-col", "day", "--item-col", "sku",
            "--min-support", "0.01", "--max-patterns", "50", "--output", tmp_path / "o.csv")  # fmt: skip
    assert r.exit_code != 0 and "more than 50 frequent sequences" in r.output


def test_the_console_script_mines_without_loading_the_app(tmp_path):
    src = tmp_path / "lines.csv"
    write_lines(src, ROWS)
    args = ["retento", "analyze", "sequences", str(src), "--customer-col", "cust", "--date-col",
            "day", "--item-col", "sku", "--min-support", "0.6", "--output",
            str(tmp_path / "o.csv"), "--json"]  # fmt: skip
    code = (
        f"import sys; sys.argv = {args!r}\n"
        "from retento.entry import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('retento.cli', 'fastapi', 'sqlalchemy', 'scipy') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("HEAVY []"), out.stdout
    assert json.loads(out.stdout[: out.stdout.rindex("HEAVY")])["n_patterns"] == 3
