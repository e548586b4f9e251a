"""A distribution said "4 invited" for 8 customers and not why the other 4 were left out,
though it knew (already invited and not answered, archived, no consent for the channel: kept
only in its audit entry). The CLI, the API and the distribution page now say it, in English and
Chinese. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from retento.cli import app
from retento.surveys import distributions
from retento.surveys.schemas import DistributionCreate, SegmentIn
from tests.factories import make_customer
from tests.web.conftest import Browser

runner = CliRunner()


def _segment(db, users, survey) -> list[int]:
    """Six customers: two to invite, one invited before, one archived, two without phone
    consent (the phone channel)."""
    fresh = [make_customer(db, consent_phone=True, phone=f"1380000000{i}") for i in range(2)]
    before = make_customer(db, consent_phone=True, phone="13800000009")
    archived = make_customer(db, consent_phone=True, phone="13800000008")
    archived.archived_at = datetime.now(UTC)
    refused = [make_customer(db, consent_phone=False, phone=f"1390000000{i}") for i in range(2)]
    db.flush()
    distributions.create_distribution(
        db,
        survey.id,
        DistributionCreate(
            channel="phone", segment=SegmentIn(kind="customers", customer_ids=[before.id])
        ),
        actor=users["manager"],
    )
    db.commit()
    return [c.id for c in (*fresh, before, archived, *refused)]


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("en", "Not invited: 1 already invited and not answered yet, 1 archived, 2 without "
               "consent for this channel."),
        ("zh_CN", "未邀请：1 位已邀请但尚未作答，1 位已归档，2 位未同意通过此渠道联系。"),
    ],
)  # fmt: skip
def test_the_cli_says_who_was_left_out(on_test_db, db, users, small_survey, lang, said):  # noqa: F811
    ids = _segment(db, users, small_survey)
    args = ["--lang", lang, "surveys", "distribute", "--survey", str(small_survey.id)]
    args += ["--segment", "customers", "--customers", ",".join(map(str, ids))]
    r = runner.invoke(app, [*args, "--channel", "phone", "--as", "manager"])
    assert r.exit_code == 0, r.output
    assert said in " ".join(r.output.split()).replace("， ", "，")


def test_the_api_and_the_page_say_it_too(client, db, users, tokens, small_survey):
    ids = _segment(db, users, small_survey)
    r = client.post(
        f"/api/v1/surveys/{small_survey.id}/distributions",
        json={"channel": "phone", "segment": {"kind": "customers", "customer_ids": ids}},
        headers=tokens["manager"],
    )
    assert r.status_code in (201, 202), r.text
    run = client.get(r.json()["url"], headers=tokens["manager"]).json()
    assert run["invited"] == 2
    left = (run["skipped_open_invitations"], run["skipped_archived"], run["skipped_no_consent"])
    assert left == (1, 1, 2)
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/surveys/{small_survey.id}/distributions/{run['id']}")
    assert page.status_code == 200
    assert 'id="not-invited"' in page.text and "2 without consent for this channel" in page.text
