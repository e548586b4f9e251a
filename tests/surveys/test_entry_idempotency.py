"""The paper / on-site entry grid and the bulk API are recorded once per key (migration 0056).

QA: a double click on "Save all rows", or Back and send, saved every questionnaire twice, and
the survey's response count and NPS base grew with each resend. The grid now carries a key
drawn with the page, the API the ``Idempotency-Key`` header: a resend records nothing again and
answers with what the first send recorded; the same key with other rows is a 409 (the page shows
it and draws a new key); two sends at once record one set (PostgreSQL, real commits)."""

from __future__ import annotations

import re
from contextlib import ExitStack

import pytest
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from retento.audit.models import AuditEntry
from retento.core.migrate import downgrade, upgrade
from retento.surveys import bulk_entry, service
from retento.surveys.bulk_entry import row_key
from retento.surveys.models import SurveyResponse
from retento.surveys.schemas import BulkResponses, SurveyUpdate
from tests.factories import make_customer, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.race import bearer_headers, statuses
from tests.surveys.conftest import small_survey_data
from tests.web.conftest import Browser

KEY_FIELD = re.compile(r'name="form_key" value="([^"]*)"')
# (nps "rec" score) per row: two promoters, one detractor — NPS 33.3 over 3 respondents.
SCORES = (10, 9, 2)


def _key(html: str) -> str:
    m = KEY_FIELD.search(html)
    assert m is not None and m.group(1), html[-600:]
    return m.group(1)


def _grid(key: str, customers: list[int], scores=SCORES) -> dict[str, str]:
    """The entry grid as the browser sends it: one filled row per customer."""
    form = {"form_key": key, "rows": str(len(customers)), "channel": "onsite"}
    for i, (cid, rec) in enumerate(zip(customers, scores, strict=True)):
        form |= {f"r{i}.customer": str(cid), f"r{i}.q.sat": "4", f"r{i}.q.rec": str(rec)}
    return form


def _figures(client, headers, survey_id: int) -> tuple[int, int, int, int]:
    """(responses, NPS respondents, promoters, detractors) as the results dashboard reports."""
    body = client.get(f"/api/v1/surveys/{survey_id}/results", headers=headers).json()
    nps = body["nps"]["headline"]
    return body["responses"], nps["n"], nps["promoters"], nps["detractors"]


def _stored(db, survey_id: int) -> list[tuple[int | None, str | None]]:
    db.expire_all()
    return sorted(
        db.execute(
            select(SurveyResponse.customer_id, SurveyResponse.idempotency_key).where(
                SurveyResponse.survey_id == survey_id
            )
        ).all(),
        key=lambda r: (r[1] or "", r[0] or 0),
    )


# --- the entry grid (SQLite and PostgreSQL) --------------------------------------------------


def test_grid_sent_twice_saves_each_questionnaire_once(client, db, users, tokens, small_survey):
    web = Browser(client)
    people = [make_customer(db).id for _ in SCORES]
    db.commit()
    sid = small_survey.id
    web.login("agent")
    page = web.get(f"/surveys/{sid}/entry?rows=3")
    key = _key(page.text)
    assert _key(web.get(f"/surveys/{sid}/entry?rows=3").text) != key  # one key per page drawn

    # A row with a problem: nothing saved, the grid comes back with the same key.
    bad = web.post(f"/surveys/{sid}/entry", {**_grid(key, people), "r1.q.rec": "15"})
    assert bad.status_code == 422 and _key(bad.text) == key
    assert _figures(client, tokens["manager"], sid) == (0, 0, 0, 0)

    first = web.post(f"/surveys/{sid}/entry", _grid(key, people))
    assert first.status_code == 303, first.text
    assert "3 questionnaires were saved." in web.get(first.headers["location"]).text
    again = web.post(f"/surveys/{sid}/entry", _grid(key, people))  # double click / resend
    assert again.status_code == 303 and again.headers["location"] == first.headers["location"]
    shown = web.get(again.headers["location"]).text
    assert "These questionnaires were already saved; nothing was saved again." in shown
    assert "3 questionnaires were saved." not in shown

    assert _figures(client, tokens["manager"], sid) == (3, 3, 2, 1)
    assert _stored(db, sid) == [(c, f"{key}:{i + 1}") for i, c in enumerate(people)]


@pytest.mark.parametrize(
    ("locale", "message", "foreign"),
    [
        (
            "en",
            "This form was already sent with other rows, and those were saved. Check these "
            "rows: sending the form again saves them as new questionnaires.",
            "此表单",
        ),
        (
            "zh_CN",
            "此表单已用其他行提交过，那些问卷已保存。请检查这些行：再次提交会将它们另存为新的问卷。",
            "already sent",
        ),
    ],
    ids=["en", "zh_CN"],
)
def test_back_and_changed_rows_is_refused_with_a_new_key(
    client, db, users, tokens, small_survey, locale, message, foreign
):
    web = Browser(client)
    people = [make_customer(db).id for _ in range(4)]
    users["agent"].locale = locale
    db.commit()
    sid = small_survey.id
    web.login("agent")
    key = _key(web.get(f"/surveys/{sid}/entry?rows=3").text)
    assert web.post(f"/surveys/{sid}/entry", _grid(key, people[:3])).status_code == 303

    # Back, the third row now another customer, sent again with the page's key.
    changed = _grid(key, [people[0], people[1], people[3]])
    r = web.post(f"/surveys/{sid}/entry", changed)
    assert r.status_code == 409, r.text[-600:]
    assert message in r.text and foreign not in r.text
    new_key = _key(r.text)
    assert new_key != key
    assert f'value="{people[3]}"' in r.text  # what was typed is still there
    assert _figures(client, tokens["manager"], sid) == (3, 3, 2, 1)

    # Checked and sent with the new key: these rows are saved, as new questionnaires, once.
    saved = web.post(f"/surveys/{sid}/entry", {**changed, "form_key": new_key})
    assert saved.status_code == 303
    assert web.post(f"/surveys/{sid}/entry", {**changed, "form_key": new_key}).status_code == 303
    assert _figures(client, tokens["manager"], sid) == (6, 6, 4, 2)

    # The same customers with a corrected score: not "already saved" (the correction would be
    # lost unsaid), refused like other rows.
    corrected = web.post(f"/surveys/{sid}/entry", _grid(key, people[:3], (10, 9, 3)))
    assert corrected.status_code == 409 and message in corrected.text
    assert _figures(client, tokens["manager"], sid) == (6, 6, 4, 2)

    # Fewer rows than the first send (a row cleared after Back): refused too.
    fewer = web.post(f"/surveys/{sid}/entry", _grid(key, people[:2], SCORES[:2]))
    assert fewer.status_code == 409 and message in fewer.text
    assert _figures(client, tokens["manager"], sid) == (6, 6, 4, 2)


# --- the API (SQLite and PostgreSQL) ---------------------------------------------------------


def _body(customers: list[int], scores=SCORES, **over) -> dict:
    rows = [
        {
            "customer_id": c,
            "answers": [{"question": "sat", "number": 4}, {"question": "rec", "number": s}],
        }
        for c, s in zip(customers, scores, strict=True)
    ]
    return {"channel": "mail", "responses": rows} | over


def test_api_retry_with_one_key_answers_the_first_report(client, db, users, tokens, small_survey):
    people = [make_customer(db).id for _ in range(4)]
    other = service.create_survey(db, small_survey_data(name="Other"), actor=users["manager"])
    service.update_survey(db, other.id, SurveyUpdate(status="active"), actor=users["manager"])
    db.commit()
    sid = small_survey.id
    url = f"/api/v1/surveys/{sid}/responses/bulk"
    h = {**tokens["agent"], "Idempotency-Key": "paper-batch-7"}

    first = client.post(url, json=_body(people[:3]), headers=h)
    assert first.status_code == 200, first.text
    assert first.json() == {"created": 3, "updated": 0, "skipped": 0, "errors": []}
    again = client.post(url, json=_body(people[:3]), headers=h)
    assert again.status_code == 200 and again.json() == first.json()
    assert _figures(client, tokens["manager"], sid) == (3, 3, 2, 1)

    # The same key with other details: another customer, a row less, a row more, another
    # survey. Refused, naming the header; nothing recorded.
    for target, body in (
        (url, _body([people[0], people[1], people[3]])),
        (url, _body(people[:2], SCORES[:2])),
        (url, _body(people, (*SCORES, 7))),
        (url, _body(people[:3], (10, 9, 3))),
        (
            url,
            {
                **_body(people[:3]),
                "responses": [
                    {**r, "answers": r["answers"][1:]} for r in _body(people[:3])["responses"]
                ],
            },
        ),
        (f"/api/v1/surveys/{other.id}/responses/bulk", _body(people[:3])),
    ):
        r = client.post(target, json=body, headers=h)
        assert r.status_code == 409, r.text
        assert r.json()["field"] == "Idempotency-Key"
    assert _figures(client, tokens["manager"], sid) == (3, 3, 2, 1)
    assert _figures(client, tokens["manager"], other.id)[0] == 0

    # A bad key is a 422 naming it; without a key each request records its rows.
    bad = client.post(url, json=_body(people[:3]), headers={**h, "Idempotency-Key": "a\tb"})
    assert bad.status_code == 422 and bad.json()["field"] == "Idempotency-Key"
    assert client.post(url, json=_body(people[:3]), headers=tokens["agent"]).status_code == 200
    assert _figures(client, tokens["manager"], sid) == (6, 6, 4, 2)


def test_api_retry_repeats_skipped_rows_and_updates_without_writing_again(
    client, db, tokens, small_survey
):
    """With ``skip_invalid`` the retry explains the skipped row again; a row naming an earlier
    response by ``external_id`` (an update) is counted as updated, not applied twice."""
    a, b, c = (make_customer(db).id for _ in range(3))
    db.commit()
    sid = small_survey.id
    url = f"/api/v1/surveys/{sid}/responses/bulk"
    earlier = {
        "customer_id": a,
        "external_id": "P-1",
        "answers": [{"question": "sat", "number": 2}],
    }
    assert client.post(url, json={"responses": [earlier]}, headers=tokens["agent"]).is_success
    rows = [
        {
            **earlier,
            "answers": [{"question": "sat", "number": 5}, {"question": "rec", "number": 9}],
        },
        {"customer_id": b, "answers": [{"question": "sat", "number": 4}]},
        {"customer_id": c, "answers": [{"question": "rec", "number": 15}]},  # refused
    ]
    body = {"responses": rows, "skip_invalid": True}
    h = {**tokens["agent"], "Idempotency-Key": "k" * 120}  # longest key: rows' keys hashed
    first = client.post(url, json=body, headers=h)
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["created"], report["updated"], report["skipped"]) == (1, 1, 1)
    assert {e["row"] for e in report["errors"]} == {3}
    n_audit = db.scalar(select(func.count()).where(AuditEntry.entity == "survey_response"))

    again = client.post(url, json=body, headers=h)
    assert again.status_code == 200 and again.json() == report
    assert _figures(client, tokens["manager"], sid) == (2, 1, 1, 0)
    db.expire_all()
    assert db.scalar(select(func.count()).where(AuditEntry.entity == "survey_response")) == n_audit
    keys = {k for _, k in _stored(db, sid)}
    assert keys == {None, row_key("k" * 120, 2)} and len(row_key("k" * 120, 5000)) <= 120


def test_service_resend_answers_with_the_first_report(db, users, small_survey):
    people = [make_customer(db).id for _ in SCORES]
    data = BulkResponses.model_validate(_body(people))
    agent = users["agent"]
    first = bulk_entry.bulk_responses(db, small_survey.id, data, actor=agent, idempotency_key="s1")
    again = bulk_entry.bulk_responses(db, small_survey.id, data, actor=agent, idempotency_key="s1")
    assert first == again == {"created": 3, "updated": 0, "skipped": 0, "errors": []}
    assert len(_stored(db, small_survey.id)) == 3


# --- migration 0056 (SQLite and PostgreSQL) --------------------------------------------------


def test_migration_0056_up_down(scratch_db_url):
    upgrade(scratch_db_url)
    eng = create_engine(scratch_db_url)
    try:
        cols = {c["name"] for c in inspect(eng).get_columns("survey_responses")}
        assert "idempotency_key" in cols
        indexes = {i["name"]: i for i in inspect(eng).get_indexes("survey_responses")}
        assert indexes["uq_survey_responses_idempotency_key"]["unique"]
        with eng.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO surveys (name, language, status, expectation_tolerance, "
                    "token_days, reminder_after_days, max_reminders, created_at, updated_at, "
                    "version) VALUES ('S', 'en', 'active', 0.05, 30, 3, 2, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
                )
            )
            sid = conn.execute(text("SELECT max(id) FROM surveys")).scalar()
            insert = text(
                "INSERT INTO survey_responses (survey_id, channel, source, status, started_at, "
                "updated_at, idempotency_key) VALUES (:s, 'mail', 'bulk', 'completed', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, :k)"
            )
            for k in ("a:1", "a:2", None, None):  # keys unique, any number without one
                conn.execute(insert, {"s": sid, "k": k})
        with pytest.raises(IntegrityError), eng.begin() as conn:
            conn.execute(insert, {"s": sid, "k": "a:1"})
    finally:
        eng.dispose()
    downgrade(scratch_db_url, "0055")
    eng = create_engine(scratch_db_url)
    try:
        cols = {c["name"] for c in inspect(eng).get_columns("survey_responses")}
        assert "idempotency_key" not in cols
        with eng.connect() as conn:  # the responses survive the column's removal
            assert conn.execute(text("SELECT count(*) FROM survey_responses")).scalar() == 4
    finally:
        eng.dispose()
    upgrade(scratch_db_url)


# --- two sends at once (PostgreSQL, real commits) --------------------------------------------

N = 8


def _live_survey(live_pg, n_customers: int, n_tokens: int):
    with live_pg.session() as s:
        manager = make_user(s, role="manager")
        agent = make_user(s, role="agent")
        survey = service.create_survey(s, small_survey_data(), actor=manager)
        service.update_survey(s, survey.id, SurveyUpdate(status="active"), actor=manager)
        people = [make_customer(s).id for _ in range(n_customers)]
        headers = bearer_headers(s, agent, n_tokens)
        (reader,) = bearer_headers(s, manager, 1)
        s.commit()
        return survey.id, people, headers, reader, agent.username


def _one_set(live_pg, survey_id: int, people: list[int]) -> None:
    """Exactly one response per customer, each created once in the audit log."""
    with live_pg.session() as s:
        got = s.execute(
            select(SurveyResponse.customer_id, SurveyResponse.id).where(
                SurveyResponse.survey_id == survey_id
            )
        ).all()
        assert sorted(c for c, _ in got) == sorted(people)
        created = s.scalar(
            select(func.count()).where(
                AuditEntry.entity == "survey_response",
                AuditEntry.action == "create",
                AuditEntry.entity_id.in_([str(i) for _, i in got]),
            )
        )
        assert created == len(people)


def test_parallel_api_sends_with_one_key_record_one_set(live_pg):
    sid, people, headers, reader, _ = _live_survey(live_pg, 3, N)
    url = f"/api/v1/surveys/{sid}/responses/bulk"

    def send(i: int):
        with live_pg.client() as c:
            h = {**headers[i], "Idempotency-Key": "race-batch"}
            r = c.post(url, json=_body(people), headers=h)
            return r.status_code, r.json()

    results = run_parallel(N, send)
    assert statuses([code for code, _ in results]) == {200: N}, results
    assert all(
        body == {"created": 3, "updated": 0, "skipped": 0, "errors": []} for _, body in results
    )
    _one_set(live_pg, sid, people)
    with live_pg.client() as c:
        assert _figures(c, reader, sid) == (3, 3, 2, 1)


def test_double_clicked_entry_grid_records_one_set(live_pg):
    sid, people, _, reader, username = _live_survey(live_pg, 3, 0)
    with ExitStack() as stack:
        browsers = []
        for _ in range(N):
            b = Browser(stack.enter_context(live_pg.client()))
            assert b.login(username).status_code == 303
            browsers.append(b)
        key = _key(browsers[0].get(f"/surveys/{sid}/entry?rows=3").text)

        def click(i: int) -> int:
            return browsers[i].post(f"/surveys/{sid}/entry", _grid(key, people)).status_code

        assert statuses(run_parallel(N, click)) == {303: N}
        shown = [b.get(f"/surveys/{sid}/results").text for b in browsers]
    assert sum("3 questionnaires were saved." in page for page in shown) == 1
    assert sum("were already saved; nothing was saved again" in page for page in shown) == N - 1
    _one_set(live_pg, sid, people)
    with live_pg.client() as c:
        assert _figures(c, reader, sid) == (3, 3, 2, 1)
