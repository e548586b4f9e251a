"""The route gates (retento.core.routing): every path reaches the same route as without them."""

from __future__ import annotations

import re

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Match

from retento.core.routing import gate_included_routers, leading_segments

_PARAM = re.compile(r"\{([^}:]+)(?::([^}]+))?\}")
_SAMPLE = {
    "int": "7",
    "float": "1.5",
    "path": "a/b",
    "uuid": "0" * 8 + "-0000-0000-0000-" + "0" * 12,
}


def _concrete(path: str) -> str:
    return _PARAM.sub(lambda m: _SAMPLE.get(m.group(2) or "", "x"), path)


def _first_match(routes, scope, *, gated: bool):
    """Index of the first route that fully matches, through the gates or around them."""
    for i, route in enumerate(routes):
        match, _ = route.matches(scope) if gated else type(route).matches(route, scope)
        if match == Match.FULL:
            return i
    return None


def _scope(app, path: str, method: str) -> dict:
    return {
        "type": "http", "path": path, "method": method, "root_path": "", "headers": [],
        "query_string": b"", "app": app,
    }  # fmt: skip


def test_leading_segments() -> None:
    assert leading_segments("/api/v1/customers/{id}") == ("api", "v1", "customers")
    assert leading_segments("/customers/{id}/edit") == ("customers",)
    assert leading_segments("/") == ("",)
    assert leading_segments("/{slug}") == ()
    assert leading_segments("/s/{token}") == ("s",)


def test_every_route_of_the_app_resolves_as_without_gates(app) -> None:
    routes = app.router.routes
    gated = [r for r in routes if "matches" in vars(r)]
    assert len(gated) >= 30  # the API and page routers
    paths = []
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is None:
            paths.append((getattr(route, "path", "/"), getattr(route, "methods", None)))
            continue
        for context in contexts():
            sub = context.starlette_route
            path = getattr(sub, "path", None) if sub is not None else context.path
            methods = getattr(sub, "methods", None) if sub is not None else context.methods
            paths.append((path, methods))
    assert len(paths) > 400
    checked = 0
    for path, methods in paths:
        concrete = _concrete(path)
        for method in sorted(methods or {"GET"}):
            for candidate in {concrete, concrete.rstrip("/") + "/", concrete + "/extra"}:
                scope = _scope(app, candidate, method)
                expected = _first_match(routes, dict(scope), gated=False)
                assert _first_match(routes, dict(scope), gated=True) == expected, candidate
                checked += 1
    # Paths no route has, and near misses of real prefixes.
    for miss in ["/nope", "/api/v1/nope", "/api/v2/customers", "/customersx", "/", "/static"]:
        scope = _scope(app, miss, "GET")
        assert _first_match(routes, dict(scope), gated=True) == _first_match(
            routes, dict(scope), gated=False
        )
    assert checked > 1000


def test_pages_and_api_still_answer_through_the_gates(client) -> None:
    assert client.get("/login").status_code == 200
    assert client.get("/api/v1/customers").status_code == 401
    assert client.get("/healthz").status_code == 200
    assert client.get("/no-such-page").status_code == 404
    assert client.get("/static/no-such-file.css").status_code == 404


def _app_with(router: APIRouter) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    gate_included_routers(app.router.routes)
    return app


def test_a_route_added_after_gating_is_reachable() -> None:
    router = APIRouter()

    @router.get("/first")
    def first() -> dict:
        return {"route": "first"}

    app = _app_with(router)
    client = TestClient(app)
    assert client.get("/first").json() == {"route": "first"}
    assert client.get("/later").status_code == 404

    @router.get("/later")
    def later() -> dict:
        return {"route": "later"}

    assert client.get("/later").json() == {"route": "later"}


def test_a_router_with_a_parameter_first_is_not_gated() -> None:
    router = APIRouter()

    @router.get("/{slug}")
    def by_slug(slug: str) -> dict:
        return {"slug": slug}

    app = _app_with(router)
    assert not any("matches" in vars(r) for r in app.router.routes)
    assert TestClient(app).get("/anything").json() == {"slug": "anything"}


@pytest.mark.parametrize("path", ["/items", "/items/"])
def test_trailing_slash_redirects_still_work(path: str) -> None:
    router = APIRouter()

    @router.get("/items/")
    def items() -> list:
        return []

    client = TestClient(_app_with(router))
    response = client.get(path)
    assert response.status_code == 200 and response.json() == []


def test_nested_routers_and_prefixes_are_gated_on_their_full_paths() -> None:
    inner = APIRouter(prefix="/inner")

    @inner.get("/leaf/{n}")
    def leaf(n: int) -> dict:
        return {"leaf": n}

    outer = APIRouter(prefix="/outer")
    outer.include_router(inner, prefix="/mid")
    app = FastAPI()
    app.include_router(outer, prefix="/top")
    gate_included_routers(app.router.routes)
    client = TestClient(app)
    assert client.get("/top/outer/mid/inner/leaf/3").json() == {"leaf": 3}
    assert client.get("/outer/mid/inner/leaf/3").status_code == 404
    # A route added to the nested router after gating is found too.

    @inner.get("/other")
    def other() -> dict:
        return {"other": True}

    assert client.get("/top/outer/mid/inner/other").json() == {"other": True}


def test_gating_leaves_fastapis_route_analysis_lazy(app) -> None:
    """The gates read the declared paths: building them must not make FastAPI analyse every
    endpoint's dependencies at start-up (~0.5 s an app, paid by each test's app)."""
    included = [r for r in app.router.routes if "matches" in vars(r)]
    assert included
    assert all(r._effective_candidates_version is None for r in included)


def test_parallel_first_requests_build_routes_without_pydantic_warnings(app) -> None:
    """FastAPI builds a route's fields on the first request that reaches it and silences
    pydantic's UnsupportedFieldAttributeWarning (the ``alias`` it gives every parameter) with
    warnings.catch_warnings(), which is process-wide: first requests to different routers from
    several threads let the warning out (seen in the PostgreSQL race tests)."""
    import threading
    import warnings

    from pydantic.warnings import UnsupportedFieldAttributeWarning

    from retento.core.routing import _route_paths

    # One path into each router, all requested at once.
    gated = [r for r in app.router.routes if "matches" in vars(r)]
    paths = [_concrete(_route_paths(r)[0]) for r in gated]
    barrier = threading.Barrier(len(paths))
    failures: list[BaseException] = []

    def first_request(path: str) -> None:
        try:
            barrier.wait(30)
            TestClient(app).get(path, follow_redirects=False)
        except BaseException as exc:  # handed to the test thread
            failures.append(exc)

    def silencing() -> list:
        return [
            f
            for f in warnings.filters
            if f[0] == "ignore" and f[2] is UnsupportedFieldAttributeWarning
        ]

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        before = silencing()
        threads = [threading.Thread(target=first_request, args=(p,)) for p in paths]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        after = silencing()
    assert not failures, failures[0]
    assert not [w for w in seen if w.category is UnsupportedFieldAttributeWarning]
    assert after == before  # nor left silenced for the rest of the process


def test_field_building_is_serialised_across_threads(monkeypatch) -> None:
    """What the test above depends on, without timing luck: no two fields build at once."""
    import threading
    import time

    from fastapi._compat import v2

    from retento.core.routing import serialize_field_building

    inside: list[int] = []
    overlaps: list[int] = []

    def slow_build(self) -> None:
        inside.append(1)
        if len(inside) > 1:
            overlaps.append(len(inside))
        time.sleep(0.002)  # a build long enough for another thread to start one
        inside.pop()

    monkeypatch.setattr(v2.ModelField, "__post_init__", slow_build)
    assert serialize_field_building()
    assert getattr(v2.ModelField.__post_init__, "retento_serialized", False)

    def build_some() -> None:
        for _ in range(20):
            v2.ModelField.__post_init__(object())

    threads = [threading.Thread(target=build_some) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert overlaps == []


def test_encoding_a_response_leaves_the_warning_filters_alone(app) -> None:
    """FastAPI's encoder asked "is this a pydantic v1 model?" of objects it has no encoder for
    inside ``warnings.catch_warnings()``, which resets the process-wide filters under a field
    another thread is building (the race test above failed so once in CI). After
    ``quiet_pydantic_v1_checks`` (the app applies it) the check touches no filter."""
    import warnings

    from fastapi._compat import shared
    from fastapi.encoders import jsonable_encoder
    from pydantic import BaseModel

    from retento.core.routing import quiet_pydantic_v1_checks

    assert quiet_pydantic_v1_checks()

    class Odd:  # no encoder knows it: the encoder reaches the v1 check, then tries dict()
        def __iter__(self):
            return iter([("a", 1)])

    class Model(BaseModel):
        x: int

    calls: list[str] = []
    real = warnings.catch_warnings

    class Spy(real):
        def __enter__(self):
            calls.append("enter")
            return super().__enter__()

    warnings.catch_warnings = Spy  # type: ignore[misc]
    try:
        assert jsonable_encoder(Odd()) == {"a": 1}
        assert not shared.is_pydantic_v1_model_class(Model)
        assert not shared.is_pydantic_v1_model_class(list[int])  # a generic alias: no error
        assert not shared.is_pydantic_v1_model_instance(Model(x=1))
    finally:
        warnings.catch_warnings = real  # type: ignore[misc]
    assert calls == []
    from pydantic import v1

    class Old(v1.BaseModel):
        y: int = 0

    assert shared.is_pydantic_v1_model_class(Old) and shared.is_pydantic_v1_model_instance(Old())
