"""The importer's row/column messages in the reader's language.

The importer (shared by the CLI, the API and the web) words its messages in English with the
offending value inside. The web wizard shows them in the user's language: each known shape is
matched here and rebuilt from a translated message id with the same values; a message of an
unknown shape is shown as it is (still naming its row and column).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from retento.core.errors import Msg
from retento.core.money import COMMA_DECIMAL, COMMA_MISPLACED
from retento.customers.field_values import KEY_RULE
from retento.dataio.readers import (
    LINE_BREAK_UNQUOTED,
    NUL_IN_LINE,
    TEXT_AFTER_QUOTE,
    TEXT_AFTER_QUOTE_TAB,
    UNREADABLE_RECORD,
)
from retento.web.i18n import N_, Shapes, message_shapes, translate_shaped

# An XLSX cell holding a formula whose value was never calculated and saved (``readers``): read
# as an empty cell, so any problem the importer finds with it is said this way instead.
FORMULA_PROBLEM = N_(
    "holds a formula without a saved value (open and save the file in Excel, or paste the "
    "values instead of the formula)"
)

# (pattern, msgid); the msgid's %(x)s placeholders are the pattern's named groups.
PATTERNS: Shapes = message_shapes(
    (
        (r"^is empty$", N_("is empty")),
        (r"^lies in the future$", N_("lies in the future")),
        (
            r"^is not a phone number \(digits, with \+ \( \) - \. spaces; x or 转 before an "
            r"extension\)$",
            N_(
                "is not a phone number (digits, with + ( ) - . spaces; x or 转 before an extension)"
            ),
        ),
        (r"^contains a NUL character$", N_("contains a NUL character")),
        (r"^'(?P<v>.*)' is not a number$", N_("'%(v)s' is not a number")),
        (r"^'(?P<v>.*)' is not a whole number$", N_("'%(v)s' is not a whole number")),
        # A comma that does not group thousands (core.money.number_text; money.po).
        (
            r"^'(?P<value>.*)' is not a number: a comma may only group thousands \(1,250\.00\); "
            r"use a point for decimals: (?P<fixed>.*)$",
            COMMA_DECIMAL,
        ),
        (
            r"^'(?P<value>.*)' is not a number: a comma may only group thousands \(1,250\.00\)$",
            COMMA_MISPLACED,
        ),
        (r"^'(?P<v>.*)' has more than two decimals$", N_("'%(v)s' has more than two decimals")),
        (r"^'(?P<v>.*)' is too large$", N_("'%(v)s' is too large")),
        (r"^must not be negative$", N_("must not be negative")),
        (r"^exceeds the line amount$", N_("exceeds the line amount")),
        (r"^must be a whole number > 0$", N_("must be a whole number > 0")),
        (
            r"^(?P<v>-?\d+) is not allowed: must be between 1 and 1000000$",
            N_("%(v)s is not allowed: must be between 1 and 1000000"),
        ),
        (
            r"^'(?P<v>.*)' is not a valid timestamp \(expected (?P<f>.*)\)$",
            N_("'%(v)s' is not a valid timestamp (expected %(f)s)"),
        ),
        (
            r"^'(?P<v>.*)' is not a valid date \(expected (?P<f>.*)\)$",
            N_("'%(v)s' is not a valid date (expected %(f)s)"),
        ),
        (
            r"^'(?P<v>.*)' is not a yes/no value \(use true or false\)$",
            N_("'%(v)s' is not a yes/no value (use true or false)"),
        ),
        (r"^'(?P<v>.*)' is not one of: (?P<a>.*)$", N_("'%(v)s' is not one of: %(a)s")),
        # A key of the custom_fields JSON column no custom field could have (customer_fields.po)
        (
            r"^'(?P<key>.*)' is not a custom field key \(lower-case letters, digits and _, "
            r"starting with a letter, parts separated by a dot, at most (?P<max>\d+) "
            r"characters\)\.$",
            KEY_RULE,
        ),
        (
            r"^'(?P<v>.*)' already appears on line (?P<n>\d+) of this file$",
            N_("'%(v)s' already appears on line %(n)s of this file"),
        ),
        (
            r"^unknown customer '(?P<v>.*)' \(import customers first\)$",
            N_("unknown customer '%(v)s' (import customers first)"),
        ),
        (
            r"^customer '(?P<v>.*)' was merged into customer (?P<n>\d+)$",
            N_("customer '%(v)s' was merged into customer %(n)s"),
        ),
        (
            r"^unknown product '(?P<v>.*)' \(import products first\)$",
            N_("unknown product '%(v)s' (import products first)"),
        ),
        (r"^unknown user '(?P<v>.*)'$", N_("unknown user '%(v)s'")),
        (r"^'(?P<v>.*)' is not an e-mail address$", N_("'%(v)s' is not an e-mail address")),
        (r"^must be a two-letter country code$", N_("must be a two-letter country code")),
        (
            r"^an organisation has no date of birth$",
            N_("an organisation has no date of birth"),
        ),
        (
            r"^an organisation has no date of birth, but this customer has one \(add an empty "
            r"date of birth column\)$",
            N_(
                "an organisation has no date of birth, but this customer has one (add an empty "
                "date of birth column)"
            ),
        ),
        (
            r"^is (?P<n>\d+) characters long; the limit is (?P<m>\d+)$",
            N_("is %(n)s characters long; the limit is %(m)s"),
        ),
        (
            r"^has (?P<n>\d+) values but the header has (?P<m>\d+) columns$",
            N_("has %(n)s values but the header has %(m)s columns"),
        ),
        (
            r"^order '(?P<v>.*)' has an invalid line \(line (?P<n>\d+)\)$",
            N_("order '%(v)s' has an invalid line (line %(n)s)"),
        ),
        (
            r"^'(?P<v>.*)' differs from line (?P<n>\d+) of the same order \('(?P<w>.*)'\)$",
            N_("'%(v)s' differs from line %(n)s of the same order ('%(w)s')"),
        ),
        (
            r"^the order discount is larger than the order's lines$",
            N_("the order discount is larger than the order's lines"),
        ),
        (
            r"^order '(?P<v>.*)' has refunds, so its lines cannot be replaced$",
            N_("order '%(v)s' has refunds, so its lines cannot be replaced"),
        ),
        (
            r"^order '(?P<v>.*)' is cancelled and cannot be reopened; import it as a new order$",
            N_("order '%(v)s' is cancelled and cannot be reopened; import it as a new order"),
        ),
        (
            r"^required column '(?P<v>[^']*)' is missing \(mapped from '(?P<m>.*)', which is not "
            r"in the header\); the header has: (?P<h>.*)$",
            N_(
                "required column '%(v)s' is missing (mapped from '%(m)s', which is not in the "
                "header); the header has: %(h)s"
            ),
        ),
        (
            r"^required column '(?P<v>[^']*)' is missing; the header has: (?P<h>.*)$",
            N_("required column '%(v)s' is missing; the header has: %(h)s"),
        ),
        (
            r"^columns '(?P<v>.*)' and '(?P<w>.*)' both give field '(?P<f>.*)'$",
            N_("columns '%(v)s' and '%(w)s' both give field '%(f)s'"),
        ),
        (
            r"^the header has two columns named '(?P<v>.*)'; rename or delete one of them in the "
            r"file$",
            N_(
                "the header has two columns named '%(v)s'; rename or delete one of them in the file"
            ),
        ),
        (
            r"^The server stopped during this import; nothing of it was written\. Upload the "
            r"file again\.$",
            N_(
                "The server stopped during this import; nothing of it was written. Upload the "
                "file again."
            ),
        ),
        (
            r"^a value is longer than (?P<limit>[\d,]+) characters; shorten it or split it$",
            N_("a value is longer than %(limit)s characters; shorten it or split it"),
        ),
        # The csv module's refusals (readers.csv_reason); the first shape is an older job's.
        (
            r"^text follows a closing quote \((?P<error>.*)\); quote the whole value$",
            N_("text follows a closing quote (%(error)s); quote the whole value"),
        ),
        (
            r"^text follows a closing quote where the separator '(?P<separator>.)' or the end of "
            r"the line must come; quote the whole value$",
            TEXT_AFTER_QUOTE,
        ),
        (r"^" + re.escape(TEXT_AFTER_QUOTE_TAB) + r"$", TEXT_AFTER_QUOTE_TAB),
        (r"^" + re.escape(LINE_BREAK_UNQUOTED) + r"$", LINE_BREAK_UNQUOTED),
        (r"^" + re.escape(NUL_IN_LINE) + r"$", NUL_IN_LINE),
        (r"^the line cannot be read as CSV \((?P<error>.*)\)$", UNREADABLE_RECORD),
        (
            r"^a quoted value is never closed, so the quote swallows the rest of the file; close "
            r'the quote \(write a quote inside a value as two quotes: ""\)$',
            N_(
                "a quoted value is never closed, so the quote swallows the rest of the file; "
                'close the quote (write a quote inside a value as two quotes: "")'
            ),
        ),
        # Dates outside the accepted range (core.validation.check_day; service_errors.po).
        (
            r"^date must be between (?P<low>\S+) and (?P<top>\S+)$",
            N_("date must be between %(low)s and %(top)s"),
        ),
        (
            r"^timestamp must be between (?P<low>\S+) and (?P<top>\S+)$",
            N_("timestamp must be between %(low)s and %(top)s"),
        ),
        (r"^is longer than (?P<n>\d+) characters$", N_("is longer than %(n)s characters")),
        (
            r'^must be a JSON object like \{"size": "L"\}$',
            N_('must be a JSON object like {"size": "L"}'),
        ),
        (
            r"^tag '(?P<v>.*)…' is longer than (?P<n>\d+) characters$",
            N_("tag '%(v)s…' is longer than %(n)s characters"),
        ),
        # The custom_fields column over its limits (core.limits, the part after "field: ").
        (
            r"^at most (?P<max>\d+) keys are allowed \((?P<n>\d+) given\)\.$",
            N_("at most %(max)s keys are allowed (%(n)s given)."),
        ),
        (
            r"^nested deeper than (?P<max>\d+) levels \(at (?P<at>.*)\)\.$",
            N_("nested deeper than %(max)s levels (at %(at)s)."),
        ),
        (
            r"^nested deeper than (?P<max>\d+) levels\.$",
            N_("nested deeper than %(max)s levels."),
        ),
        (
            r"^(?P<size>.+) of JSON; the limit is (?P<limit>.+)\.$",
            N_("%(size)s of JSON; the limit is %(limit)s."),
        ),
        # A custom field's value not of its type (customers.field_values.convert;
        # customer_fields.po).
        (r"^At most (?P<max>\d+) characters\.$", N_("At most %(max)s characters.")),
        (r"^Must be text\.$", N_("Must be text.")),
        (r"^Must be a number, like 12\.50\.$", N_("Must be a number, like 12.50.")),
        (r"^Must be a date like 2026-12-31\.$", N_("Must be a date like 2026-12-31.")),
        (r"^Must be yes or no\.$", N_("Must be yes or no.")),
        (
            r"^This field is retired: its value can be kept or removed only\.$",
            N_("This field is retired: its value can be kept or removed only."),
        ),
        # Orders whose lines do not agree (dataio.import_orders).
        (
            r"^order '(?P<v>.*)' already appeared on lines (?P<a>\d+)–(?P<b>\d+); an order's "
            r"lines must be together \(is the order duplicated\?\)$",
            N_(
                "order '%(v)s' already appeared on lines %(a)s–%(b)s; an order's lines must be "
                "together (is the order duplicated?)"
            ),
        ),
        (
            r"^'(?P<v>.*)' differs from the order discount given earlier for this order "
            r"\('(?P<w>.*)'\)$",
            N_("'%(v)s' differs from the order discount given earlier for this order ('%(w)s')"),
        ),
        (
            r"^line (?P<n>\d+) of order '(?P<v>.*)' already appears on line (?P<m>\d+) of this "
            r"file$",
            N_("line %(n)s of order '%(v)s' already appears on line %(m)s of this file"),
        ),
        # An XLSX cell whose formula was never calculated (readers.UNCALCULATED).
        (r"^" + re.escape(FORMULA_PROBLEM) + r"$", FORMULA_PROBLEM),
        (r"^The file is empty\.$", N_("The file is empty.")),
        (r"^The worksheet is empty\.$", N_("The worksheet is empty.")),
        (
            r"^Line (?P<n>\d+) is not valid (?P<e>\S+) text \(bytes (?P<b>[0-9a-f ]*)\)\..*$",
            N_(
                "Line %(n)s is not valid %(e)s text (bytes %(b)s). Choose the file's encoding "
                "(e.g. GB18030) or save it as UTF-8."
            ),
        ),
    )
)


def translate(message: str, gettext: Callable[[str], str]) -> str:
    """``message`` in the language of ``gettext`` when its shape is known, else unchanged."""
    return translate_shaped(PATTERNS, message, gettext)


def as_msg(message: str) -> str:
    """``message`` as a ``core.errors.Msg`` of its known shape (its msgid and values), so that it
    is translated where a ``Msg`` is (a value inside another ``Msg``: the CLI's "first: line 2,
    external_id: …"); a ``Msg`` or a message of an unknown shape is returned as it is."""
    if isinstance(message, Msg):
        return message
    for pattern, msgid in PATTERNS:
        m = pattern.match(message)
        if m:
            return Msg(msgid, **m.groupdict())
    return message
