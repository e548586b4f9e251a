"""Complaints in the web import wizard, end to end through the pages (both databases): a
Chinese file maps itself, imports, and a re-upload changes nothing; a broken file shows its row
errors naming line and column and writes nothing; permissions as ``retento complaints import``;
the same importer behind ``retento import complaints`` and the API."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from retento.audit.models import AuditEntry
from retento.complaints.models import Complaint, ComplaintEvent
from retento.core.errors import Forbidden, InvalidInput
from retento.dataio import service
from retento.dataio.models import ImportJob
from tests.dataio.wizard_support import guessed, job_id_of, run, upload, walk_to_check
from tests.factories import make_customer
from tests.web.conftest import Browser

ZH_COMPLAINTS = (
    "投诉编号,客户编号,投诉类别,主题,投诉内容,严重程度,情绪,诉求,受理时间\n"
    "ZC1,IC001,delivery,包裹迟到,快递晚了三天,2,intense,resolved;compensated,2025-03-01 10:00\n"
    "ZC2,IC002,product_quality,杯子有裂纹,收到时杯子已经裂了,3,calm,resolved,2025-03-02 11:30\n"
    "ZC3,IC003,service,电话没人接,客服电话一直占线,1,cold,heard,2025-03-03 09:15\n"
)
BROKEN = (
    "external_id,customer_external_id,category,subject,description,severity,emotion\n"
    "B1,IC001,delivery,Late,Three days late,2,calm\n"
    "B2,NOPE-9,delivery,Late,Three days late,2,calm\n"
    "B3,IC002,nonsense,Broken,Arrived broken,7,angry\n"
    "B4,IC003,service,,No subject here,1,calm\n"
)


def _complaints(db) -> int:
    return db.scalar(select(func.count()).select_from(Complaint))


@pytest.fixture
def seeded(db, users):
    """The customers (IC001–IC003) the complaints refer to."""
    for ext in ("IC001", "IC002", "IC003"):
        make_customer(db, external_id=ext, name=f"Customer {ext}")
    db.commit()


@pytest.fixture
def manager(client, users):
    web = Browser(client)
    web.login("manager")
    return web


def test_chinese_file_imports_and_a_reupload_changes_nothing(manager, db, seeded):
    r = upload(manager, "complaints", "投诉.csv", ZH_COMPLAINTS.encode())
    assert r.status_code == 303, r.text
    job = job_id_of(r)
    page = manager.get(f"/imports/{job}/mapping")
    # The Chinese header words map to the fields on their own.
    assert guessed(page.text) == {
        "col_0": "external_id",
        "col_1": "customer_external_id",
        "col_2": "category",
        "col_3": "subject",
        "col_4": "description",
        "col_5": "severity",
        "col_6": "emotion",
        "col_7": "purposes",
        "col_8": "received_at",
    }
    r = manager.post(f"/imports/{job}/mapping", {**guessed(page.text), "timezone": "Asia/Shanghai"})
    assert r.status_code == 303, r.text
    check = manager.get(f"/imports/{job}")
    assert check.status_code == 200 and 'name="mode"' in check.text
    assert _complaints(db) == 0  # checked, nothing written yet
    done = run(manager, job, "all")
    assert done.status_code == 200 and 'id="open-complaints"' in done.text
    db.expire_all()
    assert db.get(ImportJob, job).status == "done"
    got = {c.external_id: c for c in db.scalars(select(Complaint))}
    assert set(got) == {"ZC1", "ZC2", "ZC3"}
    zc1 = got["ZC1"]
    assert (zc1.subject, zc1.severity, zc1.emotion, zc1.purposes) == (
        "包裹迟到",
        2,
        "intense",
        ["resolved", "compensated"],
    )
    # Read in the mapping's zone (10:00 in Shanghai is 02:00 UTC), with its SLA due times.
    assert zc1.received_at.hour == 2 and zc1.resolution_due_at is not None
    assert zc1.tracking_code and zc1.status == "accepted"
    events = db.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == zc1.id)).all()
    assert any(e.kind == "created" and (e.data or {}).get("source") == "import" for e in events)
    report = db.get(ImportJob, job).report
    assert (report["created"], report["updated"], report["unchanged"]) == (3, 0, 0)

    # The same file again: matched by external_id, nothing changes.
    versions = {k: c.version for k, c in got.items()}
    again = walk_to_check(manager, "complaints", "投诉.csv", ZH_COMPLAINTS.encode())
    run(manager, again, "all")
    db.expire_all()
    assert _complaints(db) == 3
    report = db.get(ImportJob, again).report
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 0, 3)
    assert {c.external_id: c.version for c in db.scalars(select(Complaint))} == versions

    # An edited row updates its complaint (and only that one).
    edited = ZH_COMPLAINTS.replace("快递晚了三天", "快递晚了五天")
    third = walk_to_check(manager, "complaints", "投诉.csv", edited.encode())
    run(manager, third, "all")
    db.expire_all()
    report = db.get(ImportJob, third).report
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 1, 2)
    assert db.scalar(select(Complaint).where(Complaint.external_id == "ZC1")).description == (
        "快递晚了五天"
    )


def test_broken_file_names_rows_and_fields_and_writes_nothing(manager, db, seeded):
    job = walk_to_check(manager, "complaints", "broken.csv", BROKEN.encode())
    page = manager.get(f"/imports/{job}")
    assert page.status_code == 200
    text = page.text
    # Each bad row by its line, with the column and the reason.
    assert "unknown customer &#39;NOPE-9&#39;" in text or "unknown customer 'NOPE-9'" in text
    stored = db.get(ImportJob, job).errors
    by_row = {(e["row"], e["field"]) for e in stored}
    assert (3, "customer_external_id") in by_row
    assert (4, "category") in by_row and (4, "severity") in by_row and (4, "emotion") in by_row
    assert (5, "subject") in by_row
    assert 2 not in {e["row"] for e in stored}
    # All or nothing: the import is refused and no complaint is written.
    result = run(manager, job, "all")
    db.expire_all()
    assert db.get(ImportJob, job).status == "failed"
    assert _complaints(db) == 0
    assert "nothing was imported" in result.text.lower() or "B2" not in result.text
    # The rejects file lists the bad rows with their reasons.
    rejects = manager.get(f"/imports/{job}/rejects.csv")
    assert rejects.status_code == 200 and "NOPE-9" in rejects.text and "B1" not in rejects.text


def test_chinese_reader_sees_the_row_errors_in_chinese(client, db, users, seeded):
    users["admin"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("admin")
    page = web.get("/imports")
    assert "投诉" in page.text and 'value="complaints"' in page.text
    job = walk_to_check(web, "complaints", "broken.csv", BROKEN.encode())
    text = web.get(f"/imports/{job}").text
    assert (
        "未知客户 &#39;NOPE-9&#39;（请先导入客户）" in text
        or "未知客户 'NOPE-9'（请先导入客户）" in text
    )
    mapping = web.get(f"/imports/{job}/mapping")
    assert "严重程度（1–4）" in mapping.text


def test_permissions_follow_the_cli(client, db, users, seeded):
    agent = Browser(client)
    agent.login("agent")
    # Agents record complaints but do not import files (data:import), as with the CLI.
    assert agent.get("/imports").status_code == 403
    with pytest.raises(Forbidden):
        service.import_file(
            db, "complaints", ZH_COMPLAINTS.encode(), actor=users["agent"], name="c.csv"
        )
    analyst = users["analyst"]
    with pytest.raises(Forbidden):
        service.import_file(db, "complaints", ZH_COMPLAINTS.encode(), actor=analyst, name="c.csv")


def test_the_shared_importer_is_all_or_nothing_and_audited(db, users, seeded):
    with pytest.raises(InvalidInput) as bad:
        service.import_file(db, "complaints", BROKEN.encode(), actor=users["admin"], name="b.csv")
    assert {e.row for e in bad.value.errors} == {3, 4, 5}
    assert _complaints(db) == 0
    report = service.import_file(
        db, "complaints", ZH_COMPLAINTS.encode(), actor=users["admin"], name="c.csv"
    )
    assert (report.created, report.rows) == (3, 3)
    entry = db.scalars(
        select(AuditEntry).where(AuditEntry.entity == "import").order_by(AuditEntry.id.desc())
    ).first()
    assert entry.after["entity"] == "complaints" and entry.after["created"] == 3
    # The CLI's own command and this path share the key: its re-import updates, no duplicate.
    from retento.complaints.transfer import import_complaints
    from retento.dataio.readers import open_table

    english = "external_id,customer_external_id,category,subject,description,severity\n" + "".join(
        ",".join(line.split(",")[:6]) + "\n" for line in ZH_COMPLAINTS.splitlines()[1:]
    )
    result = import_complaints(db, open_table(english.encode(), "c.csv"), actor=users["admin"])
    assert result == {"created": 0, "updated": 3}
    assert _complaints(db) == 3


def test_api_imports_complaints_idempotently(client, tokens, db, seeded):
    files = {"file": ("c.csv", ZH_COMPLAINTS.encode(), "text/csv")}
    r = client.post("/api/v1/imports/complaints", files=files, headers=tokens["manager"])
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["unchanged"]) == (3, 0)
    r = client.post("/api/v1/imports/complaints", files=files, headers=tokens["manager"])
    assert (r.json()["created"], r.json()["updated"], r.json()["unchanged"]) == (0, 0, 3)
    bad = client.post(
        "/api/v1/imports/complaints",
        files={"file": ("b.csv", BROKEN.encode(), "text/csv")},
        headers=tokens["manager"],
    )
    assert bad.status_code == 422
    assert {e.get("row") for e in bad.json()["errors"]} == {3, 4, 5}
    assert _complaints(db) == 3
