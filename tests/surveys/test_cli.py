"""`retento surveys csi` on the test database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from retento.cli import app
from retento.surveys.csi_report import csi_report
from retento.surveys.demo import generate_survey_responses
from retento.surveys.models import Survey
from tests.factories import make_customer

runner = CliRunner()


def test_csi_with_single_item_blocks_prints_gof_as_undefined(on_test_db, single_item_csi_survey):
    r = runner.invoke(
        app, ["surveys", "csi", "--survey", str(single_item_csi_survey.id), "--bootstrap", "20"]
    )
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "ECSI on 24 responses (0 incomplete left out)" in out
    assert "GoF — (undefined: no CSI block has more than one item)" in out
    assert "nan" not in out.lower()
    assert "Satisfaction → Loyalty" in out and "Drivers of Satisfaction" in out


def test_csi_prints_gof_when_defined(on_test_db, db, users):
    rng = np.random.default_rng(5)
    ids = np.array([make_customer(db).id for _ in range(60)])
    days = np.where(np.arange(60) % 2 == 0, 20.0, 500.0)
    generate_survey_responses(
        db, rng, ids, days, datetime(2026, 6, 1, tzinfo=UTC), manager=users["manager"]
    )
    db.commit()
    ecsi = db.scalars(select(Survey).where(Survey.template == "ecsi")).one()
    gof = csi_report(db, ecsi.id, actor=users["analyst"])["gof"]
    assert 0 < gof < 1
    r = runner.invoke(app, ["surveys", "csi", "--survey", str(ecsi.id)])
    assert r.exit_code == 0, r.output
    assert f"GoF {gof:.3f};" in " ".join(r.output.split())


def _outbox_invitations(db, survey_id):
    from retento.mail.models import OutboxMessage
    from retento.surveys.models import SurveyInvitation

    return db.scalar(
        select(func.count()).where(
            OutboxMessage.kind == "survey_invitation",
            OutboxMessage.related_id.in_(
                select(SurveyInvitation.id).where(SurveyInvitation.survey_id == survey_id)
            ),
        )
    )


def test_distribute_sends_to_a_segment_once_per_key_and_writes_the_links(
    on_test_db, db, users, small_survey, tmp_path
):
    from retento.surveys.models import SurveyDistribution, SurveyInvitation

    mailable = make_customer(db, name="王芳", email="wang@example.cn", consent_email=True)
    no_consent = make_customer(db, name="Ava", email="ava@example.com", consent_email=False)
    make_customer(db, name="Not invited")
    db.commit()
    links = tmp_path / "links.csv"
    ids = f"{mailable.id},{no_consent.id}"
    args = ["surveys", "distribute", "--survey", str(small_survey.id), "--segment", "customers"]
    args += ["--customers", ids, "--key", "spring-1", "--as", "manager"]

    r = runner.invoke(app, [*args, "--links", str(links)])
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "2 invited by online; 1 e-mailed, 1 without an address or e-mail consent" in out
    assert "Wrote 2 link(s)" in out
    rows = links.read_text(encoding="utf-8-sig").splitlines()
    assert rows[0] == "customer_id,external_id,name,email,phone,channel,url"
    assert {int(r.split(",")[0]) for r in rows[1:]} == {mailable.id, no_consent.id}
    assert all("/s/" in r for r in rows[1:]) and "王芳" in rows[1] + rows[2]

    # The same command again (a retry): the first distribution, nothing invited or sent twice.
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "was made before with the key 'spring-1': nothing was sent again" in " ".join(
        r.output.split()
    )
    db.expire_all()
    dists = db.scalars(
        select(SurveyDistribution).where(SurveyDistribution.survey_id == small_survey.id)
    ).all()
    assert [(d.status, d.invited, d.created_by_id) for d in dists] == [
        ("done", 2, users["manager"].id)
    ]
    n_inv = db.scalar(select(func.count()).where(SurveyInvitation.survey_id == small_survey.id))
    assert n_inv == 2 and _outbox_invitations(db, small_survey.id) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--segment", "value_class", "--value", "gold"], "Unknown value class 'gold'"),
        (["--segment", "tag"], "--segment tag needs --value."),
        (["--segment", "customers", "--customers", "1,x"], "--customers must be customer ids"),
        (["--segment", "nope"], "Segment (--segment) must be one of: all, value_class,"),
        (["--segment", "complaint_closed", "--closed-since", "2025-13-01"], "(--closed-since):"),
        (["--channel", "fax"], "Channel (--channel) must be one of: online, phone,"),
        (["--expires-in-days", "0"], "(--expires-in-days) must be between 1 and 365."),
    ],
)
def test_distribute_refuses_bad_options_and_writes_nothing(
    on_test_db, db, users, small_survey, extra, message
):
    from retento.surveys.models import SurveyDistribution

    r = runner.invoke(app, ["surveys", "distribute", "--survey", str(small_survey.id), *extra])
    assert r.exit_code == 1
    assert message in " ".join(r.output.split())
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(SurveyDistribution)) == 0


def test_distribute_same_key_other_segment_is_refused(on_test_db, db, users, small_survey):
    c = make_customer(db, email="c@example.com", consent_email=True)
    db.commit()
    base = ["surveys", "distribute", "--survey", str(small_survey.id), "--key", "k1"]
    assert (
        runner.invoke(app, [*base, "--segment", "customers", "--customers", str(c.id)]).exit_code
        == 0
    )
    r = runner.invoke(app, [*base, "--segment", "all"])
    assert r.exit_code == 1
    out = " ".join(r.output.split())
    assert "--key: This Idempotency-Key was already used to send a different distribution" in out
    assert "(field: key)" in out
