"""The analytics library's messages as ``retento analyze`` shows them, in the command line's
language.

:mod:`retento.analytics` is a library a data scientist uses without the application: its
errors and warnings are English sentences with values inside ("Column 'cust' has a missing
customer id on data row 1 of tx.csv (1 bad row(s) in total)"). The command line reads them back
by their shape (``web.i18n.translate_shaped``, as ``core.cli_usage`` reads Typer's messages) and
rebuilds them from the Chinese of their msgid (``analyze.po``); a message without values is
looked up in the catalogues as it is (:data:`FIXED`). Anything else is shown as the library
wrote it. Imported only when a message is printed (``analyze.base.fail``, its warnings): the
fast path of ``retento analyze clv`` never loads this module or the catalogues.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from retento.core.cli_words import N_

# (regular expression of the library's English message, its msgid); each must match the whole
# message. Groups named in NESTED hold a phrase that is translated too.
SHAPES: tuple[tuple[str, str], ...] = (
    # analytics.summary (every command reading a transaction file), analytics.holdout
    (r"File not found: (?P<path>.+)", N_("File not found: %(path)s")),
    (r"File is empty: (?P<path>.+)", N_("File is empty: %(path)s")),
    (
        r"Cannot read (?P<path>.+?) as CSV: (?P<error>.+)",
        N_("Cannot read %(path)s as CSV: %(error)s"),
    ),
    (r"Cannot read (?P<path>.+?): (?P<error>.+)", N_("Cannot read %(path)s: %(error)s")),
    (
        r"Column (?P<column>.+?) not found in (?P<source>.+?); columns are: (?P<columns>.*)",
        N_("Column %(column)s not found in %(source)s; columns are: %(columns)s"),
    ),
    (
        r"Column (?P<column>.+?) not found in the transactions",
        N_("Column %(column)s not found in the transactions"),
    ),
    (
        r"Column (?P<column>.+?) has (?P<what>a missing customer id|a missing or unparseable "
        r"date|a missing or non-numeric amount) on data row (?P<row>\d+) of (?P<source>.+) "
        r"\((?P<count>\d+) bad row\(s\) in total\)",
        N_(
            "Column %(column)s has %(what)s on data row %(row)s of %(source)s (%(count)s bad "
            "row(s) in total)"
        ),
    ),
    (r"No transactions in (?P<source>.+)", N_("No transactions in %(source)s")),
    (
        r"No customer made a first purchase by (?P<date>.+)",
        N_("No customer made a first purchase by %(date)s"),
    ),
    (
        r"The calibration end (?P<cal>\S+) is after the end of the observation (?P<end>\S+): "
        r"there is no holdout period",
        N_(
            "The calibration end %(cal)s is after the end of the observation %(end)s: there is "
            "no holdout period"
        ),
    ),
    # the models (analytics.btyd_base): errors, then warnings
    (
        r"(?P<model>\w+) fit did not reach a finite optimum: (?P<reason>.*)",
        N_("%(model)s fit did not reach a finite optimum: %(reason)s"),
    ),
    (
        r"(?P<model>\w+) fit may not have converged: (?P<reason>.*)",
        N_("%(model)s fit may not have converged: %(reason)s"),
    ),
    (
        r"(?P<model>\w+) fit hit a parameter bound \((?P<params>.*)\); the data may not "
        r"identify the model",
        N_("%(model)s fit hit a parameter bound (%(params)s); the data may not identify the model"),
    ),
    # analytics.churn
    (
        r"not enough history before the cut-off (?P<cut>\S+) to train: the data start on "
        r"(?P<first>\S+), and training needs (?P<days>\d+) days of history plus at least "
        r"(?P<windows>\d+) x 14 days of labelled windows",
        N_(
            "not enough history before the cut-off %(cut)s to train: the data start on "
            "%(first)s, and training needs %(days)s days of history plus at least %(windows)s "
            "x 14 days of labelled windows"
        ),
    ),
    # analytics.forecast: the notes `retento analyze forecast` prints
    (
        r"Fewer than (?P<n>\d+) periods in a backtest window: no seasonal model was fitted "
        r"\(season of (?P<m>\d+) periods\)",
        N_(
            "Fewer than %(n)s periods in a backtest window: no seasonal model was fitted "
            "(season of %(m)s periods)"
        ),
    ),
    (
        r"Less than one season \((?P<m>\d+) periods\) in a backtest window: the baseline is "
        r"the naive forecast \(last value\)",
        N_(
            "Less than one season (%(m)s periods) in a backtest window: the baseline is the "
            "naive forecast (last value)"
        ),
    ),
)

NESTED = ("what",)

# The phrases inside a message (NESTED) and the library's messages without values.
FIXED = (
    N_("a missing customer id"),
    N_("a missing or unparseable date"),
    N_("a missing or non-numeric amount"),
    N_("inputs contain NaN or infinite values"),
    N_("need at least two repeat customers to fit the Gamma-Gamma model"),
    N_("monetary must be positive for customers with frequency > 0"),
    N_(
        "fewer than two customers with repeat purchases of positive mean value: cannot fit the "
        "spend model"
    ),
    N_("the holdout needs both churners and non-churners to be evaluated"),
    N_("y must hold both classes, 0 (stays) and 1 (churns)"),
    N_("the AUC needs both positives and negatives"),
    N_("MAPE is undefined: some actual values are 0; compare sMAPE"),
)


@cache
def _compiled() -> tuple:
    from retento.web.i18n import message_shapes

    return message_shapes((rf"(?:{pattern})\Z", msgid) for pattern, msgid in SHAPES)


def said(text: str, gettext: Callable[[str], str]) -> str:
    """``text``, a message of the library (or of this package), in the language of
    ``gettext``: by its shape, else as a message of the catalogues, else as it is."""
    from retento.web.i18n import translate_shaped

    return translate_shaped(_compiled(), text, gettext, nested=NESTED, unmatched=gettext)
