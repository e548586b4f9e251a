"""A distribution's open invitation links as a list for a mail merge: the same rows and CSV for
the distribution page (``links.csv``) and ``retento surveys distribute --links``."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.customers.models import Customer
from retento.dataio.cells import neutralise_row
from retento.surveys import distributions, service
from retento.surveys.languages import pick_language

HEADER = ["customer_id", "external_id", "name", "email", "phone", "channel", "url"]


def link_rows(
    session: Session, survey_id: int, distribution_id: int, base: str, *, actor: User
) -> list[dict[str, Any]]:
    """The open invitations with their customer and full link (``base`` + path), which opens in
    the customer's language like the e-mailed links (``customer_locale``), if the survey has that
    language complete (``surveys.languages``)."""
    from retento.mail.compose import customer_locale

    links = distributions.invitation_links(session, distribution_id, actor=actor)
    ids = [link.customer_id for link in links]
    customers = (
        {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids)))}
        if ids
        else {}
    )
    survey = service.get_survey(session, survey_id, actor=actor)
    base = base.rstrip("/")
    rows = []
    for link in links:
        c = customers.get(link.customer_id)
        wanted = customer_locale(c, survey.language) if c is not None else None
        lang = f"?lang={pick_language(survey, wanted)}" if c is not None else ""
        rows.append({"link": link, "customer": c, "url": base + link.path + lang})
    return rows


def links_csv(rows: list[dict[str, Any]]) -> str:
    """The rows as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read Chinese)."""
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(HEADER)
    for r in rows:
        c = r["customer"]
        out.writerow(
            neutralise_row(  # names and e-mails are customer data: never a live formula
                [
                    r["link"].customer_id,
                    c.external_id if c else "",
                    c.name if c else "",
                    (c.email or "") if c else "",
                    (c.phone or "") if c else "",
                    r["link"].channel,
                    r["url"],
                ]
            )
        )
    return "\ufeff" + buf.getvalue()
