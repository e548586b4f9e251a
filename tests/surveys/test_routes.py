from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from retento.surveys.models import SurveyInvitation
from tests.factories import make_customer
from tests.surveys.conftest import ECSI_LATENTS


def _survey(client, h, template="standard"):
    r = client.post("/api/v1/surveys/from-template", json={"template": template}, headers=h)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = client.patch(f"/api/v1/surveys/{sid}", json={"status": "active"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "active"
    return r.json()


def test_builder_through_the_api(client, tokens):
    h = tokens["manager"]
    body = {
        "name": "Store visit",
        "sections": [
            {
                "code": "s",
                "title": "Visit",
                "questions": [
                    {"code": "sat", "text": "How was it?", "qtype": "rating", "scale_max": 7},
                    {"code": "rec", "text": "Recommend?", "qtype": "nps"},
                ],
            }
        ],
    }
    r = client.post("/api/v1/surveys", json=body, headers=h)
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["status"] == "draft" and s["sections"][0]["questions"][0]["scale_max"] == 7
    r = client.get("/api/v1/surveys", params={"q": "store"}, headers=tokens["analyst"])
    assert r.json()["total"] == 1
    assert client.delete(f"/api/v1/surveys/{s['id']}", headers=h).status_code == 204
    assert client.get(f"/api/v1/surveys/{s['id']}", headers=h).status_code == 404


def test_builder_rejects_bad_questions_naming_the_field(client, tokens):
    h = tokens["manager"]
    bad = {
        "name": "X",
        "sections": [
            {
                "code": "s",
                "title": "S",
                "questions": [
                    {"code": "q", "text": "?", "qtype": "rating", "scale_min": 0, "scale_max": 4}
                ],
            }
        ],
    }
    r = client.post("/api/v1/surveys", json=bad, headers=h)
    assert r.status_code == 422 and "1–5, 1–7 or 1–10" in r.json()["detail"]
    assert r.json()["field"] == "sections.0.questions.0"
    dup = {
        "name": "X",
        "sections": [
            {
                "code": "s",
                "title": "S",
                "questions": [
                    {"code": "q", "text": "?", "qtype": "nps"},
                    {"code": "q", "text": "?", "qtype": "ces"},
                ],
            }
        ],
    }
    r = client.post("/api/v1/surveys", json=dup, headers=h)
    assert r.status_code == 422 and "used twice" in r.json()["detail"]
    ok = {
        "name": "Y",
        "sections": [
            {"code": "s", "title": "S", "questions": [{"code": "q", "text": "?", "qtype": "nps"}]}
        ],
    }
    r = client.post("/api/v1/surveys", json=ok, headers=tokens["analyst"])
    assert r.status_code == 403
    r = client.post("/api/v1/surveys/from-template", json={"template": "nope"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "template"


def test_public_token_flow(client, tokens, db):
    h = tokens["manager"]
    s = _survey(client, h)
    c = make_customer(db)
    db.commit()
    r = client.post(
        f"/api/v1/surveys/{s['id']}/distributions",
        json={"channel": "online", "segment": {"kind": "customers", "customer_ids": [c.id]}},
        headers=h,
    )
    assert r.status_code == 202, r.text  # queued; the test app runs it after the response
    r = client.get(r.json()["url"], headers=h)
    assert r.json()["status"] == "done"
    link = r.json()["links"][0]
    assert link["path"] == "/s/" + link["token"] and r.json()["invited"] == 1
    url = f"/api/v1/public/surveys/{link['token']}"

    r = client.get(url)  # no login
    assert r.status_code == 200 and r.json()["status"] == "new"
    assert "csi_latent" not in r.json()["sections"][1]["questions"][0]
    r = client.post(
        url + "/answers", json={"answers": [{"question": "intent_recommend", "number": 9}]}
    )
    assert r.status_code == 200 and r.json() == {"status": "partial", "answered": 1}
    r = client.get(url)
    assert r.json()["status"] == "partial" and r.json()["answers"][0]["number"] == 9
    r = client.post(url + "/answers", json={"answers": [], "complete": True})
    assert r.status_code == 422 and r.json()["field"] == "overall_satisfaction"
    r = client.post(
        url + "/answers",
        json={"answers": [{"question": "overall_satisfaction", "number": 9}], "complete": True},
    )
    assert r.status_code == 422 and r.json()["field"] == "answers.0"
    r = client.post(
        url + "/answers",
        json={"answers": [{"question": "overall_satisfaction", "number": 4}], "complete": True},
    )
    assert r.status_code == 200 and r.json() == {"status": "completed", "answered": 2}
    r = client.post(
        url + "/answers",
        json={"answers": [{"question": "overall_satisfaction", "number": 5}], "complete": True},
    )
    assert r.status_code == 409 and r.json()["field"] == "token"
    r = client.get(f"/api/v1/surveys/{s['id']}/responses", headers=tokens["analyst"])
    assert r.json()["total"] == 1 and r.json()["items"][0]["source"] == "token"
    r = client.get(f"/api/v1/surveys/{s['id']}/results", headers=tokens["analyst"])
    assert r.status_code == 200
    rates = r.json()["response_rates"]["by_channel"]
    assert rates == [
        {
            "group": "online",
            "invited": 1,
            "opened": 1,
            "completed": 1,
            "open_rate": 1.0,
            "response_rate": 1.0,
        }
    ]


def test_expired_and_unknown_links_are_4xx(client, tokens, db):
    h = tokens["manager"]
    s = _survey(client, h)
    c = make_customer(db)
    db.commit()
    r = client.post(
        f"/api/v1/surveys/{s['id']}/distributions",
        json={"segment": {"kind": "customers", "customer_ids": [c.id]}},
        headers=h,
    )
    assert r.status_code == 202, r.text
    token = client.get(r.json()["url"], headers=h).json()["links"][0]["token"]
    db.execute(update(SurveyInvitation).values(expires_at=datetime.now(UTC) - timedelta(days=1)))
    db.commit()
    r = client.get(f"/api/v1/public/surveys/{token}")
    assert r.status_code == 410 and r.json()["code"] == "link_gone"
    r = client.post(f"/api/v1/public/surveys/{token}/answers", json={"answers": []})
    assert r.status_code == 410
    assert client.get("/api/v1/public/surveys/not-a-real-token-at-all-000").status_code == 404
    r = client.post("/api/v1/public/surveys/whatever/answers", json={"answers": "x"})
    assert r.status_code == 422


def test_phone_entry_bulk_and_reports(client, tokens, db):
    s = _survey(client, tokens["manager"])
    customers = [make_customer(db) for _ in range(3)]
    db.commit()
    r = client.post(
        f"/api/v1/surveys/{s['id']}/responses",
        headers=tokens["agent"],
        json={
            "customer_id": customers[0].id,
            "channel": "phone",
            "answers": [
                {"question": "overall_satisfaction", "number": 5},
                {"question": "intent_recommend", "number": 10},
                {"question": "product_quality", "expectation": 4, "number": 5},
            ],
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "completed" and r.json()["channel"] == "phone"
    r = client.post(
        f"/api/v1/surveys/{s['id']}/responses", headers=tokens["analyst"], json={"answers": []}
    )
    assert r.status_code == 403
    r = client.post(
        f"/api/v1/surveys/{s['id']}/responses",
        headers=tokens["agent"],
        json={"customer_id": 999999, "answers": []},
    )
    assert r.status_code == 422 and r.json()["field"] == "customer_id"
    bulk = {
        "channel": "onsite",
        "responses": [
            {
                "customer_id": customers[1].id,
                "answers": [
                    {"question": "overall_satisfaction", "number": 2},
                    {"question": "intent_recommend", "number": 2},
                ],
            },
            {
                "customer_id": customers[2].id,
                "answers": [{"question": "overall_satisfaction", "number": 4}],
            },
        ],
    }
    r = client.post(f"/api/v1/surveys/{s['id']}/responses/bulk", json=bulk, headers=tokens["agent"])
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "intent_recommend", "message": "This question must be answered.", "row": 2}
    ]
    bulk["responses"][1]["answers"].append({"question": "intent_recommend", "number": 8})
    r = client.post(f"/api/v1/surveys/{s['id']}/responses/bulk", json=bulk, headers=tokens["agent"])
    assert r.status_code == 200 and r.json()["created"] == 2
    res = client.get(f"/api/v1/surveys/{s['id']}/results", headers=tokens["analyst"]).json()
    assert res["nps"]["headline"]["score"] == 0.0
    assert res["response_rates"]["completed_by_channel"] == {"onsite": 2, "phone": 1}
    r = client.get(
        f"/api/v1/surveys/{s['id']}/results", params={"tolerance": 0.9}, headers=tokens["analyst"]
    )
    assert r.status_code == 422 and r.json()["field"] == "tolerance"
    hist = client.get(
        f"/api/v1/customers/{customers[1].id}/surveys", headers=tokens["agent"]
    ).json()
    assert hist[0]["csat"] == 2 and hist[0]["level"] == "dissatisfied"
    dv = client.get(f"/api/v1/surveys/{s['id']}/delivered-value", headers=tokens["analyst"])
    assert dv.status_code == 200 and dv.json()["customers"] == 1
    r = client.get(f"/api/v1/surveys/{s['id']}/csi", headers=tokens["analyst"])
    assert r.status_code == 422 and r.json()["field"] == "survey_id"
    r = client.get(
        f"/api/v1/surveys/{s['id']}/csi", params={"model": "xcsi"}, headers=tokens["analyst"]
    )
    assert r.status_code == 422 and r.json()["field"] == "model"
    r = client.get(f"/api/v1/surveys/{s['id']}/export", headers=tokens["analyst"])
    assert r.status_code == 200 and r.text.splitlines()[0].lstrip("\ufeff").startswith(
        "response_id,"
    )
    assert (
        client.get(f"/api/v1/surveys/{s['id']}/export", headers=tokens["agent"]).status_code == 403
    )


def test_closed_survey_takes_no_answers(client, tokens):
    s = _survey(client, tokens["manager"])
    client.patch(f"/api/v1/surveys/{s['id']}", json={"status": "closed"}, headers=tokens["manager"])
    r = client.post(
        f"/api/v1/surveys/{s['id']}/responses",
        headers=tokens["agent"],
        json={"answers": [{"question": "overall_satisfaction", "number": 5}]},
    )
    assert r.status_code == 409 and r.json()["field"] == "status"


def test_csi_with_single_item_blocks_has_no_gof(client, tokens, single_item_csi_survey):
    """plspm averages communalities over blocks with more than one item: with none, GoF is
    undefined. The report says None, the API null; everything else is still estimated."""
    sid = single_item_csi_survey.id
    r = client.get(f"/api/v1/surveys/{sid}/csi", headers=tokens["analyst"])
    assert r.status_code == 200, r.text
    body = json.loads(r.text, parse_constant=_no_constant)
    assert body["n"] == 24 and body["dropped_incomplete"] == 0
    assert "gof" in body and body["gof"] is None
    # A single item loads 1 on its latent; R², the indices and the drivers are defined.
    assert [i["loading"] for i in body["items"]] == pytest.approx([1.0] * 7)
    assert set(body["r2"]) == set(ECSI_LATENTS) - {"Image"}
    assert all(0 < v <= 1 for v in body["r2"].values())
    assert all(0 < v < 100 for v in body["indices"].values())
    drivers = body["drivers"]["Satisfaction"]
    assert {d["driver"] for d in drivers} == {"Image", "Expectation", "Quality", "Value"}
    assert all(isinstance(d["importance"], float) for d in drivers)
    boot = client.get(
        f"/api/v1/surveys/{sid}/csi", params={"bootstrap": 20}, headers=tokens["analyst"]
    )
    assert boot.status_code == 200 and boot.json()["gof"] is None
    assert boot.json()["bootstrap"]["resamples"] == 20
    results = client.get(f"/api/v1/surveys/{sid}/results", headers=tokens["analyst"])
    assert results.status_code == 200 and results.json()["responses"] == 24


def test_report_endpoints_without_answers_are_valid_json(client, tokens, small_survey):
    """No answers: every undefined figure is null (never NaN, never a 500)."""
    sid = small_survey.id
    for tail in ("results", "delivered-value", "satisfaction-trap"):
        r = client.get(f"/api/v1/surveys/{sid}/{tail}", headers=tokens["analyst"])
        assert r.status_code == 200, (tail, r.text)
        json.loads(r.text, parse_constant=_no_constant)
    res = client.get(f"/api/v1/surveys/{sid}/results", headers=tokens["analyst"]).json()
    assert res["csat"]["headline"] == {
        "question": "sat",
        "dimension": "overall",
        "n": 0,
        "top_box_share": None,
        "mean": None,
        "scale_min": 1,
        "scale_max": 5,
        "top_boxes": 2,
    }
    assert res["nps"]["headline"]["score"] is None
    assert res["expectation_ratio"]["overall"]["c"] is None


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_scores_are_refused_not_a_500(client, tokens, small_survey, raw):
    """JSON bodies may spell NaN and Infinity; a score must be a whole number on the scale."""
    body = (
        '{"channel": "phone", "answers": [{"question": "sat", "number": %s}]}' % raw  # noqa: UP031
    )
    r = client.post(
        f"/api/v1/surveys/{small_survey.id}/responses",
        content=body,
        headers=tokens["agent"] | {"Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {"field": "answers.0", "message": "sat: the score must be a whole number from 1 to 5"}
    ]


def _no_constant(name: str):
    raise AssertionError(f"the response holds {name}, which is not JSON")
