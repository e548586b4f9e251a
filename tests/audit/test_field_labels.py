"""Every field the audit log can show has a name in English and in Chinese.

QA (issue: "11 个字段: 创建时间, display_name, email, 记录编号, is_active …", "3 个字段: actions_done,
first_id, last_id", "19 fields: attempts, body_html, … Created at") saw column names beside
labels. The guards below walk what can reach the log — every column of every audited table,
every key the code writes into an entry, and the whole log of a generated demo — so a new
column or key fails here instead of showing up under its column name.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from retento.audit.field_labels import load_kind_labels
from retento.audit.models import AuditEntry
from retento.audit.service import SECRET_FIELDS
from retento.auth.models import Role, User
from retento.complaints.models import (
    BusinessCalendarRow,
    Complaint,
    ComplaintAttachment,
    ComplaintCategory,
    ComplaintEvent,
    ImprovementAction,
    Remedy,
    SlaPolicy,
)
from retento.customers.field_models import CustomFieldDefinition
from retento.customers.models import Customer
from retento.demo import generator
from retento.insights.models import InsightSegment
from retento.journey.models import ExperienceRecord
from retento.loyalty.members_io import ImportReport
from retento.loyalty.models import (
    LoyaltyAttendance,
    LoyaltyClub,
    LoyaltyClubEvent,
    LoyaltyClubMember,
    LoyaltyJournal,
    LoyaltyProgramme,
    LoyaltyRedemption,
    LoyaltyReward,
    LoyaltyRule,
    LoyaltyTier,
)
from retento.mail.kinds import known_kinds
from retento.mail.models import OutboxMessage
from retento.notifications.kinds import load_kind_modules
from retento.orders.models import Order
from retento.products.models import Product
from retento.retention.models import (
    RetentionAlert,
    RetentionCase,
    RetentionConfig,
    RetentionPlaybook,
    RetentionRule,
    RetentionTask,
)
from retento.scoring.models import ValueSettings
from retento.surveys.models import Survey, SurveyDistribution, SurveyResponse
from retento.touchpoints.models import Touchpoint
from retento.web.i18n import translations
from retento.web.labels import LABELS, field_msgid
from retento.work.models import WorkItem
from retento.work.queue import WorkRunner
from tests.web.conftest import Browser

SRC = Path(__file__).resolve().parents[2] / "src" / "retento"
CJK = re.compile(r"[\u4e00-\u9fff]")

# Record types whose entries hold a snapshot of a row (``audit.service.snapshot``): its table.
AUDITED_TABLES = {
    "user": User,
    "role": Role,
    "customer": Customer,
    "custom_field": CustomFieldDefinition,
    "order": Order,
    "product": Product,
    "touchpoint": Touchpoint,
    "complaint": Complaint,
    "complaint_attachment": ComplaintAttachment,
    "complaint_event": ComplaintEvent,
    "complaint_remedy": Remedy,
    "complaint_improvement": ImprovementAction,
    "complaint_category": ComplaintCategory,
    "business_calendar": BusinessCalendarRow,
    "sla_policy": SlaPolicy,
    "survey": Survey,
    "survey_distribution": SurveyDistribution,
    "survey_response": SurveyResponse,
    "mail_message": OutboxMessage,
    "work_item": WorkItem,
    "experience": ExperienceRecord,
    "loyalty_programme": LoyaltyProgramme,
    "loyalty_tier": LoyaltyTier,
    "loyalty_rule": LoyaltyRule,
    "loyalty_reward": LoyaltyReward,
    "loyalty_journal": LoyaltyJournal,
    "loyalty_redemption": LoyaltyRedemption,
    "loyalty_club": LoyaltyClub,
    "loyalty_club_member": LoyaltyClubMember,
    "loyalty_club_event": LoyaltyClubEvent,
    "loyalty_attendance": LoyaltyAttendance,
    "retention_config": RetentionConfig,
    "retention_rule": RetentionRule,
    "retention_playbook": RetentionPlaybook,
    "retention_alert": RetentionAlert,
    "retention_case": RetentionCase,
    "retention_task": RetentionTask,
    "value_settings": ValueSettings,
    "insight_segment": InsightSegment,
}
# Record types whose entries hold a summary, not a row: the keys the code builds elsewhere than
# in a dict written into the ``record(...)`` call (those are found by ``written_keys``).
SUMMARIES = {
    "api_token": set(),
    "user_sessions": set(),
    "import": set(),
    "demo": set(),  # its keys: test_the_demo_audit_log_names_every_field
    "mail_outbox": set(),  # and a count per kind of e-mail: test_kinds_name_their_fields
    "notification_preferences": set(),  # a channel per kind of notification: ditto
    "loyalty_measurement_run": set(),
    "score_run": set(),
    "loyalty_members": {f.name for f in dataclasses.fields(ImportReport)},
}
# Keys the domains' snapshot helpers add to a row (customer_snapshot, order_snapshot …).
EXTRA_KEYS = {
    "customer": {"tags", "assigned_user_ids", "contacts", "merged_id", "moved"},
    "order": {"lines", "refunds"},
    "survey": {"sections", "language", "missing"},
    "survey_response": {"answers"},
    "user": {"password"},
    "insight_segment": {"clusters"},
}


@pytest.fixture(scope="module")
def catalogues():
    # The labels are registered when the pages load (as the app does on start).
    from retento.app import create_app
    from retento.core.config import Settings

    create_app(Settings(database_url="sqlite://", run_scheduler=False, secret_key="test"))
    load_kind_labels()
    return {"en": translations("en"), "zh_CN": translations("zh_CN")}


def _unnamed(catalogues, entity: str, keys) -> list[str]:
    """The keys of ``entity`` without a label, or whose label has no Chinese text."""
    out = []
    for key in sorted(keys):
        msgid = field_msgid(entity, key)
        if msgid is None:
            out.append(f"{entity}.{key}: no label")
        elif not CJK.search(catalogues["zh_CN"].gettext(msgid)):
            out.append(f"{entity}.{key}: {msgid!r} has no Chinese text")
        elif not catalogues["en"].gettext(msgid).strip():
            out.append(f"{entity}.{key}: {msgid!r} is empty in English")
    return out


def _record_calls() -> list[tuple[str, ast.Call]]:
    """``(entity, call)`` of every ``record(session, actor, action, "entity", …)`` in the code."""
    calls = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or len(node.args) < 4:
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            entity = node.args[3]
            if name == "record" and isinstance(entity, ast.Constant):
                calls.append((entity.value, node))
    return calls


def written_keys(node: ast.AST) -> set[str]:
    """The keys a ``record(...)`` argument writes literally: a dict, ``snapshot(row, {...})``,
    ``dict(key=...)``, or ``a | b`` of those."""
    if isinstance(node, ast.Dict):
        return {k.value for k in node.keys if isinstance(k, ast.Constant)}
    if isinstance(node, ast.BinOp):
        return written_keys(node.left) | written_keys(node.right)
    if isinstance(node, ast.Call):
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name == "snapshot" and len(node.args) > 1:
            return written_keys(node.args[1])
        if name == "dict":
            return {kw.arg for kw in node.keywords if kw.arg}
    return set()


def test_the_scan_finds_the_audited_record_types():
    """A guard that finds nothing proves nothing."""
    found = {entity for entity, _call in _record_calls()}
    assert {"user", "mail_message", "retention_case", "demo", "survey"} <= found
    assert len(found) >= 40


def test_every_record_type_the_code_audits_is_known_and_named(catalogues):
    problems = []
    for entity in sorted({e for e, _call in _record_calls()}):
        if entity not in AUDITED_TABLES and entity not in SUMMARIES:
            problems.append(f"{entity}: add it to AUDITED_TABLES or SUMMARIES")
        label = LABELS["entity"].get(entity)
        if label is None or not CJK.search(catalogues["zh_CN"].gettext(label)):
            problems.append(f"{entity}: no record-type label in both languages")
    assert problems == []


def test_every_column_of_every_audited_table_is_named_in_both_languages(catalogues):
    problems = []
    for entity, model in AUDITED_TABLES.items():
        columns = {c.key for c in inspect(model).column_attrs} - SECRET_FIELDS
        problems += _unnamed(catalogues, entity, columns | EXTRA_KEYS.get(entity, set()))
    assert problems == []


def test_every_key_the_code_writes_into_an_entry_is_named(catalogues):
    problems = []
    for entity, call in _record_calls():
        for arg in call.args[5:7]:
            problems += _unnamed(catalogues, entity, written_keys(arg))
    for entity, keys in SUMMARIES.items():
        problems += _unnamed(catalogues, entity, keys)
    assert sorted(set(problems)) == []


def test_kinds_name_their_fields(catalogues):
    """The outbox counts e-mails per kind; notification settings map each kind to a channel."""
    load_kind_labels()
    problems = _unnamed(catalogues, "mail_outbox", set(known_kinds()))
    problems += _unnamed(catalogues, "notification_preferences", set(load_kind_modules()))
    assert len(known_kinds()) > 3 and problems == []


def _audit_pages(web: Browser) -> list[str]:
    pages, offset = [], 0
    while True:
        page = web.get(f"/admin/audit?offset={offset}")
        assert page.status_code == 200
        pages.append(page.text)
        if f"offset={offset + 50}" not in page.text:  # the pager's "Next" link
            return pages
        offset += 50
        assert offset < 5000


def test_the_demo_audit_log_names_every_field(db, session_factory, client, catalogues):
    """`retento demo` as QA ran it (its queued work done too), then the audit page in both
    languages: every field of every entry by a label, the summary line punctuated for the
    language."""
    generator.generate(db, customers=80, seed=42)
    db.commit()
    WorkRunner(session_factory).run_once()
    entries = db.scalars(select(AuditEntry)).all()
    assert {"demo", "mail_message", "survey"} <= {e.entity for e in entries}
    problems = []
    for e in entries:
        problems += _unnamed(catalogues, e.entity, set(e.before or {}) | set(e.after or {}))
    assert sorted(set(problems)) == []

    web = Browser(client)
    assert web.login("admin", generator.DEMO_PASSWORD).status_code == 303
    for lang, summary in (("en", re.compile(r"<summary>(One field|\d+ fields): ")),
                          ("zh_CN", re.compile(r"<summary>\d+ 个字段：")) ):  # fmt: skip
        web.post("/locale", {"lang": lang, "next": "/admin/audit"})
        for html in _audit_pages(web):
            table = html.split('id="audit-table"', 1)[1]
            assert summary.search(table), lang
            assert "<td><code>" not in table, re.findall(r"<td><code>([^<]*)</code>", table)
            if lang == "zh_CN":
                assert not re.search(r"个字段: |\d+ fields", table)
                # the names are listed with the enumeration comma
                assert not re.search(r"<summary>[^<]*[\u4e00-\u9fff], ", table)
