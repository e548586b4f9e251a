"""Shared input limits: money, dates, names, ids, text safety and file sniffing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from retento.core.money import MAX_MONEY, Money, to_money
from retento.core.types import ID_MAX
from retento.core.validation import (
    Day,
    DbId,
    Name,
    UTCDatetime,
    check_phone,
    content_matches_type,
    find_unsafe,
    id_from_text,
    offset_from_text,
)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("19.90", Decimal("19.90")),
        ("19.900", Decimal("19.90")),  # trailing zeros are not extra precision
        ("1,234.5", Decimal("1234.50")),
        (7, Decimal("7.00")),
        (0.1, Decimal("0.10")),
        (str(MAX_MONEY), MAX_MONEY),
        (f"-{MAX_MONEY}", -MAX_MONEY),
    ],
)
def test_money_accepts_two_places(raw, expected):
    got = to_money(raw)
    assert got == expected and got.as_tuple().exponent == -2


@pytest.mark.parametrize(
    "raw,reason",
    [
        ("1.005", "2 decimal places"),
        ("0.001", "2 decimal places"),
        (0.1 + 0.2, "2 decimal places"),  # 0.30000000000000004 is not rounded silently
        ("1e400", "at most"),
        ("1000000000000", "at most"),
        ("NaN", "finite"),
        ("Infinity", "finite"),
        ("abc", "not a number"),
        (True, "not a money amount"),
    ],
)
def test_money_refuses_instead_of_rounding(raw, reason):
    with pytest.raises(ValueError, match=reason):
        to_money(raw)


class _Model(BaseModel):
    amount: Money | None = None
    at: UTCDatetime | None = None
    day: Day | None = None
    name: Name | None = None
    ref: DbId | None = None


@pytest.mark.parametrize(
    "field,value",
    [
        ("at", "9999-12-31T23:59:59-12:00"),  # overflows on conversion to UTC
        ("at", "0001-01-01T00:00:00+00:00"),
        ("at", "1899-12-31T23:59:59Z"),
        ("at", "2201-01-01T00:00:00Z"),
        ("at", "2025-01-01T00:00:00"),  # no zone
        ("at", 26),  # not Unix time
        ("day", "1899-12-31"),
        ("day", "2201-01-01"),
        ("name", "   "),
        ("name", "evil\u202etxt.exe"),
        ("ref", 0),
        ("ref", ID_MAX + 1),  # past BIGINT
        ("amount", "1e400"),
    ],
)
def test_field_types_refuse_out_of_range(field, value):
    with pytest.raises(ValidationError) as exc:
        _Model(**{field: value})
    assert exc.value.errors()[0]["loc"] == (field,)


def test_field_types_accept_the_edges():
    m = _Model(
        at="2200-12-31T12:00:00+05:00",
        day="1900-01-01",
        name="  Zhang San  ",
        ref=ID_MAX,
        amount="0.01",
    )
    assert m.at == datetime(2200, 12, 31, 7, tzinfo=UTC)
    assert m.day == date(1900, 1, 1) and m.name == "Zhang San" and m.ref == ID_MAX


def test_ids_and_offsets_from_text():
    assert id_from_text("42") == 42
    assert id_from_text("13800138000") == 13800138000  # ids are 64-bit (migration 0032)
    assert id_from_text(str(ID_MAX)) == ID_MAX and id_from_text(str(ID_MAX + 1)) is None
    assert id_from_text("9" * 40) is None
    assert id_from_text("²") is None and id_from_text("0") is None and id_from_text("") is None
    assert offset_from_text("20") == 20
    assert offset_from_text("99999999999") == 0 and offset_from_text("-1") == 0


def test_find_unsafe_walks_keys_and_values():
    assert find_unsafe({"a": ["ok", {"b": "x\x00"}]}) == (
        "a.1.b",
        "must not contain NUL characters",
    )
    assert find_unsafe({"k\ud800": 1})[0] == "<key>"
    assert find_unsafe({"a": "fine", "n": 1, "l": [None, True]}) is None


def test_content_sniffing():
    assert content_matches_type("image/png", b"\x89PNG\r\n\x1a\n...")
    assert not content_matches_type("image/png", b"<svg onload=alert(1)>")
    assert content_matches_type("image/jpeg", b"\xff\xd8\xff\xe0")
    assert content_matches_type("image/webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ")
    assert content_matches_type("application/pdf", b"%PDF-1.7")
    assert content_matches_type("text/plain", "你好".encode())
    assert not content_matches_type("text/plain", b"\xff\xfe\x00")
    assert not content_matches_type("application/x-msdownload", b"MZ")


@pytest.mark.parametrize(
    "phone",
    [
        "+1 555 123 4567 x89",
        "555-123-4567x1234",
        "+1-555-123-4567 ext. 12",
        "(555) 010-0100 X12",
        "010-12345678转123",
        "010 8888 8888 分机 8",
        "13800138000",
    ],
)
def test_an_extension_marker_is_accepted_after_the_number(phone):
    assert check_phone(f"  {phone} ") == phone


@pytest.mark.parametrize(
    "phone",
    [
        "55x5123",  # a marker inside the number (it read as the digits 555123)
        "5x551234",
        "12x34x56",
        "555 12x34 567",
        "x1234567",  # no number before the extension
        "1234567x",  # a marker with no extension
        "123x4567",  # an "extension" longer than the number
        "138 0013 8000 转 二",
    ],
)
def test_an_extension_marker_anywhere_else_is_refused(phone):
    with pytest.raises(ValueError, match="is not a phone number"):
        check_phone(phone)
