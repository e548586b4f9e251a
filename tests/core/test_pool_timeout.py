"""No free database connection (the pool's timeout passed): a 503 with Retry-After naming the
reason, in JSON for the API and as a page for the web, never a 500."""

from __future__ import annotations

from sqlalchemy.exc import TimeoutError as PoolTimeout

from retento.customers import service


def _exhausted(*args, **kwargs):
    raise PoolTimeout("QueuePool limit of size 5 overflow 10 reached, connection timed out")


def test_api_answers_503_with_retry_after(client, tokens, monkeypatch):
    monkeypatch.setattr(service, "list_customers_page", _exhausted)
    r = client.get("/api/v1/customers", headers=tokens["analyst"])
    assert r.status_code == 503
    assert r.headers["retry-after"] == "2"
    assert r.json()["code"] == "overloaded" and "busy" in r.json()["detail"]


def test_the_web_shows_the_busy_page_in_chinese(client, db, users, monkeypatch):
    from tests.web.conftest import Browser

    users["analyst"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("analyst")
    monkeypatch.setattr(service, "customer_filter", _exhausted)
    r = web.get("/customers")
    assert r.status_code == 503 and r.headers["retry-after"] == "2"
    assert "服务器繁忙" in r.text
