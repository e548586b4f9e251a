"""Import (multipart upload) and streaming CSV export API."""

from __future__ import annotations

import itertools
import json
from datetime import UTC
from typing import Any

from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, StreamingResponse

from retento.auth.permissions import require
from retento.core.deps import CurrentUser, DbSession
from retento.core.errors import InvalidInput, Msg
from retento.core.limits import check_json_depth
from retento.core.validation import DbId, TimeFilter
from retento.dataio import service
from retento.dataio.mapping import Mapping, mapping_from_dict
from retento.dataio.schemas import EXPORT_ENTITIES, ImportReport

router = APIRouter(prefix="/api/v1", tags=["import-export"])


@router.post("/imports/{entity}", response_model=ImportReport)
def import_entity(
    entity: str,
    request: Request,
    session: DbSession,
    user: CurrentUser,
    file: UploadFile = File(..., description="CSV or XLSX file."),
    mapping: str | None = Form(
        None,
        description='JSON: {"columns": {"source": "field"}, "timezone": "Asia/Shanghai"}; '
        "times without a zone are read in the installation's time zone (RETENTO_TIMEZONE) "
        "unless it names another.",
    ),
    skip_invalid: bool = Form(False),
):
    """Import a file; all-or-nothing (422 listing the bad rows) unless ``skip_invalid``. Row
    errors are in English, like every API error (the web wizard translates them)."""
    tz = request.app.state.settings.timezone
    m = Mapping(timezone=tz)
    if mapping:
        check_json_depth(mapping, "mapping")
        try:
            m = mapping_from_dict(json.loads(mapping), timezone=tz)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                Msg("mapping is not valid JSON: %(error)s", error=exc), field="mapping"
            ) from exc
    report = service.import_file(
        session,
        entity,
        file.file,
        actor=user,
        name=file.filename or "upload",
        mapping=m,
        skip_invalid=skip_invalid,
    )
    background = None
    if report.work_item_ids and request.app.state.settings.run_work_in_web:
        from retento.work.queue import run_in_web

        background = BackgroundTasks()
        for item_id in report.work_item_ids:
            background.add_task(run_in_web, request.app.state.session_factory, item_id)
    # The import and its work items are committed before the response goes out.
    return JSONResponse(jsonable_encoder(report), background=background)


FILTER_KEYS = {
    "customers": ("q", "kind", "scope", "tag", "owner_id", "party_type"),
    "products": ("q", "category", "active"),
    "orders": ("customer_id", "status", "channel", "since", "until", "external_id"),
    "order_lines": ("customer_id", "status", "channel", "since", "until", "external_id"),
    "touchpoints": (
        "customer_id", "channel", "stage", "direction", "outcome", "owner_id", "since", "until",
    ),
}  # fmt: skip


@router.get("/exports/{entity}.csv", response_class=StreamingResponse)
def export_entity(
    entity: str,
    request: Request,
    session: DbSession,
    user: CurrentUser,
    q: str | None = None,
    kind: str | None = None,
    scope: str | None = None,
    tag: str | None = None,
    owner_id: DbId | None = None,
    party_type: str | None = None,
    category: str | None = None,
    active: bool | None = None,
    customer_id: DbId | None = None,
    status: str | None = None,
    channel: str | None = None,
    stage: str | None = None,
    direction: str | None = None,
    outcome: str | None = None,
    external_id: str | None = None,
    since: TimeFilter | None = Query(None, description="ISO timestamp with zone (inclusive)."),
    until: TimeFilter | None = Query(None, description="ISO timestamp with zone (exclusive)."),
):
    """Stream a filtered list as CSV (the import format, so it re-imports unchanged)."""
    require(user, "data:export")
    if entity not in EXPORT_ENTITIES:
        raise InvalidInput(
            Msg(
                "Cannot export '%(entity)s'. Choose one of: %(choices)s.",
                entity=entity,
                choices=", ".join(EXPORT_ENTITIES),
            ),
            field="entity",
        )
    given: dict[str, Any] = {
        k: v for k, v in locals().items() if k in FILTER_KEYS[entity] and v is not None
    }
    for key in ("since", "until"):
        if key in given and given[key].tzinfo is None:
            given[key] = given[key].replace(tzinfo=UTC)
    if entity == "customers":
        from retento.dataio.exporter import CUSTOM_KEYS, custom_field_keys

        given[CUSTOM_KEYS] = custom_field_keys(session)
    # The stream outlives the request's session, so it reads through its own.
    factory = request.app.state.session_factory

    def body():
        s = factory()
        try:
            yield from service.export_csv(s, entity, actor=user, filters=given)
        finally:
            s.close()

    chunks = body()
    # The header chunk is produced after the filters are checked: pulling it now turns a bad
    # filter into a 422 instead of a 200 whose connection is cut mid-stream.
    first = next(chunks)
    return StreamingResponse(
        itertools.chain([first], chunks),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{entity}.csv"'},
    )
