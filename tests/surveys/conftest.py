from __future__ import annotations

import pytest

from retento.surveys import service
from retento.surveys.schemas import SurveyCreate, SurveyFromTemplate, SurveyUpdate


def small_survey_data(**over) -> SurveyCreate:
    """A compact survey with one question of every type."""
    data = {
        "name": "Small survey",
        "sections": [
            {
                "code": "main",
                "title": "Main",
                "questions": [
                    {
                        "code": "sat",
                        "text": "Satisfied?",
                        "qtype": "rating",
                        "required": True,
                        "satisfaction_dimension": "overall",
                        "csi_latent": "Satisfaction",
                    },
                    {"code": "rec", "text": "Recommend?", "qtype": "nps"},
                    {"code": "easy", "text": "Easy?", "qtype": "ces"},
                    {
                        "code": "speed",
                        "text": "Speed",
                        "qtype": "expectation_perception",
                        "satisfaction_dimension": "service.response_time",
                        "value_dimension": "service",
                    },
                    {
                        "code": "price",
                        "text": "Price",
                        "qtype": "expectation_perception",
                        "satisfaction_dimension": "product.price",
                    },
                    {
                        "code": "cost",
                        "text": "Time cost",
                        "qtype": "rating",
                        "value_dimension": "time",
                    },
                    {
                        "code": "where",
                        "text": "Where?",
                        "qtype": "single_choice",
                        "options": [
                            {"value": "store", "label": "Store"},
                            {"value": "web", "label": "Web"},
                        ],
                    },
                    {
                        "code": "what",
                        "text": "What?",
                        "qtype": "multiple_choice",
                        "options": [
                            {"value": "a", "label": "A"},
                            {"value": "b", "label": "B"},
                            {"value": "c", "label": "C"},
                        ],
                    },
                    {"code": "note", "text": "Anything else?", "qtype": "free_text"},
                ],
            }
        ],
    }
    data.update(over)
    return SurveyCreate(**data)


@pytest.fixture
def small_survey(db, users):
    s = service.create_survey(db, small_survey_data(), actor=users["manager"])
    service.update_survey(db, s.id, SurveyUpdate(status="active"), actor=users["manager"])
    db.flush()
    return s


@pytest.fixture
def standard_survey(db, users):
    s = service.create_from_template(
        db, SurveyFromTemplate(template="standard"), actor=users["manager"]
    )
    service.update_survey(db, s.id, SurveyUpdate(status="active"), actor=users["manager"])
    db.flush()
    return s
