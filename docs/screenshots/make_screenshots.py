"""Screenshots of the main pages in English and Chinese: ``python docs/screenshots/make_screenshots.py``.

Starts a seeded server (``tests/web/live.py``) and drives Debian's Chromium through Playwright.
The survey screens (``survey-*.png``) come from the survey browser story
(``tests/surveys/test_browser.py``), which saves them when ``RETENTO_SCREENSHOTS`` is set.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402
from tests.web.live import PASSWORD, LiveServer  # noqa: E402

OUT = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def login(page: Page, base: str, username: str) -> None:
    """Log in through the form."""
    page.goto(f"{base}/login")
    page.fill("#f-username", username)
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit].btn-primary")
    page.wait_for_url(f"{base}/customers")


def shoot(page: Page, name: str, full: bool = True) -> Path:
    """Save one PNG under docs/screenshots/."""
    path = OUT / f"{name}.png"
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(path), full_page=full)
    return path


def value_pages(page: Page, base: str, cid: int) -> list[Path]:
    """The value dashboard after a scoring run, and a customer 360 page with its scores."""
    page.goto(f"{base}/value")
    page.fill("#f-as_of", "2025-06-30")
    page.click("#run-button")
    page.wait_for_url(f"{base}/value?run=*", timeout=60_000)
    page.wait_for_selector("#scatter-chart svg")
    shots = [shoot(page, "value-dashboard")]
    page.goto(f"{base}/customers/{cid}")
    page.wait_for_selector("#panel-scores")
    return [*shots, shoot(page, "customer-360-scores")]


def survey_pages(out: Path) -> list[Path]:
    """Run the survey browser story, which saves its screens into ``out``."""
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--db", "sqlite",
         "tests/surveys/test_browser.py"],
        cwd=ROOT,
        env={**os.environ, "RETENTO_SCREENSHOTS": str(out)},
        check=True,
    )  # fmt: skip
    return sorted(out.glob("survey-*.png"))


def main(out: Path = OUT) -> list[Path]:
    """Take every screenshot; returns the files written."""
    global OUT
    OUT = out
    saved = []
    with tempfile.TemporaryDirectory() as tmp, LiveServer(Path(tmp) / "shots.db") as srv:
        base = srv.base_url
        cid = srv.ids["Acme Trading Ltd"]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1360, "height": 860}, locale="en-US")
            page.goto(f"{base}/login")
            saved.append(shoot(page, "login"))
            login(page, base, "admin")
            saved.append(shoot(page, "customer-list"))
            page.goto(f"{base}/customers/{cid}")
            page.wait_for_selector("#revenue-chart svg")
            saved.append(shoot(page, "customer-360"))
            page.goto(f"{base}/customers/{cid}/edit")
            saved.append(shoot(page, "customer-form"))
            page.goto(f"{base}/customers/{cid}/orders/new")
            saved.append(shoot(page, "order-form"))
            page.goto(f"{base}/admin/users")
            saved.append(shoot(page, "admin-users"))
            page.goto(f"{base}/admin/audit")
            page.click("#audit-table details summary >> nth=0")
            saved.append(shoot(page, "audit-log"))
            saved.extend(value_pages(page, base, cid))
            page.goto(f"{base}/customers")
            page.click("button.lang[value=zh_CN]")
            page.wait_for_selector("html[lang=zh-CN]", state="attached")
            saved.append(shoot(page, "customer-list-zh"))
            page.goto(f"{base}/customers/{srv.ids['上海华联超市']}")
            page.wait_for_selector("#revenue-chart svg")
            saved.append(shoot(page, "customer-360-zh"))
            page.click("button.lang[value=en]")
            browser.close()
    saved.extend(survey_pages(out))
    return saved


if __name__ == "__main__":
    for path in main():
        print(path.relative_to(ROOT))
