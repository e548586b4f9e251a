"""The Spark engine of Retento's analytics (``pip install -e '.[spark]'``; Java 17+).

The same analyses as the DuckDB path, for transaction tables too large for one machine:

* :func:`customer_summary` / :func:`summarize`: the BTYD summary (x, t_x, T, monetary) by Spark
  SQL over Parquet, CSV or JDBC sources, row for row equal to
  :func:`retento.analytics.summarize`;
* :func:`fit_clv` / :func:`score_clv`: BG/NBD, MBG/NBD or Pareto/NBD and Gamma-Gamma fitted on
  the driver from the collapsed sufficient statistics, scoring on the executors
  (``mapInPandas``); :func:`clv_pipeline` runs the whole ``analyze clv``;
* :class:`SparkTransactionLog`, :func:`score_churn`: churn features by Spark SQL, training on
  the driver, scoring distributed;
* :func:`frequent_itemsets`: baskets with Spark's FPGrowth, the same itemsets as
  :func:`retento.analytics.frequent_itemsets`.

PySpark is imported only when one of these is used; importing this package does not need it.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "MASTER_ENV": "session",
    "get_spark": "session",
    "read_table": "session",
    "customer_summary": "summary",
    "load_transactions": "summary",
    "summarize": "summary",
    "SparkCLVFit": "clv",
    "fit_clv": "clv",
    "score_clv": "clv",
    "clv_pipeline": "pipeline",
    "write_frame": "pipeline",
    "SparkTransactionLog": "churn",
    "score_churn": "churn",
    "churn_pipeline": "pipeline",
    "frequent_itemsets": "basket",
    "basket_pipeline": "basket",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'retento.analytics.spark' has no attribute {name!r}")
    return getattr(importlib.import_module(f"retento.analytics.spark.{module}"), name)
