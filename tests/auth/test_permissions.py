"""One test per role and operation: the matrix in permissions.py is what the services enforce."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retento.audit import service as audit_service
from retento.auth import service as auth_service
from retento.auth.permissions import AGENT_SCOPED, MATRIX, ROLES, markdown_matrix
from retento.auth.schemas import UserCreate, UserUpdate
from retento.complaints import improvements as complaint_improvements
from retento.complaints import service as complaints
from retento.complaints import settings as complaint_settings
from retento.complaints.schemas import AssignIn, CalendarIn, ComplaintUpdate, ImprovementCreate
from retento.core.errors import Forbidden, InvalidInput, NotFound
from retento.customers import privacy
from retento.customers import service as customers
from retento.customers.schemas import CustomerCreate, CustomerUpdate
from retento.insights import segments_service
from retento.loyalty import programme as loyalty_programme
from retento.loyalty import service as loyalty
from retento.loyalty.schemas import ProgrammeUpdate
from retento.mail import service as mail
from retento.orders import service as orders
from retento.orders.schemas import OrderCreate, OrderLineIn, OrderUpdate
from retento.products import service as products
from retento.products.schemas import ProductCreate, ProductUpdate
from retento.retention import service as retention
from retento.scoring import service as scoring
from retento.scoring import value_settings
from retento.scoring.schemas import ScoreRunCreate
from retento.surveys import fileio as survey_files
from retento.surveys import responses as survey_responses
from retento.surveys import service as surveys
from retento.surveys.schemas import AnswerIn, ResponseCreate, SurveyUpdate
from retento.touchpoints import service as touchpoints
from retento.touchpoints.schemas import TouchpointCreate, TouchpointUpdate
from retento.work import service as work_service
from tests.factories import make_customer, make_order, make_product, make_touchpoint
from tests.factories.complaints import make_complaint
from tests.surveys.conftest import small_survey_data

NOW = datetime(2025, 5, 1, 10, tzinfo=UTC)


def _operations(db, users, own: bool):
    """verb -> callable performing it on a customer the agent owns (own=True) or not."""
    owner = users["agent"] if own else users["manager"]
    cust = make_customer(db, owner_id=owner.id)
    prod = make_product(db)
    order = make_order(db, cust, lines=[(prod, 1)])
    tp = make_touchpoint(db, cust)
    cpl = make_complaint(db, users["admin"], customer_id=cust.id)
    svy = surveys.create_survey(db, small_survey_data(), actor=users["admin"])
    surveys.update_survey(db, svy.id, SurveyUpdate(status="active"), actor=users["admin"])
    return {
        "customer:read": lambda a: customers.get_customer(db, cust.id, actor=a),
        "customer:create": lambda a: customers.create_customer(
            db, CustomerCreate(name="N"), actor=a
        ),
        "customer:update": lambda a: customers.update_customer(
            db, cust.id, CustomerUpdate(city="X"), actor=a
        ),
        "customer:delete": lambda a: customers.purge_customer(db, make_customer(db).id, actor=a),
        "customer:archive": lambda a: customers.archive_customer(db, cust.id, actor=a),
        "customer:export": lambda a: privacy.write_export(db, cust.id, io.BytesIO(), actor=a),
        "customer:erase": lambda a: privacy.erase_customer(db, cust.id, actor=a),
        "customer:assign": lambda a: customers.update_customer(
            db, cust.id, CustomerUpdate(owner_id=users["admin"].id), actor=a
        ),
        "product:read": lambda a: products.get_product(db, prod.id, actor=a),
        "product:create": lambda a: products.create_product(
            db, ProductCreate(name="P", unit_price="1", unit_cost="1"), actor=a
        ),
        "product:update": lambda a: products.update_product(
            db, prod.id, ProductUpdate(name="Q"), actor=a
        ),
        "product:delete": lambda a: products.delete_product(db, make_product(db).id, actor=a),
        "order:read": lambda a: orders.get_order(db, order.id, actor=a),
        "order:create": lambda a: orders.create_order(
            db,
            OrderCreate(
                customer_id=cust.id,
                ordered_at=NOW,
                lines=[OrderLineIn(product_id=prod.id, quantity=1)],
            ),
            actor=a,
        ),
        "order:update": lambda a: orders.update_order(db, order.id, OrderUpdate(note="n"), actor=a),
        "order:delete": lambda a: orders.delete_order(db, order.id, actor=a),
        "touchpoint:read": lambda a: touchpoints.get_touchpoint(db, tp.id, actor=a),
        "touchpoint:create": lambda a: touchpoints.create_touchpoint(
            db,
            TouchpointCreate(
                customer_id=cust.id, occurred_at=NOW, channel="phone", stage="information"
            ),
            actor=a,
        ),
        "touchpoint:update": lambda a: touchpoints.update_touchpoint(
            db, tp.id, TouchpointUpdate(note="n"), actor=a
        ),
        "touchpoint:delete": lambda a: touchpoints.delete_touchpoint(db, tp.id, actor=a),
        "user:manage": lambda a: auth_service.create_user(
            db, UserCreate(username="newbie", password="ledger-Sesame-42", role="agent"), actor=a
        ),
        "audit:read": lambda a: audit_service.list_entries(db, a),
        "mail:manage": lambda a: mail.list_messages(db, actor=a),
        "score:read": lambda a: scoring.list_runs(db, actor=a),
        "score:run": lambda a: _expect_invalid(
            lambda: scoring.run_scoring(db, ScoreRunCreate(), actor=a)
        ),
        "score:configure": lambda a: value_settings.update_settings(db, {}, actor=a),
        "complaint:read": lambda a: complaints.get_complaint(db, cpl.id, actor=a),
        "complaint:create": lambda a: make_complaint(db, a, customer_id=cust.id),
        "complaint:update": lambda a: complaints.update_complaint(
            db, cpl.id, ComplaintUpdate(emotion="cold"), actor=a
        ),
        "complaint:assign": lambda a: complaints.assign(
            db, cpl.id, AssignIn(assignee_id=users["manager"].id), actor=a
        ),
        "complaint:improve": lambda a: complaint_improvements.create_improvement(
            db, ImprovementCreate(title="t", root_cause="r", plan="p"), actor=a
        ),
        "sla:manage": lambda a: complaint_settings.create_calendar(
            db, CalendarIn(name="c", hours={"0": [["09:00", "17:00"]]}), actor=a
        ),
        "loyalty:read": lambda a: loyalty_programme.get_programme(db, actor=a),
        # the customer is no member: allowed roles pass the permission check, then get NotFound
        "loyalty:redeem": lambda a: _expect(
            NotFound, lambda: loyalty.reserve(db, cust.id, 10, actor=a)
        ),
        "loyalty:adjust": lambda a: loyalty.adjust(db, cust.id, 10, actor=a, reason="goodwill"),
        "loyalty:manage": lambda a: loyalty_programme.update_programme(
            db, ProgrammeUpdate(name="Club"), actor=a
        ),
        "survey:read": lambda a: surveys.get_survey(db, svy.id, actor=a),
        "survey:manage": lambda a: surveys.update_survey(
            db, svy.id, SurveyUpdate(name="R"), actor=a
        ),
        "survey:respond": lambda a: survey_responses.record_response(
            db,
            svy.id,
            ResponseCreate(customer_id=cust.id, answers=[AnswerIn(question="sat", number=4)]),
            actor=a,
        ),
        "survey:import": lambda a: survey_files.import_responses(
            db, svy.id, b"sat\n4\n", "a.csv", actor=a
        ),
        "retention:read": lambda a: retention.list_alerts(db, actor=a),
        "retention:work": lambda a: _expect(
            NotFound, lambda: retention.set_alert_status(db, 2_000_000_000, "closed", actor=a)
        ),
        "retention:manage": lambda a: retention.update_rule(
            db, "rhythm", {"threshold": 2.5}, actor=a
        ),
        # Renaming a saved segment that does not exist: the permission is checked first.
        "insight:manage": lambda a: _expect(
            NotFound, lambda: segments_service.rename_segment(db, 2_000_000_000, "X", actor=a)
        ),
        "work:read": lambda a: work_service.list_items(db, actor=a),
        # Running again an item that does not exist: the permission is checked first.
        "work:retry": lambda a: _expect(
            NotFound, lambda: work_service.retry_item(db, 2_000_000_000, actor=a)
        ),
    }


def _expect_invalid(call):
    """Allowed but refused for lack of data: the permission check passed first."""
    _expect(InvalidInput, call)


def _expect(error, call):
    """Allowed but refused with ``error`` afterwards: the permission check passed first."""
    with pytest.raises(error):
        call()


# Verbs whose per-role tests live with their domain (tests/dataio, tests/demo, tests/complaints).
TESTED_ELSEWHERE = {"data:import", "data:export", "demo:generate", "token:own"}
SERVICE_VERBS = [v for v in MATRIX if v not in TESTED_ELSEWHERE]
CASES = [(role, verb) for role in ROLES for verb in SERVICE_VERBS]


@pytest.mark.parametrize(("role", "verb"), CASES, ids=[f"{r}-{v}" for r, v in CASES])
def test_role_may_or_may_not(db, users, role, verb):
    ops = _operations(db, users, own=True)
    allowed = role in MATRIX[verb]
    if allowed:
        ops[verb](users[role])
    else:
        with pytest.raises(Forbidden):
            ops[verb](users[role])


SCOPED = sorted(AGENT_SCOPED - TESTED_ELSEWHERE)


@pytest.mark.parametrize("verb", SCOPED)
def test_agent_scoped_verbs_fail_on_foreign_customers(db, users, verb):
    ops = _operations(db, users, own=False)
    with pytest.raises(Forbidden):
        ops[verb](users["agent"])


def test_users_change_their_own_locale_but_not_their_role(db, users):
    agent = users["agent"]
    auth_service.update_user(db, agent.id, UserUpdate(locale="zh_CN"), actor=agent)
    assert agent.locale == "zh_CN"
    with pytest.raises(Forbidden):
        auth_service.update_user(db, agent.id, UserUpdate(role="admin"), actor=agent)


def test_docs_permission_table_is_current():
    doc = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"
    assert markdown_matrix() in doc.read_text(encoding="utf-8"), (
        "regenerate with `retento permissions`"
    )
