"""Imports every domain's tables so metadata (and Alembic) sees them all."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "retento.auth.models",
    "retento.audit.models",
    "retento.customers.models",
    "retento.customers.field_models",
    "retento.customers.search_tables",
    "retento.products.models",
    "retento.orders.models",
    "retento.touchpoints.models",
    "retento.scoring.models",
    "retento.surveys.models",
    "retento.complaints.models",
    "retento.mail.models",
    "retento.loyalty.models",
    "retento.loyalty.measure_models",
    "retento.retention.models",
    "retento.loyalty.notice_models",
    "retento.notifications.models",
    "retento.dataio.models",
    "retento.journey.models",
    "retento.insights.models",
    "retento.work.models",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
