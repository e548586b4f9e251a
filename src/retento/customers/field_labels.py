"""The customer's fields by name, and its coded values by label, for the audit log's before/after
view (``/admin/audit``) and the stale-edit page."""

from __future__ import annotations

from retento.web.i18n import N_
from retento.web.labels import register_field_labels, register_value_labels

register_field_labels(
    "customer",
    {
        "name": N_("Name"),
        "party_type": N_("Person or organisation"),
        "kind": N_("Kind"),
        "email": N_("Email"),
        "phone": N_("Phone"),
        "address": N_("Address"),
        "city": N_("City"),
        "country": N_("Country"),
        "owner_id": N_("Owner"),
        "acquired_on": N_("Customer since"),
        "birth_date": N_("Date of birth"),
        "consent_email": N_("E-mail consent"),
        "consent_sms": N_("SMS consent"),
        "consent_phone": N_("Phone consent"),
        "consent_profiling": N_("Profiling consent"),
        "custom_fields": N_("Custom fields"),
        "tags": N_("Tags"),
        "assigned_user_ids": N_("Assigned users"),
        "contacts": N_("Contacts"),
        "archived_at": N_("Archived at"),
        "archived_by_id": N_("Archived by"),
        "erased_at": N_("Erased at"),
        # Search keys the system derives from the name and the phone number.
        "name_key": N_("Name (search key)"),
        "name_chars": N_("Name characters (search key)"),
        "phone_digits": N_("Phone digits (search key)"),
    },
)
# Its enumerated fields' values by their labels (web.labels' "kind" and "party_type" groups).
register_value_labels("customer", {"kind": "kind", "party_type": "party_type"})
