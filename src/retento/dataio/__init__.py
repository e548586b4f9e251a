"""CSV/XLSX import (validated, all-or-nothing, upsert by ``external_id``) and streaming CSV export."""


def _privacy_erase(session, customer, redactor):
    from retento.dataio.privacy import erase

    return erase(session, customer, redactor)


def _register_erasure() -> None:
    """An erasure scrubs the import wizard's jobs too (customers never imports dataio)."""
    from retento.customers.privacy import register_erasure

    register_erasure(_privacy_erase)


_register_erasure()
