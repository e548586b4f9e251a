"""The Background work page names each scheduled job in the reader's language: QA saw the raw
job codes (``retention_evaluate``) under a Chinese heading. Domains register the label with the
job (``@job(name, every_seconds, label=N_(…))``); the work layer imports no domain."""

from __future__ import annotations

import re

from retento.core.db import utcnow
from retento.jobs import load_jobs
from retento.web.i18n import translations
from retento.work import leases
from retento.work.models import JobLease
from tests.web.conftest import Browser


def _job_row(html: str, name: str) -> str:
    m = re.search(rf'<tr data-job="{name}">.*?</tr>', html, re.S)
    assert m is not None, f"no row for {name}"
    return m.group(0)


def test_every_registered_job_has_a_label_translated_into_chinese():
    zh = translations("zh_CN")
    jobs = load_jobs()
    assert jobs
    for name, job in jobs.items():
        assert job.label and leases.LABELS[name] == job.label, name
        assert zh.gettext(job.label) != job.label, f"{name}: {job.label!r} has no translation"


def test_scheduled_jobs_show_their_label_in_chinese_and_english(client, db, users):
    now = utcnow()
    db.add_all(
        [
            JobLease(name="retention_evaluate", next_due_at=now, runs=3),
            JobLease(name="survey_reminders", next_due_at=now, runs=0),
            # a lease row left by a job this version no longer has: shown by its stored name
            JobLease(name="retired_job", next_due_at=now, runs=1),
        ]
    )
    users["admin"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("admin")

    zh = web.get("/admin/work").text
    row = _job_row(zh, "retention_evaluate")
    assert "评估流失预警规则" in row and ">retention_evaluate<" not in row
    assert "发送问卷提醒" in _job_row(zh, "survey_reminders")
    assert "<code>retired_job</code>" in _job_row(zh, "retired_job")

    web.post("/locale", {"lang": "en", "next": "/admin/work"})
    en = web.get("/admin/work").text
    row = _job_row(en, "retention_evaluate")
    assert "Evaluate retention alert rules" in row and ">retention_evaluate<" not in row
