"""Clicking "Import" in several tabs at once imports the file once (threads, live PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import func, select

from retento.audit.models import AuditEntry
from retento.dataio import service
from retento.dataio.models import ImportJob
from retento.orders.models import Order
from tests.dataio.wizard_support import walk_to_check
from tests.factories import make_user
from tests.factories.concurrency import run_parallel
from tests.web.conftest import Browser

TABS = 4


def test_parallel_import_clicks_import_once(live_pg, data_dir):
    with live_pg.session() as s:
        make_user(s, username="admin", role="admin")
        manager = make_user(s, username="manager", role="manager")
        service.import_file(s, "customers", data_dir / "customers.csv", actor=manager)
        service.import_file(s, "products", data_dir / "products.csv", actor=manager)
        s.commit()
    content = (data_dir / "orders.csv").read_bytes()
    clients = [live_pg.client() for _ in range(TABS)]
    try:
        tabs = []
        for c in clients:
            c.__enter__()
            tab = Browser(c)
            assert tab.login("manager").status_code == 303
            tabs.append(tab)
        job = walk_to_check(tabs[0], "orders", "orders.csv", content)

        def click(i: int) -> int:
            return tabs[i].post(f"/imports/{job}/run", {"mode": "all"}).status_code

        assert run_parallel(TABS, click) == [303] * TABS
        assert (
            "Created: 2, updated: 0, unchanged: 0, rejected: 0."
            in tabs[1].get(f"/imports/{job}").text
        )
    finally:
        for c in clients:
            c.__exit__(None, None, None)
    with live_pg.session() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 2
        assert s.get(ImportJob, job).status == "done"
        runs = s.scalars(
            select(AuditEntry).where(AuditEntry.entity == "import", AuditEntry.action == "import")
        ).all()
        # Two from the set-up above, one from the wizard: the other clicks changed nothing.
        assert [r.after["entity"] for r in runs] == ["customers", "products", "orders"]
