"""One local SparkSession for every Spark test (starting one costs 10-15 s)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest

CDNOW = Path(__file__).parents[2] / "data" / "cdnow" / "CDNOW_sample.txt"


@pytest.fixture(scope="session")
def spark():
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from retento.analytics.spark import get_spark

    session = get_spark(
        "local[2]",
        app_name="retento-tests",
        **{
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.driver.memory": "2g",
            "spark.ui.enabled": "false",
        },
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def cdnow_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CDNOW 1/10 sample as CSV: cid, id, date (yyyymmdd), cds, amount."""
    df = pd.read_csv(CDNOW, sep=r"\s+", header=None, names=["cid", "id", "date", "cds", "amount"])
    path = tmp_path_factory.mktemp("spark") / "cdnow.csv"
    df.to_csv(path, index=False)
    return path
