"""Why the csv module refused a record, in the reader's words (QA: a quote error shown in Chinese
held Python's own English fragment "',' expected after '\\"'"): each message the importer can
get from the csv module is a translated message that keeps the line and the column."""

from __future__ import annotations

import csv
import html

import pytest

from retento.core.errors import InvalidInput
from retento.dataio.messages import translate
from retento.dataio.readers import csv_reason, open_table
from retento.web.i18n import gettext, message_text
from tests.dataio.wizard_support import upload
from tests.web.conftest import Browser

PYTHON = ("expected after", "end of data", "field limit", "new-line character", "NUL")


def _refusal(content: bytes, name: str = "q.csv") -> InvalidInput:
    with pytest.raises(InvalidInput) as exc:
        table = open_table(content, name)
        list(table.rows)
    return exc.value


@pytest.mark.parametrize(
    ("content", "where_en", "where_zh", "en", "zh"),
    [
        (
            b'external_id,name\nQ1,"Alice" Smith\n',
            "q.csv: line 2, column name: ",
            "q.csv：第 2 行，“name”列：",
            "text follows a closing quote where the separator ',' or the end of the line must come",
            "闭合引号后还有文字，而此处应是分隔符“,”或行尾",
        ),
        (
            b'external_id;name\nQ1;Q2\nQ3;"Bob" Jones\n',
            "q.csv: line 3, column name: ",
            "q.csv：第 3 行，“name”列：",
            "the separator ';' or the end of the line",
            "分隔符“;”或行尾",
        ),
        (
            b'external_id\tname\nQ1\t"Eve" Tab\n',
            "q.csv: line 2, column name: ",
            "q.csv：第 2 行，“name”列：",
            "the separator (a tab) or the end of the line",
            "分隔符（制表符）或行尾",
        ),
        (
            b'external_id,name\nQ1,"never closed\nQ2,b\n',
            "q.csv: line 2, column name: ",
            "q.csv：第 2 行，“name”列：",
            "a quoted value is never closed",
            "没有闭合",
        ),
    ],
)
def test_a_record_the_csv_module_refuses_is_said_in_both_languages(
    content, where_en, where_zh, en, zh
):
    exc = _refusal(content)
    text_en, text_zh = message_text("en", exc.message), message_text("zh_CN", exc.message)
    assert text_en.startswith(where_en) and en in text_en, text_en
    assert text_zh.startswith(where_zh) and zh in text_zh, text_zh
    assert not any(p in text_zh for p in PYTHON), text_zh
    # The row's problem as a job stores it (English text), read back in Chinese.
    [problem] = exc.errors
    assert problem.row == int(where_en.split("line ")[1].split(",")[0])
    assert problem.field == "name"
    stored = str(problem.message)
    shown = translate(stored, lambda m: gettext("zh_CN", m))
    assert zh in shown and not any(p in shown for p in PYTHON), shown


def test_a_broken_header_is_said_in_words_too():
    exc = _refusal(b'"external_id" x,name\nQ1,b\n')
    text = message_text("zh_CN", exc.message)
    assert "闭合引号后还有文字" in text and not any(p in text for p in PYTHON), text
    assert exc.errors[0].row == 1


def test_every_message_the_csv_module_gives_has_a_translated_reason():
    for raw, zh in (
        ("',' expected after '\"'", "闭合引号后还有文字"),
        ("unexpected end of data", "没有闭合"),
        ("field larger than field limit (1000000)", "有一个值超过"),
        ("new-line character seen in unquoted field - do you need to open the file with "
         "newline=''?", "换行"),
        ("line contains NUL", "NUL 字符"),
    ):  # fmt: skip
        reason = csv_reason(csv.Error(raw), ",")
        text = message_text("zh_CN", reason)
        assert zh in text and "expected" not in text and "seen in" not in text, (raw, text)
        assert translate(str(reason), lambda m: gettext("zh_CN", m)) == text
    # One the importer does not know (a later Python's) still says where, in the reader's words.
    text = message_text("zh_CN", csv_reason(csv.Error("something new"), ","))
    assert text == "该行无法按 CSV 读取（something new）"


def test_the_upload_step_in_chinese_holds_no_english_fragment(client, db, users):
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    r = upload(web, "customers", "q.csv", b'external_id,name\nQ1,"Alice" Smith\n')
    assert r.status_code == 422
    text = html.unescape(r.text)
    assert "q.csv：第 2 行，“name”列：闭合引号后还有文字，而此处应是分隔符“,”或行尾" in text
    assert not any(p in text for p in PYTHON)
