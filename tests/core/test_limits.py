"""Request limits: body size (declared and streamed), uploads, JSON depth, custom_fields."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from retento.core.config import Settings
from retento.core.limits import Limits, json_depth_problem
from retento.customers.models import Customer

MB = 1024 * 1024


@pytest.fixture
def web(client, users):
    from tests.web.conftest import Browser

    return Browser(client)


def _customer(**extra) -> dict:
    return {"name": "Big Body", "external_id": "BIG-1", **extra}


def _count(db) -> int:
    return db.scalar(select(func.count()).select_from(Customer))


def test_a_json_body_over_the_limit_is_refused_before_the_endpoint(client, tokens, db):
    body = json.dumps(_customer(custom_fields={"blob": "x" * (2 * MB)}))
    r = client.post(
        "/api/v1/customers",
        content=body,
        headers={**tokens["agent"], "Content-Type": "application/json"},
    )
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "payload_too_large"
    assert "1 MB" in problem["detail"]
    assert _count(db) == 0


def _asgi_post(app, path: str, headers: dict[str, str], chunks) -> tuple[int, dict, bytes, int]:
    """POST straight through the ASGI interface, body in chunks with no Content-Length (the
    TestClient would read the whole body first). Returns status, headers, body, chunks pulled."""
    import anyio

    pulled = 0
    out: dict = {"status": 0, "headers": {}, "body": b""}
    it = iter(chunks)

    async def receive():
        nonlocal pulled
        try:
            chunk = next(it)
        except StopIteration:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"host", b"testserver"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    anyio.run(app, scope, receive, send)
    return out["status"], out["headers"], out["body"], pulled


def test_a_chunked_json_body_is_counted_as_it_streams(app, tokens, db):
    def chunks():
        yield b'{"name": "Chunked", "custom_fields": {"blob": "'
        for _ in range(40):  # 40 x 64 KB = 2.5 MB, no Content-Length
            yield b"y" * 65536
        yield b'"}}'

    status, headers, body, pulled = _asgi_post(
        app, "/api/v1/customers", {**tokens["agent"], "Content-Type": "application/json"}, chunks()
    )
    assert status == 413, body
    assert headers["content-type"].startswith("application/problem+json")
    assert json.loads(body)["code"] == "payload_too_large"
    assert pulled <= 18  # refused once past 1 MB, not after reading all 2.5 MB
    assert _count(db) == 0


def test_a_chunked_multipart_upload_over_the_upload_limit_is_refused(session_factory, db, tokens):
    app = _app(session_factory, max_upload_bytes=2 * MB)
    boundary = "XyZ"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n'
        "Content-Type: text/csv\r\n\r\nexternal_id,name\r\n"
    ).encode()

    def chunks():
        yield head
        for i in range(64):  # 64 x 64 KB = 4 MB
            yield f"C{i},{'n' * 65000}\r\n".encode()
        yield f"\r\n--{boundary}--\r\n".encode()

    status, _, body, pulled = _asgi_post(
        app,
        "/api/v1/imports/customers",
        {**tokens["admin"], "Content-Type": f"multipart/form-data; boundary={boundary}"},
        chunks(),
    )
    assert status == 413, body
    assert "2 MB" in json.loads(body)["detail"]
    assert pulled <= 34
    assert _count(db) == 0


def test_a_chunked_web_form_gets_the_friendly_page(app, web, users):
    web.login("agent")
    cookie = "; ".join(f"{k}={v}" for k, v in web.client.cookies.items())

    def chunks():
        yield f"csrf_token={web.token}&name=Web&note=".encode()
        for _ in range(40):
            yield b"n" * 65536

    status, headers, body, pulled = _asgi_post(
        app,
        "/customers/new",
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
        chunks(),
    )
    assert status == 413
    assert headers["content-type"].startswith("text/html")
    assert b"The request is too large: the limit is 1 MB." in body
    assert pulled <= 18


def test_uploads_get_the_larger_limit(client, tokens, db):
    """A 1.5 MB CSV is over the JSON limit but well under the upload limit (its size in long
    notes: 500 customers import in a fraction of the time 18,000 short rows took)."""
    rows = "".join(f"U{i:06d},Customer {i},{'z' * 3_100}\n" for i in range(500))
    data = ("external_id,name,note\n" + rows).encode()
    assert len(data) > 1.3 * MB
    r = client.post(
        "/api/v1/imports/customers",
        headers=tokens["admin"],
        files={"file": ("big.csv", data, "text/csv")},
    )
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 500


def test_bulk_survey_responses_get_the_upload_limit(client, tokens):
    rows = [
        {"customer_id": i, "answers": [{"question": "q", "text": "t" * 400}]}
        for i in range(1, 5001)
    ]
    body = json.dumps({"responses": rows})
    assert len(body) > 2 * MB
    r = client.post(
        "/api/v1/surveys/999999/responses/bulk",
        content=body,
        headers={**tokens["manager"], "Content-Type": "application/json"},
    )
    assert r.status_code == 404, r.text  # reached the endpoint: the survey does not exist


def test_a_declared_upload_over_the_limit_is_refused_without_reading(session_factory, tokens):
    app = _app(session_factory, max_upload_bytes=1 * MB)
    with TestClient(app) as c:
        r = c.post(
            "/api/v1/imports/customers",
            headers=tokens["admin"],
            files={"file": ("big.csv", b"external_id,name\n" + b"a,b\n" * 400_000, "text/csv")},
        )
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"


def test_limits_come_from_settings(session_factory, tokens, db):
    app = _app(session_factory, max_body_bytes=4096)
    with TestClient(app) as c:
        r = c.post(
            "/api/v1/customers",
            json=_customer(note="n" * 5000),
            headers=tokens["agent"],
        )
    assert r.status_code == 413
    assert "4 KB" in r.json()["detail"]


def test_deep_json_is_refused_naming_the_field(client, tokens, db):
    deep: object = "bottom"
    for _ in range(200):
        deep = {"k": deep}
    r = client.post(
        "/api/v1/customers", json=_customer(custom_fields=deep), headers=tokens["agent"]
    )
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "invalid_input"
    assert problem["field"] == "custom_fields"
    assert "custom_fields.k.k" in problem["detail"]
    assert "32 levels" in problem["detail"]
    assert _count(db) == 0


def test_very_deep_json_does_not_crash_the_parser(client, tokens):
    body = '{"name": "x", "custom_fields": ' + "[" * 100_000 + "]" * 100_000 + "}"
    r = client.post(
        "/api/v1/customers",
        content=body,
        headers={**tokens["agent"], "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "custom_fields"


def test_json_depth_scanner_ignores_brackets_inside_strings():
    text = json.dumps({"a": "[[[[[[[[[[{{{{{{{{" * 50, "b": ['\\"[[[[']})
    assert json_depth_problem(text, 3) is None
    assert json_depth_problem('{"a": [[[1]]]}', 3) == "a.0.0"
    assert json_depth_problem('{"a": [1, [2, [3, [4]]]]}', 3) == "a.1.1"
    assert json_depth_problem('{"a": {"b\\"]": [[1]]}}', 3) == 'a.b"].0'
    assert json_depth_problem("[[[[1]]]]", 3) == "0.0.0"
    assert json_depth_problem("[[[[1]]]]", 0) == ""
    assert json_depth_problem('"\\u005b[[[["', 1) is None


@pytest.mark.parametrize(
    ("custom", "message"),
    [
        ({f"k{i}": i for i in range(101)}, "at most 100 keys"),
        ({"blob": "x" * 70_000}, "64 KB"),
    ],
)
def test_custom_fields_have_size_and_key_limits(client, tokens, db, custom, message):
    r = client.post(
        "/api/v1/customers", json=_customer(custom_fields=custom), headers=tokens["agent"]
    )
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["field"] == "custom_fields"
    assert message in problem["detail"]
    assert _count(db) == 0


def test_custom_fields_within_limits_are_kept(client, tokens, db):
    from tests.factories.custom_fields import define_fields

    custom = {f"k{i}": "v" * 100 for i in range(100)}
    define_fields(db, *custom)
    db.commit()
    r = client.post(
        "/api/v1/customers", json=_customer(custom_fields=custom), headers=tokens["agent"]
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = client.patch(
        f"/api/v1/customers/{cid}",
        json={"custom_fields": {"blob": "x" * 70_000}},
        headers=tokens["agent"],
    )
    assert r.status_code == 422
    assert r.json()["field"] == "custom_fields"


def test_the_web_shows_a_friendly_page_for_a_too_large_form(web, users):
    web.login("agent")
    r = web.post("/customers/new", data={"name": "Web", "note": "n" * (2 * MB)})
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html")
    assert "too large" in r.text
    assert "1 MB" in r.text


def test_the_friendly_page_speaks_chinese(web, users):
    web.login("agent")
    web.post("/locale", {"lang": "zh_CN", "next": "/customers"})
    r = web.post("/customers/new", data={"name": "Web", "note": "n" * (2 * MB)})
    assert r.status_code == 413
    assert "请求内容过大" in r.text


def test_limits_validate_their_settings():
    with pytest.raises(ValueError):
        Settings(max_body_bytes=0)
    limits = Limits.from_settings(Settings(max_upload_bytes=3 * MB, max_json_depth=8))
    assert (limits.upload_bytes, limits.json_depth) == (3 * MB, 8)


def _app(session_factory, **settings):
    from retento.app import create_app

    application = create_app(
        Settings(database_url="sqlite://", run_scheduler=False, secret_key="test", **settings)
    )
    application.state.session_factory = session_factory
    return application
