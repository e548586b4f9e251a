"""Paper bulk entry and response file imports refuse a customer merged into another
(customers/guard.py): every row naming the duplicate (by id or by external id) is a row error
naming the row, the column and the survivor, in English and Chinese, and nothing of the request
or file is written; with ``skip_invalid`` only that row is left out. A merge running at the
same time is waited for (``FOR SHARE``) and then refused: no response ends on the duplicate."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from retento.cli import app as cli_app
from retento.customers import merge
from retento.surveys import fileio
from retento.surveys.models import SurveyResponse
from tests.factories import make_customer
from tests.web.conftest import Browser

SAID = {
    "en": "Customer {named} was merged into customer {keep}.",
    "zh_CN": "客户 {named} 已合并到客户 {keep}。",
}


def _merged_pair(db, users):
    """A survivor and a duplicate (external id DUP-1), merged and committed."""
    keep = make_customer(db, name="Keep", external_id="KEEP-1")
    dup = make_customer(db, name="Dup", external_id="DUP-1")
    merge.merge_customers(db, keep.id, dup.id, actor=users["manager"])
    db.commit()
    return keep, dup


def _responses(db, survey_id: int, customer_id: int | None = None) -> int:
    db.expire_all()
    stmt = select(func.count()).where(SurveyResponse.survey_id == survey_id)
    if customer_id is not None:
        stmt = stmt.where(SurveyResponse.customer_id == customer_id)
    return db.scalar(stmt) or 0


# --- paper bulk entry ---------------------------------------------------------------------


def test_the_bulk_api_refuses_rows_naming_a_merged_customer(
    client, tokens, db, users, small_survey
):
    keep, dup = _merged_pair(db, users)
    rows = [
        {"customer_id": keep.id, "answers": [{"question": "sat", "number": 4}]},
        {"customer_id": dup.id, "answers": [{"question": "sat", "number": 5}]},
        {"customer_external_id": "DUP-1", "answers": [{"question": "sat", "number": 3}]},
    ]
    url = f"/api/v1/surveys/{small_survey.id}/responses/bulk"
    r = client.post(url, json={"channel": "onsite", "responses": rows}, headers=tokens["agent"])
    assert r.status_code == 422, r.text
    got = {(e["row"], e["field"], e["message"]) for e in r.json()["errors"]}
    assert got == {
        (2, "customer_id", SAID["en"].format(named=dup.id, keep=keep.id)),
        (3, "customer_external_id", SAID["en"].format(named="DUP-1", keep=keep.id)),
    }, got
    assert _responses(db, small_survey.id) == 0  # all or nothing: not even the survivor's row
    # Leaving out the bad rows: the survivor's row alone is recorded.
    body = {"channel": "onsite", "responses": rows, "skip_invalid": True}
    r = client.post(url, json=body, headers=tokens["agent"])
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["skipped"]) == (1, 2)
    assert _responses(db, small_survey.id, keep.id) == 1
    assert _responses(db, small_survey.id, dup.id) == 0


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_the_entry_grid_says_the_customer_was_merged(client, db, users, small_survey, locale):
    keep, dup = _merged_pair(db, users)
    users["agent"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("agent")
    grid = {
        "rows": "3", "channel": "onsite",
        "r0.customer": str(keep.id), "r0.q.sat": "4",
        "r1.customer": str(dup.id), "r1.q.sat": "5",
        "r2.customer": "DUP-1", "r2.q.sat": "3",
    }  # fmt: skip
    r = web.post(f"/surveys/{small_survey.id}/entry", grid)
    assert r.status_code == 422, r.text[-800:]
    problems = html.unescape(re.search(r'id="entry-problems".*?</table>', r.text, re.S).group(0))
    assert SAID[locale].format(named=dup.id, keep=keep.id) in problems
    assert SAID[locale].format(named="DUP-1", keep=keep.id) in problems
    for row in ("r1", "r2"):  # the customer cell of each row is marked
        cell = re.search(
            rf'<td class="has-error"><input name="{row}.customer".*?</td>', r.text, re.S
        )
        assert cell is not None and "field-error" in cell.group(0), row
    assert _responses(db, small_survey.id) == 0


# --- file imports -------------------------------------------------------------------------

FILE = (
    "response_id,customer_id,customer_external_id,sat\nP-1,{keep},,4\nP-2,{dup},,5\nP-3,,DUP-1,3\n"
)


def test_a_file_naming_a_merged_customer_imports_nothing(client, tokens, db, users, small_survey):
    keep, dup = _merged_pair(db, users)
    body = FILE.format(keep=keep.id, dup=dup.id).encode()
    url = f"/api/v1/surveys/{small_survey.id}/import"
    files = {"file": ("paper.csv", body, "text/csv")}
    r = client.post(url, files=files, headers=tokens["manager"])
    assert r.status_code == 422, r.text
    got = {(e["row"], e["field"], e["message"]) for e in r.json()["errors"]}
    assert got == {
        (3, "customer_id", SAID["en"].format(named=dup.id, keep=keep.id)),
        (4, "customer_external_id", SAID["en"].format(named="DUP-1", keep=keep.id)),
    }, got
    assert _responses(db, small_survey.id) == 0
    r = client.post(url, files=files, data={"skip_invalid": "true"}, headers=tokens["manager"])
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["skipped"]) == (1, 2)
    assert _responses(db, small_survey.id, keep.id) == 1
    assert _responses(db, small_survey.id, dup.id) == 0


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_the_import_page_lists_the_merged_rows(client, db, users, small_survey, locale):
    keep, dup = _merged_pair(db, users)
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    r = web.post(
        f"/surveys/{small_survey.id}/import",
        {"channel": "mail"},
        files={"file": ("paper.csv", FILE.format(keep=keep.id, dup=dup.id).encode(), "text/csv")},
    )
    assert r.status_code == 422
    problems = html.unescape(re.search(r'id="import-problems".*?</table>', r.text, re.S).group(0))
    assert "<td>3</td>" in problems and "<td>4</td>" in problems
    assert SAID[locale].format(named=dup.id, keep=keep.id) in problems
    assert SAID[locale].format(named="DUP-1", keep=keep.id) in problems
    assert _responses(db, small_survey.id) == 0


@pytest.mark.parametrize(
    ("lang", "where"),
    [("en", "line {row}, column {col}: "), ("zh_CN", "第 {row} 行，{col} 列：")],
)
def test_the_cli_import_names_line_and_column(
    on_test_db, db, users, small_survey, tmp_path, lang, where
):
    keep, dup = _merged_pair(db, users)
    path = tmp_path / "paper.csv"
    path.write_text(FILE.format(keep=keep.id, dup=dup.id))
    args = ["--lang", lang, "surveys", "import", str(path), "--survey", str(small_survey.id)]
    r = CliRunner().invoke(cli_app, args)
    assert r.exit_code == 1, r.output
    out = " ".join(r.output.split())
    for row, col, named in ((3, "customer_id", dup.id), (4, "customer_external_id", "DUP-1")):
        line = where.format(row=row, col=col) + SAID[lang].format(named=named, keep=keep.id)
        assert line in out, out
    assert _responses(db, small_survey.id) == 0


def test_the_service_refuses_too(db, users, small_survey):
    from retento.core.errors import InvalidInput

    keep, dup = _merged_pair(db, users)
    body = f"customer_id,sat\n{dup.id},4\n".encode()
    with pytest.raises(InvalidInput) as e:
        fileio.import_responses(db, small_survey.id, body, "a.csv", actor=users["manager"])
    (err,) = e.value.errors
    assert (err.row, err.field) == (2, "customer_id")
    assert err.message.params == {"id": dup.id, "survivor": keep.id}
    db.rollback()
    assert _responses(db, small_survey.id) == 0


# --- a merge racing bulk entries and imports (PostgreSQL, real commits) -------------------


def test_entries_and_imports_racing_a_merge_end_on_the_survivor_or_are_refused(live_pg):
    from retento.auth.models import User
    from retento.surveys import service
    from retento.surveys.schemas import SurveyUpdate
    from tests.factories.concurrency import run_parallel
    from tests.factories.race import bearer_headers
    from tests.surveys.conftest import small_survey_data

    n = 5  # one merge, two bulk entries, two file imports
    with live_pg.session() as s:
        admin = User(username="boss", role="admin", password_hash="x", is_active=True)
        s.add(admin)
        s.flush()
        survey = service.create_survey(s, small_survey_data(), actor=admin)
        service.update_survey(s, survey.id, SurveyUpdate(status="active"), actor=admin)
        keep = make_customer(s, name="Keep")
        dup = make_customer(s, name="Dup", external_id="DUP-1")
        headers = bearer_headers(s, admin, n)
        s.commit()
        sid, keep_id, dup_id = survey.id, keep.id, dup.id

    def call(i: int):
        with live_pg.client() as c:
            if i == 0:
                url = f"/api/v1/customers/{keep_id}/merge"
                r = c.post(url, json={"merge_id": dup_id}, headers=headers[i])
            elif i in (1, 2):
                rows = [
                    {"customer_id": dup_id, "answers": [{"question": "sat", "number": 4}]},
                    {
                        "customer_external_id": "DUP-1",
                        "answers": [{"question": "sat", "number": 5}],
                    },
                ]
                url = f"/api/v1/surveys/{sid}/responses/bulk"
                r = c.post(url, json={"channel": "onsite", "responses": rows}, headers=headers[i])
            else:
                body = (
                    f"customer_id,sat\n{dup_id},3\n"
                    if i == 3
                    else "customer_external_id,sat\nDUP-1,2\n"
                )
                files = {"file": ("paper.csv", body.encode(), "text/csv")}
                r = c.post(f"/api/v1/surveys/{sid}/import", files=files, headers=headers[i])
            return i, r.status_code, r.json()

    results = run_parallel(n, call)
    assert not [r for r in results if isinstance(r, BaseException)], results
    by_i = {i: (code, body) for i, code, body in results}
    assert by_i[0][0] == 200, by_i[0]
    written = 0
    for i in range(1, n):
        code, body = by_i[i]
        if code == 422:  # waited for the merge, then refused row by row; nothing written
            assert {e["field"] for e in body["errors"]} <= {"customer_id", "customer_external_id"}
            assert all(
                f"was merged into customer {keep_id}." in e["message"] for e in body["errors"]
            )
        else:
            assert code == 200, (i, code, body)
            written += body["created"]
    with live_pg.session() as s:
        on = {
            cid: s.scalar(
                select(func.count()).where(
                    SurveyResponse.survey_id == sid, SurveyResponse.customer_id == cid
                )
            )
            for cid in (keep_id, dup_id)
        }
        assert on == {keep_id: written, dup_id: 0}, on
