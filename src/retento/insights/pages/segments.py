"""Segments page: cluster the customers (k-means or Gaussian mixture on RFM, CLV, churn risk and
engagement), see how k was chosen, the profiles with plain-language names, save a segmentation
under a name, rename or delete it, and open its customers in the customer list."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from retento.analytics.segments import SEGMENT_FEATURES
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import RetentoError
from retento.core.validation import DbId
from retento.insights import segments_service as svc
from retento.insights.models import InsightSegment
from retento.insights.registry import Insight, register_insight, render_insight
from retento.insights.web import (
    CHOSEN_BY,
    FEATURE_LABELS,
    LEVEL_LABELS,
    METHOD_LABELS,
    chosen_run,
    form_params,
    lang,
    progress_context,
    start_run_page,
)
from retento.scoring import queries as scoring_queries
from retento.web.charts import chart_json, grid
from retento.web.conflict import (
    STALE,
    conflict_page,
    delete_conflict_page,
    form_base,
    form_version,
    read_base,
)
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.labels import register_field_labels, register_labels, register_value_labels
from retento.web.render import PageUser, error_text, flash, page_router, redirect, tr

router = page_router()

register_insight(
    Insight(
        key="segments",
        title=N_("Segments"),
        summary=N_(
            "Customer groups found by clustering recency, frequency, spend, CLV, churn risk and "
            "engagement, named in plain words; saved segments filter the customer list, survey "
            "distributions and dashboards."
        ),
        href="/insights/segments",
        order=10,
    )
)

# Survey distributions to a saved segment show as "Saved segment: <id>:<cluster>".
register_labels("segment_kind", {"insight": N_("Saved segment")})

# The audit log's saved segments (saved, renamed, deleted: segments_service.audit_snapshot).
register_labels("entity", {"insight_segment": N_("Saved segment")})
register_labels("insight_method", METHOD_LABELS)
register_labels("insight_feature", FEATURE_LABELS)
register_field_labels(
    "insight_segment",
    {
        "name": N_("Name"),
        "method": N_("Method"),
        "k": N_("Number of segments (k)"),
        "features": N_("Features"),
        "profile": N_("Segment profiles"),
        "clusters": N_("Segment names"),
        "run_id": N_("Segmentation run"),
        "customers": N_("Customers"),
    },
)
register_value_labels(
    "insight_segment", {"method": "insight_method", "features": "insight_feature"}
)


def _dash_members(value: str):
    chosen = svc.parse_filter(value)
    if chosen is None:  # pragma: no cover - the dashboards check the value first
        raise ValueError(value)
    return svc.members_select(chosen)


# The dashboards' ?segment= filter (value, loyalty, retention, home) offers saved segments as
# "insight:<segment id>:<cluster>".
scoring_queries.register_segment_kind(
    "insight", N_("Saved segments"), svc.filter_choices, _dash_members
)

RUN_FIELDS = ("method", "k", "k_min", "k_max", "seed")
# The run form's whole-number fields and the values each may take (the service checks k_min
# against k_max).
WHOLE_NUMBER_FIELDS = {
    "k": (1, svc.MAX_K),
    "k_min": (2, svc.MAX_K),
    "k_max": (2, svc.MAX_K),
    "seed": (0, 999_999_999),
}


def _k_chart(request: Request, result: dict[str, Any]) -> str | None:
    scores = [s for s in result.get("scores", []) if s.get("score") is not None]
    if len(scores) < 2:
        return None
    metric = tr(request, N_("Silhouette")) if result["method"] == "kmeans" else "BIC"
    return chart_json(
        {
            "tooltip": {"trigger": "axis"},
            "grid": grid(right=20, top=20),
            "xAxis": {"type": "category", "name": "k", "data": [s["k"] for s in scores]},
            "yAxis": {"type": "value", "name": metric, "scale": True},
            "series": [
                {
                    "type": "line",
                    "name": metric,
                    "data": [
                        {
                            "value": s["score"],
                            "symbolSize": 14 if s["chosen"] else 6,
                            "itemStyle": {"color": "#d9480f"} if s["chosen"] else {},
                        }
                        for s in scores
                    ],
                }
            ],
        }
    )


SIZE_CHART_HEIGHT = 240
LEGEND_ROW = 22  # px a legend row takes (12 px text, 6 px gap and some room)


def _size_chart(request: Request, profiles: list[dict[str, Any]], sizes: dict | None = None) -> str:
    """The segments' shares as a ring, named in a legend below it, one segment a row: their
    names are long ("近期高频高消费（高价值、低流失风险、高互动）"), and beside the ring they were
    cut to "近期高频高消费（高价值、低..." (no room in a half-width card, less on a phone). The
    slices carry their share. The chart is ``size_chart_height`` tall: the ring and a
    legend row a segment."""
    key = f"name_{lang(request)}"
    return chart_json(
        {
            "tooltip": {"trigger": "item"},
            "legend": {"orient": "vertical", "bottom": 0, "left": "center", "itemGap": 6},
            "series": [
                {
                    "type": "pie",
                    "radius": ["38%", "72%"],
                    "bottom": LEGEND_ROW * len(profiles) + 8,
                    "percentPrecision": 1,
                    "label": {"formatter": "{d} %"},
                    "data": [
                        {
                            "name": p[key],
                            "value": (sizes or {}).get(p["segment"], p["size"])
                            if sizes is not None
                            else p["size"],
                        }
                        for p in profiles
                    ],
                }
            ],
        }
    )


def _labels(request: Request) -> dict[str, Any]:
    return {
        "feature_label": lambda f: tr(request, FEATURE_LABELS.get(f, f)),
        "level_label": lambda v: tr(request, LEVEL_LABELS.get(v, v)),
        "method_label": lambda m: tr(request, METHOD_LABELS.get(m, m)),
        "chosen_by_label": lambda c: tr(request, CHOSEN_BY.get(c, c)),
        "name_key": f"name_{lang(request)}",
        # The ring's height for n segments: the ring and its legend, one row a segment.
        "size_chart_height": lambda n: SIZE_CHART_HEIGHT + LEGEND_ROW * n,
    }


def _page(
    request: Request,
    session: Session,
    user: User,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    save_errors: dict[str, str] | None = None,
    save_name: str = "",
    status_code: int = 200,
) -> Response:
    require(user, "score:read")
    run, state = chosen_run(request, session, svc.KIND)
    ctx: dict[str, Any] = {}
    if run is not None and state == "running":
        ctx |= {"progress": progress_context(request, run, "/insights/segments")}
    elif run is not None and state == "succeeded":
        ctx |= {
            "result": run.result,
            "k_chart": _k_chart(request, run.result),
            "size_chart": _size_chart(request, run.result["profiles"]),
        }
    return render_insight(
        request,
        user,
        "insights/segments.html",
        status_code=status_code,
        run=run,
        state=state,
        saved=svc.list_segments(session, actor=user),
        f=form or {"method": "kmeans", "k": "", "k_min": "2", "k_max": "8", "seed": "0"},
        chosen_features=(form or {}).get("features", list(SEGMENT_FEATURES)),
        all_features=SEGMENT_FEATURES,
        errors=errors or {},
        save_errors=save_errors or {},
        save_name=save_name,
        **ctx,
        **_labels(request),
    )


@router.get("/insights/segments")
def segments_page(request: Request, session: DbSession, user: PageUser) -> Response:
    """The last segmentation (or ``?run=``), the run form and the saved segments."""
    return _page(request, session, user)


def _form_params(form: Any) -> dict[str, Any]:
    return form_params(form, RUN_FIELDS) | {"features": [str(v) for v in form.getlist("features")]}


@router.post("/insights/segments/run")
def segments_run(request: Request, form: PageForm, session: DbSession, user: PageUser) -> Response:
    require(user, "insight:manage")
    params = _form_params(form)
    raw = dict(params)
    errors: dict[str, str] = {}
    for f, (low, top) in WHOLE_NUMBER_FIELDS.items():
        if f in params:
            text = params[f]
            if not (
                text.isascii() and text.isdigit() and len(text) <= 12 and low <= int(text) <= top
            ):
                # A whole number that is too large is not "not a whole number": say the range.
                errors[f] = tr(
                    request, N_("Enter a whole number from %(low)s to %(top)s."), low=low, top=top
                )
            else:
                params[f] = int(text)
    if errors:
        return _page(request, session, user, form=raw, errors=errors, status_code=422)
    return start_run_page(
        request,
        session,
        user,
        params,
        svc.start_run,
        href="/insights/segments",
        rerender=lambda errs, status: _page(
            request, session, user, form=raw, errors=errs, status_code=status
        ),
    )


@router.post("/insights/segments/save")
def segments_save(request: Request, form: PageForm, session: DbSession, user: PageUser) -> Response:
    require(user, "insight:manage")
    raw_run = str(form.get("run_id") or "").strip()
    name = str(form.get("name") or "")
    if not raw_run.isdigit() or len(raw_run) > 9:
        return _page(
            request,
            session,
            user,
            save_errors={"name": tr(request, N_("Run the segmentation first."))},
            status_code=422,
        )
    sp = session.begin_nested()
    try:
        seg, _ = svc.save_segment(session, int(raw_run), name, actor=user)
    except RetentoError as exc:
        sp.rollback()
        if exc.status in (401, 403):
            raise
        return _page(
            request,
            session,
            user,
            save_errors={"name": error_text(request, exc.message)},
            save_name=name,
            status_code=exc.status if exc.status in (404, 409, 422) else 422,
        )
    flash(request, tr(request, N_("Segment saved.")))
    return redirect(request, f"/insights/segments/{seg.id}")


def _detail(
    request: Request,
    session: Session,
    user: User,
    seg: InsightSegment,
    *,
    name: str | None = None,
    errors: dict[str, str] | None = None,
    delete_error: str = "",
    status_code: int = 200,
    version: int | None = None,
    base: dict[str, Any] | None = None,
) -> Response:
    """A saved segment; its rename form carries the version it edits and the name it was
    loaded with (``base``, for the stale-edit page), both kept when it comes back with errors."""
    sizes = svc.cluster_sizes(session, seg.id)
    # Said before anyone tries: what keeps the segment from being deleted (the same message
    # the refusal gives).
    used = svc.usage_conflict(session, seg) if not delete_error else None
    profiles = (seg.profile or {}).get("profiles", [])
    return render_insight(
        request,
        user,
        "insights/segment.html",
        status_code=status_code,
        seg=seg,
        profiles=profiles,
        sizes=sizes,
        size_chart=_size_chart(request, profiles, sizes),
        name=seg.name if name is None else name,
        version=seg.version if version is None else version,
        base=base if base is not None else {"name": seg.name},
        errors=errors or {},
        delete_error=delete_error,
        used_by=error_text(request, used.message) if used is not None else "",
        **_labels(request),
    )


@router.get("/insights/segments/{segment_id:int}")
def segment_detail(
    request: Request, session: DbSession, user: PageUser, segment_id: DbId
) -> Response:
    """A saved segment: profiles, current sizes, links to its customers, rename and delete."""
    seg = svc.get_segment(session, segment_id, actor=user)
    return _detail(request, session, user, seg)


@router.post("/insights/segments/{segment_id:int}/rename")
def segment_rename(
    request: Request, form: PageForm, session: DbSession, user: PageUser, segment_id: DbId
) -> Response:
    require(user, "insight:manage")
    seg = svc.get_segment(session, segment_id, actor=user)
    name = str(form.get("name") or "")
    expected = form_version(form)
    sp = session.begin_nested()
    try:
        svc.rename_segment(session, segment_id, name, actor=user, version=expected)
        session.flush()
    except STALE:
        sp.rollback()
        session.expire_all()
        current = svc.get_segment(session, segment_id, actor=user)
        return conflict_page(
            request,
            session,
            entity="insight_segment",
            record=current,
            title=current.name,
            submitted={"name": name},
            current={"name": current.name},
            labels={"name": N_("Name")},
            form=form,
            action=f"/insights/segments/{segment_id}/rename",
            reload_url=f"/insights/segments/{segment_id}",
            cancel_url="/insights/segments",
            expected=expected,
            base=read_base(form, lambda v: {"name": str(v.get("name") or "")}),
            current_form={"name": current.name},
        )
    except RetentoError as exc:
        sp.rollback()
        if exc.status in (401, 403, 404):
            raise
        session.expire_all()
        seg = svc.get_segment(session, segment_id, actor=user)
        return _detail(
            request,
            session,
            user,
            seg,
            name=name,
            errors={"name": error_text(request, exc.message)},
            status_code=exc.status,
            version=expected,
            base=form_base(form),
        )
    flash(request, tr(request, N_("Segment renamed.")))
    return redirect(request, f"/insights/segments/{seg.id}")


@router.post("/insights/segments/{segment_id:int}/delete")
def segment_delete(
    request: Request, form: PageForm, session: DbSession, user: PageUser, segment_id: DbId
) -> Response:
    """Delete a saved segment nothing uses. A delete from a page loaded before someone else
    renamed it deletes nothing: 409 saying what changed (a form without a version, from a page
    older than this check, deletes as before)."""
    require(user, "insight:manage")
    expected = form_version(form)  # a version that is no number: 422, nothing deleted
    sp = session.begin_nested()
    try:
        svc.delete_segment(session, segment_id, actor=user, version=expected)
    except STALE:
        sp.rollback()
        session.expire_all()
        current = svc.get_segment(session, segment_id, actor=user)
        return delete_conflict_page(
            request,
            session,
            entity="insight_segment",
            record_id=current.id,
            title=current.name,
            expected=expected,
            version=current.version,
            action=f"/insights/segments/{segment_id}/delete",
            reload_url=f"/insights/segments/{segment_id}",
            cancel_url="/insights/segments",
        )
    except RetentoError as exc:
        sp.rollback()
        if exc.status in (401, 403, 404):
            raise
        session.expire_all()
        seg = svc.get_segment(session, segment_id, actor=user)
        return _detail(
            request,
            session,
            user,
            seg,
            delete_error=error_text(request, exc.message),
            status_code=exc.status,
        )
    flash(request, tr(request, N_("Segment deleted.")))
    return redirect(request, "/insights/segments")


# Medians written as amounts (exact decimals), as rates, or as plain numbers.
_MONEY_FEATURES = {"monetary", "clv"}


def _profile_table(
    request: Request, result: dict[str, Any], profiles: list, sizes: dict | None = None
) -> tuple[list[str], list[list[Any]]]:
    """The profile table as the page shows it: segment, name, customers, shares, then each
    feature's median and its level, in the reader's language."""
    from retento.dataio.downloads import as_money, as_ratio

    feats = result.get("features") or []
    median = tr(request, N_("median"))
    level = tr(request, N_("level"))
    header = [
        "#",
        tr(request, N_("Segment")),
        tr(request, N_("Customers")),
        tr(request, N_("Share")),
        tr(request, N_("Share of revenue")),
    ]
    for f in feats:
        name = tr(request, FEATURE_LABELS.get(f, f))
        header += [f"{name} ({median})", f"{name} ({level})"]
    labels = _labels(request)
    rows = []
    for p in profiles:
        size = (sizes or {}).get(p["segment"], 0) if sizes is not None else p["size"]
        row = [
            p["segment"],
            p[labels["name_key"]],
            size,
            as_ratio(p.get("share")),
            as_ratio(p.get("revenue_share")),
        ]
        for f in feats:
            m = (p.get("median") or {}).get(f)
            value = as_money(m) if f in _MONEY_FEATURES else as_ratio(m)
            row += [value, labels["level_label"]((p.get("level") or {}).get(f, ""))]
        rows.append(row)
    return header, rows


@router.get("/insights/segments/export.csv")
def segments_export(request: Request, session: DbSession, user: PageUser) -> Response:
    """A segmentation run's profiles (``table=profiles``) or the score of every k tried
    (``table=scores``) as CSV, for the page's run (``?run=``, else the latest)."""
    from retento.dataio.downloads import as_ratio, table_download
    from retento.insights.web import export_run, export_table

    require(user, "score:read")
    require(user, "data:export")
    table = export_table(request, ("profiles", "scores"))
    run = export_run(request, session, svc.KIND)
    result = run.result or {}
    if table == "scores":
        metric = tr(request, N_("Silhouette")) if result.get("method") == "kmeans" else "BIC"
        header = ["k", metric, tr(request, N_("chosen"))]
        rows = [
            [s["k"], as_ratio(s.get("score"), 6), s.get("chosen", False)]
            for s in result.get("scores", [])
        ]
    else:
        header, rows = _profile_table(request, result, result.get("profiles", []))
    return table_download(request, user, header, rows, filename=f"segments-run-{run.id}-{table}")


@router.get("/insights/segments/{segment_id:int}/export.csv")
def segment_export(
    request: Request, session: DbSession, user: PageUser, segment_id: DbId
) -> Response:
    """A saved segment's profiles with today's cluster sizes, as CSV."""
    from retento.dataio.downloads import table_download

    require(user, "data:export")
    seg = svc.get_segment(session, segment_id, actor=user)
    profile = seg.profile or {}
    result = {"features": seg.features or []}
    header, rows = _profile_table(
        request, result, profile.get("profiles", []), svc.cluster_sizes(session, seg.id)
    )
    return table_download(request, user, header, rows, filename=f"segment-{seg.id}")
