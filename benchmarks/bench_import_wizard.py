"""Time the browser import wizard's steps on a large orders file (the code the pages run).

    python benchmarks/bench_import_wizard.py [--lines 200000] [--url sqlite:///...|postgresql+psycopg://...]

Generates the same files as ``bench_import.py``, migrates a fresh database (a temporary SQLite
file unless ``--url`` names an empty database), imports customers and products, then runs the
wizard's steps on orders.csv as the background thread does: upload (keep the file, read the
header and the preview), mapping (header check), check (every row, nothing written) and import.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import generate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--url", default=None)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="retento-wizard-bench-"))
    orders, lines = generate(root, args.lines)
    url = args.url or f"sqlite:///{root / 'bench.db'}"
    os.environ["RETENTO_DATABASE_URL"] = url

    from retento.auth.models import User
    from retento.core.config import get_settings
    from retento.core.db import make_engine, make_session_factory, transaction
    from retento.core.migrate import upgrade
    from retento.dataio import service, wizard
    from retento.models import import_all_models

    get_settings.cache_clear()
    upgrade(url)
    import_all_models()
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with transaction(factory) as s:
        s.add(User(username="bench", role="admin", password_hash="-", display_name="Bench"))
    with transaction(factory) as s:
        actor = s.query(User).filter_by(username="bench").one()
        for entity in ("customers", "products"):
            service.import_file(s, entity, root / f"{entity}.csv", actor=actor)
    content = (root / "orders.csv").read_bytes()
    timings: dict[str, float] = {}

    def step(name: str, fn) -> None:
        t0 = time.perf_counter()
        with transaction(factory) as s:
            fn(s, s.query(User).filter_by(username="bench").one())
        timings[name] = time.perf_counter() - t0

    ids: dict[str, int] = {}

    def upload(s, actor) -> None:
        ids["job"] = wizard.create_job(s, "orders", "orders.csv", content, actor=actor).id

    def mapping(s, actor) -> None:
        job = wizard.get_job(s, ids["job"], actor=actor)
        wizard.save_mapping(s, job, dict(job.mapping["columns"]), "UTC")

    def check(s, actor) -> None:
        job = wizard.get_job(s, ids["job"], actor=actor)
        assert wizard.claim(s, job, "validating")
        wizard.execute(s, job, actor)
        assert job.status == "validated" and job.rejected == 0, job.errors

    def run(s, actor) -> None:
        job = wizard.get_job(s, ids["job"], actor=actor)
        assert wizard.claim(s, job, "running", skip_invalid=False)
        wizard.execute(s, job, actor)
        assert job.status == "done", job.message
        ids["created"] = job.report["created"]

    for name, fn in (("upload", upload), ("mapping", mapping), ("check", check), ("import", run)):
        step(name, fn)
    engine.dispose()
    backend = url.split(":", 1)[0]
    mb = len(content) / 1e6
    print(f"{backend}: {lines:,} order lines ({orders:,} orders, {mb:.1f} MB)")
    for name, sec in timings.items():
        print(f"  {name:<8} {sec:6.2f} s")
    print(
        f"  created {ids['created']:,} orders; check + import {lines / (timings['check'] + timings['import']):,.0f} lines/s"
    )


if __name__ == "__main__":
    main()
