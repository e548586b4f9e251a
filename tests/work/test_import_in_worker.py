"""A large import with RETENTO_RUN_WORK_IN_WEB=false: the web queues the check and the import,
a worker runs them, and the stored progress is readable without this process's memory."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from retento.core.config import Settings
from retento.dataio import wizard
from retento.dataio.models import ImportJob
from retento.products.models import Product
from retento.work import queue
from retento.work.models import WorkItem
from tests.dataio.wizard_support import guessed, job_id_of, upload
from tests.factories import make_user
from tests.web.conftest import Browser

ROWS = 12_000


def test_large_import_is_queued_for_the_worker(live_pg, monkeypatch):
    with live_pg.session() as s:
        make_user(s, username="manager", role="manager")
        s.commit()
    monkeypatch.setattr(
        wizard, "get_settings", lambda: Settings(run_work_in_web=False, secret_key="x" * 40)
    )
    monkeypatch.setattr(queue, "PROGRESS_EVERY", 0.0)
    body = "external_id,name,unit_price,unit_cost\n" + "".join(
        f"W{i:06d},Product {i},{10 + i % 90}.50,{5 + i % 40}.25\n" for i in range(ROWS)
    )
    content = body.encode()
    assert len(content) > wizard.INLINE_BYTES
    seen: list[tuple[str, float]] = []
    real = queue.WorkContext.progress

    def spy(self, stage, fraction):
        real(self, stage, fraction)
        job_id = self.payload["job_id"]
        with wizard._LOCK:  # as in a web process that does not run the import
            wizard.PROGRESS.pop(job_id, None)
        with live_pg.session() as s:  # what another web process reads: the row
            item = s.get(WorkItem, self.item_id)
            state = wizard.progress_of(job_id, s)
            seen.append((stage, fraction, item.stage, item.progress, state and state.percent))

    monkeypatch.setattr(queue.WorkContext, "progress", spy)
    runner = queue.WorkRunner(live_pg.session_factory)
    with live_pg.client() as client:
        web = Browser(client)
        assert web.login("manager").status_code == 303
        job = job_id_of(upload(web, "products", "big.csv", content))
        page = web.get(f"/imports/{job}/mapping")
        r = web.post(f"/imports/{job}/mapping", {**guessed(page.text), "timezone": "UTC"})
        assert r.status_code == 303
        with live_pg.session() as s:
            assert s.get(ImportJob, job).status == "validating"  # queued, not run by the web
            item = queue.item_for_ref(s, wizard.work_ref(job))
            assert item.status == "queued" and item.kind == "dataio.import"
        assert runner.run_once() == 1
        check = web.get(f"/imports/{job}")
        assert "Every row is valid." in check.text

        assert web.post(f"/imports/{job}/run", {"mode": "all"}).status_code == 303
        t = threading.Thread(target=runner.run_once)
        t.start()
        t.join(120)
        result = web.get(f"/imports/{job}")
        assert f"Created: {ROWS:,}, updated: 0, unchanged: 0, rejected: 0." in result.text
    with live_pg.session() as s:
        assert s.scalar(select(func.count()).select_from(Product)) == ROWS
        items = s.scalars(select(WorkItem).where(WorkItem.ref == wizard.work_ref(job))).all()
        assert [i.status for i in items] == ["done", "done"]
        assert items[-1].result == {"job_id": job, "status": "done"}
    assert {stage for stage, *_ in seen} == {"reading", "writing"}
    for stage, fraction, stored_stage, stored, percent in seen:
        assert (stored_stage, stored) == (stage, fraction)
        assert percent == int(100 * fraction)
    # Another process (no live progress here) reads it from the row while it runs.
    with live_pg.session() as s:
        item = items[-1]
        assert wizard.progress_of(job, s) is None  # finished: nothing running to show
