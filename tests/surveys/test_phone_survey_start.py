"""The 360 page's "Start phone survey" form opens the survey chosen in its list, also when the
page's script has not moved the form to that survey's address (no JavaScript, or a click before
the scripts loaded: the browser story once started the first survey instead). SQLite and
PostgreSQL."""

from __future__ import annotations

import re

from tests.factories import make_customer
from tests.web.conftest import Browser


def test_the_chosen_survey_opens_without_the_script(
    client, db, users, small_survey, standard_survey
):
    web = Browser(client)
    customer = make_customer(db, owner_id=users["agent"].id)
    db.commit()
    web.login("agent")
    page = web.get(f"/customers/{customer.id}")
    assert 'id="phone-survey-form"' in page.text
    first = int(re.search(r'id="phone-survey-form" action="/surveys/(\d+)/respond"', page.text)[1])
    (other,) = {small_survey.id, standard_survey.id} - {first}
    # What the form sends without its script: the first survey's address, the chosen one named.
    r = web.get(
        f"/surveys/{first}/respond?customer_id={customer.id}&channel=phone&survey={other}",
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == (
        f"/surveys/{other}/respond?customer_id={customer.id}&channel=phone"
    )
    form = web.get(r.headers["location"])
    assert form.status_code == 200 and 'id="respond-form"' in form.text
    # The first survey chosen, or no choice sent: its form at once.
    for query in (f"&survey={first}", ""):
        r = web.get(f"/surveys/{first}/respond?customer_id={customer.id}&channel=phone{query}")
        assert r.status_code == 200 and 'id="respond-form"' in r.text
