"""Document the problem+json error responses on every operation of the OpenAPI description.

Every API error goes through one handler (``core.handlers``) and has one shape, so it is
described once (``components.schemas.Problem``) and referenced from each operation instead of
FastAPI's default ``HTTPValidationError`` (which the API never sends).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

PROBLEM_MEDIA = "application/problem+json"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; ``errors`` names each rejected field.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "A human-readable explanation."},
        "code": {
            "type": "string",
            "description": "Stable machine code: invalid_input, not_found, conflict, forbidden, "
            "unauthorized, rate_limited, method_not_allowed, internal_error …",
        },
        "field": {"type": "string", "description": "The first field at fault, dotted path."},
        "permission": {
            "type": "string",
            "description": "403: the permission the role lacks, e.g. customer:create.",
        },
        "role": {"type": "string", "description": "403: the role that lacks it."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["message"],
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "message": {"type": "string"},
                    "row": {"type": "integer", "description": "1-based line of an import file."},
                    "value": {"type": "string", "description": "The rejected value (cut to 200)."},
                },
            },
        },
    },
}

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The request could not be processed (malformed).",
    401: "Missing or invalid bearer token (header `WWW-Authenticate: Bearer`).",
    403: "The user's role or scope does not allow this.",
    404: "No such record (also: an id outside 1…9223372036854775807).",
    409: "Conflicts with existing data (duplicate, stale version, wrong state).",
    412: "The `If-Match` version is not the current one.",
    413: "The body or upload is larger than allowed.",
    415: "The content type is not accepted.",
    422: "A value is invalid; `field` and `errors` name it.",
    429: "Too many requests; retry after `Retry-After` seconds.",
    500: "Unexpected server error (logged).",
}
PUBLIC_ONLY: dict[int, str] = {410: "The link has expired or the survey is closed."}


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def add_problem_responses(spec: dict[str, Any]) -> dict[str, Any]:
    """Add the Problem schema and every error response to each operation of ``spec`` (in place)."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method not in ("get", "put", "post", "patch", "delete", "head", "options"):
                continue
            responses = op.setdefault("responses", {})
            codes = dict(ERROR_DESCRIPTIONS)
            if "/public/" in path:
                codes.update(PUBLIC_ONLY)
            for status, description in codes.items():
                key = str(status)
                existing = responses.get(key)
                if existing is None or _is_fastapi_validation(existing):
                    responses[key] = _problem_response(description)
                else:
                    content = existing.setdefault("content", {})
                    content.setdefault(
                        PROBLEM_MEDIA, {"schema": {"$ref": "#/components/schemas/Problem"}}
                    )
    return spec


def _is_fastapi_validation(response: dict[str, Any]) -> bool:
    content = response.get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    return schema.get("$ref", "").endswith("/HTTPValidationError")


def install_problem_docs(app: FastAPI) -> None:
    """Wrap ``app.openapi`` so the generated description documents every error response."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_problem_responses(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
