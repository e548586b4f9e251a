"""Customers: records, contacts and tags, the 360° page, duplicates, merging and privacy."""

# Imported with the package, so the audit log names the customer's fields whichever of the
# domain's modules is loaded first; and the e-mails sent to a customer join its timeline (the
# other domains register their own timeline sources).
from retento.customers import field_labels, timeline_emails  # noqa: F401
