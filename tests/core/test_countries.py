"""The country picker's order: Chinese names by pinyin, other names alphabetically."""

from __future__ import annotations

import re

from retento.core.countries import _names, country_options
from retento.core.country_pinyin import ZH_PINYIN

HAN = re.compile(r"[\u4e00-\u9fff]")


def names(locale: str) -> list[str]:
    return [name for _, name in country_options(locale)]


def test_every_chinese_country_name_has_its_pinyin():
    """A Babel upgrade that adds or renames a country shows here: add its reading to
    ``retento/core/country_pinyin.py`` (its docstring says how)."""
    missing = sorted(set(_names("zh_CN").values()) - set(ZH_PINYIN))
    assert missing == []
    for name, reading in ZH_PINYIN.items():
        syllables = reading.split()
        assert len(syllables) == len(HAN.findall(name)), name
        assert all(re.fullmatch(r"[a-z]+[1-4]", s) for s in syllables), name


def test_chinese_names_are_in_pinyin_order():
    zh = names("zh_CN")
    assert len(zh) == len(set(zh)) == len(_names("zh_CN"))
    assert zh[0] == "阿尔巴尼亚"  # a er ba ...
    # ao < ba < de < fa < mei < ri < ying < zhong
    order = ["澳大利亚", "巴西", "德国", "法国", "美国", "日本", "英国", "中国"]
    assert sorted(order, key=zh.index) == order
    # syllable by syllable: ni bo (尼泊尔) < ni jia (尼加拉瓜) < ni ri (尼日利亚)
    assert zh.index("尼泊尔") < zh.index("尼加拉瓜") < zh.index("尼日利亚")
    # a name before the longer names it begins
    assert zh.index("中国") < zh.index("中国澳门特别行政区") < zh.index("中国香港特别行政区")
    # the tone decides within one syllable: é (俄罗斯) before è (厄瓜多尔), though gua < luo
    assert zh.index("俄罗斯") < zh.index("厄瓜多尔")


def test_other_names_are_alphabetical_with_accents_ignored():
    en = names("en")
    assert en[:3] == ["Afghanistan", "Åland Islands", "Albania"]  # Å under A, not after Z
    assert en[-1] == "Zimbabwe"
    assert en.index("Costa Rica") < en.index("Côte d’Ivoire") < en.index("Croatia")
