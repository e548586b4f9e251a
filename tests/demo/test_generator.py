from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from retento.auth.models import User
from retento.auth.security import verify_password
from retento.customers.models import Customer
from retento.demo import generator
from retento.orders.models import Order
from retento.orders.service import recompute
from retento.touchpoints.models import CHANNELS, STAGES, Touchpoint

TODAY = date(2025, 6, 30)


def _totals(db):
    return db.execute(
        select(func.count(Order.id), func.sum(Order.revenue), func.sum(Order.profit))
    ).one()


def test_same_seed_same_data_and_reset(db):
    core = []  # the totals after the demo's own steps, before the other domains' steps

    def step_core_totals(session, rng, ctx):  # draws nothing: the data stay the seed's
        core.append(_totals(session))

    whole = [*generator.STEPS, step_core_totals, *generator.domain_steps()]
    generator.generate(db, customers=30, seed=7, today=TODAY, steps=whole)
    first = _totals(db)
    generator.reset_business_data(db)  # everything the whole demo made
    assert db.scalar(select(func.count()).select_from(Customer)) == 0
    generator.generate(db, customers=30, seed=7, today=TODAY, steps=whole)
    assert _totals(db) == first and core[1] == core[0]
    generator.reset_business_data(db)
    # Another seed gives other data from the first step on; the domains' steps (costly: a
    # scoring run, complaints, loyalty, retention) draw from the same seeded stream, whose
    # sameness the two runs above showed, so they are not run again for it.
    generator.generate(
        db, customers=30, seed=8, today=TODAY, steps=[*generator.STEPS, step_core_totals]
    )
    assert core[2] != core[0]


class _Demo:
    """One generated demo, shared by the tests below that only read it (generating takes
    seconds; each test used to make its own)."""

    def __init__(self, session, summary, seen):
        self.session, self.summary, self.seen = session, summary, seen


@pytest.fixture(scope="module")
def demo(engine) -> Iterator[_Demo]:
    """The whole demo of 400 customers (seed 42; the domains' steps too, whose refunds and
    touchpoints the tests below check) and an extra step after them, in one transaction rolled
    back after the module. Only the tests that take this fixture use it; they write nothing."""
    seen: list[tuple[int, int]] = []

    def step_extra(session, rng, ctx):
        seen.append((len(ctx.customer_ids), len(ctx.order_ids)))

    conn = engine.connect()
    outer = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        summary = generator.generate(
            session,
            customers=400,
            seed=42,
            today=TODAY,
            steps=[*generator.STEPS, *generator.domain_steps(), step_extra],
        )
        yield _Demo(session, summary, seen)
    finally:
        session.close()
        outer.rollback()
        conn.close()


def test_population_is_heterogeneous_and_realistic(demo):
    db, summary = demo.session, demo.summary
    assert summary["customers"] == 400 and summary["orders"] > 400
    rows = db.execute(
        select(Customer.id, func.count(Order.id), func.coalesce(func.sum(Order.profit), 0))
        .outerjoin(Order, Order.customer_id == Customer.id)
        .group_by(Customer.id)
    ).all()
    n_orders = np.array([r[1] for r in rows])
    profit = np.array([float(r[2]) for r in rows])
    assert (n_orders == 1).sum() > 0.2 * len(rows)  # many buy once
    assert n_orders.max() >= 15  # a few buy a lot
    assert (profit < 0).sum() >= 3  # below-zero customers exist
    top = np.sort(profit)[::-1][: len(profit) // 5]
    assert top.sum() / profit.sum() > 0.55  # top 20 % carry well over half the profit
    kinds = set(db.scalars(select(Customer.kind).distinct()))
    assert {"consumer", "business"} <= kinds and kinds & {
        "distributor",
        "supplier",
        "department",
        "branch",
    }
    names = db.scalars(select(Customer.name)).all()
    assert any(all(ord(ch) > 0x4E00 for ch in n) for n in names)
    assert any(n.isascii() for n in names)


def test_touchpoints_cover_all_stages_and_channels(demo):
    db = demo.session
    assert set(db.scalars(select(Touchpoint.stage).distinct())) == set(STAGES)
    assert set(db.scalars(select(Touchpoint.channel).distinct())) == set(CHANNELS)
    orders = db.scalar(select(func.count()).select_from(Order))
    assert db.scalar(select(func.count()).select_from(Touchpoint)) > orders


def test_stored_totals_match_the_order_arithmetic(demo):
    db = demo.session
    for o in db.scalars(select(Order).order_by(Order.id).limit(300)):
        stored = (o.revenue, o.cost, o.profit, o.refunded)
        assert all(isinstance(v, Decimal) for v in stored)
        recompute(o)
        assert (o.revenue, o.cost, o.profit, o.refunded) == stored
    db.expire_all()  # recompute only re-derived the stored values; nothing is flushed


def test_demo_users_have_known_passwords(demo):
    users = {u.username: u for u in demo.session.scalars(select(User))}
    assert {"admin", "manager", "agent", "agent2", "analyst"} <= set(users)
    assert users["agent2"].role == "agent"
    assert verify_password(users["analyst"].password_hash, generator.DEMO_PASSWORD)


def test_steps_are_extensible(demo):
    assert demo.seen and demo.seen[0][0] == 400 and demo.seen[0][1] > 0


CJK = re.compile("[\u4e00-\u9fff]")


def test_demo_surveys_read_wholly_in_chinese_and_in_english(demo):
    """Every text of the demo's template surveys (name, section titles, questions, help texts,
    option labels) exists in Chinese as well, so Chinese customers get the Chinese form."""
    from retento.surveys import languages
    from retento.surveys.models import Survey

    surveys = demo.session.scalars(select(Survey)).all()
    assert {s.template for s in surveys} == {"standard", "ecsi"}
    for s in surveys:
        assert languages.complete_languages(s) == ["en", "zh_CN"], s.name
        zh = languages.localised_sections(s, "zh_CN")
        texts = [languages.survey_text(s, "name", "zh_CN")]
        for sec in zh:
            texts.append(sec["title"])
            for q in sec["questions"]:
                texts += [q["text"], *([q["help_text"]] if q["help_text"] else [])]
                texts += [o["label"] for o in q["options"] or []]
        assert len(texts) > 30 and [t for t in texts if not CJK.search(t)] == [], s.name


def test_demo_complaints_are_written_in_the_customer_s_language(demo):
    """A Chinese-speaking customer's complaint (customer_locale: in China, or a stated
    language) has a Chinese subject, description, note and feedback; the others English.
    Root causes stay codes, which the pages name in the reader's language."""
    import retento.complaints.pages.labels  # noqa: F401  (registers the root-cause names)
    from retento.complaints.demo import FEEDBACK, NOTE
    from retento.complaints.models import Complaint, ComplaintEvent
    from retento.mail.compose import customer_locale
    from retento.web.i18n import translations
    from retento.web.labels import LABELS, label_msgid

    db = demo.session
    rows = db.execute(
        select(Complaint, Customer).join(Customer, Customer.id == Complaint.customer_id)
    ).all()
    seen = set()
    for c, customer in rows:
        lang = int(customer_locale(customer, "en") == "zh_CN")
        seen.add(lang)
        for text in (c.subject, c.description):
            assert bool(CJK.search(text)) == bool(lang), (text, customer.country)
            assert lang == 0 or not re.search("[A-Za-z]", text), text
        bodies = set(
            db.scalars(select(ComplaintEvent.body).where(ComplaintEvent.complaint_id == c.id))
        )
        assert bodies & {*NOTE, *FEEDBACK} <= {NOTE[lang], FEEDBACK[lang]}
    assert seen == {0, 1} and len(rows) >= 20
    zh = translations("zh_CN")
    causes = set(db.scalars(select(Complaint.root_cause).distinct()))
    assert causes and causes <= set(LABELS["root_cause"])
    assert all(CJK.search(zh.gettext(label_msgid("root_cause", rc))) for rc in causes)


def _check_languages(rows, texts) -> set[int]:
    """Each (text, customer) row: Chinese text (one of ``texts``' Chinese halves) for a
    Chinese-speaking customer (customer_locale), English otherwise; returns the languages seen."""
    from retento.mail.compose import customer_locale

    seen = set()
    for text, customer in rows:
        lang = int(customer_locale(customer, "en") == "zh_CN")
        seen.add(lang)
        assert text in {t[lang] for t in texts}, (text, customer.country)
        assert bool(CJK.search(text)) == bool(lang) and (lang or text.isascii()), text
    return seen


def test_demo_touchpoint_notes_and_refund_reasons_follow_the_customer_s_language(demo):
    """Touchpoint notes and refund reasons are written in the customer's language, like the
    demo complaints: Chinese for Chinese-speaking customers, English for the others."""
    from retento.orders.models import Refund

    db = demo.session
    notes = db.execute(
        select(Touchpoint.note, Customer)
        .join(Customer, Customer.id == Touchpoint.customer_id)
        .where(Touchpoint.note.is_not(None), Touchpoint.external_id.like("DT%"))
    ).all()  # the generator's own touchpoints (other steps' are system texts)
    all_notes = [t for ts in generator.NOTES.values() for t in ts]
    assert len(notes) >= 20 and _check_languages(notes, all_notes) == {0, 1}
    from retento.loyalty.demo import DEMO_RETURN

    texts = [*generator.REFUND_REASONS, DEMO_RETURN]  # the loyalty step's returns too
    reasons = db.execute(
        select(Refund.reason, Customer)
        .join(Order, Order.id == Refund.order_id)
        .join(Customer, Customer.id == Order.customer_id)
    ).all()
    assert len(reasons) >= 10 and _check_languages(reasons, texts) == {0, 1}
    assert {r for r, _c in reasons} & set(DEMO_RETURN), "the loyalty step should refund too"


def test_demo_experience_notes_follow_the_customer_s_language(demo):
    from retento.journey.demo import NOTES
    from retento.journey.models import ExperienceRecord

    rows = demo.session.execute(
        select(ExperienceRecord.note, Customer)
        .join(Customer, Customer.id == ExperienceRecord.customer_id)
        .where(ExperienceRecord.note.is_not(None))
    ).all()
    all_notes = [t for ts in NOTES.values() for t in ts]
    assert len(rows) >= 10 and _check_languages(rows, all_notes) == {0, 1}


def test_demo_distribution_names_are_in_the_installation_s_language(demo, monkeypatch):
    """Staff read distribution names: the installation's language (English in the tests)."""
    from retento.core.config import get_settings
    from retento.surveys import demo as surveys_demo
    from retento.surveys.models import SurveyDistribution

    names = set(demo.session.scalars(select(SurveyDistribution.name)))
    assert names == {surveys_demo.PAST_DISTRIBUTION[0], surveys_demo.EMAIL_DISTRIBUTION[0]}
    monkeypatch.setattr(get_settings(), "default_locale", "zh_CN")
    assert surveys_demo._staff_text(surveys_demo.PAST_DISTRIBUTION) == "演示问卷发放"
    assert CJK.search(surveys_demo._staff_text(surveys_demo.EMAIL_DISTRIBUTION))


def test_cli_if_empty_and_reset(cli_url):
    from retento.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["demo", "--customers", "50", "--seed", "2"])
    out = " ".join(r.output.split())
    assert r.exit_code == 0, out
    assert "Generated 50 customers" in out and "http://127.0.0.1:8000" in out
    assert "agent2 / retento-demo" in out
    assert "queued work item(s) run" in out
    _queued_work_was_run(cli_url)
    r = runner.invoke(app, ["demo", "--customers", "50", "--if-empty"])
    assert r.exit_code == 0 and "no demo data generated" in " ".join(r.output.split())
    r = runner.invoke(app, ["demo", "--customers", "50"])
    assert r.exit_code == 1 and "--reset" in " ".join(r.output.split())
    # The reset deletes everything the whole demo made; the new demo is made of the demo's own
    # steps only (a whole demo after a reset: test_same_seed_same_data_and_reset).
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(generator, "domain_steps", lambda: [])
        r = runner.invoke(app, ["demo", "--customers", "60", "--reset"])
    assert r.exit_code == 0 and "Generated 60 customers" in " ".join(r.output.split())
    assert _customers(cli_url) == 60  # replaced, not added to
    from retento.core.config import get_settings

    key_file = Path(get_settings().data_dir) / "secret_key"
    assert key_file.stat().st_mode & 0o077 == 0  # readable by its owner only
    assert get_settings().secret_key == key_file.read_text().strip()
    assert len(get_settings().secret_key) >= 32


def _customers(url: str) -> int:
    from retento.core.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(Customer))
    finally:
        engine.dispose()


def _queued_work_was_run(url: str) -> None:
    """`retento demo` runs the work its data queued (today's win-back actions): nothing is left
    waiting and every treated task-like case has its owner's task when the demo opens."""
    from sqlalchemy import func, select

    from retento.core.db import make_engine, make_session_factory
    from retento.retention.models import RetentionCase, RetentionTask
    from retento.work.models import WorkItem

    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as s:
            assert s.scalar(select(func.count()).where(WorkItem.status != "done")) == 0
            waiting = select(func.count()).where(RetentionCase.action_status != "done")
            assert s.scalar(waiting) == 0
            acting = s.scalar(
                select(func.count()).where(
                    RetentionCase.arm == "treated",
                    RetentionCase.action.in_(("task", "call", "offer")),
                )
            )
            assert s.scalar(select(func.count()).select_from(RetentionTask)) == acting
    finally:
        engine.dispose()


def test_a_share_of_people_give_their_date_of_birth_organisations_none(demo):
    """About seven in ten people have a date of birth (in the year of their ``birth_year``, so
    the birthday job has members to award); no organisation has one."""
    db = demo.session
    rows = db.execute(
        select(Customer.party_type, Customer.birth_date, Customer.custom_fields)
    ).all()
    people = [(b, cf) for p, b, cf in rows if p == "person"]
    dated = [(b, cf) for b, cf in people if b is not None]
    assert 0.55 < len(dated) / len(people) < 0.85
    assert all(b.year == cf["birth_year"] and b <= TODAY for b, cf in dated)
    assert len({(b.month, b.day) for b, _ in dated}) > 100  # spread over the year
    assert all(b is None for p, b, _ in rows if p == "organisation")


def test_the_demo_defines_its_acquisition_source_as_a_choice_field(demo):
    """Every customer's ``source`` is one of the defined choice's options, so the demo shows a
    typed custom field in forms, on the 360 page and as a list filter."""
    from retento.customers.field_models import CustomFieldDefinition
    from retento.customers.field_values import filter_clause
    from retento.customers.service import custom_field_values

    db = demo.session
    d = db.scalar(select(CustomFieldDefinition).where(CustomFieldDefinition.key == "source"))
    assert d is not None and d.field_type == "choice" and d.label_zh == "获客来源"
    assert d.option_label("referral", "zh_CN") == "推荐"
    sources = [cf["source"] for cf in db.scalars(select(Customer.custom_fields))]
    assert set(sources) == {o["value"] for o in d.options}
    for value in set(sources):
        assert custom_field_values(db, {"source": value}, None)[1] == []
    dialect = db.get_bind().dialect.name
    picked = select(func.count()).where(filter_clause("source", "choice", "referral", dialect))
    assert db.scalar(picked.select_from(Customer)) == sources.count("referral") > 0
