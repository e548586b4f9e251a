#!/usr/bin/env bash
# A PostgreSQL cluster for the load test, configured as the deployment guide says
# (deploy/postgresql-retento.conf), beside the machine's own cluster (whose settings the test
# suite and CI use and which this leaves alone).
#
#   bash benchmarks/load/pg_cluster.sh [PORT]      # default 5433; prints the URL to use
#   RETENTO_LOAD_PG=postgresql://postgres@127.0.0.1:5433 \
#       .venv/bin/python benchmarks/load/generate.py --db bulk_load --fresh
#   RETENTO_LOAD_PG=postgresql+psycopg://postgres@127.0.0.1:5433 \
#       .venv/bin/python benchmarks/load/run.py --db bulk_load --users 50 --workers 4 --rate 110
#
# Debian's postgresql-common (pg_createcluster) and the server of the machine's major version are
# needed; run as root. Idempotent: an existing cluster "load" is reconfigured and restarted.
set -euo pipefail
port="${1:-5433}"
here="$(cd "$(dirname "$0")/../.." && pwd)"
version="$(ls /etc/postgresql | sort -V | tail -1)"
if ! pg_lsclusters -h | awk '{print $2}' | grep -qx load; then
  pg_createcluster "$version" load --port "$port" -- --auth-local=trust --auth-host=trust >/dev/null
fi
conf="/etc/postgresql/$version/load"
install -m 644 "$here/deploy/postgresql-retento.conf" "$conf/conf.d/retento.conf"
printf "listen_addresses = '127.0.0.1'\nport = %s\n" "$port" > "$conf/conf.d/00-load-test.conf"
# Trust on 127.0.0.1 like the machine's own cluster (a scratch cluster for measurements only).
sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/' "$conf/pg_hba.conf"
pg_ctlcluster --skip-systemctl-redirect "$version" load restart 2>/dev/null ||
  pg_ctlcluster --skip-systemctl-redirect "$version" load start
for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p "$port" >/dev/null 2>&1 && break; sleep 1; done
psql -h 127.0.0.1 -p "$port" -U postgres -Atc "SHOW shared_buffers" >/dev/null
echo "postgresql://postgres@127.0.0.1:$port"
