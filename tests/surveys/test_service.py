from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from retento.audit.models import AuditEntry
from retento.core.errors import Conflict, Forbidden, InvalidInput, NotFound, RetentoError
from retento.scoring.models import CustomerScore, ScoreRun
from retento.surveys import bulk_entry, csi_report, distributions, reports, responses, service
from retento.surveys.models import SurveyInvitation, SurveyResponse
from retento.surveys.schemas import (
    AnswerIn,
    AnswersSubmit,
    BulkResponses,
    DistributionCreate,
    ResponseCreate,
    SurveyUpdate,
)
from retento.surveys.tokens import hash_token
from tests.factories import make_customer
from tests.surveys.conftest import small_survey_data

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


def _dist(db, survey, users, **seg):
    return distributions.create_distribution(
        db,
        survey.id,
        DistributionCreate(channel="online", segment=seg or {"kind": "all"}),
        actor=users["manager"],
        now=NOW,
    )


def _score_run(db, classes: dict[int, str], lapsed: set[int] = frozenset()):
    run = ScoreRun(model="bgnbd", status="succeeded", as_of=NOW, triggered_by="test")
    db.add(run)
    db.flush()
    for cid, cls in classes.items():
        db.add(
            CustomerScore(
                run_id=run.id,
                customer_id=cid,
                revenue=Decimal("1"),
                profit=Decimal("1"),
                monetary=Decimal("1"),
                value_class=cls,
                label="other",
                loyalty_stage="regular",
                lapsed=cid in lapsed,
            )
        )
    db.flush()
    return run


def test_builder_keeps_order_types_and_tags(db, users):
    s = service.create_survey(db, small_survey_data(), actor=users["admin"])
    assert s.status == "draft"
    assert [q.code for q in s.questions][:3] == ["sat", "rec", "easy"]
    nps_q = next(q for q in s.questions if q.code == "rec")
    assert (nps_q.scale_min, nps_q.scale_max) == (0, 10)
    assert next(q for q in s.questions if q.code == "sat").csi_item == "sat"
    assert (
        db.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.entity == "survey", AuditEntry.entity_id == str(s.id))
        )
        == 1
    )


def test_standard_template_has_spec_sections_in_chinese(db, users):
    from retento.surveys.schemas import SurveyFromTemplate

    s = service.create_from_template(
        db, SurveyFromTemplate(template="standard", language="zh_CN"), actor=users["manager"]
    )
    assert [x.code for x in s.sections] == [
        "basic",
        "overall",
        "product",
        "service",
        "communication",
        "competition",
        "intent",
        "problems",
    ]
    assert s.name == "客户满意度调查" and s.sections[2].title == "产品"
    dims = {q.satisfaction_dimension for q in s.questions}
    assert {
        "product.performance",
        "product.price",
        "product.quality",
        "product.packaging",
        "service.promise",
        "service.content",
        "service.response_time",
        "service.staff_attitude",
    } <= dims
    assert {q.value_dimension for q in s.questions} >= {
        "product",
        "service",
        "personnel",
        "image",
        "money",
        "time",
        "energy",
        "physical",
    }
    e = service.create_from_template(
        db, SurveyFromTemplate(template="ecsi"), actor=users["manager"]
    )
    assert {q.csi_latent for q in e.questions} == {
        "Image",
        "Expectation",
        "Quality",
        "Value",
        "Satisfaction",
        "Complaints",
        "Loyalty",
    }


@pytest.mark.parametrize("template", ["standard", "ecsi"])
@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_a_survey_from_a_template_is_complete_in_both_languages(db, users, template, language):
    """The templates are bilingual: the other language comes along as translations, so a
    Chinese customer reads an English-made template survey in Chinese (and the reverse)."""
    from retento.surveys import languages
    from retento.surveys.schemas import SurveyFromTemplate

    s = service.create_from_template(
        db, SurveyFromTemplate(template=template, language=language), actor=users["manager"]
    )
    other = "en" if language == "zh_CN" else "zh_CN"
    assert languages.missing_texts(s, other) == []
    assert languages.complete_languages(s) == [language, other]
    zh = languages.localised_sections(s, "zh_CN")
    shown = [sec["title"] for sec in zh] + [q["text"] for sec in zh for q in sec["questions"]]
    shown += [o["label"] for sec in zh for q in sec["questions"] for o in q["options"] or []]
    assert [t for t in shown if not re.search("[\u4e00-\u9fff]", t)] == []
    assert languages.survey_text(s, "name", "zh_CN") in (
        "客户满意度调查",
        "顾客满意度指数调查（ECSI）",
    )
    assert languages.survey_text(s, "name", "en") in (
        "Customer satisfaction survey",
        "Customer satisfaction index (ECSI)",
    )
    if template == "standard":
        q = next(q for q in s.questions if q.code == "product_price")
        assert languages.question_texts(q, "zh_CN")["help_text"].startswith("请先评价")
        assert languages.question_texts(q, "en")["help_text"].startswith("First rate")


def test_a_named_template_survey_keeps_its_name_and_given_translations(db, users):
    from retento.surveys import languages
    from retento.surveys.schemas import SurveyFromTemplate

    s = service.create_from_template(
        db,
        SurveyFromTemplate(
            name="Tea shop 2025",
            translations={"zh_CN": {"thank_you": "谢谢！"}},
            thank_you="Thanks!",
        ),
        actor=users["manager"],
    )
    # A name the template does not know has no Chinese until someone writes one.
    assert s.name == "Tea shop 2025" and s.translations == {"zh_CN": {"thank_you": "谢谢！"}}
    assert [m.key for m in languages.missing_texts(s, "zh_CN")] == ["name"]
    s2 = service.create_from_template(
        db,
        SurveyFromTemplate(translations={"zh_CN": {"name": "茶叶店满意度调查"}}),
        actor=users["manager"],
    )
    assert s2.translations == {"zh_CN": {"name": "茶叶店满意度调查"}}


def test_analyst_and_agent_cannot_build(db, users):
    for role in ("analyst", "agent"):
        with pytest.raises(Forbidden):
            service.create_survey(db, small_survey_data(), actor=users[role])


def test_questions_are_frozen_once_answered(db, users, small_survey):
    c = make_customer(db)
    responses.record_response(
        db,
        small_survey.id,
        ResponseCreate(customer_id=c.id, answers=[AnswerIn(question="sat", number=4)]),
        actor=users["agent"],
    )
    with pytest.raises(Conflict) as e:
        service.update_survey(
            db,
            small_survey.id,
            small_survey_data().model_copy(update={})
            and SurveyUpdate(sections=small_survey_data().sections),
            actor=users["manager"],
        )
    assert e.value.field == "sections"
    with pytest.raises(Conflict):
        service.delete_survey(db, small_survey.id, actor=users["manager"])
    with pytest.raises(Conflict):
        service.update_survey(
            db, small_survey.id, SurveyUpdate(status="draft"), actor=users["manager"]
        )


def test_distribution_segments_and_hashed_tokens(db, users, small_survey):
    from retento.customers.models import CustomerTag

    a, b, c = (make_customer(db) for _ in range(3))
    db.add(CustomerTag(customer_id=b.id, tag="vip-club"))
    db.flush()
    dist, links = _dist(db, small_survey, users, kind="tag", value="VIP-Club")
    assert dist.invited == 1 and [ln.customer_id for ln in links] == [b.id]
    inv = db.get(SurveyInvitation, links[0].invitation_id)
    assert links[0].token not in (inv.token_hash, inv.token_salt)
    assert inv.token_hash == hash_token(links[0].token) and inv.sent_at == NOW
    assert inv.expires_at == NOW + timedelta(days=30)
    # Rebuilt links are the same tokens; an open invitation is not duplicated.
    again = distributions.invitation_links(db, dist.id, actor=users["manager"])
    assert again[0].token == links[0].token
    dist2, links2 = _dist(db, small_survey, users, kind="all")
    assert b.id not in {ln.customer_id for ln in links2} and {a.id, c.id} <= {
        ln.customer_id for ln in links2
    }


def test_value_class_segment_uses_latest_scoring_run(db, users, small_survey):
    a, b = make_customer(db), make_customer(db)
    with pytest.raises(InvalidInput) as e:
        _dist(db, small_survey, users, kind="value_class", value="vip")
    assert e.value.field == "segment.value"
    _score_run(db, {a.id: "vip", b.id: "ordinary"})
    _score_run(db, {a.id: "major", b.id: "vip"})
    _, links = _dist(db, small_survey, users, kind="value_class", value="vip")
    assert [ln.customer_id for ln in links] == [b.id]
    with pytest.raises(InvalidInput):
        _dist(db, small_survey, users, kind="value_class", value="gold")


def _complaint(db, customer, *, status, closed_at=None, kind="complaint", **over):
    from retento.complaints.models import Complaint, ComplaintCategory

    cat = db.scalar(select(ComplaintCategory).where(ComplaintCategory.code == "svy-test"))
    if cat is None:
        cat = ComplaintCategory(code="svy-test", name="Survey test")
        db.add(cat)
        db.flush()
    n = db.scalar(select(func.count()).select_from(Complaint)) or 0
    c = Complaint(
        tracking_code=f"SVY{customer.id}-{n}",
        customer_id=customer.id,
        kind=kind,
        channel="phone",
        category_id=cat.id,
        subject="s",
        description="d",
        status=status,
        received_at=NOW - timedelta(days=20),
        clock_started_at=NOW - timedelta(days=20),
        closed_at=closed_at,
        **over,
    )
    db.add(c)
    db.flush()
    return c


def test_complaint_closed_segment(db, users, small_survey):
    a, b, c = (make_customer(db) for _ in range(3))
    _complaint(db, a, status="closed", closed_at=NOW - timedelta(days=2))
    _complaint(db, b, status="closed", closed_at=NOW - timedelta(days=60))
    _complaint(db, c, status="in_progress")
    _, links = _dist(
        db, small_survey, users, kind="complaint_closed", closed_since=NOW - timedelta(days=30)
    )
    assert [ln.customer_id for ln in links] == [a.id]


def test_complaint_segment_without_complaints_domain_is_a_clear_422(
    db, users, small_survey, monkeypatch
):
    monkeypatch.setattr(distributions, "complaint_model", lambda: None)
    with pytest.raises(InvalidInput) as e:
        _dist(db, small_survey, users, kind="complaint_closed")
    assert e.value.field == "segment.kind"


def test_funnel_counts_recorded_complaints_or_explains_their_absence(
    db, users, small_survey, monkeypatch
):
    a = make_customer(db)
    _complaint(db, a, status="closed", closed_at=NOW, csat=5, won_back=True)
    _complaint(db, a, status="accepted", kind="grumble")
    responses.record_response(
        db,
        small_survey.id,
        ResponseCreate(customer_id=a.id, answers=[AnswerIn(question="sat", number=4)]),
        actor=users["agent"],
    )
    funnel = reports.survey_results(db, small_survey.id, actor=users["analyst"])["funnel"]
    assert funnel["complaint_records"] == {
        "grumbles": 1,
        "complaints": 1,
        "handled": 1,
        "satisfied_after": 1,
        "left_after": 0,
    }
    assert funnel["note"] is None
    monkeypatch.setattr(reports, "complaint_model", lambda: None)
    funnel = reports.survey_results(db, small_survey.id, actor=users["analyst"])["funnel"]
    assert set(funnel["complaint_records"].values()) == {0}
    assert "not recorded" in funnel["note"]


def test_draft_survey_cannot_be_sent(db, users):
    s = service.create_survey(db, small_survey_data(), actor=users["manager"])
    with pytest.raises(Conflict):
        _dist(db, s, users)


def test_token_flow_is_resumable_and_single_use(db, users, small_survey):
    c = make_customer(db)
    _, links = _dist(db, small_survey, users, kind="customers", customer_ids=[c.id])
    token = links[0].token
    page = responses.public_survey(db, token, now=NOW)
    assert page.status == "new" and page.sections[0].questions[0].code == "sat"
    r = responses.public_submit(
        db,
        token,
        AnswersSubmit(
            answers=[
                AnswerIn(question="rec", number=9),
                AnswerIn(question="speed", expectation=4, number=5),
            ]
        ),
        now=NOW,
    )
    assert r.status == "partial"
    page = responses.public_survey(db, token, now=NOW)
    assert page.status == "partial" and {a.question for a in page.answers} == {"rec", "speed"}
    with pytest.raises(InvalidInput) as e:
        responses.public_submit(db, token, AnswersSubmit(complete=True), now=NOW)
    assert e.value.field == "sat"
    r2 = responses.public_submit(
        db,
        token,
        AnswersSubmit(
            answers=[AnswerIn(question="sat", number=5), AnswerIn(question="rec", number=10)],
            complete=True,
        ),
        now=NOW,
    )
    assert r2.id == r.id and r2.status == "completed" and len(r2.answers) == 3
    inv = db.get(SurveyInvitation, links[0].invitation_id)
    assert inv.completed_at == NOW and inv.opened_at == NOW
    with pytest.raises(Conflict):
        responses.public_submit(db, token, AnswersSubmit(answers=[]), now=NOW)
    assert (
        db.scalar(
            select(func.count())
            .select_from(SurveyResponse)
            .where(SurveyResponse.invitation_id == inv.id)
        )
        == 1
    )


def test_expired_unknown_and_closed_links(db, users, small_survey):
    c = make_customer(db)
    _, links = _dist(db, small_survey, users, kind="customers", customer_ids=[c.id])
    with pytest.raises(RetentoError) as e:
        responses.public_survey(db, links[0].token, now=NOW + timedelta(days=31))
    assert e.value.status == 410
    with pytest.raises(NotFound):
        responses.public_survey(db, "x" * 43, now=NOW)
    service.update_survey(
        db, small_survey.id, SurveyUpdate(status="closed"), actor=users["manager"]
    )
    with pytest.raises(RetentoError) as e:
        responses.public_submit(db, links[0].token, AnswersSubmit(), now=NOW)
    assert e.value.status == 410


def test_answer_validation_names_the_question(db, users, small_survey):
    cases = [
        AnswerIn(question="sat", number=6),
        AnswerIn(question="sat", number=3.5),
        AnswerIn(question="rec", number=11),
        AnswerIn(question="speed", number=4),
        AnswerIn(question="where", choices=["store", "web"]),
        AnswerIn(question="what", choices=["z"]),
        AnswerIn(question="nope", number=1),
        AnswerIn(question="note", number=1),
    ]
    for i, a in enumerate(cases):
        with pytest.raises(InvalidInput) as e:
            responses.record_response(
                db,
                small_survey.id,
                ResponseCreate(answers=[a], complete=False),
                actor=users["agent"],
            )
        assert e.value.field == "answers.0", (i, e.value.errors)
        assert a.question in e.value.message


def test_phone_entry_completes_the_open_invitation(db, users, small_survey):
    c = make_customer(db)
    _, links = _dist(db, small_survey, users, kind="customers", customer_ids=[c.id])
    r = responses.record_response(
        db,
        small_survey.id,
        ResponseCreate(
            customer_id=c.id, answers=[AnswerIn(question="rec", number=3)], complete=False
        ),
        actor=users["agent"],
        now=NOW,
    )
    assert r.invitation_id == links[0].invitation_id and r.status == "partial"
    r = responses.update_response(
        db,
        r.id,
        AnswersSubmit(
            answers=[AnswerIn(question="sat", number=2), AnswerIn(question="rec", number=None)],
            complete=True,
        ),
        actor=users["agent"],
        now=NOW,
    )
    assert r.status == "completed" and r.entered_by_id == users["agent"].id
    assert {a.question_id for a in r.answers} == {
        next(q.id for q in small_survey.questions if q.code == "sat")
    }
    assert db.get(SurveyInvitation, links[0].invitation_id).completed_at == NOW
    with pytest.raises(Conflict):
        responses.update_response(db, r.id, AnswersSubmit(), actor=users["agent"])
    with pytest.raises(Forbidden):
        responses.record_response(
            db, small_survey.id, ResponseCreate(answers=[]), actor=users["analyst"]
        )


def test_bulk_entry_is_all_or_nothing_with_rows(db, users, small_survey):
    c = make_customer(db, external_id="PAPER1")
    bad = BulkResponses(
        channel="mail",
        responses=[
            {"customer_external_id": "PAPER1", "answers": [{"question": "sat", "number": 4}]},
            {"customer_external_id": "NOPE", "answers": [{"question": "sat", "number": 9}]},
        ],
    )
    with pytest.raises(InvalidInput) as e:
        bulk_entry.bulk_responses(db, small_survey.id, bad, actor=users["manager"])
    got = {(x.row, x.field) for x in e.value.errors}
    assert got == {(2, "customer_external_id"), (2, "sat")}
    assert db.scalar(select(func.count()).select_from(SurveyResponse)) == 0
    report = bulk_entry.bulk_responses(
        db, small_survey.id, bad.model_copy(update={"skip_invalid": True}), actor=users["manager"]
    )
    assert (report["created"], report["skipped"]) == (1, 1)
    r = db.scalar(select(SurveyResponse))
    assert (
        r.customer_id == c.id
        and r.channel == "mail"
        and r.source == "bulk"
        and r.status == "completed"
    )


def test_results_end_to_end_on_the_standard_template(db, users, standard_survey):
    answers = [
        # (overall_satisfaction, nps, product_quality a, b, problem, reported, resolved)
        (5, 10, 4, 5, "no", None, None),
        (4, 9, 4, 4, "no", None, None),
        (2, 3, 5, 2, "yes", "formal", "no"),
        (3, 7, 4, 4, "yes", "informal", "yes"),
    ]
    customers = []
    for sat, rec, a, b, prob, rep, res in answers:
        c = make_customer(db)
        customers.append(c)
        ans = [
            AnswerIn(question="overall_satisfaction", number=sat),
            AnswerIn(question="intent_recommend", number=rec),
            AnswerIn(question="product_quality", expectation=a, number=b),
            AnswerIn(question="problem_experienced", choices=[prob]),
        ]
        if rep:
            ans.append(AnswerIn(question="problem_reported", choices=[rep]))
            ans.append(AnswerIn(question="problem_resolved", choices=[res]))
        responses.record_response(
            db,
            standard_survey.id,
            ResponseCreate(customer_id=c.id, answers=ans),
            actor=users["agent"],
            now=NOW,
        )
    _score_run(db, {c.id: "ordinary" for c in customers}, lapsed={customers[2].id, customers[0].id})
    res = reports.survey_results(db, standard_survey.id, actor=users["analyst"])
    assert res["responses"] == 4
    head = res["csat"]["headline"]
    assert head["question"] == "overall_satisfaction" and head["top_box_share"] == 0.5
    assert head["mean"] == pytest.approx(3.5)
    nps = res["nps"]["headline"]
    assert (nps["promoters"], nps["passives"], nps["detractors"], nps["score"]) == (2, 1, 1, 25.0)
    item = next(
        i for i in res["expectation_ratio"]["by_item"] if i["question"] == "product_quality"
    )
    assert item["c"] == pytest.approx(15 / 17) and item["level"] == "dissatisfied"
    assert item["levels"] == {"dissatisfied": 1, "satisfied": 2, "highly_satisfied": 1}
    assert res["levels"] == {"dissatisfied": 1, "satisfied": 2, "highly_satisfied": 1}
    assert res["word_of_mouth"]["negative_reach"] == 22
    assert res["word_of_mouth"]["positive_reach"] == 2 * 8 + 10
    stages = {s["stage"]: s["count"] for s in res["funnel"]["stages"]}
    assert stages["grumble"] == 2 and stages["contact"] == 2 and stages["formal_complaint"] == 1
    assert stages["handled_satisfied"] == 1 and stages["complaint_not_satisfied"] == 1
    assert stages["leaves"] == 1
    trap = reports.satisfaction_trap(db, standard_survey.id, actor=users["analyst"])
    assert [t["customer_id"] for t in trap] == [customers[0].id]
    hist = reports.customer_history(db, customers[2].id, actor=users["agent"])
    assert hist[0]["csat"] == 2 and hist[0]["nps_score"] == 3 and hist[0]["level"] == "dissatisfied"


def test_delivered_value_per_customer_and_segment(db, users, small_survey):
    a, b = make_customer(db), make_customer(db)
    _score_run(db, {a.id: "vip", b.id: "ordinary"})
    for c, speed, cost in ((a, 5, 1), (b, 2, 5)):
        responses.record_response(
            db,
            small_survey.id,
            ResponseCreate(
                customer_id=c.id,
                answers=[
                    AnswerIn(question="sat", number=4),
                    AnswerIn(question="speed", expectation=3, number=speed),
                    AnswerIn(question="cost", number=cost),
                ],
            ),
            actor=users["agent"],
            now=NOW,
        )
    rep = reports.delivered_value_report(db, small_survey.id, actor=users["analyst"])
    rows = {r["customer_id"]: r for r in rep["per_customer"]}
    assert rows[a.id]["delivered"] == pytest.approx(100.0)
    assert rows[b.id]["delivered"] == pytest.approx(25.0 - 100.0)
    assert rows[b.id]["weakest"] == "time"
    assert rep["per_customer"][0]["customer_id"] == b.id
    seg = {s["segment"]: s for s in rep["by_segment"]}
    assert seg["vip"]["total_value"] == pytest.approx(100.0)
    assert rep["overall"]["dimensions"] == {
        "service": pytest.approx(62.5),
        "time": pytest.approx(50.0),
    }


def test_reminder_job_is_idempotent(db, users, small_survey):
    from retento.surveys.jobs import send_reminders

    a, b = make_customer(db), make_customer(db)
    _, links = _dist(db, small_survey, users, kind="customers", customer_ids=[a.id, b.id])
    responses.public_submit(
        db,
        links[0].token,
        AnswersSubmit(answers=[AnswerIn(question="sat", number=5)], complete=True),
        now=NOW,
    )
    assert send_reminders(db, now=NOW + timedelta(days=2)) == 0
    assert send_reminders(db, now=NOW + timedelta(days=3)) == 1
    assert send_reminders(db, now=NOW + timedelta(days=3)) == 0
    inv = db.get(SurveyInvitation, links[1].invitation_id)
    db.refresh(inv)
    assert inv.reminder_count == 1 and inv.reminded_at == NOW + timedelta(days=3)
    assert send_reminders(db, now=NOW + timedelta(days=6)) == 1
    assert send_reminders(db, now=NOW + timedelta(days=20)) == 0  # max_reminders = 2
    assert db.get(SurveyInvitation, links[0].invitation_id).reminder_count == 0


def test_demo_step_data_recovers_the_ecsi_paths_and_shows_the_trap(db, users):
    import numpy as np

    from retento.analytics import ECSI_MODEL, fit_csi
    from retento.surveys.demo import ECSI_TRUTH, generate_survey_responses
    from retento.surveys.models import Survey

    rng = np.random.default_rng(3)
    ids = np.array([make_customer(db).id for _ in range(400)])
    days = np.where(np.arange(400) % 2 == 0, 30.0, 400.0)  # half still buying, half lapsed
    out = generate_survey_responses(db, rng, ids, days, NOW, manager=users["manager"])
    assert out["survey_responses"] == 2 * 120
    std, ecsi = db.scalars(select(Survey).order_by(Survey.id)).all()[-2:]
    res = csi_report.csi_report(db, ecsi.id, actor=users["analyst"], bootstrap=30)
    paths = {(p["source"], p["target"]): p["coefficient"] for p in res["paths"]}
    for target, sources in ECSI_TRUTH.items():
        for source, true in sources.items():
            if true >= 0.4:
                assert paths[(source, target)] > 0.2, (source, target, paths)
    assert res["r2"]["Loyalty"] > 0.3 and all(0 < v < 100 for v in res["indices"].values())
    assert {d["driver"] for d in res["drivers"]["Satisfaction"]} == {
        "Image",
        "Expectation",
        "Quality",
        "Value",
    }
    assert "ci_lower" in res["paths"][0]
    # The service's CSI equals a direct fit on the same answers.
    frame, meta = csi_report.csi_frame(
        ecsi, reports.load_responses(db, ecsi.id), ECSI_MODEL.latents
    )
    direct = fit_csi(frame.dropna(), meta["blocks"], ECSI_MODEL.paths, scale_range=meta["ranges"])
    assert res["indices"]["Satisfaction"] == pytest.approx(float(direct.indices["Satisfaction"]))
    # Satisfaction follows behaviour, but some lapsed customers are satisfied: the trap.
    _score_run(db, {int(c): "ordinary" for c in ids}, lapsed={int(c) for c in ids[1::2]})
    trapped = reports.satisfaction_trap(db, std.id, actor=users["analyst"])
    res = reports.survey_results(db, std.id, actor=users["analyst"])
    assert 0 < len(trapped) < res["levels"]["satisfied"] + res["levels"]["highly_satisfied"]
    lapsed = {int(c) for c in ids[1::2]}
    hist = [reports.customer_history(db, int(c), actor=users["agent"]) for c in ids]
    scores = [
        (row["csat"], int(c) in lapsed)
        for h, c in zip(hist, ids, strict=True)
        for row in h
        if row["survey_id"] == std.id
    ]
    active_mean = np.mean([s for s, lap in scores if not lap])
    lapsed_mean = np.mean([s for s, lap in scores if lap])
    assert active_mean > lapsed_mean + 0.5


def test_replacing_sections_keeps_codes_and_drops_old_questions(db, users):
    from retento.surveys.models import SurveyQuestion
    from retento.surveys.schemas import SectionIn, SurveyUpdate
    from tests.surveys.conftest import small_survey_data

    s = service.create_survey(db, small_survey_data(), actor=users["manager"])
    sections = [
        SectionIn(
            code="main",
            title="Main again",
            questions=[{"code": "sat", "text": "Satisfied now?", "qtype": "rating"}],
        )
    ]
    service.update_survey(db, s.id, SurveyUpdate(sections=sections), actor=users["manager"])
    db.flush()
    codes = [q.code for q in db.query(SurveyQuestion).filter_by(survey_id=s.id)]
    assert codes == ["sat"] and s.sections[0].title == "Main again"
