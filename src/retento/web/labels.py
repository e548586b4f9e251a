"""Display names of stored codes (kinds, channels, stages …), translated when rendered.

Later capabilities add their own groups with ``register_labels`` (e.g. complaint statuses),
name their records' fields with ``register_field_labels`` and say which group labels the
values of an enumerated field with ``register_value_labels`` (the audit log and the stale-edit
page show ``Voucher``, not ``voucher``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from retento.core.errors import choice_error
from retento.web.i18n import N_

LABELS: dict[str, dict[str, str]] = {
    "kind": {
        "consumer": N_("Consumer"),
        "business": N_("Business"),
        "distributor": N_("Distributor"),
        "supplier": N_("Supplier"),
        "department": N_("Department"),
        "branch": N_("Branch"),
    },
    "scope": {"external": N_("External customer"), "internal": N_("Internal customer")},
    "party_type": {"person": N_("Person"), "organisation": N_("Organisation")},
    "role": {
        "admin": N_("Administrator"),
        "manager": N_("Retention manager"),
        "agent": N_("Service agent"),
        "analyst": N_("Analyst"),
    },
    "consent": {
        "consent_email": N_("Email"),
        "consent_sms": N_("SMS"),
        "consent_phone": N_("Phone calls"),
        "consent_profiling": N_("Profiling"),
    },
    "channel": {
        "ads": N_("Advertising"),
        "phone": N_("Phone"),
        "web": N_("Web"),
        "store": N_("Store"),
        "email": N_("Email"),
        "chat": N_("Chat"),
        "partner": N_("Partner"),
        "other": N_("Other"),
    },
    "stage": {
        "desire": N_("Desire"),
        "information": N_("Information"),
        "cognition": N_("Product cognition"),
        "selection": N_("Selection"),
        "order": N_("Order and deposit"),
        "receipt": N_("Receipt and trial"),
        "payment": N_("Payment"),
        "after_sales": N_("After-sales service"),
    },
    "direction": {"inbound": N_("Inbound"), "outbound": N_("Outbound")},
    "outcome": {
        "positive": N_("Positive"),
        "neutral": N_("Neutral"),
        "negative": N_("Negative"),
        "no_response": N_("No response"),
        "purchase": N_("Purchase"),
        "resolved": N_("Resolved"),
        "escalated": N_("Escalated"),
    },
    "status": {
        "placed": N_("Placed"),
        "paid": N_("Paid"),
        "shipped": N_("Shipped"),
        "completed": N_("Completed"),
        "cancelled": N_("Cancelled"),
    },
    "action": {
        "create": N_("Created"),
        "update": N_("Updated"),
        "delete": N_("Deleted"),
        "revoke": N_("Revoked"),
        "archive": N_("Archived"),
        "restore": N_("Restored"),
        "export": N_("Exported"),
        "erase": N_("Erased"),
        "merge": N_("Merged"),
        "import": N_("Imported"),
        "queue": N_("Queued"),
        "send": N_("Sent"),
        "remind": N_("Reminded"),
    },
    # Record types of the audit log; each domain adds its own with register_labels("entity", …).
    "entity": {
        "import": N_("Import"),
        "demo": N_("Demo data"),
        "customer": N_("Customer"),
        "order": N_("Order"),
        "touchpoint": N_("Touchpoint"),
        "product": N_("Product"),
        "user": N_("User"),
        "api_token": N_("API token"),
    },
    # Value pyramid (客户金字塔) and loyalty stages, used by the value and loyalty pages.
    "segment": {
        "vip": N_("VIP"),
        "major": N_("Major"),
        "ordinary": N_("Ordinary"),
        "small": N_("Small"),
    },
    "loyalty_stage": {
        "potential": N_("Potential customer"),
        "new": N_("First-time customer"),
        "regular": N_("Regular customer"),
        "old": N_("Old customer"),
        "loyal": N_("Loyal customer"),
    },
}


# The actor name recorded for a change no user made (a scheduled job, the demo, a customer's own
# form): the audit log, complaint events, scoring and measurement runs. Shown as "System".
SYSTEM_ACTOR = "system"
SYSTEM_ACTOR_LABEL = N_("System")


def register_labels(group: str, labels: dict[str, str]) -> None:
    """Add or extend a group of code → message id labels."""
    LABELS.setdefault(group, {}).update(labels)


def label_msgid(group: str, code: str | None) -> str:
    """The untranslated label of ``code`` (the code itself if unknown)."""
    if code is None:
        return ""
    return LABELS.get(group, {}).get(code, code)


def check_code(
    name: str, label: str, value: str | None, codes: Sequence[str], group: str | None = None
) -> None:
    """Refuse a filter's ``value`` that is not one of ``codes`` (a typo would list nothing):
    422 naming ``name`` ("Channel (channel) must be one of: store, web, …"), the codes labelled
    by ``group`` (default: ``name``) in a translated message. Empty or None passes."""
    if value and value not in codes:
        choices = [(c, label_msgid(group or name, c)) for c in codes]
        raise choice_error(name, label, choices).refuse()


def register_field_labels(entity: str, labels: dict[str, str]) -> None:
    """Name the fields of one record type (an audit entity: ``customer``, ``order`` …) for the
    audit log's before/after view; field → message id. Fields every record type shares (``id``,
    ``created_at`` …) are registered with ``entity="*"``."""
    register_labels(f"field:{entity}", labels)


# Record types whose fields are the codes of a label group (the outbox's count per kind of
# e-mail, a user's channel per kind of notification): entity → group.
FIELD_GROUPS: dict[str, str] = {}


def register_field_group(entity: str, group: str) -> None:
    """Name the fields of ``entity`` records that no ``register_field_labels`` named by the
    labels of ``group`` (one given to ``register_labels``): for records whose fields are codes."""
    FIELD_GROUPS[entity] = group


def field_msgid(entity: str, field: str) -> str | None:
    """The message id naming ``field`` of ``entity`` records, or None for a field nobody named."""
    return (
        LABELS.get(f"field:{entity}", {}).get(field)
        or LABELS.get(FIELD_GROUPS.get(entity, ""), {}).get(field)
        or LABELS.get("field:*", {}).get(field)
    )


# Which label group names the stored values of an enumerated field: entity → field → group.
VALUE_GROUPS: dict[str, dict[str, str]] = {}


def register_value_labels(entity: str, groups: dict[str, str]) -> None:
    """Say which label group (one given to ``register_labels``) names the values of each
    enumerated field of one record type (an audit entity), field → group: the audit log's
    before/after view and the stale-edit page then show a value's label, not its code.
    ``entity="*"`` is for a field whose codes mean the same on every record type, ``field="*"``
    for every field of a record type whose fields all hold codes of one group."""
    VALUE_GROUPS.setdefault(entity, {}).update(groups)


def value_msgid(entity: str, field: str, value: Any) -> str | None:
    """The message id naming ``value`` of ``field`` on ``entity`` records, or None when the
    field is not enumerated or the value is not a known code (shown as stored then)."""
    if value is None or isinstance(value, bool) or not isinstance(value, str | int):
        return None
    own = VALUE_GROUPS.get(entity, {})
    group = own.get(field) or own.get("*") or VALUE_GROUPS.get("*", {}).get(field)
    if group is None:
        return None
    return LABELS.get(group, {}).get(str(value))
