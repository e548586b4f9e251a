"""`retento analyze segments` through Typer's CliRunner on the analyze sub-app."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from retento.analyze.cli import app

runner = CliRunner()


def _args(csv: Path, out: Path, *extra: str) -> list[str]:
    return [
        "segments", str(csv), "--customer-col", "id", "--date-col", "date",
        "--amount-col", "amount", "--output", str(out), *extra,
    ]  # fmt: skip


def test_segments_json_and_csv(cdnow_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "seg.csv"
    res = runner.invoke(app, _args(cdnow_csv, out, "--json", "--k-max", "5"))
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["customers"] == 2357
    assert payload["method"] == "kmeans" and payload["chosen_by"] == "silhouette"
    assert [s["k"] for s in payload["scores"]] == [2, 3, 4, 5]
    chosen = [s for s in payload["scores"] if s["chosen"]]
    assert len(chosen) == 1 and chosen[0]["k"] == payload["k"]
    assert chosen[0]["score"] == max(s["score"] for s in payload["scores"])
    profiles = payload["profiles"]
    assert len(profiles) == payload["k"]
    assert sum(p["size"] for p in profiles) == 2357
    assert sum(p["revenue_share"] for p in profiles) == pytest.approx(1.0)
    assert {"name_en", "name_zh", "median_recency", "mean_monetary"} <= set(profiles[0])
    rows = pd.read_csv(out)
    assert list(rows.columns) == [
        "id", "recency", "frequency", "monetary", "segment", "segment_name",
    ]  # fmt: skip
    assert len(rows) == 2357 and rows["id"].is_unique
    names = {p["segment"]: p["name_en"] for p in profiles}
    assert (rows["segment_name"] == rows["segment"].map(names)).all()
    sizes = rows["segment"].value_counts().sort_index().tolist()
    assert sizes == [p["size"] for p in profiles]


def test_segments_gmm_fixed_k_chinese_text(cdnow_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "zh.csv"
    res = runner.invoke(
        app,
        _args(
            cdnow_csv, out, "--method", "gmm", "--k", "3", "--lang", "zh", "--as-of", "1997-06-30"
        ),  # fmt: skip
    )
    assert res.exit_code == 0, res.output
    assert "分为 3 个客户群（fixed）" in res.stdout  # --lang zh: the whole report in Chinese
    rows = pd.read_csv(out)
    assert rows["segment"].nunique() == 3
    assert rows["segment_name"].str.contains("[\u4e00-\u9fff]").all()
    assert rows["recency"].min() >= 0
    # every customer shown made a purchase by the cut-off
    assert len(rows) == 2357
    res = runner.invoke(app, _args(cdnow_csv, out, "--method", "gmm", "--k-max", "4", "--json"))
    payload = json.loads(res.stdout)
    assert payload["chosen_by"] == "bic"
    text = runner.invoke(app, _args(cdnow_csv, out, "--k-max", "3"))
    assert text.exit_code == 0, text.output
    assert "silhouette per k (* = chosen): 2: 0.6" in text.stdout
    assert "0: Recent frequent high spenders - " in text.stdout
    chosen = [s for s in payload["scores"] if s["chosen"]][0]
    assert chosen["score"] == min(s["score"] for s in payload["scores"])


@pytest.mark.parametrize(
    "extra,message",
    [
        (("--method", "dbscan"), "--method must be kmeans or gmm"),
        (("--lang", "fr"), "--lang must be en or zh"),
        (("--k", "0"), "--k must be at least 1"),
        (("--k-min", "5", "--k-max", "3"), "2 <= k-min <= k-max"),
        (("--as-of", "soon"), "--as-of is not a date"),
        (("--as-of", "1990-01-01"), "No purchase on or before 1990-01-01"),
    ],
)
def test_segments_bad_options(cdnow_csv: Path, tmp_path: Path, extra: tuple, message: str) -> None:
    res = runner.invoke(app, _args(cdnow_csv, tmp_path / "x.csv", *extra))
    assert res.exit_code == 1
    assert message in res.output
    assert not (tmp_path / "x.csv").exists()


def test_segments_bad_file_row_named(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text("id,date,amount\n1,2024-01-01,5\n2,2024-01-02,lots\n")
    res = runner.invoke(app, _args(path, tmp_path / "o.csv"))
    assert res.exit_code == 1
    assert "'amount'" in res.output and "row 2" in res.output
    res = runner.invoke(app, _args(tmp_path / "missing.csv", tmp_path / "o.csv"))
    assert res.exit_code == 1 and "file not found" in res.output
