"""The Background work page names each scheduled job in the reader's language: QA saw the raw
job codes (``retention_evaluate``) under a Chinese heading. Domains register the label with the
job (``@job(name, every_seconds, label=N_(…))``); the work layer imports no domain."""

from __future__ import annotations

import re

from retento.core.db import utcnow
from retento.jobs import load_jobs
from retento.web.i18n import translations
from retento.work import leases, queue
from retento.work.models import JobLease, WorkItem
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


def _item_row(html: str, item_id: int) -> str:
    m = re.search(rf'<tr id="work-{item_id}">.*?</tr>', html, re.S)
    assert m is not None, f"no row for item {item_id}"
    return m.group(0)


def test_every_registered_reference_is_translated_into_chinese():
    zh = translations("zh_CN")
    queue.load_kinds()
    assert {"retention_case", "retention_cases", "loyalty_measurement_run", "score_run"} <= set(
        queue.REF_LABELS
    )
    for prefix, label in queue.REF_LABELS.items():
        for msgid in filter(None, (label.one, label.span)):
            assert zh.gettext(msgid) != msgid, f"{prefix}: {msgid!r} has no translation"


def test_work_items_say_what_they_work_on_in_words(client, db, users):
    """QA saw ``retention_cases:405-1107`` and ``loyalty_measurement_run:1``: each domain
    registers words for its references (``work_ref_label``); the raw reference stays the
    title for administrators, and a reference no domain registered is shown as it is."""
    now = utcnow()
    items = {
        ref: WorkItem(kind=kind, ref=ref, payload={}, status="done", progress=1.0, created_at=now)
        for kind, ref in (
            ("retention.apply", "retention_cases:405-1107"),
            ("retention.apply", "retention_case:12"),
            ("loyalty.measure", "loyalty_measurement_run:1"),
            ("scoring.run", "score_run:3"),
            ("retention.apply", "mystery:9"),
        )
    }
    db.add_all(items.values())
    users["admin"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("admin")
    words = {
        "zh_CN": {
            "retention_cases:405-1107": "挽回案例 405–1107",
            "retention_case:12": "挽回案例 #12",
            "loyalty_measurement_run:1": "忠诚度测量 #1",
            "score_run:3": "评分运行 #3",
        },
        "en": {
            "retention_cases:405-1107": "Win-back cases 405–1107",
            "retention_case:12": "Win-back case #12",
            "loyalty_measurement_run:1": "Measurement run #1",
            "score_run:3": "Run #3",
        },
    }
    for locale in ("zh_CN", "en"):
        if locale == "en":
            web.post("/locale", {"lang": "en", "next": "/admin/work"})
        page = web.get("/admin/work").text
        for ref, text in words[locale].items():
            row = _item_row(page, items[ref].id)
            assert f'title="{ref}">{text}</span>' in row, (locale, row)
            assert f"<code>{ref}</code>" not in row
        assert "<code>mystery:9</code>" in _item_row(page, items["mystery:9"].id)


def test_a_running_item_whose_process_went_silent_says_so(client, db, users):
    """Deployment QA: a worker killed mid-run left its item "running" at its last stage for the
    2 minutes before it was queued again, looking like a slow stage. Three missed heartbeats
    (15 s) and the row says the process may have stopped and when the item is queued again."""
    from datetime import timedelta

    now = utcnow()
    silent = WorkItem(kind="scoring.run", ref="score_run:8", payload={}, status="running",
                      progress=0.45, stage="churn", attempts=1, claimed_by="h:1:worker:a",
                      created_at=now, heartbeat_at=now - timedelta(seconds=47))  # fmt: skip
    alive = WorkItem(kind="scoring.run", ref="score_run:9", payload={}, status="running",
                     progress=0.45, stage="churn", attempts=1, claimed_by="h:2:worker:b",
                     created_at=now, heartbeat_at=now - timedelta(seconds=2))  # fmt: skip
    db.add_all([silent, alive])
    users["admin"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("admin")
    said = {
        "zh_CN": "秒没有心跳：运行它的进程可能已停止。超过 120 秒没有心跳时，它会重新排队。",
        "en": " s: its process may have stopped. It is queued again after 120 s without one.",
    }
    for locale in ("zh_CN", "en"):
        if locale == "en":
            web.post("/locale", {"lang": "en", "next": "/admin/work"})
        page = web.get("/admin/work").text
        row = _item_row(page, silent.id)
        assert "work-silent" in row and said[locale] in row, row
        assert re.search(r"(No heartbeat for|已有) 4[7-9] ", row), row
        assert "work-silent" not in _item_row(page, alive.id)
