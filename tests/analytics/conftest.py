"""Fixtures shared by the analytics tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).parents[1] / "data" / "cdnow"


@pytest.fixture(scope="session")
def cdnow_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CDNOW 1/10 sample (tests/data/cdnow) as a CSV with a header: cid, id, date, cds,
    amount."""
    df = pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["cid", "id", "date", "cds", "amount"],
    )
    path = tmp_path_factory.mktemp("cdnow") / "cdnow.csv"
    df.to_csv(path, index=False)
    return path
