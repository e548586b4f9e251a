"""The erasure's audit entry names its counts (QA: the before/after view showed
``{"complaint_events": 0, "survey_invitations_closed": 0, …}`` in raw English on a Chinese page):
every key an erasure writes, its own and those of the erasure steps other domains register
(loyalty, the import wizard), has a label in both languages, shown one "name: number" line each
with the number grouped."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from retento.audit.models import AuditEntry
from retento.customers import privacy
from retento.web.i18n import translations
from retento.web.labels import field_msgid
from tests.factories import make_customer
from tests.web.conftest import Browser

CJK = re.compile(r"[\u4e00-\u9fff]")


def _erase(db, users):
    c = make_customer(db, name="Erin Erased", email="erin@example.com", external_id="E-1")
    db.commit()
    privacy.erase_customer(db, c.id, actor=users["admin"])
    db.commit()
    return db.scalars(
        select(AuditEntry).where(AuditEntry.action == "erase", AuditEntry.entity_id == str(c.id))
    ).one()


def test_every_count_an_erasure_writes_is_named_in_both_languages(client, db, users):
    entry = _erase(db, users)  # ``client``: the app is loaded, every erasure step registered
    counts = entry.after["counts"]
    assert {"contacts", "loyalty_journals", "import_jobs_deleted"} <= set(counts)
    zh, en = translations("zh_CN"), translations("en")
    problems = []
    for key in sorted(counts):
        msgid = field_msgid("customer.counts", key)
        if msgid is None:
            problems.append(f"{key}: no label")
        elif not CJK.search(zh.gettext(msgid)) or not en.gettext(msgid).strip():
            problems.append(f"{key}: {msgid!r} not in both languages")
    assert problems == []


def test_the_audit_log_shows_the_counts_by_their_labels(client, db, users):
    entry = _erase(db, users)
    # A large count reads grouped, as everywhere else.
    entry.after = {**entry.after, "counts": {**entry.after["counts"], "audit_entries": 12345}}
    db.commit()
    web = Browser(client)
    web.login("admin")
    for lang, lines in (
        ("en", ("Contacts: 0", "Survey invitations closed: 0", "Audit entries redacted: 12,345",
                "Import jobs deleted: 0", "Points journal entries: 0")),
        ("zh_CN", ("联系人：0", "已关闭的问卷邀请：0", "脱敏的审计记录：12,345", "已删除的导入任务：0",
                   "积分凭证：0")),
    ):  # fmt: skip
        web.post("/locale", {"lang": lang, "next": "/admin/audit"})
        page = web.get("/admin/audit?entity=customer&action=erase")
        assert page.status_code == 200
        row = html.unescape(page.text.split('data-field="counts"', 1)[1].split("</tr>", 1)[0])
        for line in lines:
            assert line in row, (lang, line, row)
        assert "survey_invitations_closed" not in row and "{" not in row
