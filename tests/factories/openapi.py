"""The OpenAPI document, built once per test process.

FastAPI builds an app's document on the first ``GET /openapi.json`` and keeps it on the app
(``app.openapi_schema``); the tests' ``app`` fixture is a new app per test, so each test asking
for the document built it again (~2 s of CPU). The document depends on the routes only, the
same for every app of these settings: ``share_openapi(app)`` hands the test's app the one built
here, and ``GET /openapi.json`` then serves it as the app would have built it.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any


@cache
def _document() -> dict[str, Any]:
    from retento.app import create_app
    from retento.core.config import Settings

    app = create_app(Settings(database_url="sqlite://", run_scheduler=False, secret_key="test"))
    return app.openapi()


def share_openapi(app) -> None:
    """Give ``app`` (built as the ``app`` fixture builds it) the process's OpenAPI document."""
    app.openapi_schema = copy.deepcopy(_document())
