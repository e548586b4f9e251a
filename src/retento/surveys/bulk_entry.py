"""Bulk entry of paper / on-site questionnaires, recorded once per key: what a resent entry grid
or a retried ``POST /api/v1/surveys/{id}/responses/bulk`` does.

The entry grid sends a key drawn with the page, the API the ``Idempotency-Key`` header. Each
row's new response is recorded with ``"<key>:<row>"`` (:func:`row_key`; a unique index,
migration 0056). A request whose key finds responses recorded (:func:`recorded_report`) records
nothing and answers with the first request's report, when they are the same survey, the same
customers and the same answers row by row; the same key with other details (a corrected score
too: applying it silently as "already saved" would lose it) is a 409 naming ``Idempotency-Key``
(core.idempotency's ``KEY_REUSED``). Two requests at once meet at the unique index: the later
one rolls back its savepoint (every row it wrote: all or nothing) and answers as a resend
(:func:`bulk_responses_once`).

Rows that update a response named by its ``external_id`` (API rows; the grid has none) record
no key: the response keeps the key of the request that created it. A resend counts them updated
and applies nothing again; a request of such rows only records no key at all, and sent again it
writes the same answers over themselves (no response is added: that is what external ids do).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.errors import Conflict
from retento.core.idempotency import KEY_REUSED
from retento.core.validation import clean_idempotency_key
from retento.customers.models import Customer
from retento.surveys.ingest import EXPORT_ID_PREFIX, IngestRow, ingest
from retento.surveys.models import Survey, SurveyResponse
from retento.surveys.responses import validate_answers
from retento.surveys.schemas import BulkResponses
from retento.surveys.service import _survey

KEY_LENGTH = 120  # survey_responses.idempotency_key
_CHUNK = 500  # keys per IN (...) list


def row_key(key: str, row: int) -> str:
    """The key a bulk row's response is recorded with: ``"<key>:<row>"``, or the key's SHA-256
    in its place when that would not fit the column (a header key may be 120 characters)."""
    out = f"{key}:{row}"
    if len(out) <= KEY_LENGTH:
        return out
    return f"sha256:{hashlib.sha256(key.encode('utf-8')).hexdigest()}:{row}"


def _same_customer(session: Session, response: SurveyResponse, row: IngestRow) -> bool:
    if row.customer_external_id:
        c = session.get(Customer, response.customer_id) if response.customer_id else None
        return (
            c is not None
            and c.external_id == row.customer_external_id
            and row.customer_id in (None, c.id)
        )
    return response.customer_id == row.customer_id


def _same_answers(survey: Survey, response: SurveyResponse, row: IngestRow) -> bool:
    """Whether ``row`` sends the answers ``response`` holds (a resend, not a correction)."""
    checked, errors = validate_answers(survey, row.answers, row=row.row)
    if errors:
        return False
    sent = {qid: value for qid, value in checked.items() if value is not None}
    held = {a.question_id: a for a in response.answers}
    return sent.keys() == held.keys() and all(
        all(getattr(held[qid], k) == v for k, v in value.items()) for qid, value in sent.items()
    )


def _updated_rows(session: Session, survey: Survey, rows: Sequence[IngestRow]) -> set[int]:
    """The rows naming a response of ``survey`` by its external id (or an export's id)."""
    ext = {r.external_id for r in rows if r.external_id}
    if not ext:
        return set()
    found = set(
        session.scalars(
            select(SurveyResponse.external_id).where(
                SurveyResponse.survey_id == survey.id, SurveyResponse.external_id.in_(ext)
            )
        )
    )
    exported = {
        int(e[len(EXPORT_ID_PREFIX) :])
        for e in ext
        if e.startswith(EXPORT_ID_PREFIX) and e[len(EXPORT_ID_PREFIX) :].isdigit()
    }
    if exported:
        ids = session.scalars(
            select(SurveyResponse.id).where(
                SurveyResponse.survey_id == survey.id, SurveyResponse.id.in_(exported)
            )
        )
        found |= {f"{EXPORT_ID_PREFIX}{i}" for i in ids}
    return {r.row for r in rows if r.external_id in found}


def recorded_report(
    session: Session,
    survey: Survey,
    rows: Sequence[IngestRow],
    key: str,
    *,
    skip_invalid: bool,
    explain: Callable[[list[Any]], list[dict[str, Any]]],
) -> dict[str, Any] | None:
    """The report of the request that recorded rows with ``key`` (None if there was none).

    409 (``Idempotency-Key``) when the recorded responses are not these rows: another survey,
    another customer or other answers in a row, a row the first request had and this one has not, or a row of
    this one the first would have created but did not. Rows the first request left out with
    ``skip_invalid`` are counted skipped and explained again (``explain(rows)``, its errors)."""
    wanted: dict[str, IngestRow | None] = {row_key(key, r.row): r for r in rows}
    # One row past these: the first request had more rows (a row deleted after Back).
    wanted[row_key(key, len(rows) + 1)] = None
    names = list(wanted)
    found: list[SurveyResponse] = []
    for i in range(0, len(names), _CHUNK):
        found.extend(
            session.scalars(
                select(SurveyResponse).where(
                    SurveyResponse.idempotency_key.in_(names[i : i + _CHUNK])
                )
            )
        )
    if not found:
        return None
    done: set[int] = set()
    for response in found:
        row = wanted[response.idempotency_key or ""]
        if (
            row is None
            or response.survey_id != survey.id
            or not _same_customer(session, response, row)
            or not _same_answers(survey, response, row)
        ):
            raise Conflict(KEY_REUSED, field="Idempotency-Key")
        done.add(row.row)
    missing = [r for r in rows if r.row not in done]
    updated = _updated_rows(session, survey, missing)
    skipped = [r for r in missing if r.row not in updated]
    if skipped and not skip_invalid:
        # All or nothing: the first request recorded every row it had; this one has others.
        raise Conflict(KEY_REUSED, field="Idempotency-Key")
    return {
        "created": len(done),
        "updated": len(updated),
        "skipped": len(skipped),
        "errors": explain(skipped) if skipped else [],
    }


def bulk_responses_once(
    session: Session,
    survey_id: int,
    data: BulkResponses,
    *,
    actor: User,
    idempotency_key: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Paper or on-site questionnaires typed in on one screen, all rows or none: the report and
    True, or — a repeated request with ``idempotency_key`` (the entry grid's key, the API's
    ``Idempotency-Key``: a double click, a resend after Back, a retry, or the later of two at
    once) — the first one's report and False, with nothing recorded again."""
    require(actor, "survey:respond")
    survey = _survey(session, survey_id)
    rows = [
        IngestRow(
            row=i + 1,
            customer_id=r.customer_id,
            customer_external_id=r.customer_external_id,
            external_id=r.external_id,
            completed_at=r.completed_at,
            answers=r.answers,
        )
        for i, r in enumerate(data.responses)
    ]
    options: dict[str, Any] = {"actor": actor, "channel": data.channel, "source": "bulk"}

    def explain(left: list[IngestRow]) -> list[dict[str, Any]]:
        """The problems of the rows a first request with skip_invalid left out."""
        report = ingest(session, survey, left, skip_invalid=True, validate_only=True, **options)
        return report["errors"]

    key = clean_idempotency_key(idempotency_key)
    if not key:
        return ingest(session, survey, rows, skip_invalid=data.skip_invalid, **options), True

    def resend() -> dict[str, Any] | None:
        return recorded_report(
            session, survey, rows, key, skip_invalid=data.skip_invalid, explain=explain
        )

    if (done := resend()) is not None:
        return done, False
    try:
        with session.begin_nested():
            report = ingest(
                session,
                survey,
                rows,
                skip_invalid=data.skip_invalid,
                keys=lambda row: row_key(key, row),
                **options,
            )
    except IntegrityError:
        # Another request with this key committed its rows first: they are the answer.
        if (done := resend()) is not None:
            return done, False
        raise
    return report, True


def bulk_responses(
    session: Session,
    survey_id: int,
    data: BulkResponses,
    *,
    actor: User,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Paper or on-site questionnaires typed in on one screen: all rows or none; once per
    ``idempotency_key`` (:func:`bulk_responses_once`, without saying whether it was fresh)."""
    return bulk_responses_once(
        session, survey_id, data, actor=actor, idempotency_key=idempotency_key
    )[0]
