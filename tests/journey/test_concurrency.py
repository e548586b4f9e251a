"""Parallel edits of one experience record on PostgreSQL: both clients hold version 1, exactly
one edit wins and the other gets 409; the record ends at version 2 with the winner's rating."""

from __future__ import annotations

from retento.auth.service import issue_token
from retento.journey.models import ExperienceRecord
from tests.factories import make_customer, make_touchpoint, make_user
from tests.factories.concurrency import run_parallel


def test_parallel_edits_of_one_record_one_wins(live_pg):
    with live_pg.session() as s:
        manager = make_user(s, username="manager", role="manager")
        customer = make_customer(s, name="Race")
        tp = make_touchpoint(s, customer, stage="payment")
        rec = ExperienceRecord(customer_id=customer.id, touchpoint_id=tp.id, mode="act",
                               stage="payment", rating=3, occurred_at=tp.occurred_at)  # fmt: skip
        s.add(rec)
        s.flush()
        rec_id = rec.id
        _, plain = issue_token(s, manager, name="race", actor=None)
        s.commit()
    headers = {"Authorization": f"Bearer {plain}"}
    n = 6

    def edit(i: int) -> tuple[int, int]:
        with live_pg.client() as c:
            r = c.patch(
                f"/api/v1/experiences/{rec_id}",
                json={"rating": 1 + i % 5, "note": f"edit {i}", "version": 1},
                headers=headers,
            )
            return r.status_code, i

    results = run_parallel(n, edit)
    assert not [r for r in results if isinstance(r, BaseException)], results
    codes = sorted(code for code, _ in results)
    assert codes == [200] + [409] * (n - 1), codes
    winner = next(i for code, i in results if code == 200)
    with live_pg.session() as s:
        final = s.get(ExperienceRecord, rec_id)
        assert final.version == 2
        assert final.rating == 1 + winner % 5 and final.note == f"edit {winner}"
