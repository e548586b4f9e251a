"""Demo step: score the demo population so the value dashboard has data from the start."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from retento.scoring import service
from retento.scoring.schemas import ScoreRunCreate

# Above this size the demo leaves scoring to `retento score` (it prints how).
MAX_DEMO_SCORING = 100_000


def step_scoring(session: Session, rng: np.random.Generator, ctx: Any) -> None:
    """Run one BG/NBD scoring as of the demo's 'today' (skipped for very large demos)."""
    if ctx.n_customers > MAX_DEMO_SCORING:
        ctx.summary["scoring"] = "skipped: run `retento score`"
        return
    ctx.progress("scoring", 0.0)
    as_of = datetime.combine(ctx.today, time(0, 0), tzinfo=UTC)
    run = service.run_scoring(session, ScoreRunCreate(as_of=as_of), actor=None)
    ctx.summary["scoring_run"] = run.id
    ctx.progress("scoring", 1.0)
