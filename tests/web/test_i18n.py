"""Every visible string is translated into Simplified Chinese; catalogues compile cleanly."""

from __future__ import annotations

import re

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from retento.web.i18n import LOCALE_DIR, compile_catalog, translations
from retento.web.render import PACKAGE_DIR, template_dirs

KEYWORDS = {
    "_": None,
    "gettext": None,
    "N_": None,
    "tr": (2,),
    "say": None,  # what the command line prints (core.cli_say)
    "say_in": ((1, "c"), 2),
    "Msg": None,
    "pgettext": ((1, "c"), 2),
}
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def used_messages() -> set[tuple[str | None, str]]:
    """(context, message id) of every message in templates and Python files, extracted as
    ``pybabel extract`` does; the context is None except for ``pgettext(context, msgid)``."""
    found = set()
    for _, _, msg, _, context in extract_from_dir(
        str(PACKAGE_DIR), METHODS, keywords=KEYWORDS, options_map=OPTIONS
    ):
        found.add((context, msg if isinstance(msg, str) else msg[0]))
    return {(c, m) for c, m in found if m}


def used_msgids() -> set[str]:
    """Message ids in templates and Python files, extracted as ``pybabel extract`` does."""
    return {m for _, m in used_messages()}


def zh_catalogs():
    """``messages.po`` and the per-capability catalogues next to it (complaints.po, ...)."""
    out = []
    for po in sorted((LOCALE_DIR / "zh_CN" / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as fh:
            out.append(read_po(fh))
    return out


def test_every_msgid_has_a_chinese_translation():
    # pgettext falls back to the English msgid (not to the msgid without a context), so a
    # (context, msgid) pair needs its own entry
    translated = {(m.context, m.id) for cat in zh_catalogs() for m in cat if m.id and m.string}
    missing = sorted(used_messages() - translated, key=lambda cm: (cm[1], cm[0] or ""))
    assert missing == []


def test_template_strings_are_extracted():
    ids = used_msgids()
    assert {"Customers", "Audit log", "Log in", "Record a touchpoint"} <= ids
    assert len(template_dirs()) >= 5


def test_placeholders_match_between_english_and_chinese():
    for msg in (m for cat in zh_catalogs() for m in cat):
        if msg.id and msg.string:
            assert sorted(re.findall(r"%\(\w+\)s", msg.id)) == sorted(
                re.findall(r"%\(\w+\)s", msg.string)
            ), msg.id


def test_catalogues_compile_and_translate_domain_terms():
    for po in LOCALE_DIR.glob("*/LC_MESSAGES/*.po"):
        assert compile_catalog(po), po
    zh = translations("zh_CN")
    assert zh.gettext("Touchpoint") == "客户触点"
    assert zh.gettext("Internal customer") == "内涵客户"
    assert zh.gettext("VIP") == "贵宾型"
    assert zh.gettext("Loyal customer") == "忠诚客户"
    assert translations("en").gettext("Customers") == "Customers"


def test_a_page_s_language_follows_the_browser_s_weights(client, db):
    """A visitor not logged in gets the browser's language by its ``q`` weights, as the API
    weighs them (the web took the first Chinese or English tag: "en;q=0.2, zh-CN" was English,
    "zh;q=0, en" Chinese); a header naming neither keeps the installation's default."""
    cases = {
        "zh-CN,zh;q=0.9,en;q=0.8": "zh_CN",
        "en;q=0.2, zh-CN": "zh_CN",
        "zh;q=0, en": "en",
        "en-GB,en;q=0.9,zh;q=0.5": "en",
        "fr-FR, de": "en",
        "": "en",
    }
    for header, locale in cases.items():
        page = client.get("/login", headers={"Accept-Language": header})
        assert page.status_code == 200
        lang = re.search(r'<html lang="([^"]+)"', page.text).group(1)
        assert lang.replace("-", "_") == locale, (header, lang)
