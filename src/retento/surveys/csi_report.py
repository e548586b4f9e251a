"""The customer satisfaction index of a survey (ACSI / ECSI, PLS path modelling on the
responses): ``csi_frame`` turns responses into the model's item table, ``csi_report`` fits it."""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.errors import InvalidInput, Msg, choice_error, range_error
from retento.surveys.models import Survey
from retento.surveys.reports import Resp, ResponseFilter, finite, load_responses
from retento.surveys.service import _survey
from retento.web.i18n import N_

MIN_CSI_RESPONSES = 10


def csi_frame(
    survey: Survey, resps: list[Resp], latents: Iterable[str]
) -> tuple[pd.DataFrame, dict]:
    """One row per response, one column per CSI item (the perception b for pairs)."""
    wanted = set(latents)
    items = [q for q in survey.questions if q.csi_latent in wanted and q.csi_item]
    data = {q.csi_item: [r.answers.get(q.id, (None,))[0] for r in resps] for q in items}
    frame = pd.DataFrame(data, index=[r.id for r in resps], dtype=float)
    blocks: dict[str, list[str]] = defaultdict(list)
    ranges = {}
    for q in items:
        blocks[q.csi_latent].append(q.csi_item)
        ranges[q.csi_item] = (q.scale_min, q.scale_max)
    return frame, {"blocks": dict(blocks), "ranges": ranges}


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return finite(df.reset_index().to_dict(orient="records"))


def csi_report(
    session: Session,
    survey_id: int,
    *,
    actor: User,
    model: str = "ecsi",
    scheme: str = "centroid",
    bootstrap: int = 0,
    seed: int | None = 0,
    flt: ResponseFilter | None = None,
) -> dict[str, Any]:
    """The satisfaction index (ACSI or ECSI) estimated by PLS path modelling on the answers
    (those ``flt`` selects, when given)."""
    from retento.analytics import ACSI_MODEL, ECSI_MODEL

    require(actor, "survey:read")
    specs = {"ecsi": ECSI_MODEL, "acsi": ACSI_MODEL}
    if model not in specs:
        choices = [("ecsi", "ECSI"), ("acsi", "ACSI")]
        raise choice_error("model", N_("Satisfaction index model"), choices).refuse()
    if scheme not in ("centroid", "factorial", "path"):
        # PLS path modelling's inner weighting schemes (the API's English keeps the codes).
        choices = [
            ("centroid", N_("Centroid scheme")),
            ("factorial", N_("Factorial scheme")),
            ("path", N_("Path weighting scheme")),
        ]
        raise choice_error("scheme", N_("Inner weighting scheme"), choices).refuse()
    if not 0 <= bootstrap <= 2000:
        raise range_error("bootstrap", N_("Bootstrap resamples"), 0, 2000).refuse()
    spec = specs[model]
    survey = _survey(session, survey_id)
    frame, meta = csi_frame(survey, load_responses(session, survey.id, flt=flt), spec.latents)
    missing = [lv for lv in spec.latents if lv not in meta["blocks"]]
    if missing:
        raise InvalidInput(
            Msg(
                "The %(model)s model needs questions for %(latents)s; tag questions with csi_latent (the ECSI template has them all).",
                model=spec.name,
                latents=", ".join(missing),
            ),
            field="model",
        )
    complete = frame.dropna()
    if len(complete) < MIN_CSI_RESPONSES:
        raise InvalidInput(
            Msg(
                "Only %(n)s completed responses answer every CSI item; at least %(min)s are needed.",
                n=len(complete),
                min=MIN_CSI_RESPONSES,
            ),
            field="survey_id",
        )
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        try:
            res = spec.fit(complete, meta["blocks"], scheme=scheme, scale_range=meta["ranges"])
        except ValueError as exc:
            raise InvalidInput(
                Msg("The CSI model cannot be estimated: %(error)s", error=exc), field="model"
            ) from exc
    pc = res.path_coefficients
    paths = [{"source": s, "target": t, "coefficient": float(pc.loc[s, t])} for s, t in spec.paths]
    boot = None
    if bootstrap:
        try:
            b = res.bootstrap(n=bootstrap, seed=seed)
        except (RuntimeError, ValueError) as exc:
            raise InvalidInput(
                Msg("The bootstrap failed: %(error)s", error=exc), field="bootstrap"
            ) from exc
        ci = b.paths
        for p in paths:
            key = f"{p['source']} -> {p['target']}"
            if key in ci.index:
                p["std_error"] = float(ci.loc[key, "std_error"])
                p["ci_lower"] = float(ci.loc[key, "ci_lower"])
                p["ci_upper"] = float(ci.loc[key, "ci_upper"])
        boot = {"resamples": b.n_resamples, "failed": b.n_failed, "level": b.level}
    outer = res.outer_model
    report = {
        "survey_id": survey.id,
        "model": spec.name,
        "scheme": scheme,
        "n": int(len(complete)),
        "dropped_incomplete": int(len(frame) - len(complete)),
        "converged": bool(res.converged),
        "iterations": int(res.iterations),
        "paths": paths,
        "r2": {k: float(v) for k, v in res.r2.items()},
        "indices": {k: float(v) for k, v in res.indices.items()},
        "gof": float(res.gof),
        "items": [
            {
                "item": item,
                "latent": row["block"],
                "weight": float(row["weight"]),
                "loading": float(row["loading"]),
            }
            for item, row in outer.iterrows()
        ],
        "drivers": {
            target: _records(res.importance_performance(target))
            for target in ("Satisfaction", "Loyalty")
        },
        "bootstrap": boot,
    }
    return finite(report)
