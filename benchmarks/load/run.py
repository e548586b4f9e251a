"""Serve Retento on a scratch database and run the locust mix against it, bounded in time.

    python benchmarks/load/run.py --db bulk_load [--users 50] [--spawn-rate 10] [--time 60s]
        [--workers 2] [--port 8765] [--rate R]

The goal's check (issue 15 point 4), four web processes as the deployment guide sizes 2 cores,
users paced to offer 110 requests/s in total (``--rate``; see locustfile.py)::

    python benchmarks/load/run.py --db bulk_load --users 50 --workers 4 --rate 110

Starts ``retento serve`` (``--workers``) on 127.0.0.1 against ``--db`` (made by generate.py),
waits for ``/healthz``, runs ``locust --headless`` from ``.venv-bench`` (see
benchmarks/setup_baselines.sh), then prints the sustained requests/s, the failure count and
p50/p95/p99 for the whole mix and per endpoint (from locust's CSV), stops the server, and appends
the result to ``benchmarks/load/results.jsonl``. It also prints the CPU per request of the web
processes and of PostgreSQL over the run (from /proc; ramp-up included).

PostgreSQL as the deployment guide configures it (``deploy/postgresql-retento.conf``; the
machine's own cluster keeps its defaults for the test suite): ``bash
benchmarks/load/pg_cluster.sh`` starts a second cluster on port 5433 with that file; then
generate the data there and point ``RETENTO_LOAD_PG`` at it (see that script).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PG = os.environ.get("RETENTO_LOAD_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
LOCUST = ROOT / ".venv-bench" / "bin" / "locust"


def wait_up(url: str, seconds: float = 120) -> None:
    end = time.time() + seconds
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"the server did not answer {url} within {seconds:.0f} s")


def cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) used so far by the web server's processes and by PostgreSQL's,
    read from /proc: the server's are those of its process group (run.py starts it in its own
    session), PostgreSQL's those of the user ``postgres``. A backend that exits between two
    readings is not counted, so both readings are taken while the server keeps its pool open."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {"web": 0.0, "postgres": 0.0}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            uid = os.stat(f"/proc/{entry}").st_uid
        except OSError:
            continue
        used = (int(fields[11]) + int(fields[12])) / tick
        if int(fields[2]) == SERVER_PGID[0]:
            out["web"] += used
        elif uid == POSTGRES_UID:
            out["postgres"] += used
    return out


def _postgres_uid() -> int:
    import pwd

    try:
        return pwd.getpwnam("postgres").pw_uid
    except KeyError:
        return -1


POSTGRES_UID = _postgres_uid()
SERVER_PGID = [-1]


def login_cookies(host: str, agents: int) -> list[dict]:
    """Log ``load_agent0..agents-1`` in through the web form; their session cookies."""
    import http.cookiejar
    import re
    import urllib.parse

    out = []
    for i in range(agents):
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(f"{host}/login", timeout=120).read().decode()
        m = re.search(r'name="csrf_token" value="([^"]+)"', page)
        form = {"username": f"load_agent{i}", "password": "load-test-pass-1", "next": "/"}
        if m:
            form["csrf_token"] = m.group(1)
        opener.open(f"{host}/login", urllib.parse.urlencode(form).encode(), timeout=120).read()
        out.append({c.name: c.value for c in jar})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default="bulk_load")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--spawn-rate", type=int, default=10)
    ap.add_argument("--time", default="60s")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--agents", type=int, default=5, help="distinct web logins")
    ap.add_argument("--label", default="", help="a note stored with the result (e.g. 'before')")
    ap.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="pace the users to offer this many requests/s in total (0: unpaced)",
    )
    args = ap.parse_args()
    if not LOCUST.exists():
        sys.exit(f"{LOCUST} is missing: run bash benchmarks/setup_baselines.sh")
    env = {
        **os.environ,
        "RETENTO_DATABASE_URL": f"{PG}/{args.db}",
        "RETENTO_SECRET_KEY": secrets.token_urlsafe(48),
        "RETENTO_RUN_SCHEDULER": "false",
    }
    token_file = HERE / f".token-{args.db}"
    token = token_file.read_text().strip() if token_file.exists() else ""
    retento = str(Path(sys.executable).parent / "retento")
    cmd = [retento, "serve", "--host", "127.0.0.1", "--port", str(args.port)]
    if args.workers > 1:
        cmd += ["--workers", str(args.workers)]
    log = open(HERE / ".serve.log", "w")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                              start_new_session=True)  # fmt: skip
    host = f"http://127.0.0.1:{args.port}"
    try:
        wait_up(f"{host}/healthz")
        cookies = json.dumps(login_cookies(host, args.agents))
        out = Path(tempfile.mkdtemp(prefix="retento-load-")) / "stats"
        load = os.getloadavg()[0]
        SERVER_PGID[0] = server.pid  # start_new_session: the group id is the server's pid
        cpu0 = cpu_seconds()
        t0 = time.perf_counter()
        subprocess.run(
            [str(LOCUST), "-f", str(HERE / "locustfile.py"), "--headless", "-u", str(args.users),
             "-r", str(args.spawn_rate), "-t", args.time, "--host", host, "--csv", str(out),
             "--only-summary", "--stop-timeout", "5", "--reset-stats"],
            env={**os.environ, "PYTHONWARNINGS": "ignore", "LOAD_TOKEN": token,
                 "LOAD_COOKIES": cookies,
                 "LOAD_RATE_PER_USER": str(args.rate / args.users)}, check=False,
            cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wall = time.perf_counter() - t0
        cpu1 = cpu_seconds()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        log.close()
    rows = list(csv.DictReader(open(f"{out}_stats.csv")))  # noqa: SIM115
    print(f"{'endpoint':<42} {'reqs':>7} {'fail':>5} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6}")
    result = {}
    for r in rows:
        name = "TOTAL" if r["Name"] == "Aggregated" else f"{r['Type']} {r['Name']}"
        print(f"{name[:42]:<42} {r['Request Count']:>7} {r['Failure Count']:>5} "
              f"{float(r['Requests/s']):>7.1f} {r['50%']:>6} {r['95%']:>6} {r['99%']:>6}")  # fmt: skip
        if r["Name"] == "Aggregated":
            result = {
                "requests": int(r["Request Count"]),
                "failures": int(r["Failure Count"]),
                "rps": round(float(r["Requests/s"]), 1),
                "p50_ms": float(r["50%"]),
                "p95_ms": float(r["95%"]),
                "p99_ms": float(r["99%"]),
            }
    fails = Path(f"{out}_failures.csv")
    if fails.exists():
        for r in list(csv.DictReader(open(fails)))[:10]:  # noqa: SIM115
            print(f"  failure: {r['Method']} {r['Name']}: {r['Error'][:120]} × {r['Occurrences']}")
    # CPU per request over the whole run (ramp-up included), web and database apart.
    n = max(result.get("requests", 0), 1)
    result["web_cpu_ms_per_request"] = round(1000 * (cpu1["web"] - cpu0["web"]) / n, 2)
    result["db_cpu_ms_per_request"] = round(1000 * (cpu1["postgres"] - cpu0["postgres"]) / n, 2)
    print(
        f"CPU per request: web {result['web_cpu_ms_per_request']} ms, "
        f"PostgreSQL {result['db_cpu_ms_per_request']} ms"
    )
    result.update(
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        users=args.users,
        duration=args.time,
        workers=args.workers,
        rate=args.rate or None,
        db=args.db,
        load_before=round(load, 2),
        wall_s=round(wall, 1),
        label=args.label,
    )
    with (HERE / "results.jsonl").open("a") as fh:
        fh.write(json.dumps(result) + "\n")
    goal = result.get("p95_ms", 1e9) <= 200 and result.get("rps", 0) >= 100
    print(f"\nsustained {result.get('rps')} req/s, p50 {result.get('p50_ms')} ms, "
          f"p95 {result.get('p95_ms')} ms, p99 {result.get('p99_ms')} ms with {args.users} users "
          f"({args.workers} worker(s), load {load:.1f} before): goal p95 ≤ 200 ms at ≥ 100 req/s "
          f"{'MET' if goal else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
