"""Survey response files are read by the reader every import uses (``dataio.readers``): Excel's
``sep=;`` first line gives the separator and moves the header to line 2, a broken quote is
refused naming its line and column in the reader's language (web and CLI, English and
Chinese), UTF-16 with a BOM is read, and GB18030 is still read when the file is not UTF-8."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from retento.cli import app as cli_app
from retento.core.errors import InvalidInput
from retento.surveys import fileio
from retento.surveys.models import SurveyResponse
from tests.factories import make_customer
from tests.web.conftest import Browser

SEP = (
    "sep=;\nresponse_id;customer_external_id;sat;note\nS-1;SEP-1;4;fine, thanks\nS-2;SEP-1;{sat};\n"
)
AFTER_QUOTE = b'response_id,sat,note\nQ1,4,ok\nQ2,5,"Alice" Smith\nQ3,3,b\n'
NEVER_CLOSED = b'response_id,sat,note\nQ1,4,ok\nQ2,5,"never closed\nQ3,3,b\n'
PYTHON = ("expected after", "end of data", "field limit")

# (file, the line and column said before the reason, the reason), by language.
QUOTES = {
    "en": [
        (AFTER_QUOTE, "q.csv: line 3, column note: ", "text follows a closing quote where the "
         "separator ',' or the end of the line must come"),
        (NEVER_CLOSED, "q.csv: line 3, column note: ", "a quoted value is never closed"),
    ],
    "zh_CN": [
        (AFTER_QUOTE, "q.csv：第 3 行，“note”列：", "闭合引号后还有文字，而此处应是分隔符“,”或行尾"),
        (NEVER_CLOSED, "q.csv：第 3 行，“note”列：", "有一个带引号的值没有闭合"),
    ],
}  # fmt: skip


def _responses(db, survey_id: int) -> int:
    db.expire_all()
    stmt = select(func.count()).where(SurveyResponse.survey_id == survey_id)
    return db.scalar(stmt) or 0


def test_the_service_reads_sep_utf16_and_gb18030(db, users, small_survey):
    make_customer(db, external_id="SEP-1")
    rep = fileio.import_responses(
        db, small_survey.id, SEP.format(sat=5).encode(), "sep.csv", actor=users["manager"]
    )
    assert (rep["created"], rep["errors"]) == (2, [])
    note = "好, 谢谢"
    utf16 = f"response_id\tsat\tnote\nU-1\t3\t{note}\n".encode("utf-16")
    gb = f'response_id,sat,note\nG-1,2,"{note}"\n'.encode("gb18030")
    for content, name in ((utf16, "unicode.txt"), (gb, "gbk.csv")):
        rep = fileio.import_responses(db, small_survey.id, content, name, actor=users["manager"])
        assert (rep["created"], rep["errors"]) == (1, []), name
    assert _responses(db, small_survey.id) == 4
    # Rows and the header are said on their own line: the header is line 2 after "sep=;".
    with pytest.raises(InvalidInput) as e:
        fileio.import_responses(
            db, small_survey.id, SEP.format(sat=9).encode(), "sep.csv", actor=users["manager"]
        )
    assert [(x.row, x.field) for x in e.value.errors] == [(4, "sat")]
    with pytest.raises(InvalidInput) as e:
        fileio.import_responses(
            db, small_survey.id, b"sep=;\nsat;colour\n4;red\n", "h.csv", actor=users["manager"]
        )
    assert [(x.row, x.field) for x in e.value.errors] == [(2, "colour")]


def test_a_broken_quote_names_line_and_column(db, users, small_survey):
    for content, where, reason in QUOTES["en"]:
        with pytest.raises(InvalidInput) as e:
            fileio.import_responses(db, small_survey.id, content, "q.csv", actor=users["manager"])
        assert e.value.message.startswith(where + reason), e.value.message
        assert [(x.row, x.field) for x in e.value.errors] == [(3, "note")]
    assert _responses(db, small_survey.id) == 0


def _browser(client, db, users, locale: str) -> Browser:
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    return web


def _upload(web: Browser, survey_id: int, name: str, content: bytes):
    return web.post(
        f"/surveys/{survey_id}/import",
        {"channel": "mail"},
        files={"file": (name, content, "text/csv")},
    )


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_the_import_page_reads_sep_and_says_a_broken_quote(client, db, users, small_survey, locale):
    make_customer(db, external_id="SEP-1")
    web = _browser(client, db, users, locale)
    r = _upload(web, small_survey.id, "sep.csv", SEP.format(sat=9).encode())
    assert r.status_code == 422
    problems = html.unescape(re.search(r'id="import-problems".*?</table>', r.text, re.S).group(0))
    assert "<td>4</td>" in problems and "<code>sat</code>" in problems, problems
    r = _upload(web, small_survey.id, "sep.csv", SEP.format(sat=5).encode())
    assert r.status_code == 200 and 'id="import-report"' in r.text
    assert _responses(db, small_survey.id) == 2
    for content, where, reason in QUOTES[locale]:
        r = _upload(web, small_survey.id, "q.csv", content)
        assert r.status_code == 422
        text = html.unescape(r.text)
        assert where + reason in text, text[-3000:]
        problems = re.search(r'id="import-problems".*?</table>', text, re.S).group(0)
        assert "<td>3</td>" in problems and "<code>note</code>" in problems and reason in problems
        assert not any(p in text for p in PYTHON)
    assert _responses(db, small_survey.id) == 2


def _flat(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize(
    ("lang", "at"), [("en", "line {row}, column {col}: "), ("zh_CN", "第 {row} 行，{col} 列：")]
)
def test_the_cli_reads_sep_and_says_a_broken_quote(
    on_test_db, db, users, small_survey, tmp_path, lang, at
):
    make_customer(db, external_id="SEP-1")
    db.commit()

    def run(name: str, content: bytes):
        path = tmp_path / name
        path.write_bytes(content)
        args = ["--lang", lang, "surveys", "import", str(path), "--survey", str(small_survey.id)]
        r = CliRunner().invoke(cli_app, args)
        return r, _flat(r.output)  # Rich wraps long lines

    r, out = run("sep.csv", SEP.format(sat=9).encode())
    assert r.exit_code == 1 and _flat(at.format(row=4, col="sat")) in out, out
    r, out = run("sep.csv", SEP.format(sat=5).encode())
    assert r.exit_code == 0, out
    assert _responses(db, small_survey.id) == 2
    for content, where, reason in QUOTES[lang]:
        r, out = run("q.csv", content)
        assert r.exit_code == 1, out
        assert _flat(where + reason) in out, out
        assert _flat(at.format(row=3, col="note") + reason) in out, out
        assert not any(p in out for p in PYTHON), out
    assert _responses(db, small_survey.id) == 2
