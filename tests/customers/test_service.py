from __future__ import annotations

import pytest

from retento.audit.models import AuditEntry
from retento.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from retento.customers import service
from retento.customers.schemas import ContactIn, CustomerCreate, CustomerUpdate
from tests.factories import make_customer


def test_create_customer_records_tags_contacts_and_audit(db, users):
    c = service.create_customer(
        db,
        CustomerCreate(
            name="Acme Ltd",
            party_type="organisation",
            kind="distributor",
            external_id="A1",
            tags=["Key", "key", " north "],
            contacts=[ContactIn(name="Li Lei", email="li@acme.test")],
        ),
        actor=users["manager"],
    )
    assert c.tags == ["key", "north"]
    assert c.scope == "internal"
    assert c.contacts[0].name == "Li Lei"
    entry = db.query(AuditEntry).filter_by(entity="customer", entity_id=str(c.id)).one()
    assert entry.action == "create" and entry.actor_name == "manager"
    assert entry.after["tags"] == ["key", "north"]


def test_agent_becomes_owner_and_cannot_give_customer_away(db, users):
    c = service.create_customer(db, CustomerCreate(name="Zhang Wei"), actor=users["agent"])
    assert c.owner_id == users["agent"].id
    with pytest.raises(Forbidden):
        service.create_customer(
            db, CustomerCreate(name="X", owner_id=users["manager"].id), actor=users["agent"]
        )


def test_agent_changes_only_own_or_assigned_customers(db, users):
    agent = users["agent"]
    foreign = make_customer(db, owner_id=users["manager"].id)
    with pytest.raises(Forbidden):
        service.update_customer(db, foreign.id, CustomerUpdate(city="Xi'an"), actor=agent)
    service.update_customer(
        db, foreign.id, CustomerUpdate(assigned_user_ids=[agent.id]), actor=users["manager"]
    )
    updated = service.update_customer(db, foreign.id, CustomerUpdate(city="Xi'an"), actor=agent)
    assert updated.city == "Xi'an"
    with pytest.raises(Forbidden):
        service.update_customer(db, foreign.id, CustomerUpdate(owner_id=agent.id), actor=agent)


def test_update_audit_keeps_only_changed_fields(db, users):
    c = make_customer(db, name="Old")
    service.update_customer(db, c.id, CustomerUpdate(name="New", tags=["a"]), actor=users["admin"])
    entry = db.query(AuditEntry).filter_by(entity="customer", action="update").one()
    # The version goes along, so the log tells which version each edit made (conflict pages).
    assert entry.before == {"name": "Old", "name_key": "old", "tags": [], "version": 1}
    assert entry.after == {"name": "New", "name_key": "new", "tags": ["a"], "version": 2}


def test_duplicate_external_id_is_a_conflict_naming_the_field(db, users):
    make_customer(db, external_id="DUP")
    with pytest.raises(Conflict) as exc:
        service.create_customer(
            db, CustomerCreate(name="B", external_id="DUP"), actor=users["admin"]
        )
    assert exc.value.field == "external_id"


def test_unknown_owner_is_invalid(db, users):
    with pytest.raises(InvalidInput) as exc:
        service.create_customer(db, CustomerCreate(name="B", owner_id=99999), actor=users["admin"])
    assert exc.value.field == "owner_id"


def test_search_filters_and_sort(db, users):
    a = make_customer(db, name="Wang Fang", email="wf@x.test", tag_rows=[])
    b = make_customer(db, name="Wang Lei", kind="business")
    make_customer(db, name="Li Na")
    service.update_customer(db, b.id, CustomerUpdate(tags=["vip"]), actor=users["admin"])
    rows, total = service.list_customers(db, actor=users["analyst"], q="wang", sort="-name")
    assert [r.id for r in rows] == [b.id, a.id] and total == 2
    rows, _ = service.list_customers(db, actor=users["analyst"], q="wf@x.test")
    assert [r.id for r in rows] == [a.id]
    rows, _ = service.list_customers(db, actor=users["analyst"], tag="VIP")
    assert [r.id for r in rows] == [b.id]
    rows, _ = service.list_customers(db, actor=users["analyst"], kind="business")
    assert [r.id for r in rows] == [b.id]
    with pytest.raises(InvalidInput) as exc:
        service.list_customers(db, actor=users["analyst"], sort="password")
    assert exc.value.field == "sort"


def test_delete_requires_manager_and_archives(db, users):
    c = make_customer(db, owner_id=users["agent"].id)
    with pytest.raises(Forbidden):
        service.delete_customer(db, c.id, actor=users["agent"])
    service.delete_customer(db, c.id, actor=users["manager"])
    assert service.get_customer(db, c.id, actor=users["manager"]).archived_at is not None
    with pytest.raises(NotFound):
        service.delete_customer(db, 987654, actor=users["manager"])
