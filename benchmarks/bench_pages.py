"""CPU and SQL statements per request of every page of the load mix (issue 15, point 4).

    python benchmarks/bench_pages.py [--requests 40] [--db bench_pages] [--fresh]
        [--baseline-rev REV] [--rounds 3] [--only PAGE] [--json out.json]

Builds (once; ``--fresh`` re-creates it) a PostgreSQL database holding the demo
(``retento demo --seed 42``: 2,000 customers), logs in through the web form as the demo
``agent`` (the locust users are agents), issues an admin API token (the locust API calls use
one), then requests every page of ``benchmarks/load/locustfile.py`` ``--requests`` times with
``TestClient`` and prints, per page, the process CPU milliseconds per request (app and test
client, without PostgreSQL's own) and the SQL statements per request (counted with a
``before_cursor_execute`` event on the app's engine), then the mix's weighted mean, weighted
like the locustfile (the 360 page is 5 of 22).

``--baseline-rev REV`` also measures the code of git revision ``REV`` (its ``src/`` extracted
with ``git archive`` into a temporary folder and put first on ``PYTHONPATH`` of a child
process) on the same database, alternating with the working tree ``--rounds`` times, and
prints the ratios: both numbers come from the same run, at the same machine load, and each is
a page's best over the rounds (the least disturbed by other work on a shared machine). The
API writes of the mix add touchpoints and complaint notes to the demo database on each run.
``--baseline-src DIR`` does the same with a ``src`` folder instead of a revision (e.g. the
working tree with only one's own files put back as they were, when others change the tree too).
``--only PAGE`` requests one page (to profile it, e.g. under ``py-spy record``). Like the
server entry point (``retento.asgi``), the app's start-up heap is frozen when the code under
test has ``retento.app.freeze_startup_heap``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("RETENTO_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NAMES = ["wang", "anna", "smith", "lena", "garcia", "tom"]
CN = ["王伟", "李娜", "张敏", "刘洋"]

# (name, weight in the locustfile, kind): kind "web" uses the agent's session cookie, "api" the
# admin's bearer token.
PAGES = [
    ("360 page", 5, "web"),
    ("timeline fragment", 1, "web"),
    ("list newest", 1, "web"),
    ("list by kind", 1, "web"),
    ("list deep", 1, "web"),
    ("search name", 1, "web"),
    ("search external id", 1, "web"),
    ("search phone / 中文", 1, "web"),
    ("search API", 1, "api"),
    ("queue mine", 2, "web"),
    ("queue soon", 1, "web"),
    ("queue by status", 1, "web"),
    ("complaint JSON", 1, "api"),
    ("orders of a customer API", 2, "api"),
    ("touchpoint POST API", 1, "api"),
    ("complaint note POST API", 1, "api"),
]


def url_for(name: str, rng: random.Random, n_customers: int, n_complaints: int) -> tuple:
    """(method, url, json body or None, extra headers) of one request to page ``name``."""
    cid = rng.randint(1, n_customers)
    if name == "360 page":
        return "GET", f"/customers/{cid}", None, {}
    if name == "timeline fragment":
        return "GET", f"/customers/{cid}/timeline", None, {"HX-Request": "true"}
    if name == "list newest":
        return "GET", "/customers?sort=-id", None, {}
    if name == "list by kind":
        return "GET", "/customers?kind=business&sort=name", None, {}
    if name == "list deep":
        return "GET", f"/customers?sort=-id&offset={rng.randint(1, 30) * 50}", None, {}
    if name == "search name":
        return "GET", f"/customers?q={rng.choice(NAMES)} {rng.randint(1, 99999)}", None, {}
    if name == "search external id":
        return "GET", f"/customers?q=C{cid:08d}", None, {}
    if name == "search phone / 中文":
        if rng.random() < 0.5:
            return "GET", f"/customers?q={f'139{rng.randint(0, 99999999):08d}'[:9]}", None, {}
        return "GET", f"/customers?q={rng.choice(CN)}", None, {}
    if name == "search API":
        return "GET", f"/api/v1/customers?q={rng.choice(NAMES)}&limit=20", None, {}
    if name == "queue mine":
        return "GET", "/complaints", None, {}
    if name == "queue soon":
        return "GET", "/complaints?tab=soon", None, {}
    if name == "queue by status":
        st = rng.choice(["accepted", "in_progress", "resolved"])
        return "GET", f"/complaints?tab=open&status={st}", None, {}
    if name == "complaint JSON":
        return "GET", f"/api/v1/complaints/{rng.randint(1, n_complaints)}", None, {}
    if name == "orders of a customer API":
        return "GET", f"/api/v1/orders?customer_id={cid}&limit=20", None, {}
    if name == "touchpoint POST API":
        from datetime import UTC, datetime

        body = {
            "customer_id": cid,
            "occurred_at": datetime.now(UTC).isoformat(),
            "channel": rng.choice(["phone", "web", "email"]),
            "stage": "information",
            "note": "bench",
        }
        return "POST", "/api/v1/touchpoints", body, {}
    if name == "complaint note POST API":
        body = {"body": "Called the customer back (bench)."}
        return "POST", f"/api/v1/complaints/{rng.randint(1, n_complaints)}/notes", body, {}
    raise KeyError(name)


def build(db: str, fresh: bool, upgrade: bool = True) -> str:
    """The demo database ``db`` (made once; ``fresh`` drops it first); returns its URL."""
    import psycopg

    url = f"{PG}/{db}"
    admin_url = PG.replace("+psycopg", "") + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{db}"')
    env = {**os.environ, "RETENTO_DATABASE_URL": url}
    bindir = Path(sys.executable).parent
    t0 = time.perf_counter()
    # Always: the working tree's models may need a migration added since the database was made
    # (not for a baseline revision: its code is older than the schema, which it ignores).
    if upgrade:
        subprocess.run([str(bindir / "retento"), "db", "upgrade"], env=env, check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    if exists:
        return url
    subprocess.run(
        [str(bindir / "retento"), "demo", "--seed", "42"],
        env=env,
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    print(f"built {db} (demo, seed 42) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return url


def measure(url: str, requests: int, seed: int, only: str | None = None) -> dict:
    """Per page: CPU ms and SQL statements per request, with the code importable right now."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event, func, select

    import retento
    from retento.app import create_app
    from retento.auth.service import get_user_by_name, issue_token
    from retento.complaints.models import Complaint
    from retento.core.config import Settings
    from retento.core.db import transaction
    from retento.customers.models import Customer

    app = create_app(
        Settings(database_url=url, run_scheduler=False, secret_key="bench-pages-" + "x" * 40)
    )
    # What the server entry point (retento.asgi) does after building the app, where the code
    # under test has it (a baseline revision may not).
    freeze = getattr(importlib.import_module("retento.app"), "freeze_startup_heap", None)
    if freeze is not None:
        freeze()
    factory = app.state.session_factory
    with transaction(factory) as s:
        n_customers = s.scalar(select(func.max(Customer.id))) or 1
        n_complaints = s.scalar(select(func.max(Complaint.id))) or 1
        admin = get_user_by_name(s, "admin")
        _row, token = issue_token(s, admin, name="bench_pages", actor=None)
    statements = [0]

    @event.listens_for(app.state.engine, "before_cursor_execute")
    def count(*_args, **_kw) -> None:
        statements[0] += 1

    out: dict = {"code": str(Path(retento.__file__).parent), "pages": {}}
    with TestClient(app) as web, TestClient(app) as api:
        page = web.get("/login")
        m = CSRF.search(page.text)
        form = {"username": "agent", "password": "retento-demo", "next": "/"}
        if m:
            form["csrf_token"] = m.group(1)
        r = web.post("/login", data=form, follow_redirects=False)
        assert r.status_code in (302, 303), f"login failed: {r.status_code}"
        api.headers["Authorization"] = f"Bearer {token}"
        rng = random.Random(seed)
        for name, _weight, kind in PAGES:
            if only and name != only:
                continue
            client = web if kind == "web" else api
            reqs = [url_for(name, rng, n_customers, n_complaints) for _ in range(requests + 3)]
            for method, u, body, headers in reqs[:3]:  # warm-up (templates, caches)
                client.request(method, u, json=body, headers=headers)
            statements[0] = 0
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for method, u, body, headers in reqs[3:]:
                r = client.request(method, u, json=body, headers=headers)
                assert r.status_code < 400, f"{name} {u}: {r.status_code} {r.text[:300]}"
            cpu = time.process_time() - cpu0
            wall = time.perf_counter() - wall0
            out["pages"][name] = {
                "cpu_ms": 1000 * cpu / requests,
                "wall_ms": 1000 * wall / requests,
                "sql": statements[0] / requests,
            }
    app.state.engine.dispose()
    if only:
        return out
    total = sum(w for _n, w, _k in PAGES)
    for key in ("cpu_ms", "wall_ms", "sql"):
        out[f"mix_{key}"] = sum(out["pages"][n][key] * w for n, w, _k in PAGES) / total
    return out


def extract(rev: str) -> Path:
    """``src/`` of git revision ``rev`` in a temporary folder; returns that ``src`` folder."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, "src"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    tar_path = tmp / "src.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(tmp, filter="data")
    return tmp / "src"


def child(src: Path, args: argparse.Namespace) -> dict:
    """Run :func:`measure` in a child process that imports ``retento`` from ``src``."""
    out = Path(tempfile.mkdtemp(prefix="bench-pages-out-")) / "out.json"
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--db", args.db]
    cmd += ["--requests", str(args.requests), "--seed", str(args.seed), "--json", str(out)]
    cmd += ["--quiet", "--no-upgrade", "--rounds", "1"]
    if args.only:
        cmd += ["--only", args.only]
    subprocess.run(cmd, env=env, check=True, cwd=src.parent, stderr=subprocess.DEVNULL)
    return json.loads(out.read_text())


def best_of(runs: list[dict]) -> dict:
    """Per page the lowest CPU and wall time of ``runs`` (the least disturbed by other work on
    the shared machine), the mean statement count, and the weighted mix of those."""
    out: dict = {"pages": {}}
    for name in runs[0]["pages"]:
        pages = [r["pages"][name] for r in runs]
        out["pages"][name] = {
            "cpu_ms": min(p["cpu_ms"] for p in pages),
            "wall_ms": min(p["wall_ms"] for p in pages),
            "sql": sum(p["sql"] for p in pages) / len(pages),
        }
    if len(out["pages"]) == len(PAGES):
        total = sum(w for _n, w, _k in PAGES)
        for key in ("cpu_ms", "wall_ms", "sql"):
            out[f"mix_{key}"] = sum(out["pages"][n][key] * w for n, w, _k in PAGES) / total
    return out


def show(res: dict, base: dict | None) -> None:
    head = f"{'page':<26} {'CPU ms':>7} {'wall ms':>8} {'SQL':>6}"
    if base:
        head = (
            f"{'page':<26} {'CPU ms before':>13} {'after':>7} {'ratio':>6}"
            f" {'SQL before':>10} {'after':>6}"
        )
    print(head)
    rows = [(n, res["pages"][n], base["pages"][n] if base else None) for n, _w, _k in PAGES]
    mix_after = {"cpu_ms": res["mix_cpu_ms"], "wall_ms": res["mix_wall_ms"], "sql": res["mix_sql"]}
    mix_before = (
        {"cpu_ms": base["mix_cpu_ms"], "wall_ms": base["mix_wall_ms"], "sql": base["mix_sql"]}
        if base
        else None
    )
    rows.append(("weighted mix", mix_after, mix_before))
    for name, a, b in rows:
        if b:
            print(
                f"{name:<26} {b['cpu_ms']:>13.1f} {a['cpu_ms']:>7.1f}"
                f" {a['cpu_ms'] / b['cpu_ms']:>6.2f} {b['sql']:>10.1f} {a['sql']:>6.1f}"
            )
        else:
            print(f"{name:<26} {a['cpu_ms']:>7.1f} {a['wall_ms']:>8.1f} {a['sql']:>6.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default="bench_pages")
    ap.add_argument("--fresh", action="store_true", help="drop and rebuild the demo database")
    ap.add_argument("--requests", type=int, default=40, help="timed requests per page")
    ap.add_argument("--seed", type=int, default=7, help="seed of the random ids")
    ap.add_argument("--baseline-rev", help="also measure this git revision, first")
    ap.add_argument("--baseline-src", help="also measure the code in this src folder, first")
    ap.add_argument("--json", help="write the result here")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--no-upgrade", action="store_true", help="do not migrate the database")
    ap.add_argument(
        "--rounds", type=int, default=1, help="measure this many times, keep each page's best"
    )
    ap.add_argument(
        "--only", metavar="PAGE", help="request only this page (e.g. under py-spy record)"
    )
    args = ap.parse_args()
    url = build(args.db, args.fresh, upgrade=not args.no_upgrade)
    baseline = args.baseline_rev or args.baseline_src
    if args.rounds == 1 and not baseline:
        res = measure(url, args.requests, args.seed, args.only)
    else:
        # Children, alternating baseline and working tree, so both see the same machine load.
        base_src = extract(args.baseline_rev) if args.baseline_rev else None
        if args.baseline_src:
            base_src = Path(args.baseline_src).resolve()
        base_runs, runs = [], []
        for _ in range(args.rounds):
            if base_src is not None:
                base_runs.append(child(base_src, args))
            runs.append(child(ROOT / "src", args))
        res = best_of(runs)
    base = best_of(base_runs) if baseline else None
    res["load"] = os.getloadavg()[0]
    if base is not None:
        res["baseline"] = base
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    if args.quiet:
        return
    print(
        f"load average {os.getloadavg()[0]:.2f}; {args.requests} requests per page; "
        f"best of {args.rounds} round(s)"
    )
    if args.only:
        if base is not None:
            print("before", {k: round(v, 1) for k, v in base["pages"][args.only].items()})
        print({k: round(v, 1) for k, v in res["pages"][args.only].items()})
        return
    show(res, base)


if __name__ == "__main__":
    main()
