"""One way to list things: filter in the service, then sort and paginate here."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from retento.core.errors import InvalidInput, Msg

T = TypeVar("T")

MAX_LIMIT = 500
MAX_OFFSET = 2**31 - 1


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class PageParams(BaseModel):
    limit: int = 50
    offset: int = 0
    sort: str | None = None


def apply_sort(stmt: Select, sort: str | None, allowed: dict[str, Any], default: Any) -> Select:
    """``sort`` is ``field`` or ``-field``, comma separated; only whitelisted fields are allowed."""
    if not sort:
        return stmt.order_by(default)
    orders = []
    for part in sort.split(","):
        part = part.strip()
        desc = part.startswith("-")
        name = part.lstrip("-+")
        if name not in allowed:
            raise InvalidInput(
                Msg(
                    "Cannot sort by '%(field)s'. Allowed: %(choices)s.",
                    field=name,
                    choices=", ".join(sorted(allowed)),
                ),
                field="sort",
            )
        col = allowed[name]
        orders.append(col.desc() if desc else col.asc())
    orders.append(default)
    return stmt.order_by(*orders)


def paginate(session: Session, stmt: Select, *, limit: int, offset: int, count: bool = True):
    """Run ``stmt`` for one page; returns ``(rows, total)``."""
    if limit < 1 or limit > MAX_LIMIT:
        raise InvalidInput(
            Msg("limit must be between 1 and %(max)s.", max=MAX_LIMIT), field="limit"
        )
    if offset < 0 or offset > MAX_OFFSET:
        raise InvalidInput(
            Msg("offset must be between 0 and %(max)s.", max=MAX_OFFSET), field="offset"
        )
    total = -1
    if count:
        total = (
            session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
        )
    rows = session.scalars(stmt.limit(limit).offset(offset)).all()
    return rows, total
