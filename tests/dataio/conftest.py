from __future__ import annotations

from pathlib import Path

import pytest

from retento.dataio import service

DATA = Path(__file__).resolve().parent.parent / "data" / "import"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def base(db, users):
    """Customers and products from the sample files, imported as the admin."""
    admin = users["admin"]
    service.import_file(db, "customers", DATA / "customers.csv", actor=admin)
    service.import_file(db, "products", DATA / "products.csv", actor=admin)
    db.flush()
    return admin
