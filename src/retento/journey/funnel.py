"""The journey funnel (SPEC §2): how far customers get through the stages, per channel, and
how long they take between stages. Everything is aggregated in SQL (one pass per query over
the touchpoints of the period), so it runs on millions of touchpoints.

Definitions (docs/journey-experience.md):

- A customer's *first time* at a stage is their earliest touchpoint of that stage in the
  period; their *furthest stage* is the latest stage (in SPEC order) they reached.
- *Reached stage k*: the furthest stage is k or later. A customer who ordered without a
  recorded "information" touchpoint still passed through information, so the funnel is
  monotone (the counts never grow from one stage to the next).
- *Conversion* from stage k = reached k+1 / reached k; *drop-off* at k = customers whose
  furthest stage is k (they stopped there), as a share of those who reached k.
- *Per channel*: a customer enters stage k through the channel of their first touchpoint of
  that stage; conversion for (k, channel) is the share of those customers who went further.
- *Time between stages*: for customers with first times at both stage k and stage k+1, in
  that order, the median (and mean) of the gap in days.
- *Records as stages* (``sources``): orders and complaints happen in the system of record
  whether or not anyone typed in a touchpoint for them. With ``"orders"`` every order of the
  period that was not cancelled counts as an "order and deposit" event (at ``ordered_at``, its
  channel), with ``"complaints"`` every complaint received in the period as an "after-sales
  service" event (at ``received_at``). Their channels map onto the touchpoint channels
  (``web_form`` → ``web``; ``partner``, ``social``, ``api`` → ``other``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from retento.core.db import UTCDateTime
from retento.core.errors import InvalidInput, choice_error
from retento.touchpoints.models import CHANNELS, STAGES
from retento.web.i18n import N_


@dataclass
class StageRow:
    stage: str
    reached: int
    stopped: int
    conversion: float | None  # to the next stage; None for the last stage or no customers
    drop_off: float | None  # share of those who reached the stage that went no further


@dataclass
class ChannelRow:
    stage: str
    channel: str
    entered: int
    went_on: int
    conversion: float | None
    drop_off: float | None


@dataclass
class GapRow:
    from_stage: str
    to_stage: str
    customers: int
    median_days: float | None
    mean_days: float | None


@dataclass
class Funnel:
    start: datetime | None
    end: datetime | None
    customers: int
    stages: list[StageRow] = field(default_factory=list)
    channels: list[ChannelRow] = field(default_factory=list)
    gaps: list[GapRow] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # records counted besides touchpoints

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stage_index_sql(column: str) -> str:
    whens = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(STAGES))
    return f"CASE {column} {whens} END"


def _seconds_sql(dialect: str, later: str, earlier: str) -> str:
    if dialect == "postgresql":
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


def _where(start: datetime | None, end: datetime | None) -> tuple[str, dict[str, Any]]:
    parts, params = ["stage IS NOT NULL"], {}
    if start is not None:
        parts.append("occurred_at >= :start")
        params["start"] = start
    if end is not None:
        parts.append("occurred_at < :end")
        params["end"] = end
    return " AND ".join(parts), params


def _bind(sql: str, params: dict[str, Any]):
    stmt = text(sql)
    binds = [bindparam(k, type_=UTCDateTime) for k in params]
    return stmt.bindparams(*binds) if binds else stmt


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


# Records of other domains counted as journey events: source → (stage, table, time column,
# condition on the table's alias ``r``). Read by table name only: the funnel is a report.
SOURCES = ("orders", "complaints")
# The journey page's check boxes of ``include`` (their labels name the choices in an error).
SOURCE_LABELS = {
    "orders": N_("Count orders as “order and deposit”"),
    "complaints": N_("Count complaints as “after-sales service”"),
}
INCLUDE_LABEL = N_("Records counted besides the touchpoints")
_SOURCE_SQL = {
    "orders": ("order", "orders", "ordered_at", "r.status <> 'cancelled'"),
    "complaints": ("after_sales", "complaints", "received_at", None),
}


def _channel_sql(column: str) -> str:
    """A record's channel as a touchpoint channel."""
    same = ", ".join(f"'{c}'" for c in CHANNELS if c != "other")
    return (
        f"CASE WHEN {column} IN ({same}) THEN {column} "
        f"WHEN {column} = 'web_form' THEN 'web' ELSE 'other' END"
    )


def _firsts_with_sources(where: str, sources: tuple[str, ...], start, end) -> tuple[str, str]:
    """``f`` (first time per customer and stage over the touchpoints and the records of
    ``sources``) and ``ch`` (the channels of the events at those first times).

    Each table is aggregated on its own (a record source has one stage: its first time is a
    plain ``MIN`` by customer), and the channels are joined back per table through its
    (customer, time) index, as for the touchpoints alone; one relation of all events would be
    hashed whole and joined back without an index (1.5x slower on 1 M touchpoints and 1 M
    orders, docs/benchmarks.md)."""
    raw = [
        "SELECT customer_id, stage, MIN(occurred_at) AS first_at "
        f"FROM touchpoints WHERE {where} GROUP BY customer_id, stage"
    ]
    chans = [
        "SELECT f.customer_id, f.stage, MIN(t.channel) AS channel FROM f JOIN touchpoints t "
        "ON t.customer_id = f.customer_id AND t.stage = f.stage AND t.occurred_at = f.first_at "
        "GROUP BY f.customer_id, f.stage"
    ]
    for src in sources:
        stage, table, at, cond = _SOURCE_SQL[src]
        conds = (
            ([cond] if cond else [])
            + ([f"r.{at} >= :start"] if start is not None else [])
            + ([f"r.{at} < :end"] if end is not None else [])
        )
        filt = f" WHERE {' AND '.join(conds)}" if conds else ""
        raw.append(
            f"SELECT r.customer_id, '{stage}', MIN(r.{at}) FROM {table} r{filt} "
            "GROUP BY r.customer_id"
        )
        join = " AND ".join(
            [f"f.stage = '{stage}'", "r.customer_id = f.customer_id", f"r.{at} = f.first_at"]
            + ([cond] if cond else [])
        )
        chans.append(
            f"SELECT f.customer_id, f.stage, MIN({_channel_sql('r.channel')}) FROM f "
            f"JOIN {table} r ON {join} GROUP BY f.customer_id, f.stage"
        )
    f = (
        "f AS (SELECT customer_id, stage, MIN(first_at) AS first_at FROM ("
        + " UNION ALL ".join(raw)
        + ") raw GROUP BY customer_id, stage)"
    )
    return f, "ch AS (" + " UNION ALL ".join(chans) + ")"


def parse_sources(raw: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """The ``include`` values (repeated or comma-separated) as a tuple of :data:`SOURCES`."""
    asked = {p.strip() for value in raw or () for p in str(value).split(",") if p.strip()}
    unknown = sorted(asked - set(SOURCES))
    if unknown:
        raise choice_error(
            "include", INCLUDE_LABEL, [(s, SOURCE_LABELS[s]) for s in SOURCES]
        ).refuse()
    return tuple(s for s in SOURCES if s in asked)


def journey_funnel(
    session: Session,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    sources: tuple[str, ...] = (),
) -> Funnel:
    """The funnel of the touchpoints with ``start <= occurred_at < end`` (either may be None),
    plus the orders and complaints of the period when ``sources`` names them."""
    if start is not None and end is not None and end <= start:
        raise InvalidInput("The end of the period must come after its start.", field="until")
    sources = parse_sources(sources)
    dialect = session.get_bind().dialect.name
    where, params = _where(start, end)
    if sources:
        f_cte, ch_cte = _firsts_with_sources(where, sources, start, end)
        firsts = f"""{f_cte}, {ch_cte},
        firsts AS (
            SELECT f.customer_id, {_stage_index_sql("f.stage")} AS stage_k, f.first_at,
                   MIN(ch.channel) AS channel
            FROM f JOIN ch ON ch.customer_id = f.customer_id AND ch.stage = f.stage
            GROUP BY f.customer_id, f.stage, f.first_at
        ),"""
    else:
        # First time per (customer, stage) by a hash aggregate, then its channel by joining
        # back (index ix_touchpoints_customer_time); ties at the same instant take the
        # smallest channel code. On PostgreSQL this is ~1.6x faster than ROW_NUMBER over a
        # sort of the period's touchpoints (docs/journey-experience.md).
        firsts = f"""
        firsts AS (
            SELECT f.customer_id, {_stage_index_sql("f.stage")} AS stage_k, f.first_at,
                   MIN(t.channel) AS channel
            FROM (
                SELECT customer_id, stage, MIN(occurred_at) AS first_at
                FROM touchpoints WHERE {where} GROUP BY customer_id, stage
            ) f
            JOIN touchpoints t
              ON t.customer_id = f.customer_id AND t.stage = f.stage
             AND t.occurred_at = f.first_at
            GROUP BY f.customer_id, f.stage, f.first_at
        ),"""
    firsts += """
        furthest AS (
            SELECT customer_id, MAX(stage_k) AS kmax FROM firsts GROUP BY customer_id
        )"""
    secs = _seconds_sql(dialect, "b.first_at", "a.first_at")
    # One statement, so the database computes ``firsts`` (the one sort of the period's
    # touchpoints) once and reuses it for the three results, told apart by ``kind``.
    sql = f"""WITH {firsts},
        pairs AS (
            SELECT a.stage_k AS k, {secs} AS secs
            FROM firsts a JOIN firsts b
              ON b.customer_id = a.customer_id AND b.stage_k = a.stage_k + 1
            WHERE b.first_at >= a.first_at
        ),
        ordered AS (
            SELECT k, secs,
                   ROW_NUMBER() OVER (PARTITION BY k ORDER BY secs) AS rn,
                   COUNT(*) OVER (PARTITION BY k) AS n
            FROM pairs
        )
        SELECT 'f' AS kind, kmax AS k, CAST(NULL AS VARCHAR(20)) AS channel, COUNT(*) AS n1,
               CAST(NULL AS BIGINT) AS n2, CAST(NULL AS FLOAT) AS x1, CAST(NULL AS FLOAT) AS x2
        FROM furthest GROUP BY kmax
        UNION ALL
        SELECT 'c', f.stage_k, f.channel, COUNT(*),
               SUM(CASE WHEN u.kmax > f.stage_k THEN 1 ELSE 0 END), NULL, NULL
        FROM firsts f JOIN furthest u ON u.customer_id = f.customer_id
        GROUP BY f.stage_k, f.channel
        UNION ALL
        SELECT 'g', k, NULL, MAX(n), NULL,
               AVG(CASE WHEN rn IN ((n + 1) / 2, (n + 2) / 2) THEN secs END), AVG(secs)
        FROM ordered GROUP BY k"""
    result = session.execute(_bind(sql, params), params).all()
    furthest_rows = [(r[1], r[3]) for r in result if r[0] == "f"]
    channel_rows = [(r[1], r[2], r[3], r[4]) for r in result if r[0] == "c"]
    gap_rows = [(r[1], r[3], r[5], r[6]) for r in result if r[0] == "g"]

    stopped = [0] * len(STAGES)
    for kmax, n in furthest_rows:
        stopped[int(kmax)] = int(n)
    customers = sum(stopped)
    stages: list[StageRow] = []
    reached_after = 0
    reached = [0] * len(STAGES)
    for i in range(len(STAGES) - 1, -1, -1):
        reached_after += stopped[i]
        reached[i] = reached_after
    for i, s in enumerate(STAGES):
        nxt = reached[i + 1] if i + 1 < len(STAGES) else None
        stages.append(
            StageRow(
                stage=s,
                reached=reached[i],
                stopped=stopped[i],
                conversion=_ratio(nxt, reached[i]) if nxt is not None else None,
                drop_off=_ratio(stopped[i], reached[i]) if nxt is not None else None,
            )
        )

    order = {c: i for i, c in enumerate(CHANNELS)}
    channels = []
    for sk, ch, entered, went_on in sorted(
        channel_rows, key=lambda r: (int(r[0]), order.get(r[1], 99), r[1])
    ):
        last = int(sk) == len(STAGES) - 1
        entered, went_on = int(entered), int(went_on or 0)
        channels.append(
            ChannelRow(
                stage=STAGES[int(sk)],
                channel=ch,
                entered=entered,
                went_on=went_on,
                conversion=None if last else _ratio(went_on, entered),
                drop_off=None if last else _ratio(entered - went_on, entered),
            )
        )

    by_k = {int(r[0]): r for r in gap_rows}
    gaps = []
    for i in range(len(STAGES) - 1):
        r = by_k.get(i)
        gaps.append(
            GapRow(
                from_stage=STAGES[i],
                to_stage=STAGES[i + 1],
                customers=int(r[1]) if r else 0,
                median_days=float(r[2]) / 86400 if r and r[2] is not None else None,
                mean_days=float(r[3]) / 86400 if r and r[3] is not None else None,
            )
        )
    return Funnel(
        start=start,
        end=end,
        customers=customers,
        stages=stages,
        channels=channels,
        gaps=gaps,
        sources=list(sources),
    )
