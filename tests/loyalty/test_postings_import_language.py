"""The points-adjustment import's row errors and the points batch's refusals in the reader's
language: review found them as English f-strings ("is also used on line 2 for another row",
"customer 7 is not a member", "not enough points: ..."), so ``retento loyalty import-postings``
in Chinese mixed English into its report. They are ``Msg`` templates with catalogue entries
(loyalty.po); the English text is unchanged."""

from __future__ import annotations

import io

import pytest

from retento.core.errors import InvalidInput
from retento.loyalty.transfer import import_adjustments
from retento.web.i18n import message_text
from tests.factories import make_customer
from tests.factories.loyalty import make_programme

HEAD = "customer_external_id,points,reason,key\n"


def _errors(db, users, text: str) -> list:
    with pytest.raises(InvalidInput) as e:
        import_adjustments(db, io.StringIO(HEAD + text), actor=users["manager"])
    db.rollback()
    return [(x.row, x.field, x.message) for x in e.value.errors]


def test_row_errors_of_the_file_in_both_languages(db, users):
    make_programme(db)
    make_customer(db, name="Ann", external_id="C-1")
    got = _errors(db, users, "C-1,ten,gift,k-1\nC-1,5,gift,k-2\nC-1,6,other,k-2\n")
    assert [(r, f, str(m)) for r, f, m in got] == [
        (2, "points", "'ten' is not a whole number"),
        (4, "key", "is also used on line 3 for another row"),
    ]
    assert [message_text("zh_CN", m) for _, _, m in got] == [
        "'ten' 不是整数",
        "第 3 行的另一条记录也使用了此值",
    ]


def test_refusals_of_the_batch_in_both_languages(db, users):
    """A debit for a customer who is not a member: the batch refuses it, named by the file's
    column, and the whole-batch message carries the first item's reason."""
    make_programme(db)
    c = make_customer(db, name="Bo", external_id="C-2")
    db.commit()
    got = _errors(db, users, "C-2,-5,correction,k-1\n")
    assert [(r, f, str(m)) for r, f, m in got] == [
        (2, "customer_external_id", f"customer {c.id} is not a member")
    ]
    assert message_text("zh_CN", got[0][2]) == f"客户 {c.id} 不是会员"


def test_the_batch_message_is_translated_with_its_first_reason():
    from retento.loyalty.batch import BatchInvalid

    exc = BatchInvalid([(1, "points", "must not be zero"), (0, "reason", "give a reason")])
    assert str(exc.message) == "2 item(s) rejected, nothing posted; items.0.reason: give a reason"
    assert message_text("zh_CN", exc.message) == (
        "2 项被拒绝，未记入任何积分；items.0.reason：请填写原因"
    )
