"""Time the survey results page at 600 and 6,000 responses on PostgreSQL, before and after
the results cache (issue 14 point 11).

    python benchmarks/bench_survey_results.py [--sizes 600,6000] [--runs 7] [--url URL]

For each size a fresh database gets that many customers and completed responses to the demo
standard survey (the demo's answer generator: ratings, NPS, CES, c = b/a pairs, choices,
delivered-value items) and to the demo ECSI survey (the PLS CSI model on every view). The page
``GET /surveys/{id}/results`` is requested through the ASGI app as a logged-in manager:

* before — the cache is cleared before every request, so every view computes every metric
  (what the page did before: 1.5–2.5 s at 600 responses);
* after — the cache is kept; the first view computes and stores, the timed ones read the
  fingerprint from the database and reuse the stored results;
* after a write — one response added between views: the first view after a write recomputes
  (that is what an agent sees once after saving an answer), then it is cached again.

Prints the median milliseconds of ``--runs`` requests per case.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import select

from retento.app import create_app
from retento.auth.models import User
from retento.auth.security import hash_password
from retento.core.config import Settings
from retento.core.db import make_engine, make_session_factory
from retento.core.migrate import upgrade
from retento.customers.models import Customer
from retento.surveys import demo, responses, results_cache, service
from retento.surveys.models import Survey
from retento.surveys.schemas import ResponseCreate, SurveyFromTemplate

PASSWORD = "bench-Sesame-42"
NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)


def recreate(url: str) -> None:
    base, name = url.rsplit("/", 1)
    admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def fill(url: str, n: int) -> dict[str, int]:
    """``n`` customers, each answering the standard and the ECSI survey once."""
    recreate(url)
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    rng = np.random.default_rng(7)
    with factory() as s:
        manager = User(
            username="manager", display_name="Manager", role="manager",
            password_hash=hash_password(PASSWORD), locale="en",
        )  # fmt: skip
        s.add(manager)
        s.flush()
        key = hasattr(Customer, "name_key")  # the search columns, where the model has them
        s.add_all(
            Customer(
                name=f"Customer {i}",
                email=f"c{i}@example.com",
                **({"name_key": f"customer {i}"} if key else {}),
            )
            for i in range(n)
        )
        s.flush()
        ids = np.asarray(s.scalars(select(Customer.id).order_by(Customer.id)).all())
        active = rng.random(n) < 0.7
        mood = demo.mood(rng, active)
        times = [NOW - timedelta(days=float(d)) for d in rng.uniform(1, 300, n)]
        out = {}
        for template, make in (("standard", demo._standard_answers), ("ecsi", demo._ecsi_answers)):
            survey = service.create_from_template(
                s, SurveyFromTemplate(template=template), actor=manager
            )
            survey.status = "active"
            s.flush()
            demo._write(s, rng, survey, ids, make(rng, mood), times, None)
            out[template] = survey.id
        s.commit()
    engine.dispose()
    return out


def full_answers(survey: Survey) -> list[dict]:
    """An answer to every question (required ones included)."""
    out = []
    for q in survey.questions:
        a: dict = {"question": q.code}
        if q.qtype == "free_text":
            a["text"] = "fine"
        elif q.qtype in ("single_choice", "multiple_choice"):
            a["choices"] = [q.options[0]["value"]]
        elif q.qtype == "nps":
            a["number"] = 9
        else:
            a["number"] = q.scale_max
            if q.qtype == "expectation_perception":
                a["expectation"] = q.scale_max
        out.append(a)
    return out


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def bench(url: str, n: int, runs: int) -> None:
    surveys = fill(url, n)
    app = create_app(
        Settings(database_url=url, run_scheduler=False, secret_key="bench-" + "x" * 32)
    )
    factory = make_session_factory(app.state.engine) if hasattr(app.state, "engine") else None
    with TestClient(app) as client:
        page = client.get("/login")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        r = client.post(
            "/login",
            data={"username": "manager", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        for name, sid in surveys.items():
            url_page = f"/surveys/{sid}/results"

            def view(url_page=url_page):
                r = client.get(url_page)
                assert r.status_code == 200, r.status_code

            def cold(view=view):
                results_cache.clear()
                view()

            before = median_ms(cold, runs)
            results_cache.clear()
            view()  # computes and stores
            after = median_ms(view, runs)

            engine = make_engine(url)
            sf = factory or make_session_factory(engine)

            def write_then_view(sid=sid, sf=sf, view=view):
                with sf() as s:
                    manager = s.scalar(select(User).where(User.username == "manager"))
                    survey = s.get(Survey, sid)
                    responses.record_response(
                        s,
                        sid,
                        ResponseCreate(answers=full_answers(survey), channel="phone"),
                        actor=manager,
                    )
                    s.commit()
                t = time.perf_counter()
                view()
                return (time.perf_counter() - t) * 1000

            first_after_write = statistics.median(write_then_view() for _ in range(3))
            engine.dispose()
            print(
                f"{name:8} {n:>6} responses  before {before:8.1f} ms  after {after:7.1f} ms  "
                f"first view after a write {first_after_write:8.1f} ms  "
                f"(ratio {after / before:.3f})",
                flush=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="600,6000")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument(
        "--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench_survey_results"
    )
    args = ap.parse_args()
    for n in (int(x) for x in args.sizes.split(",")):
        bench(args.url, n, args.runs)


if __name__ == "__main__":
    main()
