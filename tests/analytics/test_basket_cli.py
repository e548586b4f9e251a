"""`retento analyze basket` on files (issue 13 point 9): itemsets, rules, JSON, clear errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
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


def _expected_baskets(text: str, order_col: str, item_col: str) -> tuple[list, int, int]:
    """What the reader must give, by the csv module line by line: the baskets (sorted item
    tuples, sorted), the skipped lines and the distinct items."""
    from retento.analytics.basket_io import _NA_STRINGS

    rows = list(csv.reader(io.StringIO(text), skipinitialspace=True))
    header, rows = rows[0], [r for r in rows[1:] if r]
    oi, ii = header.index(order_col), header.index(item_col)
    pairs = [(r[oi] if oi < len(r) else "", r[ii] if ii < len(r) else "") for r in rows]
    ids = [o for o, _ in pairs if o not in _NA_STRINGS]
    numeric = all(o.strip().lstrip("+-").isdigit() for o in ids)
    baskets: dict = {}
    skipped = 0
    for o, i in pairs:
        if o in _NA_STRINGS or i in _NA_STRINGS or not i.strip():
            skipped += 1
            continue
        baskets.setdefault(int(o) if numeric else o, set()).add(i)
    items = {i for _, i in pairs if i not in _NA_STRINGS}
    return sorted(tuple(sorted(b)) for b in baskets.values()), skipped, len(items)


def _baskets_of(lines) -> list:
    out: dict = {}
    for b, i in zip(lines.baskets.tolist(), lines.items.tolist(), strict=True):
        out.setdefault(b, set()).add(lines.labels[i])
    return sorted(tuple(sorted(b)) for b in out.values())


@pytest.mark.parametrize("block", [64, 1 << 18])
@pytest.mark.parametrize("seed", range(6))
def test_the_csv_reader_agrees_with_the_csv_module_line_by_line(tmp_path, monkeypatch, seed, block):
    """Quoted fields (commas, quotes, line breaks), spaces after commas, CRLF, blank and short
    lines, missing-value markers, long and non-ASCII items, text order ids: whichever way a
    block is read (NumPy on plain blocks, the csv module from the first other one)."""
    import retento.analytics.basket as basket
    import retento.analytics.basket_io as basket_io

    monkeypatch.setattr(basket_io, "_CSV_BLOCK_BYTES", block)
    rng = np.random.default_rng(seed)
    plain = [f"p{k}" for k in range(12)]
    odd = ["a,b", 'say "hi"', "two\nlines", "  lead", "NA", "", "\t", "Äpfel", "x" * 80, "null"]
    text_ids = seed % 3 == 2
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n" if seed % 2 else "\n")
    writer.writerow(["line", "order", "sku"])
    for n in range(400):
        order = int(rng.integers(0, 60))
        item = str(rng.choice(plain))
        late = n > 300  # plain lines first, so the fast path runs before the odd ones
        if late and rng.random() < 0.2:
            item = str(rng.choice(odd))
        cell = f"o-{order}" if text_ids and n > 200 else str(order)
        if late and rng.random() < 0.03:
            cell = ""
        if late and rng.random() < 0.02:
            writer.writerow([n, cell])  # a short line: no item
        else:
            writer.writerow([n, cell, item])
        if late and rng.random() < 0.01:
            buf.write("\n")  # a blank line
    text = buf.getvalue()
    src = tmp_path / "lines.csv"
    src.write_text(text, encoding="utf-8", newline="")
    got = basket.OrderLines.read(src, "order", "sku")
    want, skipped, n_items = _expected_baskets(text, "order", "sku")
    assert _baskets_of(got) == want
    assert (got.skipped, len(got.labels), got.n_baskets) == (skipped, n_items, len(want))
    assert got.labels == sorted(got.labels)


def test_reader_errors_name_the_file_the_column_and_the_line(tmp_path):
    from retento.analytics.basket import OrderLines
    from retento.analytics.errors import SummaryInputError

    def error(text: str | bytes, order="order", item="sku") -> str:
        src = tmp_path / "bad.csv"
        (src.write_bytes if isinstance(text, bytes) else src.write_text)(text)
        with pytest.raises(SummaryInputError) as caught:
            OrderLines.read(src, order, item)
        return str(caught.value)

    assert error("") == f"File is empty: {tmp_path / 'bad.csv'}"
    assert "no columns to parse" in error("\n\n")
    assert error("order,sku\n1,a\n", item="item") == (
        f"Column 'item' not found in {tmp_path / 'bad.csv'}; columns are: order, sku"
    )
    # Quoted header names are names like any other.
    assert "columns are: order id, sku" in error('"order id",sku\n1,a\n')
    assert "line 4 has 3 fields, the header has 2" in error("order,sku\n1,a\n2,b\n3,c,extra\n")
    # A quoted field with a line break moves the line count on.
    msg = error('order,sku\n1,"a\nb"\n2,b\n3,c,extra\n')
    assert "line 5 has 3 fields" in msg
    assert "must be UTF-8" in error("order,sku\n1,caf\xe9\n".encode("latin-1"))
    # A header and no lines is no error: no baskets.
    src = tmp_path / "header.csv"
    src.write_text("order,sku\n")
    assert OrderLines.read(src, "order", "sku").n_baskets == 0


def test_quoted_fields_and_text_ids_through_the_command(tmp_path):
    src = tmp_path / "lines.csv"
    src.write_text(
        'order,sku\n7,"milk, whole"\n7,tea\n07,"jam ""extra"""\n"A-1",tea\n"A-1","milk, whole"\n'
    )
    out = tmp_path / "out.csv"
    r = runner.invoke(
        app,
        ["basket", str(src), "--order-col", "order", "--item-col", "sku", "--min-support",
         "0.5", "--output", str(out), "--json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    # Text ids: "7" and "07" are two orders; "milk, whole" with tea in 2 of 3 baskets.
    assert json.loads(r.output)["n_baskets"] == 3
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["itemsets"]: row["count"] for row in rows} == {
        "tea": "2",
        "milk, whole": "2",
        "milk, whole | tea": "2",
    }


def test_the_csv_path_of_the_command_never_imports_pandas(tmp_path):
    src = tmp_path / "lines.csv"
    src.write_text("order,sku\n1,tea\n1,milk\n2,tea\n")
    code = (
        "import sys\n"
        f"sys.argv = ['retento', 'analyze', 'basket', {str(src)!r}, '--order-col', 'order',"
        f" '--item-col', 'sku', '--min-support', '0.5', '--min-confidence', '0.1',"
        f" '--output', {str(tmp_path / 'o.csv')!r}]\n"
        "from retento.entry import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('PANDAS' if 'pandas' in sys.modules else 'NO PANDAS')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("NO PANDAS"), out.stdout
    assert "2 baskets, 2 items: 3 itemsets, 2 rules written to" in out.stdout
