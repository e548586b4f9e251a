"""The survey's second language, entered side by side with its own (placeholder)."""

from __future__ import annotations

from retento.web.render import page_router

router = page_router()
