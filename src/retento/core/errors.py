"""The one error hierarchy: services raise these, interfaces render them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Msg(str):
    """An English message that keeps the template and values it was made from.

    It is the English text wherever a ``str`` is expected (the API's ``detail``, logs, tests),
    and an interface that speaks another language translates ``template`` and puts ``params``
    back in (``web.render.error_text``); a value that is itself a ``Msg`` (an entity's name) is
    translated too. Templates use ``%(name)s`` placeholders, like the catalogues::

        raise Conflict(Msg("Only %(n)s points can be taken off.", n=available), field="points")
    """

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, **params: Any) -> Msg:
        obj = super().__new__(cls, template % params if params else template)
        obj.template = template
        obj.params = params
        return obj


class Term(str):
    """A stored code inside a ``Msg``: the code itself in the English text, its display label
    (a msgid) in a translated one: ``Term("closed", "Closed")``."""

    label: str

    def __new__(cls, code: str, label: str | None = None) -> Term:
        obj = super().__new__(cls, code)
        obj.label = label or code
        return obj


@dataclass
class FieldError:
    """One reason an input was rejected; ``row`` is set for file imports (1-based line)."""

    field: str | None
    message: str
    row: int | None = None
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.row is not None:
            out["row"] = self.row
        if self.value is not None:
            out["value"] = str(self.value)[:200]
        return out


class RetentoError(Exception):
    """Base error: an HTTP status, a stable machine code and a human message."""

    def __init__(
        self,
        status: int = 400,
        code: str = "error",
        message: str = "The request could not be processed.",
        field: str | None = None,
        errors: list[FieldError] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.errors = list(errors or [])

    def __str__(self) -> str:
        where = f" (field: {self.field})" if self.field else ""
        return f"{self.message}{where}"

    def problem(self) -> dict[str, Any]:
        """RFC 9457 problem details for the JSON API."""
        body: dict[str, Any] = {
            "type": f"https://retento.dev/problems/{self.code}",
            "title": self.code.replace("_", " "),
            "status": self.status,
            "detail": self.message,
            "code": self.code,
        }
        if self.field:
            body["field"] = self.field
        if self.errors:
            body["errors"] = [e.as_dict() for e in self.errors]
        return body


class InvalidInput(RetentoError):
    def __init__(
        self, message: str, field: str | None = None, errors: list[FieldError] | None = None
    ):
        super().__init__(422, "invalid_input", message, field, errors or [])


class NotFound(RetentoError):
    def __init__(self, entity: str, key: Any, field: str | None = None):
        message = Msg("%(entity)s %(key)s does not exist.", entity=Msg(entity), key=str(key))
        super().__init__(404, "not_found", message, field)


class Conflict(RetentoError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(409, "conflict", message, field)


class Forbidden(RetentoError):
    def __init__(self, message: str = "You are not allowed to do this."):
        super().__init__(403, "forbidden", message)


class Unauthorized(RetentoError):
    def __init__(self, message: str = "Log in or send a valid bearer token."):
        super().__init__(401, "unauthorized", message)
