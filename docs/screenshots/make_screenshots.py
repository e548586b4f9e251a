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
from tests.web.live import PASSWORD, LiveServer, wait_js  # noqa: E402

OUT = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def login(page: Page, base: str, username: str, password: str = PASSWORD) -> None:
    """Log in through the form; the user lands on the home dashboard of their role."""
    page.goto(f"{base}/login")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.click("button[type=submit].btn-primary")
    page.wait_for_url(f"{base}/")


def charts_drawn(page: Page) -> None:
    """Wait until every chart on the page has finished drawing (``data-chart-ready``)."""
    wait_js(
        page,
        "[...document.querySelectorAll('[data-chart]')].every(e => e.hasAttribute('data-chart-ready'))",
        timeout=20_000,
    )


def demo_pages(out: Path) -> list[Path]:
    """The role dashboards and the newer screens over the demo data set (`make demo`'s 2,000
    customers): a real `retento serve --demo` on a temporary SQLite database."""
    import socket
    import time
    import urllib.request

    from retento.demo.generator import DEMO_PASSWORD

    shots: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "RETENTO_DATABASE_URL": f"sqlite:///{tmp}/demo.db"}
        retento = str(Path(sys.executable).with_name("retento"))
        subprocess.run([retento, "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run(
            [retento, "demo", "--customers", "2000", "--seed", "42"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen(
            [retento, "serve", "--demo", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"{base}/login", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                for role, lang in (("manager", "en"), ("agent", "en"), ("analyst", "en"),
                                   ("manager", "zh")):  # fmt: skip
                    page = browser.new_page(viewport={"width": 1360, "height": 860})
                    login(page, base, role, DEMO_PASSWORD)
                    if lang == "zh":
                        page.click("button.lang[value=zh_CN]")
                        page.wait_for_selector("html[lang=zh-CN]", state="attached")
                    charts_drawn(page)
                    shots.append(shoot(page, f"home-{role}" + ("-zh" if lang == "zh" else "")))
                    if lang == "zh":
                        page.goto(f"{base}/insights/experience")
                        charts_drawn(page)
                        shots.append(shoot(page, "insights-experience-zh"))
                    if role == "manager" and lang == "en":
                        for name, path in (
                            ("loyalty-dashboard", "/loyalty"),
                            ("retention-dashboard", "/retention"),
                            ("imports-wizard", "/imports"),
                            ("notifications", "/notifications"),
                            ("products-list", "/products"),
                            ("orders-list", "/orders"),
                        ):
                            page.goto(f"{base}{path}")
                            charts_drawn(page)
                            shots.append(shoot(page, name))
                        for name, path in (
                            ("value-settings", "/value/settings"),
                            ("insights-forecasts", "/insights/forecasts"),
                            ("insights-journey", "/insights/journey"),
                        ):
                            page.goto(f"{base}{path}")
                            charts_drawn(page)
                            shots.append(shoot(page, name))
                        # The analyses that run on demand: run each once, as an analyst would.
                        for name, path in (
                            ("insights-segments", "/insights/segments"),
                            ("insights-baskets", "/insights/baskets"),
                            ("insights-sequences", "/insights/sequences"),
                        ):
                            page.goto(f"{base}{path}")
                            page.locator("form button.btn-primary").first.click()
                            page.wait_for_url(f"{base}{path}?run=*", timeout=120_000)
                            charts_drawn(page)
                            shots.append(shoot(page, name))
                        page.goto(f"{base}/complaints/new")
                        page.fill("#picker-customer_id .picker-search", "harbor")
                        page.wait_for_selector("#picker-customer_id [role=option]")
                        shots.append(shoot(page, "complaint-customer-picker", full=False))
                    page.close()
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=20)
    return shots


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
    saved.extend(demo_pages(out))
    return saved


if __name__ == "__main__":
    for path in main():
        print(path.relative_to(ROOT))
