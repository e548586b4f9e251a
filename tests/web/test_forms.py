"""Page handlers are plain ``def`` taking ``form: PageForm``: the body is parsed once, on the
event loop, and shared by the text check, the CSRF check and the handler."""

from __future__ import annotations

import inspect

from starlette import formparsers

from tests.factories import make_customer


def _count_parses(monkeypatch) -> list[str]:
    calls: list[str] = []
    for cls in (formparsers.FormParser, formparsers.MultiPartParser):
        original = cls.parse

        async def parse(self, _original=original, _name=cls.__name__):
            calls.append(_name)
            return await _original(self)

        monkeypatch.setattr(cls, "parse", parse)
    return calls


def test_a_page_form_is_parsed_once(db, web, monkeypatch):
    c = make_customer(db, name="Before")
    db.commit()
    assert web.login("admin").status_code == 303
    calls = _count_parses(monkeypatch)
    r = web.post(
        f"/customers/{c.id}/edit", {"name": "After", "party_type": "person", "kind": "consumer"}
    )
    assert r.status_code == 303, r.text
    assert calls == ["FormParser"]  # text check, CSRF check and the handler share one parse
    db.expire_all()
    assert c.name == "After"


def test_an_upload_is_parsed_once_and_read_in_the_thread_pool(db, web, users, monkeypatch):
    from tests.factories.complaints import make_complaint

    complaint = make_complaint(db, users["manager"])
    db.commit()
    assert web.login("admin").status_code == 303
    calls = _count_parses(monkeypatch)
    r = web.post(
        f"/complaints/{complaint.id}/attachments",
        files={"file": ("note.txt", b"hello", "text/plain")},
    )
    assert r.status_code == 303, r.text
    assert calls == ["MultiPartParser"]
    db.expire_all()
    assert [a.filename for a in complaint.attachments] == ["note.txt"]


def test_no_page_or_api_endpoint_runs_on_the_event_loop(app):
    """Every endpoint is a plain ``def``, so a wait for a row lock never blocks the loop (the
    forms come in through the async ``PageForm`` dependency instead)."""
    coroutines = [
        route.path
        for route in app.routes
        if inspect.iscoroutinefunction(getattr(route, "endpoint", None))
        and not route.path.startswith(("/docs", "/redoc", "/openapi"))
    ]
    assert coroutines == []
