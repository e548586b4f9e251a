"""The Formatter's fast money and number path writes exactly what Babel writes, and the
memoised Jinja ``gettext`` exactly what Jinja's own does."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from babel import Locale
from babel.numbers import format_currency, format_decimal

from retento.web.i18n import Formatter


def _same(ours, babels, v) -> None:
    """``ours()`` returns what ``babels()`` returns, or raises what it raises."""
    try:
        expected = babels()
    except Exception as exc:
        with pytest.raises(type(exc)):
            ours()
        return
    assert ours() == expected, v


def _values() -> list:
    rng = random.Random(15)
    out: list = [0, 1, -1, 7, 10**12, -(10**13), Decimal("-0"), Decimal("0E-10")]
    out += [Decimal(s) for s in ("0.005", "0.015", "2.675", "-2.675", "1E+3", "1.5E+5", "-0.001")]
    out += [Decimal(s) for s in ("999999999999.995", "123.4567890123456789012345678")]
    for _ in range(3000):
        scale = rng.choice([0, 1, 2, 3, 5, 8])
        cents = rng.randint(-(10 ** rng.randint(1, 15)), 10 ** rng.randint(1, 15))
        out.append(Decimal(cents).scaleb(-scale))
        out.append(rng.randint(-(10**9), 10**9))
    out.append(Decimal(1) / Decimal(7))  # 28 significant digits
    out.append(Decimal("1234.5") / Decimal(3))
    out += [1.5, -2.25, 0.1, Decimal("NaN"), Decimal("Infinity"), Decimal("1E+40")]
    return out


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
@pytest.mark.parametrize("currency", ["USD", "EUR", "CNY", "JPY"])
def test_money_is_babels_text(locale, currency):
    fmt = Formatter(locale, "UTC", currency)
    loc = Locale.parse(locale)
    for v in _values():
        _same(lambda v=v: fmt.money(v), lambda v=v: format_currency(v, currency, locale=loc), v)


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
@pytest.mark.parametrize("currency", ["USD", "CNY", "JPY", "XYZ"])
def test_money_in_another_currency_is_babels_text(locale, currency):
    """``money(v, currency)`` (the loyalty liability in the programme's currency) is Babel's text
    in that currency, whatever the installation's."""
    fmt = Formatter(locale, "UTC", "EUR")
    loc = Locale.parse(locale)
    for v in _values()[:500]:
        _same(
            lambda v=v: fmt.money(v, currency),
            lambda v=v: format_currency(v, currency, locale=loc),
            v,
        )
    assert fmt.money(Decimal("5"), None) == format_currency(Decimal("5"), "EUR", locale=loc)


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_numbers_are_babels_text(locale):
    fmt = Formatter(locale, "UTC", "USD")
    loc = Locale.parse(locale)
    for digits in range(8):
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        for v in _values():
            _same(
                lambda v=v, d=digits: fmt.number(v, d),
                lambda v=v, p=pattern: format_decimal(v, format=p, locale=loc),
                (v, digits),
            )


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_memoised_gettext_matches_jinjas(locale):
    import jinja2

    from retento.web.i18n import translations
    from retento.web.render import environment

    plain = jinja2.Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
    plain.install_gettext_translations(translations(locale), newstyle=True)
    ours = environment(locale)
    source = (
        "{{ _('Revenue') }}|{{ _('Revenue') }}|{{ gettext('Customers') }}|{{ _('100%% sure') }}"
        "|{{ _('Order #%(id)s', id='<b>7</b>') }}|{{ _(word) }}|{{ _(word) }}"
        "|{% trans %}Log out{% endtrans %}|{% trans n=3 %}%(n)s days{% endtrans %}"
    )
    for word in ["Profit", "<script>", "50%% off"]:
        expected = plain.from_string(source).render(word=word)
        assert ours.from_string(source).render(word=word) == expected
        assert ours.from_string(source).render(word=word) == expected  # from the memo
