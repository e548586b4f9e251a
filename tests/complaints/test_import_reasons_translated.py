"""``retento complaints import`` printed pydantic's own English for a refused value in both
languages ("Input should be less than or equal to 4"); it now says it as the web forms do, in
the command line's language. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from retento.complaints.transfer import import_complaints
from retento.core.cli_support import error_lines
from retento.core.errors import InvalidInput
from retento.dataio.readers import open_table
from tests.factories import make_customer

HEADER = "external_id,customer_external_id,category,subject,description,severity\n"


def _refusal(db, users) -> InvalidInput:
    make_customer(db, external_id="C-SEV")
    db.commit()
    text = HEADER + "SEV-1,C-SEV,delivery,Late,The parcel came a week late.,9\n"
    with pytest.raises(InvalidInput) as e:
        import_complaints(db, open_table(text.encode(), "c.csv"), actor=users["admin"])
    db.rollback()
    return e.value


@pytest.mark.parametrize(
    ("locale", "expected", "not_expected"),
    [
        ("en", "Enter a number of at most 4.", "Input should be"),
        ("zh_CN", "4", "Input should be"),
    ],
)
def test_a_refused_severity_is_said_in_the_command_lines_language(
    db, users, locale, expected, not_expected
):
    exc = _refusal(db, users)
    [row] = exc.errors
    assert row.row == 2 and row.field == "severity"
    text = "\n".join(error_lines(exc, locale))
    assert expected in text and not_expected not in text, text
    if locale == "zh_CN":
        # Chinese words for the reason, not an English sentence.
        assert "Enter" not in text and any("\u4e00" <= ch <= "\u9fff" for ch in text), text
