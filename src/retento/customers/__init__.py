"""Customers: records, contacts and tags, the 360° page, duplicates, merging and privacy."""

# Imported with the package, so the audit log names the customer's fields whichever of the
# domain's modules is loaded first.
from retento.customers import field_labels  # noqa: F401
