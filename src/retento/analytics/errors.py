"""Errors of the analytics library that callers catch without importing a model."""

from __future__ import annotations


class SummaryInputError(ValueError):
    """The transaction data cannot be summarised (missing column, bad value, empty input)."""
