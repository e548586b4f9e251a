"""retento.analytics: customer-value, satisfaction and churn models usable on plain DataFrames.

This package never imports the rest of ``retento``, FastAPI or SQLAlchemy, so a data scientist
can use it without the web stack (a test enforces this).
"""

__all__: list[str] = []
