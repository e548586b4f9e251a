"""Value settings (issue 13 point 10): pyramid cut-offs and loyalty-stage rules edited by a
manager, applied by the next scoring run, versioned (stale → 409), validated (422 naming the
field), audited, and the settings page in both languages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from retento.audit.models import AuditEntry
from retento.core.errors import Forbidden, InvalidInput
from retento.core.versioning import VersionConflict
from retento.scoring import service, value_settings
from retento.scoring.models import CustomerScore, ValueSettings
from retento.scoring.schemas import ScoreRunCreate
from retento.scoring.value_rules import DEFAULTS, rules_from
from tests.factories.concurrency import run_parallel
from tests.scoring.conftest import AS_OF
from tests.web.conftest import Browser


def _shares(db, run_id: int) -> dict[str, int]:
    rows = db.execute(
        select(CustomerScore.value_class).where(CustomerScore.run_id == run_id)
    ).scalars()
    out: dict[str, int] = {}
    for v in rows:
        out[v] = out.get(v, 0) + 1
    return out


def test_defaults_are_the_library_defaults(db, users):
    row = value_settings.get_settings(db, actor=users["analyst"])
    assert {k: getattr(row, k) for k in DEFAULTS} == DEFAULTS
    rules = rules_from(row)
    assert rules.cutoffs == pytest.approx((0.05, 0.15, 0.80))
    assert rules.stages.loyal_per_year == 4.0 and rules.stages.new_days == 90


def test_changed_cutoffs_and_stage_rules_apply_to_the_next_run(db, users, population):
    first = service.run_scoring(db, ScoreRunCreate(as_of=AS_OF, holdout_weeks=0), actor=None)
    assert first.status == "succeeded", first.error
    before = _shares(db, first.id)
    n = sum(before.values())
    assert before["vip"] == pytest.approx(0.05 * n, abs=2)
    assert first.report["settings"]["top_pct"] == [5.0, 20.0, 100.0]

    row = value_settings.update_settings(
        db,
        {"vip_top_pct": 10, "major_top_pct": 30, "ordinary_top_pct": 90, "loyal_per_year": 100},
        actor=users["manager"],
    )
    assert row.version == 2
    second = service.run_scoring(db, ScoreRunCreate(as_of=AS_OF, holdout_weeks=0), actor=None)
    after = _shares(db, second.id)
    # The new cut-offs: twice as many VIP, 20 % major, and the bottom 10 % small.
    assert after["vip"] == pytest.approx(0.10 * n, abs=2)
    assert after["major"] == pytest.approx(0.20 * n, abs=3)
    assert after["small"] >= int(0.10 * n) - 3
    # Nobody buys 100 times a year: no loyal customers any more.
    assert "loyal" not in {
        s.loyalty_stage for s in db.scalars(select(CustomerScore).filter_by(run_id=second.id))
    }
    summary = {c["value_class"]: c for c in second.report["pyramid"]["classes"]}
    assert summary["vip"]["rule_share"] == pytest.approx(0.10)
    assert summary["ordinary"]["rule_share"] == pytest.approx(0.60)
    assert second.report["settings"]["version"] == 2
    # The earlier run keeps the rule it used.
    assert first.report["settings"]["top_pct"] == [5.0, 20.0, 100.0]


def test_stale_version_is_409_and_nothing_changes(db, users):
    row = value_settings.get_settings(db)
    value_settings.update_settings(db, {"vip_top_pct": 4}, actor=users["manager"], version=1)
    with pytest.raises(VersionConflict):
        value_settings.update_settings(db, {"vip_top_pct": 3}, actor=users["admin"], version=1)
    db.refresh(row)
    assert row.vip_top_pct == 4.0 and row.version == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"vip_top_pct": 25}, "major_top_pct"),  # not increasing
        ({"ordinary_top_pct": 120}, "ordinary_top_pct"),
        ({"vip_top_pct": 0}, "vip_top_pct"),
        ({"major_top_pct": 100}, "ordinary_top_pct"),
        ({"loyal_per_year": 1}, "loyal_per_year"),
        ({"long_tenure_days": 30}, "long_tenure_days"),
        ({"recent_days": 400}, "recent_days"),
        ({"new_days": 1.5}, "new_days"),
        ({"small_profit_threshold": "-1"}, "small_profit_threshold"),
        # 1e400 was a 500 (quantize past the decimal context), 1.005 silently became 1.00
        ({"small_profit_threshold": "1e400"}, "small_profit_threshold"),
        ({"small_profit_threshold": "1e15"}, "small_profit_threshold"),
        ({"small_profit_threshold": "1.005"}, "small_profit_threshold"),
        ({"small_profit_threshold": "NaN"}, "small_profit_threshold"),
        ({"wallet_window_days": 0}, "wallet_window_days"),
        ({"regular_per_year": "many"}, "regular_per_year"),
    ],
)
def test_bad_values_are_refused_naming_the_field(db, users, change, field):
    with pytest.raises(InvalidInput) as exc:
        value_settings.update_settings(db, change, actor=users["manager"])
    assert exc.value.field == field
    assert value_settings.get_settings(db).version == 1


def test_only_managers_and_admins_change_settings_and_it_is_audited(db, users):
    for role in ("agent", "analyst"):
        with pytest.raises(Forbidden):
            value_settings.update_settings(db, {"vip_top_pct": 2}, actor=users[role])
    value_settings.update_settings(db, {"small_profit_threshold": "12.50"}, actor=users["manager"])
    entry = db.scalars(
        select(AuditEntry).where(AuditEntry.entity == "value_settings").order_by(AuditEntry.id)
    ).all()[-1]
    assert entry.action == "update" and entry.actor_name == "manager"
    assert entry.after["small_profit_threshold"] in ("12.50", 12.5, "12.5")
    assert value_settings.get_settings(db).small_profit_threshold == Decimal("12.50")


def test_api_get_put_etag_409_and_422(client, tokens, db, users):
    db.commit()
    r = client.get("/api/v1/value/settings", headers=tokens["analyst"])
    assert r.status_code == 200 and r.headers["ETag"] == '"1"'
    assert r.json()["vip_top_pct"] == 5.0
    r = client.put(
        "/api/v1/value/settings",
        json={"vip_top_pct": 2, "major_top_pct": 10, "version": 1},
        headers=tokens["manager"],
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.headers["ETag"] == '"2"'
    r = client.put(
        "/api/v1/value/settings",
        json={"vip_top_pct": 3},
        headers={**tokens["admin"], "If-Match": '"1"'},
    )
    assert r.status_code == 409 and r.json()["code"] == "version_conflict"
    r = client.put(
        "/api/v1/value/settings",
        json={"major_top_pct": 1, "version": 2},
        headers=tokens["manager"],
    )
    assert r.status_code == 422 and r.json()["field"] == "major_top_pct"
    r = client.put("/api/v1/value/settings", json={"vip_top_pct": 3}, headers=tokens["agent"])
    assert r.status_code == 403
    r = client.put("/api/v1/value/settings", json={"colour": 3}, headers=tokens["manager"])
    assert r.status_code == 422
    assert client.get("/api/v1/value/settings", headers=tokens["agent"]).json()["version"] == 2


def test_concurrent_saves_from_one_version_one_wins(live_pg):
    """Two managers save different cut-offs from version 1 at once (PostgreSQL, real commits):
    exactly one succeeds, the other gets 409, and the stored row is the winner's, version 2."""
    from retento.auth.service import issue_token
    from tests.factories import make_user

    with live_pg.session() as s:
        value_settings.ensure(s)
        headers = []
        for i in range(2):
            user = make_user(s, username=f"mgr{i}", role="manager")
            _, plain = issue_token(s, user, name="t", actor=None)
            headers.append({"Authorization": f"Bearer {plain}"})
        s.commit()
    bodies = [
        {"vip_top_pct": 2, "major_top_pct": 12, "version": 1},
        {"vip_top_pct": 8, "major_top_pct": 30, "version": 1},
    ]

    def save(i: int):
        with live_pg.client() as c:
            return c.put("/api/v1/value/settings", json=bodies[i], headers=headers[i])

    results = run_parallel(2, save)
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    winner = next(i for i, r in enumerate(results) if r.status_code == 200)
    with live_pg.session() as s:
        row = s.get(ValueSettings, 1)
        assert row.version == 2
        assert (row.vip_top_pct, row.major_top_pct) == (
            bodies[winner]["vip_top_pct"],
            bodies[winner]["major_top_pct"],
        )
        audits = s.scalars(select(AuditEntry).where(AuditEntry.entity == "value_settings")).all()
        assert len(audits) == 1


def test_settings_page_refuses_an_amount_past_the_decimal_context(client, db, users):
    """The form's small-profit threshold "1e400" was a 500; it is a 422 on that field."""
    web = Browser(client)
    web.login("manager")
    form = {k: str(v) for k, v in DEFAULTS.items()} | {"version": "1"}
    for typed in ("1e400", "1.005"):
        bad = web.post("/value/settings", form | {"small_profit_threshold": typed})
        assert bad.status_code == 422 and 'id="e-small_profit_threshold"' in bad.text
    assert value_settings.get_settings(db).version == 1
    grouped = web.post("/value/settings", form | {"small_profit_threshold": "1,500.50"})
    assert grouped.status_code == 303
    db.expire_all()
    assert value_settings.get_settings(db).small_profit_threshold == Decimal("1500.50")


def test_settings_page_both_languages_and_form(client, db, users, population):
    service.run_scoring(db, ScoreRunCreate(as_of=AS_OF, holdout_weeks=0), actor=None)
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get("/value/settings")
    assert page.status_code == 200
    assert 'id="settings-pyramid"' in page.text and 'name="vip_top_pct"' in page.text
    # The configured targets next to the latest run's real shares.
    assert 'id="target-vip"' in page.text and 'id="actual-vip"' in page.text
    form = {k: str(v) for k, v in DEFAULTS.items()}
    form |= {"version": "1", "vip_top_pct": "30", "major_top_pct": "20"}
    bad = web.post("/value/settings", form)
    assert bad.status_code == 422 and 'id="e-major_top_pct"' in bad.text
    assert value_settings.get_settings(db).version == 1
    form |= {"vip_top_pct": "3"}
    ok = web.post("/value/settings", form)
    assert ok.status_code == 303, ok.text
    db.expire_all()
    assert value_settings.get_settings(db).vip_top_pct == 3.0
    page = web.get("/value/settings")
    assert 'id="settings-pending"' in page.text  # changed after the latest run
    stale = web.post("/value/settings", form)
    assert stale.status_code == 409
    web.post("/locale", {"lang": "zh_CN", "next": "/value/settings"})
    zh = web.get("/value/settings")
    assert zh.status_code == 200 and "金字塔" in zh.text and "忠诚阶段" in zh.text
    bad = web.post("/value/settings", form | {"version": "2", "ordinary_top_pct": "101"})
    assert bad.status_code == 422 and "100" in bad.text
    # agents read the rules but get no form
    agent = Browser(client)
    agent.login("agent")
    view = agent.get("/value/settings")
    assert view.status_code == 200 and 'name="vip_top_pct"' not in view.text
    assert 'id="settings-readonly"' in view.text
