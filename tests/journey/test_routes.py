"""Experience records over the JSON API: CRUD, validation naming the field, stale edits, scope;
the two Insights endpoints."""

from __future__ import annotations

from datetime import UTC, datetime

from retento.surveys.models import (
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
    SurveySection,
)
from tests.factories import make_customer, make_touchpoint


def _setup(db, users):
    mine = make_customer(db, name="Ada", owner_id=users["agent"].id)
    other = make_customer(db, name="Bob")
    tp = make_touchpoint(
        db, mine, stage="receipt", channel="store", occurred_at=datetime(2025, 4, 2, 10, tzinfo=UTC)
    )
    other_tp = make_touchpoint(db, other, stage="order")
    db.commit()
    return mine, other, tp, other_tp


def test_crud_stage_from_touchpoint_and_stale_edit(client, tokens, db, users):
    mine, _other, tp, _ = _setup(db, users)
    body = {"customer_id": mine.id, "mode": "sense", "rating": 2, "touchpoint_id": tp.id,
            "note": "Box was dented", "external_id": "EXP-1"}  # fmt: skip
    r = client.post("/api/v1/experiences", json=body, headers=tokens["agent"])
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["stage"] == "receipt"  # taken from the touchpoint
    assert rec["occurred_at"].startswith("2025-04-02T10:00")
    assert rec["created_by_id"] == users["agent"].id and rec["version"] == 1
    # Retrying with the same external id does not create a second record.
    r = client.post("/api/v1/experiences", json=body, headers=tokens["agent"])
    assert r.status_code == 409 and r.json()["field"] == "external_id"

    r = client.get(f"/api/v1/experiences/{rec['id']}", headers=tokens["analyst"])
    assert r.status_code == 200 and r.headers["etag"] == '"1"'
    r = client.patch(
        f"/api/v1/experiences/{rec['id']}",
        json={"rating": 3, "stage": "after_sales", "version": 1},
        headers=tokens["agent"],
    )
    assert r.status_code == 200, r.text
    assert r.json()["rating"] == 3 and r.json()["stage"] == "after_sales"
    assert r.json()["version"] == 2
    # A client that still holds version 1 is refused.
    r = client.patch(
        f"/api/v1/experiences/{rec['id']}", json={"rating": 5, "version": 1},
        headers=tokens["agent"],
    )  # fmt: skip
    assert r.status_code == 409 and r.json()["code"] == "version_conflict"
    r = client.patch(
        f"/api/v1/experiences/{rec['id']}", json={"rating": 5},
        headers={**tokens["agent"], "If-Match": '"1"'},
    )  # fmt: skip
    assert r.status_code == 409

    r = client.get(
        "/api/v1/experiences", params={"customer_id": mine.id, "mode": "sense"},
        headers=tokens["analyst"],
    )  # fmt: skip
    assert r.json()["total"] == 1 and r.json()["items"][0]["rating"] == 3
    r = client.get("/api/v1/experiences", params={"mode": "smell"}, headers=tokens["analyst"])
    assert r.status_code == 422 and r.json()["field"] == "mode"

    r = client.delete(f"/api/v1/experiences/{rec['id']}", headers=tokens["agent"])
    assert r.status_code == 204
    assert (
        client.get(f"/api/v1/experiences/{rec['id']}", headers=tokens["agent"]).status_code == 404
    )


def test_validation_names_the_field(client, tokens, db, users):
    mine, other, tp, other_tp = _setup(db, users)
    base = {"customer_id": mine.id, "mode": "feel", "rating": 4, "stage": "order"}
    cases = [
        (dict(base, mode="smell"), "mode"),
        (dict(base, rating=6), "rating"),
        (dict(base, rating=0), "rating"),
        (dict(base, stage="dreaming"), "stage"),
        ({k: v for k, v in base.items() if k != "stage"}, "stage"),
        (dict(base, customer_id=987654), "customer_id"),
        (dict(base, touchpoint_id=other_tp.id), "touchpoint_id"),
        (dict(base, touchpoint_id=987654), "touchpoint_id"),
        (dict(base, survey_answer_id=987654), "survey_answer_id"),
        (dict(base, survey_response_id=987654), "survey_response_id"),
    ]
    for body, field in cases:
        r = client.post("/api/v1/experiences", json=body, headers=tokens["manager"])
        assert r.status_code == 422, (body, r.text)
        assert r.json()["field"] == field, (body, r.json())
    # An agent records experiences only for customers they own or are assigned to.
    r = client.post(
        "/api/v1/experiences", json=dict(base, customer_id=other.id), headers=tokens["agent"]
    )
    assert r.status_code == 403
    r = client.post("/api/v1/experiences", json=base, headers=tokens["analyst"])
    assert r.status_code == 403
    assert client.get("/api/v1/experiences", headers=tokens["agent"]).json()["total"] == 0


def test_rating_filter_outside_1_to_5_names_the_field(client, tokens, db, users):
    """?rating=99999999999 reached PostgreSQL ("integer out of range"), a field-less 422."""
    for value in ("99999999999", "9223372036854775808", "0", "6"):
        r = client.get("/api/v1/experiences", params={"rating": value}, headers=tokens["manager"])
        assert r.status_code == 422 and r.json()["field"] == "rating", (value, r.text)
        assert "outside what the database" not in r.text
    ok = client.get("/api/v1/experiences", params={"rating": "5"}, headers=tokens["manager"])
    assert ok.status_code == 200


def test_survey_answer_link(client, tokens, db, users):
    mine, other, _tp, _ = _setup(db, users)
    survey = Survey(name="Delivery", status="active")
    section = SurveySection(code="s", title="S", position=0)
    survey.sections.append(section)
    q = SurveyQuestion(survey=survey, section=section, code="look", text="How did it look?",
                       qtype="rating", scale_min=1, scale_max=5, experience_mode="sense")  # fmt: skip
    db.add(survey)
    db.flush()
    resp = SurveyResponse(survey_id=survey.id, customer_id=mine.id, channel="phone",
                          status="completed", completed_at=datetime(2025, 5, 1, tzinfo=UTC))  # fmt: skip
    resp.answers.append(SurveyAnswer(question_id=q.id, number=2.0))
    other_resp = SurveyResponse(survey_id=survey.id, customer_id=other.id, channel="phone")
    db.add_all([resp, other_resp])
    db.commit()
    answer_id = resp.answers[0].id
    body = {"customer_id": mine.id, "mode": "sense", "rating": 2, "stage": "receipt",
            "survey_answer_id": answer_id}  # fmt: skip
    r = client.post("/api/v1/experiences", json=body, headers=tokens["manager"])
    assert r.status_code == 201, r.text
    assert r.json()["survey_response_id"] == resp.id
    assert r.json()["occurred_at"].startswith("2025-05-01")
    r = client.post(
        "/api/v1/experiences",
        json=dict(body, survey_answer_id=None, survey_response_id=other_resp.id),
        headers=tokens["manager"],
    )
    assert r.status_code == 422 and r.json()["field"] == "survey_response_id"
    r = client.post(
        "/api/v1/experiences", json=dict(body, survey_response_id=other_resp.id),
        headers=tokens["manager"],
    )  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "survey_answer_id"


def test_insight_endpoints(client, tokens, db, users):
    mine, _other, tp, _ = _setup(db, users)
    make_touchpoint(db, mine, stage="desire", channel="ads",
                    occurred_at=datetime(2025, 3, 1, tzinfo=UTC))  # fmt: skip
    db.commit()
    for mode, rating in (("sense", 2), ("sense", 4), ("feel", 5)):
        r = client.post(
            "/api/v1/experiences",
            json={"customer_id": mine.id, "mode": mode, "rating": rating, "touchpoint_id": tp.id},
            headers=tokens["manager"],
        )
        assert r.status_code == 201
    r = client.get(
        "/api/v1/insights/journey",
        params={"since": "2025-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        headers=tokens["analyst"],
    )
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["customers"] == 2  # Ada (furthest: receipt) and Bob (order)
    stages = {s["stage"]: s["reached"] for s in data["stages"]}
    assert (stages["desire"], stages["order"], stages["receipt"], stages["payment"]) == (2, 2, 1, 0)
    assert data["gaps"][0]["from_stage"] == "desire"
    assert data["sources"] == []
    # Orders and complaints counted as stages on request; an unknown source names the field.
    from tests.factories import make_order
    from tests.factories.complaints import make_complaint

    make_order(db, mine, ordered_at=datetime(2025, 6, 1, tzinfo=UTC), channel="web")
    make_complaint(db, customer_id=mine.id, received_at=datetime(2025, 6, 3, tzinfo=UTC))
    db.commit()
    params = {"since": "2025-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    r = client.get(
        "/api/v1/insights/journey",
        params={**params, "include": ["orders", "complaints"]},
        headers=tokens["analyst"],
    )
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["sources"] == ["orders", "complaints"]
    stages = {s["stage"]: (s["reached"], s["stopped"]) for s in data["stages"]}
    assert stages["after_sales"] == (1, 1) and stages["order"][0] == 2
    r = client.get(
        "/api/v1/insights/journey", params={**params, "include": "payments"},
        headers=tokens["analyst"],
    )  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "include.0"
    r = client.get("/api/v1/insights/experience", headers=tokens["analyst"])
    assert r.status_code == 200
    exp = r.json()
    assert exp["n"] == 3 and abs(exp["mean"] - 11 / 3) < 1e-9
    sense = next(m for m in exp["by_mode"] if m["mode"] == "sense")
    assert sense["records"] == 2 and sense["records_mean"] == 3.0
    assert {"mode": "sense", "stage": "receipt", "n": 2, "mean": 3.0} in exp["cells"]
    r = client.get("/api/v1/insights/experience", params={"source": "x"}, headers=tokens["analyst"])
    assert r.status_code == 422 and r.json()["field"] == "source"
    r = client.get(
        "/api/v1/insights/journey",
        params={"since": "2025-02-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"},
        headers=tokens["analyst"],
    )
    assert r.status_code == 422 and r.json()["field"] == "until"
