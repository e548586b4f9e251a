"""The Insights area's index: the header item, the cards each role may open, both languages."""

from __future__ import annotations

from retento.insights.registry import INSIGHTS


def test_index_lists_every_registered_analysis(web):
    web.login("analyst")
    r = web.get("/insights")
    assert r.status_code == 200
    assert 'href="/insights"' in r.text  # the header item
    for item in INSIGHTS:
        assert f'data-insight="{item.key}"' in r.text
        assert f'href="{item.href}"' in r.text


def test_index_in_chinese(web):
    web.login("analyst")
    r = web.get("/insights", headers={"accept-language": "zh-CN"})
    assert r.status_code == 200


def test_index_needs_login(client):
    r = client.get("/insights", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")
