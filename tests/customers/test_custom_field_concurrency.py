"""Custom field definitions under real concurrency (PostgreSQL, real commits, threads started
together): parallel creates of one key leave one row (a retry returns it, other content gets
409), and parallel edits of one version give one 200 and 409s."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from retento.customers.field_models import CustomFieldDefinition
from tests.customers.test_concurrency import _codes, _setup
from tests.factories.concurrency import run_parallel

N = 12


def _post_each(live_pg, bodies, headers):
    def call(i: int) -> tuple[int, int | None]:
        with live_pg.client() as client:
            r = client.post("/api/v1/customer-fields", json=bodies(i), headers=headers[i])
            return r.status_code, r.json().get("id")

    return call


def test_parallel_creates_of_one_key_leave_one_field(live_pg):
    _, headers = _setup(live_pg, N)
    same = {"key": "tier", "label": "Tier", "field_type": "choice", "options": [{"value": "A"}]}
    results = run_parallel(N, _post_each(live_pg, lambda i: same, headers))
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[0]
    assert Counter(code for code, _ in results) == {201: N}
    assert len({fid for _, fid in results}) == 1  # every retry got the one field
    _, headers = _setup(live_pg, N)
    other = run_parallel(
        N, _post_each(live_pg, lambda i: {**same, "key": "vip", "label": f"V{i}"}, headers)
    )
    assert not [r for r in other if isinstance(r, BaseException)]
    assert Counter(code for code, _ in other) == {201: 1, 409: N - 1}
    with live_pg.session() as s:
        n = s.scalar(select(func.count()).select_from(CustomFieldDefinition))
        assert n == 2 + 4  # and the four built-in fields of migration 0049


def test_parallel_edits_of_one_version_one_wins(live_pg):
    _, headers = _setup(live_pg, N)
    with live_pg.client() as client:
        fid = client.post(
            "/api/v1/customer-fields",
            json={"key": "store", "label": "Store", "field_type": "text"},
            headers=headers[0],
        ).json()["id"]

    def call(i: int) -> int:
        with live_pg.client() as client:
            body = {"version": 1, "label": f"Store {i}", "position": i + 1}
            url = f"/api/v1/customer-fields/{fid}"
            return client.patch(url, json=body, headers=headers[i]).status_code

    codes = _codes(run_parallel(N, call))
    assert codes == {200: 1, 409: N - 1}, codes
    with live_pg.session() as s:
        d = s.get(CustomFieldDefinition, fid)
        assert d.version == 2 and d.label == f"Store {d.position - 1}"
