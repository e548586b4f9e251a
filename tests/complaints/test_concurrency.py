"""Complaint state changes under concurrency (PostgreSQL, real commits).

Each test releases 20 requests at once (one TestClient and one bearer token per thread) and then
checks the invariant in the database: one transition event per transition, at most one open SLA
pause, one follow-up answer per link, a consistent assignment history. The transitions' losers
must be refused by the workflow (they waited at the complaint's row lock), not by the version
column that would refuse them without it; a two-transaction test pins that down.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from retento.auth.models import User
from retento.complaints import attachments, service
from retento.complaints.models import Complaint, ComplaintEvent, ImprovementAction, SlaPause
from retento.complaints.public import RateLimiter
from retento.complaints.schemas import TransitionIn
from retento.core.errors import Conflict
from tests.factories import live_shared, make_user
from tests.factories.complaints import make_complaint
from tests.factories.concurrency import run_parallel
from tests.factories.race import (
    bearer_headers,
    post_each,
    statuses,
    until_a_lock_is_awaited,
)
from tests.web.conftest import Browser, csrf_of

# One database for the module, put back to its migrated state before each test.
live_pg_module, live_pg = live_shared.live_pg_module, live_shared.live_pg

N = 20
BASE = "/api/v1/complaints"
PUBLIC = "/api/v1/public/complaints"


def _setup(live_pg, *actions: str, n_tokens: int = N):
    """A manager, a complaint moved through ``actions`` and ``n_tokens`` bearer headers."""
    with live_pg.session() as s:
        mgr = make_user(s, role="manager")
        c = make_complaint(s, mgr)
        for action in actions:
            note = "Replaced the vase." if action == "resolve" else None
            service.apply_transition(s, c.id, TransitionIn(action=action, note=note), actor=mgr)
        headers = bearer_headers(s, mgr, n_tokens)
        s.commit()
        return c.id, headers, mgr.id


def _events(live_pg, complaint_id: int, kind: str, action: str | None = None) -> list:
    with live_pg.session() as s:
        rows = s.scalars(
            select(ComplaintEvent)
            .where(ComplaintEvent.complaint_id == complaint_id, ComplaintEvent.kind == kind)
            .order_by(ComplaintEvent.id)
        ).all()
        if action is not None:
            rows = [e for e in rows if (e.data or {}).get("action") == action]
        return rows


def _open_pauses(live_pg, complaint_id: int) -> int:
    with live_pg.session() as s:
        return s.scalar(
            select(func.count()).where(
                SlaPause.complaint_id == complaint_id, SlaPause.ended_at.is_(None)
            )
        )


def _transition(live_pg, cid: int, headers, action_of) -> Counter:
    """Post the transitions at once; count (status, problem code, problem field) of the answers."""
    url = f"{BASE}/{cid}/transitions"

    def call(i: int) -> tuple:
        action = action_of(i)
        note = "Replaced the vase." if action == "resolve" else None
        with live_pg.client() as client:
            r = client.post(url, json={"action": action, "note": note}, headers=headers[i])
            problem = r.json() if r.status_code >= 400 else {}
            return r.status_code, problem.get("code"), problem.get("field")

    return statuses(run_parallel(N, call))


# A loser refused by the workflow on the state the winner committed: it waited at the
# complaint's row lock, then read the new state. Without the lock the losers still get 409, but
# many of them from the version column (``version_conflict``: their ``UPDATE ... WHERE version
# = :read`` matched nothing once the winner committed), so the lock is asserted by the code.
REFUSED = (409, "conflict", "action")
WON = (200, None, None)


def test_parallel_start_one_wins_the_rest_conflict(live_pg):
    cid, headers, _ = _setup(live_pg)
    codes = _transition(live_pg, cid, headers, lambda i: "start")
    assert codes == {WON: 1, REFUSED: N - 1}, codes
    assert len(_events(live_pg, cid, "transition", "start")) == 1
    with live_pg.session() as s:
        assert s.get(Complaint, cid).status == "in_progress"


def test_parallel_await_customer_opens_one_pause(live_pg):
    cid, headers, _ = _setup(live_pg, "start")
    codes = _transition(live_pg, cid, headers, lambda i: "await_customer")
    assert codes == {WON: 1, REFUSED: N - 1}, codes
    assert _open_pauses(live_pg, cid) == 1
    assert len(_events(live_pg, cid, "transition", "await_customer")) == 1


def _same_move_twice(live_pg, action: str, *before: str):
    """``action`` in two transactions: the first has made it (not committed yet) when the
    second asks for it; the first commits once the second waits for a lock. The second's
    outcome, or the exception it raised."""
    cid, _, mgr_id = _setup(live_pg, *before, n_tokens=0)
    moved, second_done = threading.Event(), threading.Event()

    def run(i: int):
        with live_pg.session() as s:
            mgr = s.get(User, mgr_id)
            if i == 0:
                service.apply_transition(s, cid, TransitionIn(action=action), actor=mgr)
                moved.set()
                waited = until_a_lock_is_awaited(live_pg, second_done)
                s.commit()
                return waited
            assert moved.wait(10)
            try:
                service.apply_transition(s, cid, TransitionIn(action=action), actor=mgr)
                s.commit()
                return "moved"
            except Conflict as exc:
                return exc.code, exc.field
            finally:
                second_done.set()

    waited, second = run_parallel(2, run)
    return cid, waited, second


@pytest.mark.parametrize(
    ("action", "before"),
    [("start", ()), ("await_customer", ("start",))],
    ids=["start", "await_customer"],
)
def test_the_same_move_waits_for_the_lock_and_is_refused_by_the_workflow(live_pg, action, before):
    """The second request waits at the complaint's row lock and then decides on the committed
    state: the workflow refuses the move (409 on ``action``). Without the lock it read the old
    state, got as far as its versioned ``UPDATE`` and failed there (``StaleDataError``, 409
    "changed by someone else, reload") before the open-pause index was reached: still one
    move, but refused for another reason than the workflow's."""
    cid, waited, second = _same_move_twice(live_pg, action, *before)
    assert waited is True  # the second really ran while the first held the move
    assert second == ("conflict", "action"), second
    assert len(_events(live_pg, cid, "transition", action)) == 1
    assert _open_pauses(live_pg, cid) == (1 if action == "await_customer" else 0)


def test_parallel_mixed_transitions_form_one_legal_path(live_pg):
    """Resolve and await-customer at once: whatever wins, the timeline is one legal path."""
    cid, headers, _ = _setup(live_pg, "start")
    codes = _transition(live_pg, cid, headers, lambda i: "resolve" if i % 2 else "await_customer")
    moves = _events(live_pg, cid, "transition")[1:]  # after "start"
    # One event per accepted request, each starting where the previous one ended; every other
    # request refused by the workflow on the committed state.
    assert codes[WON] == len(moves) and codes[WON] + codes[REFUSED] == N, codes
    assert moves[0].data["from"] == "in_progress"
    assert all(a.data["to"] == b.data["from"] for a, b in zip(moves, moves[1:], strict=False))
    # Only in_progress → awaiting_customer → resolved or in_progress → resolved are possible.
    assert [m.data["action"] for m in moves] in (["resolve"], ["await_customer", "resolve"])
    with live_pg.session() as s:
        c = s.get(Complaint, cid)
        assert c.status == "resolved" and c.followup_token and c.paused_since is None
    assert _open_pauses(live_pg, cid) == 0
    assert len(_events(live_pg, cid, "feedback")) == 1


def test_parallel_customer_replies_all_recorded_clock_resumed_once(live_pg):
    """Replies race the automatic ``customer_replied`` transition: none may fail, one resumes."""
    cid, headers, _ = _setup(live_pg, "start", "await_customer")
    with live_pg.session() as s:
        code = s.get(Complaint, cid).tracking_code
    live_pg.app.state.complaint_rate_limiter = RateLimiter(max_events=100)
    url = f"{PUBLIC}/{code}/replies"
    codes = statuses(
        run_parallel(N, post_each(live_pg, url, lambda i: {"json": {"body": f"Reply {i}"}}))
    )
    assert codes == {201: N}, codes
    assert len(_events(live_pg, cid, "customer_reply")) == N
    assert len(_events(live_pg, cid, "transition", "customer_replied")) == 1
    assert _open_pauses(live_pg, cid) == 0


def test_parallel_assignments_keep_a_consistent_history(live_pg):
    with live_pg.session() as s:
        agents = [make_user(s, role="agent") for _ in range(N)]
        agent_ids = [a.id for a in agents]
        s.commit()
    cid, headers, _ = _setup(live_pg)
    url = f"{BASE}/{cid}/assignment"
    codes = statuses(
        run_parallel(
            N,
            post_each(
                live_pg,
                url,
                lambda i: {"json": {"assignee_id": agent_ids[i]}, "headers": headers[i]},
            ),
        )
    )
    assert codes == {200: N}, codes
    history = _events(live_pg, cid, "assignment")
    # Each reassignment starts from the assignee the previous one left: no lost update.
    chain = [e.data["from"]["assignee_id"] for e in history]
    ends = [e.data["assignee_id"] for e in history]
    assert len(history) >= N - 1
    assert chain[1:] == ends[:-1]
    with live_pg.session() as s:
        assert s.get(Complaint, cid).assignee_id == ends[-1]


def test_parallel_followup_answers_one_accepted(live_pg):
    cid, _, _ = _setup(live_pg, "start", "resolve", n_tokens=0)
    with live_pg.session() as s:
        token = s.get(Complaint, cid).followup_token
    live_pg.app.state.complaint_rate_limiter = RateLimiter(max_events=100)
    url = f"{PUBLIC}/followup/{token}"
    body = {"csat": 1, "would_buy_again": False, "comment": "Still broken"}
    codes = statuses(run_parallel(N, post_each(live_pg, url, lambda i: {"json": body})))
    assert codes == {200: 1, 410: N - 1}, codes
    assert len(_events(live_pg, cid, "customer_reply")) == 1
    assert len(_events(live_pg, cid, "transition", "reopen")) == 1
    with live_pg.session() as s:
        c = s.get(Complaint, cid)
        assert c.reopen_count == 1 and c.status == "in_progress" and c.csat == 1


def test_parallel_followup_page_answers_one_accepted(live_pg):
    cid, _, _ = _setup(live_pg, "start", "resolve", n_tokens=0)
    with live_pg.session() as s:
        token = s.get(Complaint, cid).followup_token
    live_pg.app.state.complaint_rate_limiter = RateLimiter(max_events=100)
    url = f"/complain/followup/{token}"
    # Each visitor opens the page first (its session gets a CSRF token), then all post at once.
    clients, forms = [], []
    for _ in range(N):
        client = live_pg.client()
        forms.append(
            {"csrf_token": csrf_of(client.get(url).text), "csat": "2", "would_buy_again": "no"}
        )
        clients.append(client)

    def answer(i: int) -> int:
        return clients[i].post(url, data=forms[i], follow_redirects=False).status_code

    codes = statuses(run_parallel(N, answer))
    for client in clients:
        client.close()
    assert codes == {303: 1, 410: N - 1}, codes
    assert len(_events(live_pg, cid, "customer_reply")) == 1
    assert len(_events(live_pg, cid, "transition", "reopen")) == 1
    with live_pg.session() as s:
        assert s.get(Complaint, cid).reopen_count == 1


def test_parallel_pdca_updates_never_leave_done_without_a_check_result(live_pg):
    """Half the requests finish the item, half step it back and drop the check result."""
    with live_pg.session() as s:
        mgr = make_user(s, role="manager")
        a = ImprovementAction(
            title="Stronger boxes",
            root_cause="packaging",
            plan="Double-wall boxes for glass.",
            do_note="Ordered",
            check_result="Breakage down 40 %",
            stage="check",
        )
        s.add(a)
        headers = bearer_headers(s, mgr, N)
        s.commit()
        aid = a.id

    def body(i: int) -> dict:
        change = {"stage": "done"} if i % 2 else {"stage": "do", "check_result": None}
        return {"json": change, "headers": headers[i]}

    url = f"{BASE}/improvements/{aid}"

    def patch(i: int) -> int:
        with live_pg.client() as client:
            return client.patch(url, **body(i)).status_code

    codes = statuses(run_parallel(N, patch))
    assert set(codes) <= {200, 422}, codes
    with live_pg.session() as s:
        a = s.get(ImprovementAction, aid)
        assert a.stage != "done" or a.check_result


def test_escalation_run_twice_at_once_escalates_once(live_pg):
    """Two workers' escalation passes at the same moment: one escalation event per level."""
    with live_pg.session() as s:
        mgr = make_user(s, role="manager")
        c = make_complaint(s, mgr, received_at=datetime.now(UTC) - timedelta(days=30))
        cid = c.id
        s.commit()
    from retento.complaints.jobs import escalate
    from retento.core.db import transaction

    def run(_: int):
        with transaction(live_pg.session_factory) as s:
            return escalate(s).notifications

    results = run_parallel(4, run)
    assert not [r for r in results if isinstance(r, BaseException)], results
    levels = [(e.data["clock"], e.data["level"]) for e in _events(live_pg, cid, "escalation")]
    assert len(levels) == len(set(levels)) and levels, levels


def test_web_and_api_transitions_on_one_event_loop_do_not_deadlock(live_pg):
    """Web (async handler) and API transitions in one process: one wins, nobody hangs."""
    from fastapi.testclient import TestClient

    from retento.app import create_app
    from retento.core.config import Settings

    cid, headers, mgr_id = _setup(live_pg)
    with live_pg.session() as s:
        username = s.get(User, mgr_id).username
    app = create_app(
        Settings(
            database_url=live_pg.url + "?options=-c%20lock_timeout%3D15000",
            run_scheduler=False,
            secret_key="test-" + "x" * 32,
        )
    )
    with TestClient(app) as client:  # one portal: every request runs on the same loop
        web = Browser(client)
        assert web.login(username).status_code == 303

        def start(i: int) -> int:
            if i % 2:
                return web.post(f"/complaints/{cid}/transition", {"action": "start"}).status_code
            url = f"{BASE}/{cid}/transitions"
            return client.post(url, json={"action": "start"}, headers=headers[i]).status_code

        codes = statuses(run_parallel(N, start))
    assert codes[200] + codes[303] == 1 and codes[409] == N - 1, codes
    assert len(_events(live_pg, cid, "transition", "start")) == 1


def test_the_database_refuses_a_second_open_pause(db, users):
    """Migration 0007's partial unique index, on SQLite and PostgreSQL: closed pauses repeat,
    an open one does not."""
    mgr = users["manager"]
    c = make_complaint(db, mgr)
    for action in ("start", "await_customer", "customer_replied", "await_customer"):
        service.apply_transition(db, c.id, TransitionIn(action=action), actor=mgr)
    db.commit()
    assert [p.ended_at is None for p in c.pauses] == [False, True]
    db.add(SlaPause(complaint_id=c.id, started_at=datetime.now(UTC)))
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()


def test_parallel_uploads_stop_at_the_attachment_limit(live_pg, tmp_path):
    cid, headers, _ = _setup(live_pg)
    live_pg.app.state.settings.data_dir = str(tmp_path)
    url = f"{BASE}/{cid}/attachments"

    def upload(i: int) -> dict:
        files = {"file": (f"note{i}.txt", f"Receipt {i}\n".encode(), "text/plain")}
        return {"files": files, "headers": headers[i]}

    codes = statuses(run_parallel(N, post_each(live_pg, url, upload)))
    limit = attachments.MAX_ATTACHMENTS
    assert codes == {201: limit, 409: N - limit}, codes
    with live_pg.session() as s:
        assert len(s.get(Complaint, cid).attachments) == limit
    assert len(_events(live_pg, cid, "attachment")) == limit


def _remedies(live_pg, complaint_id: int) -> list:
    from retento.complaints.models import Remedy

    with live_pg.session() as s:
        return s.scalars(select(Remedy).where(Remedy.complaint_id == complaint_id)).all()


def test_double_clicked_remedy_form_records_once_and_awards_points_once(live_pg):
    """One page, its "Record" clicked eight times at once: one remedy, one compensation cost,
    one loyalty posting (the form's key was missing: each click recorded and awarded anew)."""
    from retento.loyalty import ledger
    from tests.factories.loyalty import make_programme

    cid, _, mgr_id = _setup(live_pg, n_tokens=0)
    with live_pg.session() as s:
        make_programme(s)
        customer_id = s.get(Complaint, cid).customer_id
        ledger.wallet(s, customer_id)  # a member: a points remedy enrols nobody
        username = s.get(User, mgr_id).username
        s.commit()
    web = Browser(live_pg.client())
    assert web.login(username).status_code == 303
    page = web.get(f"/complaints/{cid}").text
    key = re.search(r'name="remedy_key" value="([0-9a-f]+)"', page).group(1)
    form = {
        "remedy_key": key, "remedy_kind": "compensation", "compensation_type": "loyalty_points",
        "amount": "0", "cost": "5.00", "points": "300", "remedy_note": "Sorry",
    }  # fmt: skip
    n = 8
    codes = statuses(
        run_parallel(n, lambda i: web.post(f"/complaints/{cid}/remedies", form).status_code)
    )
    assert codes == {303: n}, codes
    remedies = _remedies(live_pg, cid)
    assert len(remedies) == 1 and remedies[0].points == 300
    assert len(_events(live_pg, cid, "remedy")) == 1
    with live_pg.session() as s:
        assert ledger.get_wallet(s, customer_id).balance == 300
    # A new page draws a new key: the next remedy is recorded.
    fresh = re.search(r'name="remedy_key" value="([0-9a-f]+)"', web.get(f"/complaints/{cid}").text)
    assert fresh.group(1) != key
    assert (
        web.post(f"/complaints/{cid}/remedies", {**form, "remedy_key": fresh.group(1)}).status_code
        == 303
    )
    assert len(_remedies(live_pg, cid)) == 2


def test_parallel_api_remedy_retries_with_one_key_record_once(live_pg):
    cid, headers, _ = _setup(live_pg)
    url = f"{BASE}/{cid}/remedies"
    body = {
        "kind": "compensation",
        "compensation_type": "voucher",
        "amount": "20.00",
        "cost": "8.00",
    }
    codes = statuses(
        run_parallel(
            N,
            post_each(
                live_pg,
                url,
                lambda i: {"json": body, "headers": {**headers[i], "Idempotency-Key": "retry-1"}},
            ),
        )
    )
    assert codes == {201: N}, codes
    remedies = _remedies(live_pg, cid)
    assert len(remedies) == 1 and remedies[0].cost == Decimal("8.00")
    # Without a key every request is a remedy of its own (as before).
    codes = statuses(
        run_parallel(3, post_each(live_pg, url, lambda i: {"json": body, "headers": headers[i]}))
    )
    assert codes == {201: 3} and len(_remedies(live_pg, cid)) == 4
