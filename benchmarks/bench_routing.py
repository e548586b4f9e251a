"""Route matching per request, with the route gates (``retento.core.routing``) and without.

    python benchmarks/bench_routing.py [--repeat 3000]

Builds the app as the server does and, for paths of the load mix (pages and API), times the
top-level matching loop (Starlette's: the first route that fully matches wins), once through
each included router's gate and once around it (the class's own ``matches``), alternating in
the same run; prints microseconds per request and the ratio. Only matching is timed; the
handler, dependencies and rendering are not (``bench_pages.py`` times whole requests).
"""

from __future__ import annotations

import argparse
import os
import secrets
import time

from starlette.routing import Match

# The load mix's requests (benchmarks/load/locustfile.py).
PATHS = [
    ("GET", "/customers/123"), ("GET", "/customers/123/timeline"), ("GET", "/customers"),
    ("GET", "/complaints"), ("GET", "/api/v1/customers"), ("GET", "/api/v1/orders"),
    ("GET", "/api/v1/complaints/5"), ("POST", "/api/v1/complaints/5/notes"),
    ("POST", "/api/v1/touchpoints"), ("GET", "/loyalty/members/5"),
    ("GET", "/retention/at-risk"),
]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3000)
    args = ap.parse_args()
    os.environ.setdefault("RETENTO_SECRET_KEY", secrets.token_urlsafe(48))
    os.environ.setdefault("RETENTO_DATABASE_URL", "sqlite://")
    from retento.app import create_app

    app = create_app()
    routes = app.router.routes

    def run(method: str, path: str, gated: bool) -> float:
        t = time.perf_counter()
        for _ in range(args.repeat):
            scope = {
                "type": "http", "path": path, "method": method, "root_path": "",
                "headers": [], "query_string": b"", "app": app,
            }  # fmt: skip
            for route in routes:
                match, _ = route.matches(scope) if gated else type(route).matches(route, scope)
                if match == Match.FULL:
                    break
        return (time.perf_counter() - t) / args.repeat * 1e6

    print(
        f"date: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, load {os.getloadavg()[0]:.2f}"
    )
    print("| path | without gates (µs) | with gates (µs) | ratio |")
    print("|---|---|---|---|")
    total_plain = total_gated = 0.0
    for method, path in PATHS:
        plain = min(run(method, path, False) for _ in range(3))
        gated = min(run(method, path, True) for _ in range(3))
        total_plain += plain
        total_gated += gated
        print(f"| `{method} {path}` | {plain:.0f} | {gated:.0f} | {gated / plain:.2f} |")
    print(f"| all | {total_plain:.0f} | {total_gated:.0f} | {total_gated / total_plain:.2f} |")


if __name__ == "__main__":
    main()
