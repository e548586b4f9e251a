"""Integration: two `retento serve` processes (one of them with --workers 2) and one
`retento worker` on a scratch PostgreSQL database. Every scheduled job runs exactly once per
tick across the four schedulers, the web processes keep answering, and queued work is run by the
worker, not by the web (RETENTO_RUN_WORK_IN_WEB=false as in docs/deploy-postgresql.md)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import select, text

from retento.core.db import transaction
from retento.work import queue
from retento.work.models import JobLease, WorkItem

RETENTO = str(Path(sys.executable).with_name("retento"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _leases(live_pg) -> dict[str, JobLease]:
    with live_pg.session() as s:
        return {r.name: r for r in s.scalars(select(JobLease))}


def test_two_servers_and_a_worker_run_each_job_once_per_tick(live_pg, tmp_path):
    from retento.jobs import load_jobs

    names = set(load_jobs())
    env = {
        **os.environ,
        "RETENTO_DATABASE_URL": live_pg.url,
        "RETENTO_SECRET_KEY": "integration-" + "k" * 40,
        "RETENTO_RUN_SCHEDULER": "true",
        "RETENTO_RUN_WORK_IN_WEB": "false",
        "RETENTO_SCHEDULER_TICK_SECONDS": "0.5",
        "RETENTO_WORK_POLL_SECONDS": "0.2",
        "RETENTO_DATA_DIR": str(tmp_path),
    }
    ports = [_free_port(), _free_port()]
    cmds = [
        [RETENTO, "serve", "--port", str(ports[0])],
        [RETENTO, "serve", "--port", str(ports[1]), "--workers", "2"],
        [RETENTO, "worker", "--concurrency", "2"],
    ]
    logs = [open(tmp_path / f"proc{i}.log", "w+") for i in range(len(cmds))]  # noqa: SIM115
    procs = [
        subprocess.Popen(c, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        for c, log in zip(cmds, logs, strict=True)
    ]
    try:
        for port in ports:
            _wait(lambda p=port: _healthy(p), 40, f"retento serve on port {port}")
        # First round: every job was due at once; each ran once, whoever claimed it.
        first = _wait(
            lambda: (
                (rows := _leases(live_pg))
                and set(rows) == names
                and all(r.runs >= 1 and r.holder is None for r in rows.values())
                and rows
            ),
            30,
            "the first round of jobs",
        )
        assert {r.runs for r in first.values()} == {1}, {n: r.runs for n, r in first.items()}
        # Make every job due again, twice: each tick runs each job once more, not 4 times.
        for round_ in (2, 3):
            with live_pg.engine.begin() as conn:
                conn.execute(
                    text("UPDATE job_leases SET next_due_at = now() - interval '1 second'")
                )
            _wait(
                lambda r=round_: all(
                    x.runs >= r and x.holder is None for x in _leases(live_pg).values()
                ),
                20,
                f"round {round_}",
            )
            time.sleep(1.2)  # two more ticks of every scheduler: nothing else may run
            runs = {n: r.runs for n, r in _leases(live_pg).items()}
            assert set(runs.values()) == {round_}, runs
        holders = {r.holder.split(":")[1] for r in _leases(live_pg).values() if r.holder}
        assert not holders  # all released
        # Long work goes to the worker; the web keeps answering meanwhile.
        with transaction(live_pg.session_factory) as s:
            item_id = queue.enqueue(s, "scoring.run", {"run_id": 999_999, "data": {}}).id
        item = _wait(
            lambda: (i := _item(live_pg, item_id)).status in ("done", "failed") and i,
            20,
            "the worker to run the queued item",
        )
        assert item.status == "done" and ":worker:" in item.claimed_by, (item.status, item.error)
        for port in ports:
            started = time.monotonic()
            assert _healthy(port) and time.monotonic() - started < 2.0
        assert all(p.poll() is None for p in procs)
    except BaseException:
        for log in logs:
            log.seek(0)
            print(log.name, log.read()[-3000:])
        raise
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
        for log in logs:
            log.close()


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _item(live_pg, item_id: int) -> WorkItem:
    with live_pg.session() as s:
        return s.get(WorkItem, item_id)
