"""The application factory: ``create_app(settings)`` wires API, web pages and jobs."""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from sqlalchemy import text
from starlette.middleware.sessions import SessionMiddleware

from retento import __version__
from retento.core.config import Settings, check_secret_key, get_settings
from retento.core.db import make_engine, make_session_factory
from retento.core.handlers import install_api_handlers
from retento.core.limits import install_limits
from retento.core.routing import (
    gate_included_routers,
    quiet_pydantic_v1_checks,
    serialize_field_building,
)
from retento.core.validation import reject_unsafe_text
from retento.models import import_all_models

API_ROUTERS = (
    "retento.auth.routes",
    "retento.customers.routes",
    "retento.customers.field_routes",
    "retento.customers.timeline_routes",
    "retento.products.routes",
    "retento.orders.routes",
    "retento.touchpoints.routes",
    "retento.audit.routes",
    "retento.scoring.routes",
    "retento.surveys.routes",
    "retento.dataio.routes",
    "retento.complaints.routes",
    "retento.loyalty.member_routes",
    "retento.loyalty.routes",
    "retento.retention.routes",
    "retento.notifications.routes",
    "retento.insights.routes",
    "retento.work.routes",
    "retento.journey.routes",
)


def freeze_startup_heap() -> None:
    """Put every object alive after start-up (modules, mappers, routes, Pydantic models) out of
    the cyclic garbage collector's reach, so its full collections scan only what requests
    allocate. A server process tracks ~410,000 objects after start-up; without this, one full
    collection every ~100 page views took ~0.5 s, about 5 ms per customer 360 page.

    It also makes young collections rarer (below). For server processes only (``retento.asgi``):
    tests build many apps, and frozen objects are never collected.
    """
    gc.collect()
    gc.freeze()
    # A request allocates tens of thousands of container objects (ORM states, rows, template
    # contexts), most freed by reference counting; with the default 700 allocations per young
    # collection the collector ran dozens of times per page. 10,000 halves its CPU (0.5 → 0.25 ms
    # per request on the load mix, bench_pages) for a young generation of a few MB at most.
    gc.set_threshold(10_000, 20, 20)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the ASGI app; the database is connected lazily on first use."""
    import importlib

    settings = settings or get_settings()
    import_all_models()
    importlib.import_module("retento.jobs")  # the job registry, and the work queue's kinds

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        scheduler = None
        if settings.run_scheduler:
            from retento.jobs import start_scheduler

            scheduler = start_scheduler(app.state.session_factory, settings)
        yield
        if scheduler is not None:
            scheduler.stop()
        app.state.engine.dispose()

    secret_key = check_secret_key(settings)  # refuses an empty or published key
    app = FastAPI(
        title="Retento API",
        version=__version__,
        description="Customer retention: customers, value, touchpoints, satisfaction, loyalty, complaints.",
        lifespan=lifespan,
        # /docs and /redoc come from retento.web.docs: vendored files, no CDN, no inline script.
        docs_url=None,
        redoc_url=None,
        # NUL / lone surrogates in any parameter, JSON body or form field: 422 naming the field.
        dependencies=[Depends(reject_unsafe_text)],
    )
    engine = make_engine(
        settings.database_url,
        echo=settings.echo_sql,
        lock_timeout_ms=settings.db_lock_timeout_ms,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    install_limits(app, settings)  # innermost: body/upload/JSON-depth limits (core/limits.py)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key,
        session_cookie="retento_session",
        max_age=settings.session_max_age_seconds,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    from retento.web.headers import SecurityHeadersMiddleware

    # Added last so it is the outermost layer: every response, errors included, gets them.
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.secure_cookies)
    install_api_handlers(app)

    @app.get("/healthz", tags=["system"])
    def healthz() -> dict:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__, "database": engine.dialect.name}

    for name in API_ROUTERS:
        app.include_router(importlib.import_module(name).router)
    from retento.web.app import install as install_web

    install_web(app, settings)
    # Last, once every router is in: each included router skips paths it cannot match.
    gate_included_routers(app.router.routes)
    # FastAPI builds each route's fields on its first request; parallel first requests must
    # not build at once (core.routing).
    serialize_field_building()
    quiet_pydantic_v1_checks()
    return app
