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

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData


async def read_form(request: Request) -> FormData:
    """The request's form fields and files (empty for a body that is not a form)."""
    return await request.form()


PageForm = Annotated[FormData, Depends(read_form)]
