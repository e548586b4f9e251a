"""The one error hierarchy: services raise these, interfaces render them."""

from __future__ import annotations

from collections.abc import Iterable
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


class Terms(str):
    """Several stored codes inside a ``Msg``: the codes joined by ", " in the English text
    (``vip, major``), their labels (msgids) joined the reader's way in a translated one
    ("VIP、大客户"). Each item is a ``Term``, a code, or a ``(code, label)`` pair."""

    terms: tuple[Term, ...]

    def __new__(cls, items: Iterable[Term | str | tuple[str, str]]) -> Terms:
        terms = tuple(
            t if isinstance(t, Term) else Term(*t) if isinstance(t, tuple) else Term(t)
            for t in items
        )
        obj = super().__new__(cls, ", ".join(terms))
        obj.terms = terms
        return obj


class Named(str):
    """A name someone gave a record in each language (a custom role's English and Chinese
    names) inside a ``Msg``: the English name in the English text, the one of the reader's
    language (``names[locale]``) in a translated one, the English one where that is empty."""

    names: dict[str, str]

    def __new__(cls, name: str, **names: str) -> Named:
        obj = super().__new__(cls, name)
        obj.names = {k: v for k, v in names.items() if v}
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

    def refuse(self) -> InvalidInput:
        """This problem as the 422 to raise."""
        return InvalidInput(self.message, field=self.field, errors=[self])


class FieldValueError(ValueError):
    """A schema's model validator refusing one field: the 422 names ``field`` (below the
    model's own place: ``lines.0.<field>`` in a list) where a plain ``ValueError`` of a model
    validator names none. ``message`` says what is wrong, naming the field in words
    ("min_spend must not be negative"): it is the problem's ``detail`` as is."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class RetentoError(Exception):
    """Base error: an HTTP status, a stable machine code and a human message."""

    # Extension members of the problem (RFC 9457 §3.2) a subclass adds, e.g. the permission a
    # 403 refused: stable codes for programs next to the human ``detail``.
    extensions: dict[str, Any]

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
        self.extensions = {}

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
        for key, value in getattr(self, "extensions", {}).items():
            body.setdefault(key, value)
        return body


class InvalidInput(RetentoError):
    def __init__(
        self, message: str, field: str | None = None, errors: list[FieldError] | None = None
    ):
        super().__init__(422, "invalid_input", message, field, errors or [])


class NotFound(RetentoError):
    """404: "Customer 42 does not exist.", or ``message`` where a sentence says it better
    ("No warning rule has the code 'bogus'")."""

    def __init__(
        self, entity: str, key: Any, field: str | None = None, *, message: str | None = None
    ):
        if message is None:
            message = Msg("%(entity)s %(key)s does not exist.", entity=Msg(entity), key=str(key))
        super().__init__(404, "not_found", message, field)


class Conflict(RetentoError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(409, "conflict", message, field)


class Forbidden(RetentoError):
    """403; ``permission`` and ``role`` (codes) go into the API's problem next to the message,
    which names them by their labels."""

    def __init__(
        self,
        message: str = "You are not allowed to do this.",
        *,
        permission: str | None = None,
        role: str | None = None,
    ):
        super().__init__(403, "forbidden", message)
        if permission is not None:
            self.extensions["permission"] = permission
        if role is not None:
            self.extensions["role"] = role


class Unauthorized(RetentoError):
    def __init__(self, message: str = "Log in or send a valid bearer token."):
        super().__init__(401, "unauthorized", message)


# Query parameters and fields a person did not type by hand (a link, a hidden input): the
# message names them as the page labels them and as they are sent, in the reader's language.


def param(name: str, label: str) -> Msg:
    """A query parameter (or a field the reader cannot see) named as the page labels it, with
    the name it is sent as: "Value class (value_class)"; ``label`` is a msgid."""
    return Msg("%(label)s (%(name)s)", label=Msg(label), name=name)


def choice_error(
    name: str, label: str, choices: Iterable[Term | str | tuple[str, str]]
) -> FieldError:
    """``name`` is not one of ``choices`` (codes, or ``(code, label msgid)`` pairs): "Value
    class (value_class) must be one of: VIP, Major, …" (the codes in the English text)."""
    return FieldError(
        name,
        Msg(
            "%(field)s must be one of: %(choices)s.",
            field=param(name, label),
            choices=Terms(choices),
        ),
    )


def number_error(name: str, label: str, *, whole: bool = False) -> FieldError:
    """``name`` is not a number (``whole``: not a whole number, e.g. a record's id)."""
    if whole:
        return FieldError(name, Msg("%(field)s must be a whole number.", field=param(name, label)))
    return FieldError(name, Msg("%(field)s must be a number.", field=param(name, label)))


def range_error(name: str, label: str, low: Any, top: Any) -> FieldError:
    """``name`` is outside ``low`` … ``top`` (both allowed)."""
    return FieldError(
        name,
        Msg(
            "%(field)s must be between %(low)s and %(top)s.",
            field=param(name, label),
            low=low,
            top=top,
        ),
    )
