"""One SparkSession per process, and reading a transaction table from Parquet, CSV or JDBC.

PySpark is the optional ``spark`` extra (``pip install -e '.[spark]'``); it is imported only
when a function here is called, so the rest of :mod:`retento.analytics` works without it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from retento.analytics.errors import SummaryInputError

__all__ = ["MASTER_ENV", "get_spark", "read_table"]

#: Environment variable naming the Spark master (``local[*]``, ``spark://host:7077``,
#: ``yarn``, ``k8s://...``) when no master is passed.
MASTER_ENV = "RETENTO_SPARK_MASTER"


def _import_pyspark() -> Any:
    try:
        import pyspark
    except ImportError:  # pragma: no cover - the extra is installed by `make test`
        raise SummaryInputError(
            "the Spark engine needs PySpark: pip install -e '.[spark]' (and Java 17 or later)"
        ) from None
    return pyspark


def get_spark(master: str | None = None, *, app_name: str = "retento", **conf: Any) -> Any:
    """The active SparkSession, or a new one on ``master``.

    ``master`` defaults to ``$RETENTO_SPARK_MASTER``, then ``local[*]``. Executors run the
    driver's Python (``PYSPARK_PYTHON`` is set to ``sys.executable`` unless already set), so in
    local mode they find :mod:`retento`; on a cluster install the package on the workers. Extra
    keyword arguments are Spark settings (dots as underscores are not translated: pass
    ``**{"spark.sql.shuffle.partitions": "8"}``).
    """
    _import_pyspark()
    import warnings

    from pyspark.sql import SparkSession

    # PySpark 4.x warns on every pandas conversion that pandas 3 is not "fully supported"; the
    # conversions used here (numeric and string columns through Arrow) are tested with it.
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
    )
    warnings.filterwarnings("ignore", message="The copy keyword is deprecated", module="pyspark")

    active = SparkSession.getActiveSession()
    if active is not None and not conf and master is None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name).master(
        master or os.environ.get(MASTER_ENV) or "local[*]"
    )
    defaults = {
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        # Arrow moves the pandas batches of mapInPandas and toPandas without row objects.
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    for key, value in {**defaults, **conf}.items():
        builder = builder.config(key, str(value))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def read_table(
    spark: Any,
    source: Any,
    *,
    columns: list[str] | None = None,
    jdbc_table: str | None = None,
    jdbc_properties: dict[str, str] | None = None,
) -> Any:
    """A Spark DataFrame of a transaction table.

    ``source`` is a Spark DataFrame (returned as is), a pandas DataFrame, a Parquet file or
    directory (``.parquet``/``.pq``), a CSV file with a header (any other path), or a JDBC URL
    (``jdbc:postgresql://host/db``) with ``jdbc_table`` (a table name or ``(SELECT ...) t``)
    and ``jdbc_properties`` (``user``, ``password``, ``driver``; the JDBC driver's jar must be
    on Spark's class path, e.g. ``spark.jars``). Raises
    :class:`~retento.analytics.SummaryInputError` for a missing file or column.
    """
    import pandas as pd

    if hasattr(source, "sparkSession") and hasattr(source, "schema"):
        frame = source
        name = "DataFrame"
    elif isinstance(source, pd.DataFrame):
        frame = spark.createDataFrame(source)
        name = "DataFrame"
    elif isinstance(source, str) and source.startswith("jdbc:"):
        if not jdbc_table:
            raise SummaryInputError("a JDBC source needs the table (or a subquery) to read")
        frame = spark.read.jdbc(source, jdbc_table, properties=dict(jdbc_properties or {}))
        name = f"{jdbc_table} at {source.split('?')[0]}"
    else:
        path = Path(source)
        if not path.exists():
            raise SummaryInputError(f"File not found: {path}")
        if path.is_file() and path.stat().st_size == 0:
            raise SummaryInputError(f"File is empty: {path}")
        name = str(path)
        if path.suffix.lower() in {".parquet", ".pq"} or path.is_dir():
            frame = spark.read.parquet(str(path))
        else:
            # Every column as text: the summary parses dates and amounts itself, the same way
            # for every source, and names the column of a bad value.
            frame = spark.read.option("header", True).option("inferSchema", False).csv(str(path))
    missing = [c for c in columns or [] if c not in frame.columns]
    if missing:
        raise SummaryInputError(
            f"Column {missing[0]!r} not found in {name}; columns are: " + ", ".join(frame.columns)
        )
    return frame
