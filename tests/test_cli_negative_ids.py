"""An id argument given as a negative number (``retento customers archive -5``) is refused as a
bad value of that argument, or not found, in the CLI's language, not as "No such option: -5";
one past the largest id as a bad value, not a traceback (``core.cli_usage``; SQLite and
PostgreSQL)."""

from __future__ import annotations

import re

import pytest

from tests.test_cli_qa_fixes import _out, _run, cli, cli_db  # noqa: F401  (the fixtures)

LANGS = ["en", "zh_CN"]


def _flat(text: str) -> str:
    """Without whitespace and the panel's borders: Rich wraps long lines."""
    return re.sub(r"[\s│]+", "", text)


BELOW = {
    "en": "Invalid value for 'customer_id': Input should be greater than or equal to 1",
    "zh_CN": "'customer_id' 的值无效：必须大于或等于 1",
}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    "args",
    [
        ["customers", "archive", "-5"],
        ["customers", "archive", "-12", "--as", "boss"],
        ["customers", "archive", "0"],
        ["customers", "restore", "-99999999999999999999"],
    ],
)
def test_a_negative_id_is_a_bad_value_of_the_argument(cli, lang, args):  # noqa: F811
    r = _run(lang, *args)
    assert r.exit_code == 2, _out(r)
    assert BELOW[lang] in _out(r) and "No such option" not in _out(r)
    assert "未知的选项" not in _out(r)


@pytest.mark.parametrize("lang", LANGS)
def test_the_negative_id_names_its_own_argument(cli, lang):  # noqa: F811
    _, (a, _) = cli
    r = _run(lang, "customers", "merge", str(a), "-4")
    assert r.exit_code == 2
    said = {"en": "Invalid value for 'duplicate_id'", "zh_CN": "'duplicate_id' 的值无效"}
    assert said[lang] in _out(r)


@pytest.mark.parametrize("lang", LANGS)
def test_an_id_without_a_minimum_is_not_found(cli, lang):  # noqa: F811
    r = _run(lang, "work", "retry", "-3")
    assert r.exit_code == 1, _out(r)
    said = {"en": "Work item -3 does not exist.", "zh_CN": "后台任务 -3 不存在。"}
    assert said[lang] in _out(r)


@pytest.mark.parametrize("lang", LANGS)
def test_an_id_past_the_largest_is_a_bad_value_not_a_traceback(cli, lang):  # noqa: F811
    for args in (["customers", "archive", "99999999999999999999"], ["work", "retry", "9" * 20]):
        r = _run(lang, *args)
        assert r.exit_code == 2, _out(r)
        said = {
            "en": "Input should be less than or equal to 9223372036854775807",
            "zh_CN": "必须小于或等于 9223372036854775807",
        }
        assert _flat(said[lang]) in _flat(r.output), _out(r)
        assert not isinstance(r.exception, OverflowError)


@pytest.mark.parametrize("lang", LANGS)
def test_an_unknown_option_is_still_one(cli, lang):  # noqa: F811
    for args in (["customers", "archive", "-5", "--bogus"], ["customers", "archive", "--bogus"]):
        r = _run(lang, *args)
        assert r.exit_code == 2 and "--bogus" in _out(r), _out(r)
        assert "-5" not in _out(r).replace("archive -5", "")


def test_points_stay_a_signed_number(cli):  # noqa: F811
    """loyalty adjust's POINTS is no id: a debit is still a negative number."""
    _, (cid, _) = cli
    assert _run("en", "loyalty", "adjust", str(cid), "10", "--reason", "x").exit_code == 0
    r = _run("en", "loyalty", "adjust", str(cid), "-3", "--reason", "x")
    assert r.exit_code == 0, _out(r)
