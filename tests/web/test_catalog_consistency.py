"""The catalogues of one language never translate a message two ways.

``web.i18n.translations`` merges every ``.po`` of a language into one catalogue, later files
(in name order) overriding earlier ones: a msgid that two files translate differently shows the
last file's text everywhere (surveys.po's "Complaints" → 抱怨 once replaced complaints.po's
投诉 in the menu, the breadcrumbs and the 360 page). Where one English word needs two
translations, the places that differ use ``pgettext(context, msgid)`` (a ``msgctxt`` entry) or
their own msgid.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from retento.web.i18n import LOCALE_DIR, translations

Key = tuple[str | None, str]  # (msgctxt, msgid)


def translations_by_file(paths: list[Path]) -> dict[Key, dict[str, list[str]]]:
    """(context, msgid) → {translation: [catalogue names]}, for translated, non-fuzzy messages
    (the ones compiled at startup)."""
    found: dict[Key, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for po in paths:
        with po.open("rb") as fh:
            catalog = read_po(fh)
        for m in catalog:
            if not m.id or m.fuzzy:
                continue
            msgid = m.id if isinstance(m.id, str) else m.id[0]
            text = m.string if isinstance(m.string, str) else " | ".join(m.string)
            if text.strip(" |"):
                found[(m.context, msgid)][text].append(po.name)
    return found


def clashes(paths: list[Path]) -> list[str]:
    """One line per message that two catalogues translate differently."""
    out = []
    for (context, msgid), texts in sorted(
        translations_by_file(paths).items(), key=lambda kv: (kv[0][1], kv[0][0] or "")
    ):
        if len(texts) > 1:
            where = "; ".join(f"{text!r} in {', '.join(files)}" for text, files in texts.items())
            label = f"{msgid!r}" + (f" (msgctxt {context!r})" if context else "")
            out.append(f"{label}: {where}")
    return out


LANGUAGES = sorted(p.name for p in LOCALE_DIR.iterdir() if (p / "LC_MESSAGES").is_dir())


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_message_is_translated_differently_in_two_catalogues(language):
    paths = sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po"))
    assert paths
    assert clashes(paths) == []


def test_the_check_finds_clashes_and_tells_contexts_apart(tmp_path):
    """A guard that finds nothing proves nothing: it does report a clash, and the same msgid
    in two contexts is not one."""
    head = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
    a = tmp_path / "a.po"
    b = tmp_path / "b.po"
    a.write_text(
        head + 'msgid "Complaints"\nmsgstr "投诉"\n\n'
        'msgid "Orders"\nmsgstr "订单"\n\n'
        'msgid "Same"\nmsgstr "相同"\n\n'
        'msgid "Untranslated"\nmsgstr ""\n',
        encoding="utf-8",
    )
    b.write_text(
        head + 'msgid "Complaints"\nmsgstr "抱怨"\n\n'
        'msgctxt "count"\nmsgid "Orders"\nmsgstr "订单数"\n\n'
        'msgid "Same"\nmsgstr "相同"\n\n'
        'msgid "Untranslated"\nmsgstr "未翻译"\n\n'
        '#, fuzzy\nmsgid "Fuzzy"\nmsgstr "模糊"\n',
        encoding="utf-8",
    )
    (tmp_path / "c.po").write_text(
        head + '#, fuzzy\nmsgid "Fuzzy"\nmsgstr "不同"\n', encoding="utf-8"
    )
    assert clashes(sorted(tmp_path.glob("*.po"))) == [
        "'Complaints': '投诉' in a.po; '抱怨' in b.po"
    ]


def test_words_with_two_senses_read_right_in_each_place():
    zh = translations("zh_CN")
    # complaints are 投诉 everywhere; the CSI latent and the complaint kind have their own ids
    assert zh.gettext("Complaints") == "投诉"
    assert zh.gettext("Customer complaints") == "顾客抱怨"
    assert zh.gettext("Grumble") == "抱怨"
    assert zh.gettext("Satisfaction") == "顾客满意"  # the CSI latent
    assert zh.pgettext("rating", "Satisfaction") == "满意度"  # a complaint's 1-5 rating
    # the audit action and an import's count vs. the date column
    assert zh.gettext("Created") == "已创建"
    assert zh.pgettext("date", "Created") == "创建时间"
    # a period filter vs. the tiers of a tier change
    assert (zh.gettext("From"), zh.gettext("To")) == ("开始日期", "结束日期")
    assert (zh.pgettext("tier change", "From"), zh.pgettext("tier change", "To")) == (
        "原等级",
        "新等级",
    )
    # the record type / page vs. a number of them
    assert zh.gettext("Orders") == "订单"
    assert zh.pgettext("count", "Orders") == "订单数"
    assert zh.gettext("Members") == "会员"
    assert zh.pgettext("count", "Members") == "会员数"
    en = translations("en")
    assert en.pgettext("count", "Orders") == "Orders"
    assert en.pgettext("tier change", "From") == "From"
