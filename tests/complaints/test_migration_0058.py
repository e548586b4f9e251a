"""Migration 0058 (breach flags follow the current clock, "ever breached" kept) goes up from
0057 with complaints whose flags the old code left stuck, repairs them and keeps the history;
down drops the two columns, keeping the rows; up again works. On both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, inspect, text

from retento.core.migrate import downgrade, upgrade
from tests.factories.raw_rows import insert_customer

COLUMNS = ("first_response_ever_breached", "resolution_ever_breached")


def _insert(conn, code: str, **over) -> None:
    now = datetime.now(UTC)
    row = {
        "status": "in_progress",
        "first_response_breached": False,
        "resolution_breached": False,
        "first_response_flag": "ok",
        "sla_flag": "ok",
        "flagged": False,
        "first_response_due_at": None,
        "first_responded_at": None,
        "resolution_due_at": None,
        "resolution_warn_at": None,
        "resolved_at": None,
        **over,
    }
    cat = conn.execute(text("SELECT min(id) FROM complaint_categories")).scalar()
    conn.execute(
        text(
            "INSERT INTO complaints (tracking_code, customer_id, kind, channel, category_id, "
            "subject, description, severity, emotion, purposes, status, value_class, "
            "received_at, clock_started_at, first_response_breached, resolution_breached, "
            "first_response_flag, sla_flag, flagged, reopen_count, created_at, updated_at, "
            "version, first_response_due_at, first_responded_at, resolution_due_at, "
            "resolution_warn_at, resolved_at) "
            "VALUES (:code, 7, 'complaint', 'phone', :cat, 's', 'd', 2, 'calm', '[]', :status, "
            "'ordinary', :t, :t, :first_response_breached, :resolution_breached, "
            ":first_response_flag, :sla_flag, :flagged, 0, :t, :t, 1, :first_response_due_at, "
            ":first_responded_at, :resolution_due_at, :resolution_warn_at, :resolved_at)"
        ),
        {"code": code, "cat": cat, "t": now - timedelta(days=10), **row},
    )


def _rows(url: str, *cols: str) -> dict[str, tuple]:
    eng = create_engine(url)
    with eng.connect() as conn:
        got = conn.execute(
            text(f"SELECT tracking_code, {', '.join(cols)} FROM complaints ORDER BY tracking_code")
        ).all()
    eng.dispose()
    return {r[0]: tuple(bool(v) if isinstance(v, int) else v for v in r[1:]) for r in got}


def test_up_repairs_stuck_flags_keeps_the_history_down_and_up_again(scratch_db_url):
    url = scratch_db_url
    upgrade(url, "0057")
    now = datetime.now(UTC)
    day = timedelta(days=1)
    eng = create_engine(url)
    with eng.begin() as conn:
        insert_customer(conn, 7, now - 20 * day)
        # Reopened on a fresh clock, still flagged from the first one.
        _insert(conn, "A-reopened", resolution_breached=True, sla_flag="breached", flagged=True,
                resolution_due_at=now + 3 * day, resolution_warn_at=now + 2 * day)  # fmt: skip
        # Really late now: stays late.
        _insert(conn, "B-late", resolution_breached=True, sla_flag="breached", flagged=True,
                resolution_due_at=now - day, resolution_warn_at=now - 2 * day)  # fmt: skip
        # Resolved on time after a reopen: not late any more, but it was once.
        _insert(conn, "C-resolved", status="resolved", resolution_breached=True,
                sla_flag="breached", resolution_due_at=now - day, resolved_at=now - 2 * day)  # fmt: skip
        # A first response given after its due time, never flagged.
        _insert(conn, "D-answered-late", first_response_due_at=now - 5 * day,
                first_responded_at=now - 4 * day, resolution_due_at=now + 5 * day)  # fmt: skip
    eng.dispose()

    upgrade(url, "0058")
    cols = ("resolution_breached", "sla_flag", "flagged", "resolution_ever_breached",
            "first_response_breached", "first_response_ever_breached")  # fmt: skip
    assert _rows(url, *cols) == {
        "A-reopened": (False, "ok", False, True, False, False),
        "B-late": (True, "breached", True, True, False, False),
        "C-resolved": (False, "breached", False, True, False, False),
        "D-answered-late": (False, "ok", False, False, True, True),
    }

    downgrade(url, "0057")
    eng = create_engine(url)
    names = {c["name"] for c in inspect(eng).get_columns("complaints")}
    eng.dispose()
    assert not names & set(COLUMNS)
    assert len(_rows(url, "status")) == 4

    upgrade(url, "0058")
    assert _rows(url, "resolution_ever_breached")["B-late"] == (True,)
