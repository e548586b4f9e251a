"""Units on chart axes: an axis of amounts names its currency as the page writes amounts
("Value at risk ($)" on an English page, "风险价值（US$）" on a Chinese one). Apart from
``web.charts``, which imports nothing of Retento."""

from __future__ import annotations

from babel.numbers import get_currency_symbol
from starlette.requests import Request

from retento.core.config import get_settings
from retento.web.i18n import N_
from retento.web.render import request_locale, tr

AXIS_UNIT = N_("%(name)s (%(unit)s)")
"""An axis name with its unit: "Value at risk ($)", "风险价值（US$）"."""


def currency_unit(request: Request) -> str:
    """The installation's currency as the page writes it before an amount (``fmt.money``):
    "$" on an English page, "US$" on a Chinese one."""
    app = request.scope.get("app")
    settings = app.state.settings if app is not None else get_settings()
    return get_currency_symbol(settings.currency, locale=request_locale(request))


def money_axis_name(request: Request, name: str) -> str:
    """``name`` (translated) with the currency as its unit, the name of an axis of amounts:
    without it a reader sees "120,000" and cannot tell dollars from points or customers."""
    return tr(request, AXIS_UNIT, name=name, unit=currency_unit(request))
