"""Import wizard findings of an administrator's and a data clerk's exploratory test (en + zh):
the upload step names the line and column of a broken quote, a header with two columns of
one name says so (not "lacks required columns"), the result's counts are grouped, and an
erasure of a customer's personal data reaches the wizard's stored files and rejected rows."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from retento.customers import privacy
from retento.customers.models import Customer
from retento.dataio.models import ImportJob
from tests.dataio.wizard_support import guessed, job_id_of, run, upload, walk_to_check
from tests.factories import make_customer
from tests.web.conftest import Browser


def _browser(client, db, users, role: str, zh: bool) -> Browser:
    users[role].locale = "zh_CN" if zh else "en"
    db.commit()
    web = Browser(client)
    web.login(role)
    return web


@pytest.mark.parametrize("zh", [False, True])
def test_a_broken_quote_on_the_upload_step_names_its_line_and_column(client, db, users, zh):
    """QA: the upload step showed only "text follows a closing quote (…)": the line and the
    column the CLI names were dropped."""
    web = _browser(client, db, users, "manager", zh)
    for content, reason in (
        (b'external_id,name\nQ1,"Alice" Smith\nQ2,b\n', ("text follows", "闭合引号后还有文字")),
        (b'external_id,name\nQ1,"never closed\nQ2,b\n', ("never closed", "没有闭合")),
    ):
        r = upload(web, "customers", "q.csv", content)
        assert r.status_code == 422
        text = html.unescape(r.text)
        if zh:
            assert "q.csv：第 2 行，“name”列：" in text and reason[1] in text
        else:
            assert "q.csv: line 2, column name: " in text and reason[0] in text


@pytest.mark.parametrize("zh", [False, True])
def test_two_columns_of_one_name_are_named_as_such(client, db, users, zh):
    """QA: a file with two "email" columns was refused as "the header lacks required columns",
    and the mapping step cannot drop one of two columns of one name (it maps by header)."""
    web = _browser(client, db, users, "manager", zh)
    r = upload(web, "customers", "two.csv", b"external_id,name,email,email\nT1,Tea,a@x.cn,b@x.cn\n")
    job = job_id_of(r)
    page = web.get(f"/imports/{job}/mapping")
    r = web.post(f"/imports/{job}/mapping", {**guessed(page.text), "timezone": "UTC"})
    assert r.status_code == 422
    text = html.unescape(r.text)
    if zh:
        assert "表头中有两列都叫 'email'；请在文件中将其中一列改名或删除" in text
        assert "表头中有多列对应导入客户的同一字段" in text and "缺少" not in text
    else:
        assert "the header has two columns named 'email'; rename or delete one" in text
        assert "more than one column of the header gives the same field" in text
        assert "lacks required columns" not in text
    # Two differently named columns for one field keep their message.
    r = upload(web, "customers", "t.csv", b"external_id,name,Customer name\nT1,Tea,Tea\n")
    job = job_id_of(r)
    page = web.get(f"/imports/{job}/mapping")
    r = web.post(
        f"/imports/{job}/mapping", {**guessed(page.text), "col_2": "name", "timezone": "UTC"}
    )
    assert r.status_code == 422
    assert ("都对应字段" if zh else "both give field") in html.unescape(r.text)


def test_the_result_counts_are_grouped_as_the_table_is(client, db, users):
    web = _browser(client, db, users, "manager", False)
    rows = "".join(f"G{i},Name {i}\n" for i in range(1200))
    job = walk_to_check(web, "customers", "g.csv", ("external_id,name\n" + rows).encode())
    result = run(web, job, "all")
    assert "Created: 1,200, updated: 0, unchanged: 0, rejected: 0." in result.text


def test_an_erasure_scrubs_the_wizard_s_rejects_and_drops_files_naming_the_customer(
    client, db, users
):
    """QA: after "Erase personal data", the customer's e-mail and the note about them were
    still in an import job's rejected rows (downloadable for 30 days), and a checked file not
    imported yet still held their row."""
    ava = make_customer(
        db, name="Quixotl Zanzibarian", external_id="QZ-1", email="quixotl@example.com"
    )
    make_customer(db, name="Other Person", external_id="OP-1", email="other@example.com")
    db.commit()
    web = _browser(client, db, users, "manager", False)
    touch = (
        "external_id,customer_external_id,occurred_at,channel,stage,note\n"
        "TQ1,QZ-1,2026-01-02T10:00:00,phone,after_sales,rang again\n"
        "TQ2,QZ-1,2026-13-02T10:00:00,phone,after_sales,write to quixotl@example.com\n"
        "TQ3,OP-1,2026-13-02T10:00:00,phone,after_sales,other@example.com\n"
    )
    imported = walk_to_check(web, "touchpoints", "t.csv", touch.encode())
    run(web, imported, "skip")
    pending = walk_to_check(
        web, "customers", "c.csv", b"external_id,name\nQZ-1,Quixotl Zanzibarian\n"
    )
    unrelated = walk_to_check(web, "customers", "o.csv", b"external_id,name\nOP-1,Other Person\n")
    db.expire_all()
    assert b"quixotl@example.com" in db.get(ImportJob, imported).rejects

    report = privacy.erase_customer(db, ava.id, actor=users["admin"])
    db.commit()
    assert report.counts["import_jobs_scrubbed"] == 1
    assert report.counts["import_jobs_deleted"] == 1
    db.expire_all()
    assert db.get(ImportJob, pending) is None
    assert db.get(ImportJob, unrelated).content  # another customer's file stays
    rejects = web.get(f"/imports/{imported}/rejects.csv").text
    assert "quixotl@example.com" not in rejects and "QZ-1" not in rejects
    assert "write to [erased]" in rejects
    assert "other@example.com" in rejects  # the other customer's row is theirs to keep
    page = web.get(f"/imports/{imported}").text
    assert "QZ-1" not in page and "Quixotl" not in page
    assert (
        db.scalar(select(Customer.name).where(Customer.id == ava.id)) == f"Erased customer {ava.id}"
    )


@pytest.mark.parametrize("zh", [False, True])
def test_a_refused_import_is_notified_in_the_owner_s_words(client, db, users, zh):
    """QA: the bell said "big.csv 导入失败：1 row(s) of big.csv are invalid; nothing was
    imported (…). Fix them, or use --skip-invalid to import the good rows." — the importer's
    English message for the command line, inside a Chinese sentence."""
    from retento.notifications.models import Notification

    web = _browser(client, db, users, "manager", zh)
    job = walk_to_check(
        web,
        "products",
        "p.csv",
        b"external_id,name,unit_price,unit_cost\nN1,Tea,abc,1\nN2,Cup,2,1\n",
    )
    run(web, job, "all")
    db.expire_all()
    note = db.scalars(
        select(Notification)
        .where(Notification.kind == "import_failed")
        .order_by(Notification.id.desc())
    ).first()
    reason = note.params["reason"]
    assert "--skip-invalid" not in reason
    if zh:
        assert reason == "选择了“全部或全不”，且有无效行：请修正后重新上传文件。"
    else:
        assert reason == (
            "All or nothing was chosen and some rows are invalid: fix them and upload the file again."
        )
    page = html.unescape(web.get("/notifications").text)
    assert reason in page and "row(s) of" not in page
