"""Other domains a survey uses when they are installed: the complaints domain's table."""

from __future__ import annotations

from typing import Any


def complaint_model() -> Any | None:
    """The complaints domain's ``Complaint`` table if that domain is installed, else None."""
    try:
        from retento.complaints import models as cm  # type: ignore[import-not-found]
    except ModuleNotFoundError:
        return None
    return getattr(cm, "Complaint", None)
