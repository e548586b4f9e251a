"""Route matching that skips the routers a path cannot reach.

FastAPI (0.165) keeps every included router as one top-level route and matches a request
against the included routers in order, each route by route, with no check of a shared prefix.
The app includes ~40 routers (~450 routes): a page such as ``/customers/123`` was first tried
against every API route, ~0.5–0.9 ms of CPU per request before its handler ran (about 5–9 % of
a page's CPU under load; ``benchmarks/bench_routing.py``).

:func:`gate_included_routers` gives each included router a gate: the leading static path
segments of its routes (``("api", "v1", "customers")``, ``("customers",)``, ``("static",)``).
A request whose path starts with none of them cannot match any of the router's routes, so the
router answers "no match" at once; otherwise FastAPI matches as before. The order of the
routers, the routes themselves, OpenAPI and ``url_for`` are untouched: only the ``matches``
method of each included router is wrapped, on that instance.

A router with a route whose first segment is a parameter (``/{slug}``), or a route of a kind
whose path is not known here (a ``Host``), is left ungated. The gate is rebuilt when FastAPI
counts a change to the router's routes (a route added after start-up). The gates are read from
the routers as declared, so building them costs ~1 ms and leaves FastAPI's lazy work lazy.

That lazy work is not thread-safe in one respect: :func:`serialize_field_building`. FastAPI
builds a route's parameter fields on the first request that reaches it, and hides pydantic's
``UnsupportedFieldAttributeWarning`` meanwhile (it sets an ``alias`` on every parameter's
field, the header's name such as ``If-Match`` or the body's ``data``, and builds a pydantic type
adapter from it) with ``warnings.catch_warnings()``. That saves and restores the process-wide
warning filters, so when two threads build at once (parallel first requests reaching different
routers, as in the PostgreSQL race tests), one restores the filters while the other is still
building and the warning escapes (or the "ignore" stays behind for good). The app's parameter
schemas are not at fault; building the fields one at a time is the fix.

FastAPI also toggles the filters on the request path itself. ``jsonable_encoder`` asks, of any
object it has no encoder for, whether it is a pydantic v1 model. That check imports
``pydantic.v1`` inside ``warnings.catch_warnings()`` every time. A response encoded while
another thread builds a field restored the filters under that build (a CI run caught the
warning so). :func:`quiet_pydantic_v1_checks` makes those checks plain ``isinstance`` tests
against ``pydantic.v1``, imported once at start-up.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from typing import Any

from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match

__all__ = [
    "gate_included_routers",
    "leading_segments",
    "quiet_pydantic_v1_checks",
    "serialize_field_building",
]

# Up to this many leading static segments are compared: enough to tell the API's
# /api/v1/<resource> routers apart.
_DEPTH = 3

# The prefixes of one router, by length: {1: {("customers",)}, 3: {("api", "v1", "orders")}}.
_Prefixes = dict[int, frozenset[tuple[str, ...]]]

# Where a request's leading segments are kept in its scope, with the path they came from (a
# redirect-slashes retry copies the scope with another path).
_SCOPE_KEY = "retento.route_segments"


def leading_segments(path: str, depth: int = _DEPTH) -> tuple[str, ...]:
    """The first ``depth`` path segments of a route path, up to the first one holding a
    parameter: ``/api/v1/customers/{id}`` → ``("api", "v1", "customers")``."""
    out: list[str] = []
    for segment in path[1:].split("/")[:depth]:
        if "{" in segment:
            break
        out.append(segment)
    return tuple(out)


def _request_segments(scope: Any) -> tuple[str, ...]:
    """The leading segments of the request's path, split once per request."""
    path = get_route_path(scope)
    cached = scope.get(_SCOPE_KEY)
    if cached is not None and cached[0] == path:
        return cached[1]
    segments = tuple(path[1:].split("/", _DEPTH)[:_DEPTH])
    scope[_SCOPE_KEY] = (path, segments)
    return segments


def _is_included_router(route: Any) -> bool:
    """FastAPI's included router (a private class, so recognised by what it holds)."""
    return hasattr(route, "include_context") and callable(
        getattr(getattr(route, "original_router", None), "_get_routes_version", None)
    )


def _route_paths(included: Any) -> list[str] | None:
    """The full paths of an included router's routes (nested routers walked), or ``None`` if a
    route's path is unknown here.

    Read from the routers as declared (prefix + route path), not from FastAPI's effective
    routes: building those analyses every endpoint's dependencies (~0.5 s for this app), which
    FastAPI otherwise does lazily, per router, on the first request that reaches it."""
    paths: list[str] = []
    stack = [(included.include_context.prefix, included.original_router)]
    while stack:
        prefix, router = stack.pop()
        if getattr(router, "_low_priority_routes", None) or getattr(
            router, "_frontend_routes", None
        ):
            return None  # matched after the others, by rules not modelled here
        for route in router.routes:
            if _is_included_router(route):
                stack.append((prefix + route.include_context.prefix, route.original_router))
                continue
            path = getattr(route, "path", None)
            if not isinstance(path, str) or not (prefix + path).startswith("/"):
                return None  # a Host, or a route kind without a path
            paths.append(prefix + path)
    return paths


def _prefixes(paths: Iterable[str]) -> _Prefixes | None:
    by_length: dict[int, set[tuple[str, ...]]] = {}
    for path in paths:
        prefix = leading_segments(path)
        if not prefix:  # a parameter first: any path may match
            return None
        by_length.setdefault(len(prefix), set()).add(prefix)
    return {n: frozenset(p) for n, p in sorted(by_length.items())}


def _may_match(prefixes: _Prefixes, segments: tuple[str, ...]) -> bool:
    for n, allowed in prefixes.items():
        if segments[:n] in allowed:
            return True
    return False


def _gate(included: Any) -> Callable[[Any], tuple[Match, Any]] | None:
    """The gated ``matches`` of one included router, or ``None`` if it cannot be gated."""
    inner = included.matches
    state: dict[str, Any] = {"key": None, "prefixes": None}

    def current() -> _Prefixes | None:
        # FastAPI counts changes to a router's routes (nested routers included).
        key = included.original_router._get_routes_version()
        if key != state["key"]:
            paths = _route_paths(included)
            state["prefixes"] = None if paths is None else _prefixes(paths)
            state["key"] = key
        return state["prefixes"]

    if current() is None:
        return None

    def matches(scope: Any) -> tuple[Match, Any]:
        prefixes = current()
        if prefixes is not None and not _may_match(prefixes, _request_segments(scope)):
            return Match.NONE, {}
        return inner(scope)

    return matches


def gate_included_routers(routes: list[BaseRoute]) -> int:
    """Gate every FastAPI included router in ``routes`` (an app's top-level routes); returns
    how many were gated. Other routes (plain routes, mounts) are left as they are."""
    gated = 0
    for route in routes:
        if not _is_included_router(route):
            continue  # not an included router of this FastAPI version
        matches = _gate(route)
        if matches is None:
            continue
        try:
            route.matches = matches  # type: ignore[method-assign]
        except (AttributeError, TypeError):  # a FastAPI whose routes take no instance attribute
            continue
        gated += 1
    return gated


# Held while FastAPI builds one parameter or response field (re-entrant: a field's type may
# need another built).
_FIELD_BUILD_LOCK = threading.RLock()


def serialize_field_building() -> bool:
    """Make FastAPI build its fields one at a time across threads (see the module's docstring);
    returns whether this FastAPI version has the hook. Safe to call for every app: it wraps
    once per process. Once every route a process serves is built, nothing takes the lock."""
    try:
        from fastapi._compat import v2
    except ImportError:  # a FastAPI without its pydantic-v2 layer here: nothing to wrap
        return False
    model_field = getattr(v2, "ModelField", None)
    build = getattr(model_field, "__post_init__", None)
    if model_field is None or build is None:
        return False
    if getattr(build, "retento_serialized", False):
        return True

    @functools.wraps(build)
    def serialized(self: Any) -> None:
        with _FIELD_BUILD_LOCK:
            build(self)

    serialized.retento_serialized = True  # type: ignore[attr-defined]
    model_field.__post_init__ = serialized
    return True


def quiet_pydantic_v1_checks() -> bool:
    """Replace FastAPI's "is this a pydantic v1 model?" checks, which toggle the process-wide
    warning filters on every call (see the module's docstring), by the same tests without the
    toggling; returns whether this FastAPI has them. Wraps once per process; a FastAPI whose
    private layout differs is left as it is."""
    import warnings

    try:
        from fastapi import encoders
        from fastapi._compat import shared
    except ImportError:
        return False
    names = ("is_pydantic_v1_model_instance", "is_pydantic_v1_model_class")
    if not all(callable(getattr(shared, n, None)) for n in names):
        return False
    if getattr(shared.is_pydantic_v1_model_class, "retento_quiet", False):
        return True
    try:
        with warnings.catch_warnings():  # once, while the app is made (one thread)
            warnings.simplefilter("ignore", UserWarning)
            from pydantic import v1
        base: type | None = v1.BaseModel
    except ImportError:
        base = None

    def is_instance(obj: Any) -> bool:
        return base is not None and isinstance(obj, base)

    def is_class(cls: Any) -> bool:
        return base is not None and bool(shared.lenient_issubclass(cls, base))

    is_instance.retento_quiet = is_class.retento_quiet = True  # type: ignore[attr-defined]
    shared.is_pydantic_v1_model_instance = is_instance
    shared.is_pydantic_v1_model_class = is_class
    if hasattr(encoders, "is_pydantic_v1_model_instance"):  # imported by name there
        encoders.is_pydantic_v1_model_instance = is_instance
    return True
