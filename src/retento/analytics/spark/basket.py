r"""Frequent itemsets on Spark with its FP-growth (Han, Pei & Yin 2000; parallel FP-growth of
Li et al. 2008), giving the itemsets of :func:`retento.analytics.frequent_itemsets`.

An itemset's support is the share of baskets holding all its items,
:math:`s(I) = |\{b : I \subseteq b\}| / N`; an itemset is frequent when its count reaches
:math:`\lceil s_{min} N \rceil`. The minimum count is fixed here exactly as the DuckDB/NumPy
path fixes it and handed to Spark as a support just below it, so rounding cannot make the two
engines disagree. Rules are derived on the driver from the collected itemsets with
:func:`retento.analytics.association_rules` (the itemsets are few; the baskets are many).

References
----------
Han, J., Pei, J. & Yin, Y. (2000). Mining frequent patterns without candidate generation.
*SIGMOD*, 1-12.

Li, H., Wang, Y., Zhang, D., Zhang, M. & Chang, E. (2008). PFP: parallel FP-growth for query
recommendation. *RecSys*, 107-114.
"""

from __future__ import annotations

import math
import time
from typing import Any

__all__ = ["basket_pipeline", "frequent_itemsets"]


def _baskets(
    spark: Any, source: Any, order_col: str, item_col: str, **jdbc: Any
) -> tuple[Any, dict[str, int]]:
    """Baskets as ``(order, items)`` with distinct non-blank items, and the counts
    ``n_baskets``, ``skipped`` (lines with an empty order or item) and ``n_items``."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from retento.analytics.spark.session import read_table

    raw = read_table(spark, source, columns=[order_col, item_col], **jdbc)
    lines = raw.select(
        F.col(order_col).alias("o"), F.col(item_col).cast("string").alias("i")
    ).withColumn("ok", F.col("o").isNotNull() & (F.trim(F.coalesce("i", F.lit(""))) != ""))
    counts = lines.groupBy("ok").agg(F.count("*").alias("n"), F.countDistinct("i").alias("k"))
    counts = counts.collect()
    skipped = sum(r["n"] for r in counts if not r["ok"])
    n_items = sum(r["k"] for r in counts if r["ok"])
    baskets = (
        lines.where("ok")
        .groupBy("o")
        .agg(F.array_sort(F.collect_set("i")).alias("items"))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    info = {"n_baskets": int(baskets.count()), "skipped": int(skipped), "n_items": int(n_items)}
    return baskets, info


def frequent_itemsets(
    spark: Any,
    source: Any,
    order_col: str,
    item_col: str,
    *,
    min_support: float,
    max_len: int | None = None,
    max_itemsets: int | None = 1_000_000,
    num_partitions: int | None = None,
    jdbc_table: str | None = None,
    jdbc_properties: dict[str, str] | None = None,
) -> tuple[Any, dict[str, int]]:
    """Every itemset with support ``>= min_support``, by Spark's ``FPGrowth``.

    Parameters
    ----------
    spark : SparkSession
    source : path, JDBC URL or DataFrame
        Order lines (see :func:`~retento.analytics.spark.read_table`).
    order_col, item_col : str
    min_support : float in (0, 1]
    max_len : int, optional
        Drop itemsets longer than this (FP-growth still mines them).
    max_itemsets : int, optional
        Raise :class:`~retento.analytics.basket.BudgetExceeded` past this many itemsets.
    num_partitions : int, optional
        FP-growth's partitions of the conditional trees (default: the input's).
    jdbc_table, jdbc_properties : optional
        For a ``jdbc:`` source (see :func:`~retento.analytics.spark.read_table`).

    Returns
    -------
    (DataFrame, dict)
        The itemsets as :func:`retento.analytics.frequent_itemsets` returns them (columns
        ``support``, ``count``, ``itemsets`` (sorted tuples of item labels), ``length``; sorted by
        length, then support descending), and ``{"n_baskets", "skipped", "n_items", "min_count"}``.
    """
    import pandas as pd
    from pyspark.ml.fpm import FPGrowth

    from retento.analytics.basket import BudgetExceeded

    if not 0 < min_support <= 1:
        raise ValueError("min_support must be in (0, 1]")
    if max_len is not None and max_len < 1:
        raise ValueError("max_len must be at least 1")
    baskets, info = _baskets(
        spark, source, order_col, item_col, jdbc_table=jdbc_table, jdbc_properties=jdbc_properties
    )
    n = info["n_baskets"]
    info["min_count"] = 0
    empty = pd.DataFrame({"support": [], "count": [], "itemsets": [], "length": []})
    if n == 0:
        baskets.unpersist()
        return empty.astype({"count": "int64", "length": "int64"}), info
    # The project's minimum count, passed as a support just below it: ceil(s N) = min_count.
    min_count = max(1, math.ceil(min_support * n - 1e-9))
    info["min_count"] = min_count
    fp = FPGrowth(itemsCol="items", minSupport=(min_count - 0.5) / n, minConfidence=1.0)
    if num_partitions:
        fp = fp.setNumPartitions(num_partitions)
    found = fp.fit(baskets).freqItemsets
    if max_len is not None:
        found = found.where(f"size(items) <= {int(max_len)}")
    rows = found.toPandas()  # mined once: the itemsets are few next to the baskets
    baskets.unpersist()
    if max_itemsets is not None and len(rows) > max_itemsets:
        raise BudgetExceeded(
            f"more than {max_itemsets:,} itemsets at min_support {min_support}: raise the "
            "support or set a maximum length",
            len(rows),
        )
    sets = [tuple(sorted(map(str, items))) for items in rows["items"]]
    counts = rows["freq"].to_numpy("int64")
    frame = pd.DataFrame(
        {
            "support": counts / n,
            "count": counts,
            "itemsets": sets,
            "length": pd.Series([len(s) for s in sets], dtype="int64"),
        }
    )
    frame = frame.sort_values(
        ["length", "support", "itemsets"], ascending=[True, False, True], kind="stable"
    ).reset_index(drop=True)
    return frame, info


def basket_pipeline(
    spark: Any,
    source: Any,
    order_col: str,
    item_col: str,
    *,
    min_support: float,
    min_confidence: float | None = None,
    max_len: int | None = None,
    max_itemsets: int = 1_000_000,
) -> tuple[Any, Any, dict[str, Any]]:
    """Itemsets (and rules with ``min_confidence``) as ``retento analyze basket --engine spark``
    computes them; returns ``(itemsets, rules or None, summary)``."""
    from retento.analytics.basket import association_rules

    t0 = time.perf_counter()
    itemsets, info = frequent_itemsets(
        spark,
        source,
        order_col,
        item_col,
        min_support=min_support,
        max_len=max_len,
        max_itemsets=max_itemsets,
    )
    t1 = time.perf_counter()
    rules = None
    if min_confidence is not None:
        rules = association_rules(itemsets, min_confidence=min_confidence)
    summary = {
        **info,
        "timings": {"itemsets_s": round(t1 - t0, 3), "rules_s": round(time.perf_counter() - t1, 3)},
    }
    return itemsets, rules, summary
