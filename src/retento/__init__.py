"""Retento: customer-retention system."""

__version__ = "0.1.0"
