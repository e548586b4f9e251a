"""Survey web pages, one module per screen; ``router`` gathers them for the app.

- ``common``: labels of codes, form helpers, answer-form parsing (shared by the screens)
- ``listing``: the survey list and the "new survey" form
- ``editor``: settings, sections and questions (the question form's values and labels in
  ``question_form``)
- ``translate``: the second language, side by side with the survey's own
- ``public``: the answer form behind a one-time link (no login)
- ``entry``: the agent's phone form and the paper / on-site grid
- ``imports``: answers from a CSV or XLSX file
- ``distribution``: sending, invitations, links and their e-mails
- ``panel``: the surveys panel on the customer 360 page
- results: ``surveys.results_pages`` (and its charts in ``surveys.results_charts``)
"""

from __future__ import annotations

from retento.surveys.pages import (
    distribution,
    editor,
    entry,
    imports,
    listing,
    panel,  # noqa: F401 (registers the customer 360 panel)
    public,
    translate,
)
from retento.surveys.pages.common import answer_errors, parse_answers
from retento.surveys.results_charts import driver_matrix_option
from retento.surveys.results_pages import router as results_router
from retento.web.render import page_router

router = page_router()
for _module in (listing, editor, translate, public, entry, imports, distribution):
    router.include_router(_module.router)
router.include_router(results_router)

__all__ = ["answer_errors", "driver_matrix_option", "parse_answers", "router"]
