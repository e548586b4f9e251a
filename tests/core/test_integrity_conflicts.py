"""A broken unique or reference rule is a 409 naming the field, never echoing the value.

Such errors reach the handler when a check-then-insert loses a race: the service looked, saw no
clash, and another request committed the same value before our INSERT.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from retento.auth.service import issue_token
from retento.core.errors import Msg
from retento.core.handlers import integrity_to_error
from retento.customers.models import Customer
from tests.factories import make_user
from tests.factories.concurrency import run_parallel


class _Orig(Exception):
    pass


def _error(text: str) -> IntegrityError:
    return IntegrityError("INSERT ...", {}, _Orig(text))


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (
            'duplicate key value violates unique constraint "customers_external_id_key"\n'
            "DETAIL:  Key (external_id)=(C-0042 Jane Doe) already exists.",
            "external_id",
        ),
        (
            'duplicate key value violates unique constraint "uq_tags"\n'
            "DETAIL:  Key (customer_id, tag)=(17, vip) already exists.",
            "tag",
        ),
        ("UNIQUE constraint failed: surveys.code", "code"),
        ("UNIQUE constraint failed: loyalty_members.customer_id", "customer_id"),
    ],
)
def test_a_duplicate_names_its_field_and_hides_the_value(text, field):
    err = integrity_to_error(_error(text))
    assert (err.status, err.field) == (409, field)
    assert isinstance(err.message, Msg)
    assert err.message == f"Another record already has this {field}."
    assert "Jane" not in err.message and "vip" not in err.message


def test_a_broken_reference_names_its_field():
    err = integrity_to_error(
        _error(
            'insert or update on table "orders" violates foreign key constraint '
            '"orders_customer_id_fkey"\nDETAIL:  Key (customer_id)=(99) is not present in '
            'table "customers".'
        )
    )
    assert (err.status, err.field) == (409, "customer_id")
    assert err.message == "customer_id refers to a record that does not exist (any more)."


def test_an_unnamed_rule_keeps_the_general_message():
    err = integrity_to_error(_error("CHECK constraint failed: amount_positive"))
    assert (err.status, err.field) == (409, None)
    assert "conflicts with existing data" in err.message


def test_a_null_is_still_invalid_input():
    err = integrity_to_error(_error('null value in column "name" violates not-null constraint'))
    assert (err.status, err.field) == (422, "name")


def test_parallel_creates_with_one_external_id_make_one_customer_and_named_409s(live_pg):
    """Six clients create the same customer at once (a retried import, say): one row; every
    other answer is a 409 on ``external_id``, whichever of the service's check or the unique
    index stopped it."""
    n = 6
    with live_pg.session() as s:
        admin = make_user(s, role="admin")
        headers = []
        for i in range(n):
            _, plain = issue_token(s, admin, name=f"t{i}", actor=None)
            headers.append({"Authorization": f"Bearer {plain}"})
        s.commit()
    names = ["Amber Mill", "Birch Lane", "Cobalt Works", "Delta Farm", "Ember Hall", "Fjord Inn"]
    body = {
        "party_type": "organisation",
        "kind": "consumer",
        "external_id": "EXT-RACE-1",
    }

    def create(i: int):
        with live_pg.client() as c:
            # Different names: the service's possible-duplicate check must not stop them first.
            r = c.post("/api/v1/customers", json={**body, "name": names[i]}, headers=headers[i])
            return r.status_code, r.json()

    results = run_parallel(n, create)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[0]
    assert sorted(code for code, _ in results) == [201] + [409] * (n - 1)
    for code, problem in results:
        if code == 409:
            assert problem["field"] == "external_id", problem
    with live_pg.session() as s:
        rows = s.scalars(select(Customer).where(Customer.external_id == "EXT-RACE-1")).all()
    assert len(rows) == 1
