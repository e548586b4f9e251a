"""Optimistic concurrency: record versions, ETags and ``If-Match`` (docs/api.md "Versions").

Every editable business record has an integer ``version`` column, 1 on insert, bumped by every
UPDATE of its row. Two guards use it:

- SQLAlchemy's ``version_id_col`` makes each UPDATE say ``... WHERE id = :id AND version = :v``;
  a row changed by another transaction since it was read updates nothing, and the flush raises
  ``StaleDataError`` (mapped to 409 ``version_conflict`` in ``core.handlers``).
- ``check_version`` compares the version the client last saw (``If-Match`` header, ``version``
  field of the body, hidden ``version`` input of a web form) with the stored one, so a stale
  form is refused even when the two edits do not overlap in time.

Clients that send neither keep working (last write wins), for backwards compatibility.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Header, Response
from pydantic import Field
from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from retento.core.errors import Conflict, InvalidInput, Msg, NotFound
from retento.core.locking import lock_row


def version_column() -> Mapped[int]:
    """The ``version`` column; pair it with ``__mapper_args__ = {"version_id_col": version}``."""
    return mapped_column(Integer, nullable=False, server_default="1")


class VersionConflict(Conflict):
    """The client edited version ``expected`` of a record that is now at ``current``.

    ``entity`` (a class or table name) is the problem's ``entity`` member, a code for programs;
    ``label`` (a message id, ``entity_label``) names the record in the message."""

    def __init__(
        self,
        entity: str,
        key: Any,
        expected: int | None = None,
        current: int | None = None,
        *,
        label: str | None = None,
    ):
        name = Msg(label or entity)
        if key is None:
            message = Msg(
                "A record (%(entity)s) was changed by someone else while you were saving. "
                "Reload it and apply your changes again.",
                entity=name,
            )
        elif expected is not None and current is not None:
            message = Msg(
                "%(entity)s %(key)s was changed by someone else: you edited version "
                "%(expected)s, it is now at version %(current)s. Reload it and apply your "
                "changes again.",
                entity=name,
                key=key,
                expected=expected,
                current=current,
            )
        else:
            message = Msg(
                "%(entity)s %(key)s was changed by someone else while you were saving. "
                "Reload it and apply your changes again.",
                entity=name,
                key=key,
            )
        super().__init__(message, field="version")
        self.code = "version_conflict"
        self.entity = entity
        self.key = key
        self.expected = expected
        self.current = current

    def problem(self) -> dict[str, Any]:
        body = super().problem()
        body["entity"] = self.entity
        if self.key is not None:
            body["id"] = self.key
        if self.expected is not None:
            body["expected_version"] = self.expected
        if self.current is not None:
            body["current_version"] = self.current
        return body


def stale_to_error(exc: StaleDataError) -> VersionConflict:
    """The 409 for a versioned UPDATE or DELETE that matched no row (see the module docstring)."""
    found = re.search(r"on table '([^']+)'", str(exc))
    if found is None:
        return VersionConflict("record", None)
    return VersionConflict(found.group(1), None, label=table_label(found.group(1)))


def entity_name(obj: Any) -> str:
    """``Customer``, ``Order``, ... : the problem's ``entity`` code (the class name)."""
    return type(obj).__name__


# The audit log's record type (``web.labels`` group "entity") of a versioned table whose name
# is not that type's plural (``complaints`` → ``complaint``, ``sla_policies`` → ``sla_policy``).
ENTITY_OF_TABLE = {
    "experience_records": "experience",
    "custom_field_definitions": "custom_field",
}


def table_label(table: str) -> str:
    """The message id naming a record of ``table`` in messages ("Retention alert" for
    ``retention_alerts``): the audit log's label of its record type, registered by its domain
    (``web.labels.register_labels("entity", …)``); words made of the table name otherwise."""
    from retento.web.labels import LABELS

    labels = LABELS.get("entity", {})
    singular = table[:-3] + "y" if table.endswith("ies") else table.removesuffix("s")
    for code in (ENTITY_OF_TABLE.get(table), table, singular):
        if code and code in labels:
            return labels[code]
    return singular.replace("_", " ").capitalize()


def entity_label(obj: Any) -> str:
    """The message id naming ``obj``'s kind of record: "Customer", "Retention alert", ..."""
    table = getattr(type(obj), "__tablename__", None)
    return table_label(table) if table else entity_name(obj)


def check_version(obj: Any, *expected: int | None) -> None:
    """Raise ``VersionConflict`` unless every version the client sent equals ``obj.version``.

    ``None`` means "not sent" and always passes. Call it after locking or loading the row and
    before changing anything.
    """
    for want in expected:
        if want is not None and want != obj.version:
            raise VersionConflict(
                entity_name(obj), obj.id, want, obj.version, label=entity_label(obj)
            )


def lock_for_edit(session: Session, obj: Any, *expected: int | None) -> None:
    """Lock ``obj``'s row, reload it, then ``check_version``: the start of every update service.

    The lock makes parallel edits of one record run one after the other, each on the state the
    previous one committed, so clients that send no version get "last write wins" instead of a
    spurious 409 from the versioned UPDATE, and replaced lists (contacts, tags) never mix.
    """
    if lock_row(session, type(obj), obj.id) is None:
        raise NotFound(entity_label(obj), obj.id)
    check_version(obj, *expected)


def etag(obj: Any) -> str:
    """The record's entity tag: its version as a strong ETag, ``"3"``."""
    return f'"{obj.version}"'


def set_etag(response: Response, obj: Any) -> None:
    """Send ``obj``'s ETag with a single-record response (GET, PATCH, PUT)."""
    response.headers["ETag"] = etag(obj)


def parse_if_match(header: str | None) -> int | None:
    """The version named by an ``If-Match`` header; ``None`` if absent or ``*``.

    Accepts ``"3"``, ``W/"3"`` (weak tags are compared by value, leniently) and a bare ``3``.
    One tag only: a record has one current version, so a list could only be a mistake.
    """
    if header is None:
        return None
    text = header.strip()
    if text in ("", "*"):
        return None
    if "," in text:
        raise InvalidInput("If-Match must name exactly one ETag.", field="If-Match")
    if text.startswith("W/"):
        text = text[2:]
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    if not text.isdigit() or len(text) > 12:
        raise InvalidInput(
            Msg(
                'If-Match must be an ETag sent by this API, like "3"; got %(header)s.',
                header=repr(header[:40]),
            ),
            field="If-Match",
        )
    return int(text)


IF_MATCH_DOC = (
    "The ETag of the version you edited (from GET). If the record changed since, the request "
    "fails with 409 version_conflict and nothing is written. Optional: without it (and without "
    "a `version` field) the last write wins."
)

IfMatch = Annotated[str | None, Header(alias="If-Match", description=IF_MATCH_DOC)]

VERSION_FIELD_DOC = (
    "The version you edited (as read from GET). A different current version fails with 409 "
    "version_conflict and nothing is written. Optional; If-Match does the same."
)

# The ``version`` field of every ``XUpdate`` schema: what the client last saw, or nothing.
ExpectedVersion = Annotated[
    int | None, Field(ge=1, le=2_147_483_647, description=VERSION_FIELD_DOC)
]
