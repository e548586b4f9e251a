"""Customer segments in the app: cluster the latest scoring run's customers, save, rename,
delete, and use a saved segment as a filter (customer list, survey distributions, dashboards).

A saved segment is referred to by its id, without a foreign key: a retention playbook limited
to one of its clusters (``retention_playbooks.segment_id``), a survey distribution to it
(``survey_distributions.segment_value`` ``"12:0"``, run later by the worker), links and
dashboard filters (``?segment=12:0``, ``insight:12:0``). So ids are never reused (AUTOINCREMENT
on SQLite, migration 0053; a sequence on PostgreSQL): a reference left to a deleted segment
matches nobody instead of another segment saved later. A segment that a playbook or a
distribution not sent yet uses is not deleted (409 naming them, :func:`delete_segment`).

Features per customer, from the latest successful scoring run (``customer_scores``) and the
touchpoints: ``recency`` (days from the last order to the run's as-of date), ``frequency``
(orders), ``monetary`` (revenue), ``clv``, ``churn_risk`` and ``engagement`` (touchpoints in the
365 days before the as-of date). Clustering is :class:`retento.analytics.segments.
CustomerSegmentation` (k-means with k chosen by silhouette, or a Gaussian mixture with k chosen
by BIC), so the app and ``retento analyze segments`` give the same segments on the same data.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from retento.analytics.segments import SEGMENT_FEATURES, CustomerSegmentation
from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.errors import (
    Conflict,
    FieldError,
    InvalidInput,
    Msg,
    Named,
    NotFound,
    Term,
    Terms,
    choice_error,
    param,
    range_error,
)
from retento.core.locking import key_share_row
from retento.core.versioning import lock_for_edit
from retento.insights import runs
from retento.insights.models import InsightRun, InsightSegment, InsightSegmentMember
from retento.scoring.consent import profiled_condition, profiled_sql
from retento.scoring.models import CustomerScore, ScoreRun
from retento.web.i18n import N_, join_list
from retento.web.labels import label_msgid

KIND = "segments"
METHODS = ("kmeans", "gmm")
# The run form's methods as its select shows them (message ids).
METHOD_CHOICES = {
    "kmeans": N_("k-means (k by silhouette)"),
    "gmm": N_("Gaussian mixture (k by BIC)"),
}
REQUIRED = ("recency", "frequency", "monetary")
MAX_K = 12
ENGAGEMENT_DAYS = 365
MEMBER_BATCH = 5_000


def _latest_score_run(session: Session) -> ScoreRun:
    run = session.scalar(
        select(ScoreRun).where(ScoreRun.status == "succeeded").order_by(ScoreRun.id.desc()).limit(1)
    )
    if run is None:
        raise InvalidInput(
            "No scoring run has succeeded yet: segments are built on its RFM, CLV and churn "
            "risk. Run the scoring first (Value page or `retento score`).",
            field="features",
        )
    return run


def _name_taken(name: str) -> Msg:
    return Msg("A segment named %(name)s already exists.", name=repr(name))


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    """Normalised parameters; ``InvalidInput`` names the first bad field."""
    method = params.get("method", "kmeans")
    if method not in METHODS:
        raise choice_error("method", N_("Method"), list(METHOD_CHOICES.items())).refuse()
    k = params.get("k")
    k_min = int(params.get("k_min", 2))
    k_max = int(params.get("k_max", 8))
    if k is not None:
        k = int(k)
        if not 1 <= k <= MAX_K:
            raise range_error("k", N_("Fixed k"), 1, MAX_K).refuse()
    else:
        # Named as the run form names them (the API's English keeps the codes).
        smallest, largest = ("k_min", N_("Smallest k")), ("k_max", N_("Largest k"))
        for (name, label), value in ((smallest, k_min), (largest, k_max)):
            if not 2 <= value <= MAX_K:
                raise range_error(name, label, 2, MAX_K).refuse()
        if k_min > k_max:
            raise FieldError(
                "k_min",
                Msg(
                    "%(field)s must not be larger than %(other)s.",
                    field=param(*smallest),
                    other=param(*largest),
                ),
            ).refuse()
    # Not given (the API's default): all of them; given, even empty (the form with every box
    # unticked), exactly those, so the required ones are named rather than silently added.
    given = params.get("features")
    features = list(SEGMENT_FEATURES if given is None else given)
    unknown = [f for f in features if f not in SEGMENT_FEATURES]
    if unknown:
        # The known ones named as the form's boxes name them (the API's English: codes).
        raise InvalidInput(
            Msg(
                "Unknown feature %(feature)s; known: %(known)s.",
                feature=repr(unknown[0]),
                known=Terms((f, label_msgid("insight_feature", f)) for f in SEGMENT_FEATURES),
            ),
            field="features",
        )
    missing = [f for f in REQUIRED if f not in features]
    if missing:
        raise InvalidInput(
            Msg(
                "The feature %(feature)s is required.",
                feature=Term(missing[0], label_msgid("insight_feature", missing[0])),
            ),
            field="features",
        )
    seed = int(params.get("seed", 0))
    return {
        "method": method,
        "k": k,
        "k_min": k_min,
        "k_max": k_max,
        "features": [f for f in SEGMENT_FEATURES if f in features],
        "seed": seed,
    }


def feature_frame(session: Session, features: list[str]) -> tuple[pd.DataFrame, ScoreRun, list]:
    """One row per customer who bought (index: customer id) with the wanted features, from the
    latest scoring run; a feature missing for some customers is filled with its median, one
    missing for all is left out (both said in the returned notes)."""
    run = _latest_score_run(session)
    rows = session.execute(
        select(
            CustomerScore.customer_id,
            CustomerScore.last_order_on,
            CustomerScore.order_count,
            CustomerScore.revenue,
            CustomerScore.clv,
            CustomerScore.churn_risk,
        ).where(
            CustomerScore.run_id == run.id,
            CustomerScore.order_count > 0,
            # Not trained on customers who may not be profiled (scoring.consent).
            profiled_condition(session, CustomerScore.customer_id),
        )
    ).all()
    if not rows:
        raise InvalidInput(
            "The latest scoring run has no customer with an order to segment.", field="features"
        )
    df = pd.DataFrame(rows, columns=["cid", "last", "orders", "revenue", "clv", "churn_risk"])
    as_of = run.as_of if run.as_of.tzinfo else run.as_of.replace(tzinfo=UTC)
    last = pd.to_datetime(df["last"])
    out = pd.DataFrame(index=pd.Index(df["cid"].astype(int).to_numpy(), name="customer_id"))
    out["recency"] = ((pd.Timestamp(as_of.date()) - last).dt.days.clip(lower=0)).to_numpy(float)
    out["frequency"] = df["orders"].to_numpy(float)
    out["monetary"] = pd.to_numeric(df["revenue"]).to_numpy(float)
    out["clv"] = pd.to_numeric(df["clv"]).to_numpy(float)
    out["churn_risk"] = pd.to_numeric(df["churn_risk"]).to_numpy(float)
    if "engagement" in features:
        from retento.touchpoints.models import Touchpoint

        counts = dict(
            session.execute(
                select(Touchpoint.customer_id, func.count())
                .where(
                    Touchpoint.occurred_at >= as_of - timedelta(days=ENGAGEMENT_DAYS),
                    Touchpoint.occurred_at < as_of,
                )
                .group_by(Touchpoint.customer_id)
            ).all()
        )
        out["engagement"] = [float(counts.get(int(c), 0)) for c in out.index]
    notes: list[dict[str, Any]] = []
    used = []
    for f in features:
        values = out[f].to_numpy(float)
        bad = ~np.isfinite(values)
        if bad.all():
            notes.append({"code": "feature_dropped", "feature": f})
            continue
        if bad.any():
            out.loc[bad, f] = float(np.median(values[~bad]))
            notes.append({"code": "feature_filled", "feature": f, "customers": int(bad.sum())})
        used.append(f)
    return out[used], run, notes


def _clean(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        v = float(v)
        return v if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def compute(job: dict[str, Any], report: runs.Reporter) -> dict[str, Any]:
    """Fit the segmentation (pure: no database) and return the stored result."""
    X: pd.DataFrame = job["X"]
    p = job["params"]
    report("clustering", 0.1)
    model = CustomerSegmentation(
        method=p["method"],
        n_clusters=p["k"],
        k_min=p["k_min"],
        k_max=min(p["k_max"], max(p["k_min"], len(X) - 1)),
        features=list(X.columns),
        random_state=p["seed"],
    ).fit(X)
    report("profiles", 0.9)
    profiles = []
    for row in model.profiles_.to_dict(orient="records"):
        profiles.append(
            {
                "segment": int(row["segment"]),
                "name_en": row["name_en"],
                "name_zh": row["name_zh"],
                "size": int(row["size"]),
                "share": _clean(row["share"]),
                "revenue_share": _clean(row["revenue_share"]),
                "mean": {f: _clean(row[f"mean_{f}"]) for f in model.features_},
                "median": {f: _clean(row[f"median_{f}"]) for f in model.features_},
                "level": {f: row[f"level_{f}"] for f in model.features_},
            }
        )
    chosen_by = (
        "fixed" if p["k"] is not None else {"kmeans": "silhouette", "gmm": "bic"}[p["method"]]
    )
    return {
        "method": p["method"],
        "k": int(model.n_clusters_),
        "chosen_by": chosen_by,
        "scores": [
            {"k": int(r.k), "score": _clean(r.score), "chosen": bool(r.chosen)}
            for r in model.scores_.itertuples()
        ],
        "features": list(model.features_),
        "customers": len(X),
        "profiles": profiles,
        "members": [[int(c), int(s)] for c, s in zip(X.index, model.labels_, strict=True)],
        "score_run_id": job["score_run_id"],
        "as_of": job["as_of"],
        "notes": job["notes"],
    }


def start_run(
    session: Session, factory: sessionmaker[Session], params: dict[str, Any], *, actor: User
) -> InsightRun:
    """Check the parameters, read the features and cluster (inline or in the background)."""
    require(actor, "insight:manage")
    p = check_params(params)
    X, score_run, notes = feature_frame(session, p["features"])
    if p["k"] is not None and p["k"] > len(X):
        raise InvalidInput(
            Msg("k=%(k)s but only %(n)s customers have orders.", k=p["k"], n=len(X)), field="k"
        )
    if p["k"] is None and len(X) < p["k_min"] + 1:
        raise InvalidInput(
            Msg(
                "Only %(n)s customers have orders: too few to choose k from %(k_min)s.",
                n=len(X),
                k_min=p["k_min"],
            ),
            field="k_min",
        )
    job = {
        "X": X,
        "params": p,
        "score_run_id": score_run.id,
        "as_of": score_run.as_of.date().isoformat(),
        "notes": notes,
    }
    return runs.start(
        session,
        factory,
        kind=KIND,
        params=p,
        data=job,
        rows=len(X),
        compute=compute,
        actor=actor,
        budget_field="k",
    )


# --- saved segments ---------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    text = " ".join(str(name or "").split())
    if not text:
        raise InvalidInput("Enter a name for the segment.", field="name")
    if len(text) > 120:
        raise InvalidInput("The name may be at most 120 characters.", field="name")
    return text


def list_segments(session: Session, *, actor: User) -> list[InsightSegment]:
    require(actor, "score:read")
    return list(session.scalars(select(InsightSegment).order_by(InsightSegment.name)))


def get_segment(session: Session, segment_id: int, *, actor: User) -> InsightSegment:
    require(actor, "score:read")
    seg = session.get(InsightSegment, segment_id)
    if seg is None:
        raise NotFound("Segment", segment_id)
    return seg


def save_segment(
    session: Session, run_id: int, name: str, *, actor: User
) -> tuple[InsightSegment, bool]:
    """Save the segmentation of run ``run_id`` under ``name`` (unique), with its members.

    Returns ``(segment, created)``. Saving the same run under the same name again returns the
    saved one (a retried request is harmless); another segment with that name is a 409, also
    when two saves of one name race (the unique index decides)."""
    require(actor, "insight:manage")
    name = _clean_name(name)
    run = session.get(InsightRun, run_id)
    if run is None or run.kind != KIND:
        raise NotFound("Segment run", run_id, field="run_id")
    if run.status != "succeeded" or not run.result:
        raise InvalidInput("This run has not finished successfully.", field="run_id")

    def existing() -> tuple[InsightSegment, bool]:
        found = session.scalar(select(InsightSegment).where(InsightSegment.name == name))
        if found is None:
            raise Conflict(
                Msg("A segment named %(name)s was just saved; try again.", name=repr(name)),
                field="name",
            )
        if found.run_id == run.id:
            return found, False
        raise Conflict(_name_taken(name), field="name")

    if session.scalar(select(InsightSegment.id).where(InsightSegment.name == name)) is not None:
        return existing()
    result = run.result
    seg = InsightSegment(
        name=name,
        method=result["method"],
        k=result["k"],
        features=result["features"],
        profile={
            "profiles": result["profiles"],
            "scores": result["scores"],
            "chosen_by": result["chosen_by"],
            "as_of": result.get("as_of"),
            "score_run_id": result.get("score_run_id"),
        },
        run_id=run.id,
        customers=result["customers"],
        created_by_id=actor.id,
    )
    sp = session.begin_nested()
    try:
        session.add(seg)
        session.flush()
    except IntegrityError:
        sp.rollback()
        return existing()
    sp.commit()
    # Customers erased since the run are left out (their rows would fail the foreign key).
    from retento.customers.models import Customer

    members = result["members"]
    for start in range(0, len(members), MEMBER_BATCH):
        chunk = members[start : start + MEMBER_BATCH]
        alive = set(
            session.scalars(select(Customer.id).where(Customer.id.in_([c for c, _ in chunk])))
        )
        rows = [
            {"segment_id": seg.id, "customer_id": c, "cluster": s} for c, s in chunk if c in alive
        ]
        if rows:
            session.execute(insert(InsightSegmentMember), rows)
    record(session, actor, "create", "insight_segment", seg.id, None, audit_snapshot(seg))
    return seg, True


def rename_segment(
    session: Session, segment_id: int, name: str, *, actor: User, version: int | None = None
) -> InsightSegment:
    """Rename a saved segment; a stale ``version`` is a 409 (``version_conflict``)."""
    require(actor, "insight:manage")
    seg = get_segment(session, segment_id, actor=actor)
    name = _clean_name(name)
    lock_for_edit(session, seg, version)
    if name == seg.name:
        return seg
    before = audit_snapshot(seg)
    clash = session.scalar(
        select(InsightSegment.id).where(InsightSegment.name == name, InsightSegment.id != seg.id)
    )
    if clash is not None:
        raise Conflict(_name_taken(name), field="name")
    seg.name = name
    sp = session.begin_nested()
    try:
        session.flush()
    except IntegrityError:
        sp.rollback()
        raise Conflict(_name_taken(name), field="name") from None
    sp.commit()
    record(session, actor, "update", "insight_segment", seg.id, before, audit_snapshot(seg))
    return seg


def audit_snapshot(seg: InsightSegment) -> dict[str, Any]:
    """The segment as the audit log keeps it: its columns, with the names of its clusters
    instead of their profiles (the run's figures, kilobytes of numbers)."""
    data = snapshot(seg, {"clusters": cluster_names(seg)})
    data.pop("profile", None)
    return data


def cluster_names(seg: InsightSegment) -> list[str]:
    """``"0: Bargain hunters / 精打细算型"`` for each cluster of the segment."""
    return [
        f"{p.get('segment')}: {p.get('name_en', '')} / {p.get('name_zh', '')}"
        for p in (seg.profile or {}).get("profiles", [])
    ]


def segment_users(session: Session, segment_id: int) -> tuple[list[Any], list[Any]]:
    """What refers to saved segment ``segment_id`` by its id and would stop working without it:
    ``(retention playbooks limited to one of its clusters, survey distributions to it that the
    worker has not run yet)``, by id. Links and dashboard filters are not stored."""
    from retento.retention.models import RetentionPlaybook
    from retento.surveys.models import SurveyDistribution

    books = list(
        session.scalars(
            select(RetentionPlaybook)
            .where(RetentionPlaybook.segment_id == segment_id)
            .order_by(RetentionPlaybook.id)
        )
    )
    waiting = session.scalars(
        select(SurveyDistribution)
        .where(
            SurveyDistribution.segment_kind == "insight",
            SurveyDistribution.status.in_(("queued", "running")),
        )
        .order_by(SurveyDistribution.id)
    )
    dists = []
    for d in waiting:  # a handful at most: the worker sends them within minutes
        try:
            chosen = parse_filter(d.segment_value)
        except InvalidInput:
            continue
        if chosen is not None and chosen[0] == segment_id:
            dists.append(d)
    return books, dists


def usage_conflict(session: Session, seg: InsightSegment) -> Conflict | None:
    """The 409 that refuses to delete ``seg`` while :func:`segment_users` finds something,
    naming the playbooks (in the reader's language) and the distributions; else None."""
    books, dists = segment_users(session, seg.id)
    if not books and not dists:
        return None
    playbooks = Named(
        join_list("en", [f"{b.name_en} (#{b.id})" for b in books]),
        zh_CN=join_list("zh_CN", [f"{b.name_zh or b.name_en}（#{b.id}）" for b in books]),
    )
    distributions = ", ".join(f"#{d.id}" for d in dists)
    name = repr(seg.name)
    if books and dists:
        message = Msg(
            "Saved segment %(name)s cannot be deleted: retention playbooks (%(playbooks)s) and "
            "survey distributions not sent yet (%(distributions)s) use it. Choose another "
            "segment (or none) for the playbooks, and delete it once the distributions have "
            "been sent.",
            name=name,
            playbooks=playbooks,
            distributions=distributions,
        )
    elif books:
        message = Msg(
            "Saved segment %(name)s cannot be deleted: retention playbooks use it "
            "(%(playbooks)s). Choose another segment (or none) for them first.",
            name=name,
            playbooks=playbooks,
        )
    else:
        message = Msg(
            "Saved segment %(name)s cannot be deleted: survey distributions not sent yet use "
            "it (%(distributions)s). Delete it once they have been sent.",
            name=name,
            distributions=distributions,
        )
    exc = Conflict(message, field="id")
    exc.extensions["playbooks"] = [b.id for b in books]
    exc.extensions["survey_distributions"] = [d.id for d in dists]
    return exc


def delete_segment(
    session: Session, segment_id: int, *, actor: User, version: int | None = None
) -> None:
    """Delete a saved segment and its members; audited. A segment that a retention playbook or
    a survey distribution not sent yet uses is refused (409 naming them): its id would point
    at nothing, and the playbook would match nobody from then on."""
    require(actor, "insight:manage")
    seg = get_segment(session, segment_id, actor=actor)
    lock_for_edit(session, seg, version)
    # FOR UPDATE (not lock_for_edit's NO KEY UPDATE): waits for a transaction that is pointing a
    # playbook at this segment (check_filter(..., hold=True) holds its FOR KEY SHARE until it
    # commits), so the look-up below sees that playbook; one that starts later waits for this
    # delete and then finds no segment.
    session.execute(select(InsightSegment.id).where(InsightSegment.id == seg.id).with_for_update())
    refused = usage_conflict(session, seg)
    if refused is not None:
        raise refused
    before = audit_snapshot(seg)
    session.execute(delete(InsightSegmentMember).where(InsightSegmentMember.segment_id == seg.id))
    session.delete(seg)
    session.flush()
    record(session, actor, "delete", "insight_segment", segment_id, before, None)


def cluster_sizes(session: Session, segment_id: int) -> dict[int, int]:
    """Members per cluster now (customers erased since the save are gone)."""
    return dict(
        session.execute(
            select(InsightSegmentMember.cluster, func.count())
            .where(InsightSegmentMember.segment_id == segment_id)
            .group_by(InsightSegmentMember.cluster)
        ).all()
    )


def member_page(
    session: Session, segment_id: int, cluster: int | None, limit: int, offset: int
) -> tuple[list[int], int]:
    stmt = select(InsightSegmentMember.customer_id).where(
        InsightSegmentMember.segment_id == segment_id
    )
    if cluster is not None:
        stmt = stmt.where(InsightSegmentMember.cluster == cluster)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    ids = list(
        session.scalars(stmt.order_by(InsightSegmentMember.customer_id).limit(limit).offset(offset))
    )
    return ids, total


# --- saved segments as filters ------------------------------------------------------------------

FILTER_HELP = "segment must be <saved segment id>:<cluster number>, e.g. 3:0."


def parse_filter(raw: str | None, field: str = "segment") -> tuple[int, int] | None:
    """``"12:0"`` → ``(12, 0)``; empty → ``None``; anything else → ``InvalidInput``."""
    text = (raw or "").strip()
    if not text:
        return None
    seg, sep, cluster = text.partition(":")
    if not sep or not seg.isdigit() or not cluster.isdigit() or len(seg) > 9 or len(cluster) > 3:
        raise InvalidInput(FILTER_HELP, field=field)
    return int(seg), int(cluster)


def check_filter(
    session: Session, value: tuple[int, int], field: str = "segment", *, hold: bool = False
) -> None:
    """``InvalidInput`` unless saved segment ``value[0]`` exists and has cluster ``value[1]``.

    ``hold``: for a caller that stores the reference (a playbook's filter): the segment's row
    is read ``FOR KEY SHARE`` (``core.locking.key_share_row``), so a delete of the segment
    waits until this transaction ends and then sees the reference (and is refused), instead of
    both going through. Readers (a filtered list) leave it off."""
    if hold:
        seg = key_share_row(session, InsightSegment, value[0])
    else:
        seg = session.get(InsightSegment, value[0])
    if seg is None:
        raise InvalidInput(Msg("Saved segment %(id)s does not exist.", id=value[0]), field=field)
    if not 0 <= value[1] < seg.k:
        raise InvalidInput(
            Msg(
                "Saved segment %(id)s has clusters 0 to %(last)s, not %(cluster)s.",
                id=value[0],
                last=seg.k - 1,
                cluster=value[1],
            ),
            field=field,
        )


def members_select(value: tuple[int, int]) -> Select:
    """``SELECT customer_id`` of the customers in cluster ``value[1]`` of segment ``value[0]``
    (a segment by scores: without customers who may not be profiled now, ``scoring.consent``)."""
    return select(InsightSegmentMember.customer_id).where(
        InsightSegmentMember.segment_id == value[0],
        InsightSegmentMember.cluster == value[1],
        profiled_sql(InsightSegmentMember.customer_id),
    )


def cluster_name(seg: InsightSegment, cluster: int, locale: str) -> str:
    lang = "zh" if locale.startswith("zh") else "en"
    for p in (seg.profile or {}).get("profiles", []):
        if p.get("segment") == cluster:
            return p.get(f"name_{lang}") or str(cluster)
    return str(cluster)


def filter_choices(session: Session, locale: str) -> list[tuple[str, str]]:
    """``(value, label)`` for every cluster of every saved segment: ``"3:0"``,
    ``"Spring 2026 › Recent frequent high spenders"``."""
    out = []
    for seg in session.scalars(select(InsightSegment).order_by(InsightSegment.name)):
        for c in range(seg.k):
            out.append((f"{seg.id}:{c}", f"{seg.name} › {cluster_name(seg, c, locale)}"))
    return out


def filter_label(session: Session, value: tuple[int, int], locale: str) -> str:
    seg = session.get(InsightSegment, value[0])
    if seg is None:
        return f"{value[0]}:{value[1]}"
    return f"{seg.name} › {cluster_name(seg, value[1], locale)}"
