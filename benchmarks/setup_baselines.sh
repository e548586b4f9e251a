#!/usr/bin/env bash
# Create the git-ignored venv /work/main/.venv-bench holding the *baseline* libraries that the CLV
# benchmarks compare against (lifetimes, PyMC-Marketing, mlxtend, prefixspan), and locust for the
# load test in benchmarks/load/.  They are never project dependencies.
#
#   bash benchmarks/setup_baselines.sh
#
# Availability is checked first with `pip download --no-deps`, so an unavailable package is
# reported instead of failing half-way.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-bench"
PY="${PYTHON:-python3.11}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
available() {
    "$VENV/bin/python" -m pip download --quiet --no-deps --dest "$TMP" "$1" >/dev/null 2>&1
}

# The analysed code itself, for the same numbers (numpy/scipy/pandas/duckdb) as the main venv.
"$VENV/bin/python" -m pip install --quiet numpy scipy pandas duckdb

if available lifetimes; then
    "$VENV/bin/python" -m pip install --quiet lifetimes
    echo "lifetimes: installed"
else
    echo "lifetimes: NOT available from the package index" >&2
fi

if available pymc-marketing; then
    if "$VENV/bin/python" -m pip install --quiet pymc-marketing; then
        echo "pymc-marketing: installed"
    else
        echo "pymc-marketing: download OK but installation failed (see pip output above)" >&2
    fi
else
    echo "pymc-marketing: NOT available from the package index" >&2
fi
# Market-basket and sequence baselines (issue 13: bench_basket.py, bench_sequences.py).
for pkg in mlxtend prefixspan; do
    if available "$pkg" && "$VENV/bin/python" -m pip install --quiet "$pkg"; then
        echo "$pkg: installed"
    else
        echo "$pkg: NOT available from the package index" >&2
    fi
done
# The HTTP load generator of benchmarks/load (issue 15): never a project dependency.
if available locust && "$VENV/bin/python" -m pip install --quiet locust; then
    echo "locust: installed"
else
    echo "locust: NOT available from the package index" >&2
fi
"$VENV/bin/python" -m pip list 2>/dev/null | grep -Ei '^(lifetimes|pymc|pymc-marketing|numpy|scipy|pandas|pytensor|mlxtend|prefixspan|locust) ' || true
