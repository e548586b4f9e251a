"""CSV downloads of the value dashboard's tables (``/value/tables.csv``): the value pyramid, the
8/2/3 labels (MVC / MGC / BZ), the Pareto curve and the loyalty stages of the dashboard's run,
for the same period and segment, with the names in the reader's language. The numbers are the
run report's parts the dashboard draws (``value_tables``), so page and download agree."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, Msg, choice_error
from retento.dataio.downloads import as_money, as_ratio, table_download
from retento.scoring import pages_filtered
from retento.scoring.models import LABELS, STAGES, ScoreRun
from retento.scoring.pages_dashboard import _selected_run
from retento.web.i18n import N_
from retento.web.labels import label_msgid
from retento.web.render import PageUser, page_router, tr

router = page_router()

TABLES = ("pyramid", "labels", "pareto", "stages")


def run_report(session: Session, run: ScoreRun, f: Any) -> dict[str, Any]:
    """The run's report, with its customer parts recomputed for the period and segment as the
    dashboard does (``pages_filtered``)."""
    if f.segment or f.start is not None:
        df = pages_filtered.scores_frame(session, run, f)
        return pages_filtered.filtered_report(run, df)
    return run.report or {}


def _share(n: int, total: int) -> str | None:
    return as_ratio(n / total) if total else None


def value_table(request: Request, report: dict[str, Any], table: str) -> tuple[list, list]:
    """(header, rows) of one of ``TABLES``, headers and names in the reader's language; money
    as exact decimals, shares as fractions (0.25 = 25 %)."""
    if table == "pyramid":
        header = [
            tr(request, N_("Value class")),
            tr(request, N_("Customers")),
            tr(request, N_("Share of customers")),
            tr(request, N_("Rule")),
            tr(request, N_("Profit")),
            tr(request, N_("Share of profit")),
        ]
        rows = [
            [
                tr(request, label_msgid("value_class", c["value_class"])),
                c["customers"],
                as_ratio(c.get("customer_share")),
                as_ratio(c.get("rule_share")),
                as_money(c.get("profit")),
                as_ratio(c.get("profit_share")),
            ]
            for c in (report.get("pyramid") or {}).get("classes", [])
        ]
    elif table == "pareto":
        p = report.get("pareto") or {}
        header = [tr(request, N_("Share of customers")), tr(request, N_("Share of profit"))]
        rows = [
            [as_ratio(x), as_ratio(y)]
            for x, y in zip(p.get("customer_share", []), p.get("profit_share", []), strict=False)
        ]
    else:
        counts = report.get(table) or {}
        codes, kind = (LABELS, "value_label") if table == "labels" else (STAGES, "loyalty_stage")
        total = sum(int(counts.get(c, 0)) for c in codes)
        header = [
            tr(request, N_("Label") if table == "labels" else N_("Loyalty stage")),
            tr(request, N_("Customers")),
            tr(request, N_("Share of customers")),
        ]
        rows = [
            [
                tr(request, label_msgid(kind, c)),
                int(counts.get(c, 0)),
                _share(int(counts.get(c, 0)), total),
            ]
            for c in codes
        ]
    return header, rows


@router.get("/value/tables.csv")
def value_tables_csv(request: Request, session: DbSession, user: PageUser) -> Response:
    """One table of the value dashboard (``table=pyramid|labels|pareto|stages``) for its run
    (``?run=``, else the latest) and its period and segment, as CSV (``data:export``)."""
    require(user, "score:read")
    require(user, "data:export")
    table = request.query_params.get("table", "").strip()
    if table not in TABLES:
        raise choice_error("table", N_("Table"), TABLES).refuse()
    f = pages_filtered.parse(request)
    run = _selected_run(request, session, user)
    if run is None or run.status != "succeeded":
        raise InvalidInput(Msg("There is no successful scoring run to download."), field="run")
    header, rows = value_table(request, run_report(session, run, f), table)
    return table_download(request, user, header, rows, filename=f"value-{table}-run-{run.id}")
