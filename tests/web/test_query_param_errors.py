"""A query parameter a page declares (``offset: int``, ``unread: int``) that is not a number
answers 422 naming it, in the reader's language, not 500.

FastAPI's validation error becomes ``Msg("%(field)s: %(message)s", field=..., message=...)``;
the error page translated it with ``tr(request, template, **params)``, whose own parameter was
called ``message`` too: "tr() got multiple values for argument 'message'", a 500 on every page
with a declared query parameter (found by ``test_form_fuzz_pg.py``). ``tr`` and ``translate``
take their fixed arguments positionally only now.
"""

from __future__ import annotations

import pytest

from retento.web.i18n import system_text, translate

PAGES = (
    "/admin/users?offset=abc",
    "/admin/audit?offset=abc",
    "/admin/work?offset=abc",
    "/notifications?offset=abc",
    "/notifications?unread=abc",
    "/loyalty/members?offset=1e309",
)


def test_a_message_parameter_may_be_called_message_or_locale():
    assert translate("en", "%(locale)s: %(message)s", locale="a", message="b") == "a: b"
    assert system_text("%(message)s", message="x") == "x"


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_a_declared_query_parameter_that_is_no_number_is_a_422_naming_it(web, db, users, locale):
    users["admin"].locale = locale
    db.commit()
    assert web.login("admin").status_code == 303
    for url in PAGES:
        r = web.get(url)
        assert r.status_code == 422, (url, r.status_code)
        name = url.split("?")[1].split("=")[0]
        assert f"<code>{name}</code>" in r.text, url  # the field is named
