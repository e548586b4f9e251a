"""`retento analyze basket` on files (issue 13 point 9): itemsets, rules, JSON, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
from typer.testing import CliRunner

from retento.analyze.cli import app

runner = CliRunner()


def write_lines(path, rows):
    pd.DataFrame(rows, columns=["order", "sku", "qty"]).to_csv(path, index=False)


def test_itemsets_and_rules_from_a_csv(tmp_path):
    rows = [(1, "tea", 1), (1, "milk", 2), (2, "tea", 1), (2, "milk", 1), (3, "tea", 1)]
    rows += [(4, "jam", 1), (4, "", 1), (5, None, 1), (1, "tea", 3)]  # empty item, dup line
    src = tmp_path / "lines.csv"
    write_lines(src, rows)
    out = tmp_path / "itemsets.csv"
    r = runner.invoke(
        app,
        ["basket", str(src), "--order-col", "order", "--item-col", "sku", "--min-support",
         "0.5", "--output", str(out), "--json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    # Order 5 has no item, so 4 baskets; tea in 3 (0.75), milk in 2 (0.5), tea+milk in 2.
    assert summary["n_baskets"] == 4 and summary["n_lines_skipped"] == 2
    assert summary["n_itemsets"] == 3 and summary["n_rules"] is None
    written = pd.read_csv(out)
    assert dict(zip(written["itemsets"], written["support"], strict=True)) == {
        "tea": 0.75,
        "milk": 0.5,
        "milk | tea": 0.5,
    }
    rules_out = tmp_path / "rules.csv"
    r = runner.invoke(
        app,
        ["basket", str(src), "--order-col", "order", "--item-col", "sku", "--min-support",
         "0.5", "--min-confidence", "0.9", "--output", str(rules_out), "--json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["n_rules"] == 1
    rule = pd.read_csv(rules_out).iloc[0]
    assert (rule["antecedents"], rule["consequents"], rule["confidence"]) == ("milk", "tea", 1.0)


def test_parquet_input_and_plain_text_summary(tmp_path):
    src = tmp_path / "lines.parquet"
    import duckdb  # writes Parquet without pyarrow

    duckdb.sql("SELECT * FROM (VALUES (1, 'a'), (1, 'b'), (2, 'a')) t(o, i)").write_parquet(
        str(src)
    )
    out = tmp_path / "out.csv"
    r = runner.invoke(
        app,
        ["basket", str(src), "--order-col", "o", "--item-col", "i", "--min-support", "0.5",
         "--output", str(out)],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "2 baskets, 2 items: 3 itemsets written to" in r.output


def test_errors_name_the_problem(tmp_path):
    src = tmp_path / "lines.csv"
    write_lines(src, [(1, "a", 1)])
    base = ["basket", str(src), "--output", str(tmp_path / "o.csv")]
    r = runner.invoke(
        app, [*base, "--order-col", "order", "--item-col", "nope", "--min-support", "0.1"]
    )
    assert r.exit_code == 1 and "Column 'nope' not found" in r.output
    r = runner.invoke(
        app, [*base, "--order-col", "order", "--item-col", "sku", "--min-support", "2"]
    )
    assert r.exit_code == 1 and "--min-support must be above 0" in r.output
    missing = ["basket", str(tmp_path / "none.csv"), "--output", "x.csv"]
    r = runner.invoke(
        app, [*missing, "--order-col", "a", "--item-col", "b", "--min-support", "0.1"]
    )
    assert r.exit_code == 1 and "File not found" in r.output
    many = tmp_path / "many.csv"
    write_lines(many, [(o, f"i{k}", 1) for o in range(30) for k in range(12)])
    r = runner.invoke(
        app,
        ["basket", str(many), "--order-col", "order", "--item-col", "sku", "--min-support",
         "0.5", "--max-itemsets", "100", "--output", str(tmp_path / "o.csv")],
    )  # fmt: skip
    assert r.exit_code == 1 and "more than 100 frequent itemsets" in r.output


def test_the_console_script_runs_analyze_without_loading_the_app(tmp_path):
    code = (
        "import sys; sys.argv = ['retento', 'analyze', '--help'];"
        "from retento.entry import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('LOADED' if 'retento.cli' in sys.modules or 'fastapi' in sys.modules else 'LIGHT')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("LIGHT") and "basket" in out.stdout
