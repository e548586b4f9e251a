"""A large file goes through the wizard in a background thread while the page polls its progress
(live PostgreSQL: real commits, so the thread and the requests see each other's work)."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from retento.dataio import wizard
from retento.dataio.models import ImportJob
from retento.products.models import Product
from tests.dataio.wizard_support import guessed, job_id_of, upload
from tests.factories import make_user
from tests.web.conftest import Browser

ROWS = 50_000


def _poll(web: Browser, job: int, seen: list[str], timeout: float = 120.0) -> None:
    """Poll the progress fragment as htmx does until it says the job has moved on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = web.get(f"/imports/{job}/progress", headers={"HX-Request": "true"})
        assert r.status_code == 200
        if r.headers.get("hx-redirect"):
            assert r.headers["hx-redirect"] == f"/imports/{job}"
            return
        assert 'id="import-progress"' in r.text and 'hx-trigger="every 1s"' in r.text
        seen.append(r.text)
        time.sleep(0.05)
    raise AssertionError("the import did not finish in time")


def test_large_file_runs_in_the_background_with_progress(live_pg, monkeypatch):
    with live_pg.session() as s:
        make_user(s, username="manager", role="manager")
        s.commit()
    calls: list[tuple[int, str, float, float]] = []
    lock = threading.Lock()
    real = wizard._reporter

    def spying(job_id: int):
        report = real(job_id)

        def both(stage: str, done: float, total: float) -> None:
            with lock:
                calls.append((job_id, stage, done, total))
            report(stage, done, total)

        return both

    monkeypatch.setattr(wizard, "_reporter", spying)
    body = "external_id,name,unit_price,unit_cost\n" + "".join(
        f"BIG{i:06d},Product {i},{10 + i % 90}.50,{5 + i % 40}.25\n" for i in range(ROWS)
    )
    content = body.encode()
    assert len(content) > wizard.INLINE_BYTES

    with live_pg.client() as client:
        web = Browser(client)
        assert web.login("manager").status_code == 303
        job = job_id_of(upload(web, "products", "big.csv", content))
        page = web.get(f"/imports/{job}/mapping")
        r = web.post(f"/imports/{job}/mapping", {**guessed(page.text), "timezone": "UTC"})
        assert r.status_code == 303
        checking: list[str] = []
        _poll(web, job, checking)
        check = web.get(f"/imports/{job}")
        assert f'id="count-rows">{ROWS:,}<' in check.text and "Every row is valid." in check.text
        with live_pg.session() as s:
            assert s.scalar(select(func.count()).select_from(Product)) == 0

        r = web.post(f"/imports/{job}/run", {"mode": "all"})
        assert r.status_code == 303
        # While the thread works the job page shows the progress bar (or it has finished).
        first = web.get(f"/imports/{job}")
        assert 'id="import-progress"' in first.text or 'id="import-result"' in first.text
        importing: list[str] = []
        _poll(web, job, importing)
        result = web.get(f"/imports/{job}")
        assert f"Created: {ROWS:,}, updated: 0, unchanged: 0, rejected: 0." in result.text
        # A second click after the end changes nothing.
        assert web.post(f"/imports/{job}/run", {"mode": "all"}).status_code == 303

    with live_pg.session() as s:
        assert s.scalar(select(func.count()).select_from(Product)) == ROWS
        stored = s.get(ImportJob, job)
        assert (stored.status, stored.rows, stored.rejected) == ("done", ROWS, 0)
        assert stored.finished_at is not None
    assert wizard.progress_of(job) is None  # forgotten once recorded on the job
    mine = [c for c in calls if c[0] == job]
    # Reading reports part-way positions of the file, and writing reports its chunks.
    assert any(stage == "reading" and 0 < done < total for _, stage, done, total in mine)
    writing = [done for _, stage, done, _t in mine if stage == "writing"]
    assert len(writing) >= 2 and writing[-1] == ROWS
