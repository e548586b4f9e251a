"""What the touchpoint forms share: the fields, the choices of their selects and the
``datetime-local`` values read and shown in the installation's time zone (used by the new
touchpoint form in ``pages``, the list and edit form in ``list_pages``, and by other domains'
forms)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import Request

from retento.core.errors import InvalidInput
from retento.touchpoints.models import CHANNELS, DIRECTIONS, OUTCOMES, STAGES
from retento.web.labels import label_msgid
from retento.web.render import tr

FIELDS = ("occurred_at", "channel", "stage", "direction", "outcome", "note")


def local_now(request: Request) -> str:
    """Now in the installation's time zone, as a ``datetime-local`` input value."""
    tz = ZoneInfo(request.app.state.settings.timezone)
    return datetime.now(tz).strftime("%Y-%m-%dT%H:%M")


def parse_local(request: Request, value: str, field: str) -> datetime:
    """A ``datetime-local`` value read in the installation's time zone."""
    tz = ZoneInfo(request.app.state.settings.timezone)
    try:
        naive = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInput(tr(request, "Enter a date and time."), field=field) from exc
    return naive.replace(tzinfo=tz) if naive.tzinfo is None else naive


def field_options(request: Request) -> dict[str, list[tuple[str, str]]]:
    def opts(group: str, codes: tuple[str, ...]) -> list[tuple[str, str]]:
        return [(c, tr(request, label_msgid(group, c))) for c in codes]

    return {
        "channels": opts("channel", CHANNELS),
        "stages": opts("stage", STAGES),
        "directions": opts("direction", DIRECTIONS),
        "outcomes": opts("outcome", OUTCOMES),
    }
