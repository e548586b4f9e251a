"""One comparison for every conflict page (``web.conflict.same_value``): a textarea posted with
CRLF line ends, or a value with white space around it, is the value stored with LF and without
it (the survey editor had this rule alone, as ``_same``)."""

from __future__ import annotations

from decimal import Decimal

from retento.web.conflict import changed_fields, same_value


def test_line_ends_and_surrounding_white_space_compare_equal():
    assert same_value("a: A\r\nb: B\r\n", "a: A\nb: B")
    assert same_value("  Satisfied? ", "Satisfied?")
    assert same_value("   ", None) and same_value("\r\n", "")
    assert same_value([" x ", "y\r\nz"], ["x", "y\nz"])
    assert same_value({"id": 3, "note": "n\r\n"}, {"id": 4, "note": "n"})


def test_other_differences_still_count():
    assert not same_value("a\nb", "a b")
    assert not same_value("a\n\nb", "a\nb")
    assert not same_value(False, True)
    assert same_value(Decimal("1.50"), Decimal("1.5"))
    assert not same_value(Decimal("1.5"), Decimal("1.6"))


def test_the_three_way_page_ignores_a_change_of_line_ends_only():
    base = {"options": "a: A\nb: B", "text": "Satisfied?"}
    submitted = {"options": "a: A\r\nb: B\r\n", "text": "Happy?"}
    assert changed_fields(submitted, base) == {"text"}
