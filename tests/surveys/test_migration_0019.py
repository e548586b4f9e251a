"""Migration 0019: surveys get a thank-you text and second-language texts; existing surveys keep
their one language; down and up again (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from retento.core.migrate import downgrade, upgrade


def _columns(eng, table: str) -> set[str]:
    return {c["name"] for c in inspect(eng).get_columns(table)}


def test_migration_0019_adds_survey_languages_and_goes_back(scratch_db_url):
    url = scratch_db_url
    upgrade(url, "0018")
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO surveys (name, language, status, expectation_tolerance, "
                "token_days, reminder_after_days, max_reminders, created_at, updated_at, "
                "version) VALUES ('Old zh', 'zh_CN', 'active', 0.05, 30, 3, 2, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
            )
        )
    eng.dispose()
    upgrade(url, "0019")
    eng = create_engine(url)
    assert {"thank_you", "translations"} <= _columns(eng, "surveys")
    assert "translations" in _columns(eng, "survey_sections")
    assert "translations" in _columns(eng, "survey_questions")
    with eng.connect() as conn:
        row = conn.execute(text("SELECT language, translations FROM surveys")).one()
    assert row == ("zh_CN", None)  # its one language, recorded as its language
    eng.dispose()
    downgrade(url, "0018")
    eng = create_engine(url)
    assert "translations" not in _columns(eng, "surveys")
    assert "translations" not in _columns(eng, "survey_questions")
    eng.dispose()
    upgrade(url, "0019")
