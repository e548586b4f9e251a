"""The stale-edit page (409) of the loyalty configuration forms (tiers, earning rules, rewards):
three-way when the form carried the values it was loaded with (``web.conflict``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from retento.core.errors import NotFound
from retento.web.conflict import as_posted, conflict_page, form_version, read_base


def stale_page(
    request: Request,
    session: Session,
    form: Any,
    *,
    model: Any,
    entity: str,
    obj_id: int,
    data: BaseModel,
    labels: dict[str, str],
    action: str,
    cancel_url: str,
    read: Callable[[Any], BaseModel],
    values: Callable[[Any], dict[str, Any]],
) -> Response:
    """The conflict page for a form loaded before someone else saved the record. ``read``
    turns the form's inputs into the schema the save used (``data``); ``values`` gives a record's
    form values (its edit form's initial values)."""
    session.expire_all()
    current = session.get(model, obj_id)
    if current is None:
        raise NotFound(entity, obj_id)
    keys = {k for k in labels if k in type(data).model_fields}
    return conflict_page(
        request,
        session,
        entity=entity,
        record=current,
        title=current.name,
        submitted=data.model_dump(include=keys),
        current={k: getattr(current, k) for k in keys},
        labels=labels,
        form=form,
        action=action,
        reload_url=action,
        cancel_url=cancel_url,
        expected=form_version(form),
        base=read_base(form, lambda v: read(v).model_dump(include=keys)),
        current_form=as_posted(values(current)),
    )
