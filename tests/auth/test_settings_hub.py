"""The administrators' Settings page: every configurable area linked (each link opens), and the
deployment settings shown read-only with secrets masked."""

from __future__ import annotations

from retento.auth.settings_hub import AREAS, deployment_settings
from retento.core.config import Settings


def test_every_area_opens_and_the_hub_links_it(web, users):
    web.login("admin")
    page = web.get("/admin/settings")
    assert page.status_code == 200
    assert 'href="/admin/settings"' in page.text  # in the Administration menu
    for area in AREAS:
        assert f'href="{area.href}"' in page.text, area.href
        assert web.get(area.href).status_code == 200, area.href
    web.post("/locale", {"lang": "zh_CN", "next": "/admin/settings"})
    zh = web.get("/admin/settings").text
    assert "设置" in zh and "部署设置" in zh and "角色" in zh


def test_secrets_are_never_shown():
    settings = Settings(
        database_url="postgresql+psycopg://retento:pg-Secret-9@db/retento",
        secret_key="k-" + "s" * 40,
        smtp_password="smtp-Secret-7",
        smtp_host="mail.example.com",
    )
    rows = {r["env"]: r for r in deployment_settings(settings)}
    text = repr(rows)
    for secret in ("pg-Secret-9", "k-ssss", "smtp-Secret-7"):
        assert secret not in text
    assert rows["RETENTO_DATABASE_URL"]["value"] == "postgresql+psycopg://retento:***@db/retento"
    assert rows["RETENTO_SMTP_PASSWORD"]["secret"] and rows["RETENTO_SMTP_PASSWORD"]["is_set"]
    assert rows["RETENTO_SMTP_HOST"]["value"] == "mail.example.com"
    assert rows["RETENTO_SECRET_KEY"]["secret"]
    assert not rows["RETENTO_MAX_CUSTOM_FIELDS_KEYS"]["secret"]


def test_the_page_masks_the_running_apps_secrets(web, app, users):
    app.state.settings = app.state.settings.model_copy(update={"smtp_password": "smtp-Secret-7"})
    web.login("admin")
    page = web.get("/admin/settings").text
    assert "smtp-Secret-7" not in page and "RETENTO_SMTP_PASSWORD" in page
    assert "set, hidden" in page
