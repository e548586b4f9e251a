"""Insights JSON API: every module in this package defines ``router`` (an ``APIRouter`` under
``/api/v1/insights``); all are included here, so analyses plug in without editing this file."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter

router = APIRouter()

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    router.include_router(importlib.import_module(f"{__name__}.{_info.name}").router)
