"""Errors of the analytics library that callers catch without importing a model."""

from __future__ import annotations

import re


class SummaryInputError(ValueError):
    """The transaction data cannot be summarised (missing column, bad value, empty input)."""


def reader_reason(exc: BaseException) -> str:
    """A file reader's error as one line: DuckDB's CSV errors run to ~25 lines (the sniffer's
    settings, "Possible Solution: ..."); the first paragraph says what is wrong with the file
    (e.g. "CSV Error on Line: 2 ... This file is not utf-8 encoded.")."""
    end = re.compile(r"\n\s*\n|\n(?=The search space|Possible (?:fix|Solution))")
    return re.sub(r"\s+", " ", end.split(str(exc).strip())[0])
