"""The submitted form of a page request, as a dependency, so page handlers can be plain ``def``.

FastAPI runs ``def`` endpoints in its thread pool; an ``async def`` endpoint runs on the event
loop, where any blocking database call — above all a wait for a row lock held by another request
whose commit itself needs the loop — freezes the whole worker. Page handlers therefore never
``await``: the body is read here, on the loop, before the handler runs, and the handler receives
it as ``form: PageForm``. Starlette keeps the parsed form on the request, so the app-wide text
check, the CSRF check and this dependency parse the body once (and the body-size limit of
``retento.core.limits`` applies as it streams). Uploaded files arrive spooled in the form and are
read with ``upload.file.read(n)``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData


async def read_form(request: Request) -> FormData:
    """The request's form fields and files (empty for a body that is not a form)."""
    return await request.form()


PageForm = Annotated[FormData, Depends(read_form)]


def decimal_input(value: Decimal | float | int | None) -> str:
    """A stored number as a form's field holds it: plain digits without grouping or trailing
    zeros (a rate stored as ``1.0000`` is "1", a point value ``0.010000`` "0.01", a threshold
    ``100.0`` "100"), what a person would type; saved back unchanged, it is the same number.
    Pages show such numbers with ``fmt.decimal``."""
    if value is None:
        return ""
    exact = value if isinstance(value, Decimal) else Decimal(str(value))
    return f"{exact.normalize():f}" if exact.is_finite() else str(exact)


# A form that creates something (a customer, a touchpoint, an experience record) carries a key
# drawn when the page is drawn; the service records it (core.idempotency), so a double click or
# a resend after a lost answer creates one row. The key is kept when the form comes back with
# errors (nothing was recorded), and replaced when the service says it was already used with
# other details (the page was sent again after Back with something new typed in).
FORM_KEY = "form_key"


def new_form_key() -> str:
    import uuid

    return uuid.uuid4().hex


def submitted_key(form: FormData, name: str = FORM_KEY) -> str:
    """The create form's key as sent (empty if none), at most 120 characters."""
    return str(form.get(name) or "").strip()[:120]


def reissue_key_on_reuse(errors: dict[str, str], shown: dict, name: str = FORM_KEY) -> None:
    """When the key was refused as used for other details, show that as the form's error and
    draw a new key (``shown[name] = ""``), so sending the form again records it."""
    if "Idempotency-Key" in errors:
        errors[""] = errors.pop("Idempotency-Key")
        shown[name] = ""
