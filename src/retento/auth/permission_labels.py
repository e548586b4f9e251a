"""Short display names of the permissions and their groups (the Roles page, the API), as
message ids translated when rendered (Chinese in locale/zh_CN/LC_MESSAGES/roles.po)."""

from __future__ import annotations

from retento.web.i18n import N_

GROUPS = {
    "customer": N_("Customers"),
    "product": N_("Products"),
    "order": N_("Orders"),
    "touchpoint": N_("Touchpoints"),
    "score": N_("Value and scoring"),
    "insight": N_("Insights"),
    "survey": N_("Surveys"),
    "complaint": N_("Complaints"),
    "sla": N_("Complaints"),
    "loyalty": N_("Loyalty"),
    "retention": N_("Retention"),
    "data": N_("Import and export"),
    "demo": N_("Administration"),
    "user": N_("Administration"),
    "audit": N_("Administration"),
    "work": N_("Administration"),
    "mail": N_("Administration"),
    "token": N_("Administration"),
}

LABELS = {
    "customer:read": N_("See customers"),
    "customer:create": N_("Create customers"),
    "customer:update": N_("Edit customers"),
    "customer:delete": N_("Delete customers"),
    "customer:archive": N_("Archive customers"),
    "customer:export": N_("Export a customer's data"),
    "customer:erase": N_("Erase a customer's personal data"),
    "customer:assign": N_("Assign customers"),
    "product:read": N_("See products"),
    "product:create": N_("Create products"),
    "product:update": N_("Edit products"),
    "product:delete": N_("Delete products"),
    "order:read": N_("See orders"),
    "order:create": N_("Record orders"),
    "order:update": N_("Edit orders"),
    "order:delete": N_("Delete orders"),
    "touchpoint:read": N_("See touchpoints"),
    "touchpoint:create": N_("Record touchpoints"),
    "touchpoint:update": N_("Edit touchpoints"),
    "touchpoint:delete": N_("Delete touchpoints"),
    "score:read": N_("See value scores"),
    "score:run": N_("Start scoring runs"),
    "score:configure": N_("Change value settings"),
    "insight:manage": N_("Run Insights analyses"),
    "survey:read": N_("See surveys and results"),
    "survey:manage": N_("Build and send surveys"),
    "survey:respond": N_("Enter survey answers"),
    "survey:import": N_("Import survey responses"),
    "complaint:read": N_("See complaints"),
    "complaint:create": N_("Record complaints"),
    "complaint:update": N_("Work complaints"),
    "complaint:assign": N_("Assign complaints"),
    "complaint:improve": N_("Keep the improvement log"),
    "sla:manage": N_("Edit SLA policies"),
    "loyalty:read": N_("See loyalty members"),
    "loyalty:redeem": N_("Redeem rewards"),
    "loyalty:adjust": N_("Adjust points"),
    "loyalty:manage": N_("Configure the loyalty programme"),
    "retention:read": N_("See churn alerts and win-back"),
    "retention:work": N_("Work alerts and win-back tasks"),
    "retention:manage": N_("Configure warning rules and playbooks"),
    "data:import": N_("Import files"),
    "data:export": N_("Export lists"),
    "demo:generate": N_("Generate demo data"),
    "user:manage": N_("Manage users and roles"),
    "audit:read": N_("Read the audit log"),
    "work:read": N_("See background work"),
    "work:retry": N_("Retry background work"),
    "mail:manage": N_("Manage the email outbox"),
    "token:own": N_("Own API tokens"),
}


def group_of(verb: str) -> str:
    return GROUPS.get(verb.split(":", 1)[0], N_("Administration"))


def grouped(verbs) -> list[tuple[str, list[str]]]:
    """``verbs`` (in matrix order) as (group label, verbs) in the order groups first appear."""
    out: dict[str, list[str]] = {}
    for v in verbs:
        out.setdefault(group_of(v), []).append(v)
    return list(out.items())
