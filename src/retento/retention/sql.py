"""Insert-or-ignore on SQLite and PostgreSQL (``INSERT ... ON CONFLICT DO NOTHING``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignore(
    session: Session, model: type, rows: list[dict[str, Any]], conflict: list[str], returning
) -> list[Any]:
    """INSERT ... ON CONFLICT DO NOTHING; returns ``returning`` of the rows actually inserted.

    On PostgreSQL a conflicting insert of a concurrent, uncommitted transaction makes this one
    wait and then skip the row, so concurrent evaluations never raise the same alert twice.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    out: list[Any] = []
    for i in range(0, len(rows), 500):
        stmt = (
            ins(model)
            .values(rows[i : i + 500])
            .on_conflict_do_nothing(index_elements=conflict)
            .returning(*returning)
        )
        out.extend(session.execute(stmt).all())
    return out
