"""A served Retento (uvicorn on 127.0.0.1, random free port) on a fresh PostgreSQL database.

Used by the schemathesis suite: real HTTP, real commits, a few seed records and bearer tokens
for an admin and an agent.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import make_url


@dataclass
class Served:
    url: str
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)


def _seed(live) -> tuple[dict[str, dict[str, str]], dict[str, int]]:
    from retento.auth.service import issue_token
    from tests.factories import make_order, make_touchpoint, make_user
    from tests.factories.complaints import make_complaint

    session = live.session()
    try:
        admin = make_user(session, username="fuzz-admin", role="admin")
        agent = make_user(session, username="fuzz-agent", role="agent")
        headers = {}
        for role, user in (("admin", admin), ("agent", agent)):
            _, plain = issue_token(session, user, name="fuzz", actor=None)
            headers[role] = {"Authorization": f"Bearer {plain}"}
        order = make_order(session)
        make_touchpoint(session, order.customer)
        complaint = make_complaint(session, actor=admin, customer_id=order.customer_id)
        session.commit()
        ids = {"customer": order.customer_id, "order": order.id, "complaint": complaint.id}
        return headers, ids
    finally:
        session.close()


@pytest.fixture(scope="module")
def served_pg(pg_template: str) -> Iterator[Served]:
    """Uvicorn in a thread serving an app bound to its own throw-away PostgreSQL database.

    Not ``live_pg``: one server and database serve the whole module (``live_pg`` is one per
    test), and commits do not wait for the WAL flush."""
    import uvicorn

    from tests.conftest import LivePG, _pg_admin_execute, scratch_pg_database

    with scratch_pg_database(prefix="retento_fuzz", template=pg_template) as url:
        # A throw-away database: no need to wait for the WAL flush on each of ~2000 commits.
        name = make_url(url).database
        _pg_admin_execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        live = LivePG(url)
        headers, ids = _seed(live)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(live.app, log_level="warning", lifespan="on", access_log=False)
        )
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        try:
            yield Served(url=f"http://127.0.0.1:{port}", headers=headers, ids=ids)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()
            live.dispose()
