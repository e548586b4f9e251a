"""Helpers for the import wizard's page tests: walk the steps with a logged-in test client."""

from __future__ import annotations

import re

from tests.web.conftest import csrf_of

JOB_URL = re.compile(r"/imports/(\d+)")


def upload(web, entity: str, name: str, content: bytes, encoding: str = ""):
    """Step 1; returns the response (303 to the mapping on success)."""
    return web.client.post(
        "/imports",
        data={"csrf_token": web.token, "entity": entity, "encoding": encoding},
        files={"file": (name, content, "text/csv")},
        follow_redirects=False,
    )


def job_id_of(response) -> int:
    m = JOB_URL.search(response.headers["location"])
    assert m, response.headers.get("location")
    return int(m.group(1))


def guessed(html: str) -> dict[str, str]:
    """The mapping the page proposes: select name → selected field ("" = not imported)."""
    out = {}
    for name, body in re.findall(r'<select name="(col_\d+)"[^>]*>(.*?)</select>', html, re.S):
        sel = re.search(r'<option value="([^"]*)" selected', body)
        out[name] = sel.group(1) if sel else ""
    return out


def walk_to_check(web, entity: str, name: str, content: bytes, **mapping_over: str) -> int:
    """Upload, accept the guessed mapping (with overrides) and check; returns the job id."""
    r = upload(web, entity, name, content)
    assert r.status_code == 303, r.text
    job = job_id_of(r)
    page = web.get(f"/imports/{job}/mapping")
    assert page.status_code == 200
    data = {**guessed(page.text), **mapping_over, "timezone": "UTC"}
    r = web.post(f"/imports/{job}/mapping", data)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/imports/{job}"
    return job


def run(web, job: int, mode: str):
    r = web.post(f"/imports/{job}/run", {"mode": mode})
    assert r.status_code == 303, r.text
    return web.get(f"/imports/{job}")


__all__ = ["csrf_of", "guessed", "job_id_of", "run", "upload", "walk_to_check"]
