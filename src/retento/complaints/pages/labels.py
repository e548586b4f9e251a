"""Navigation items and code labels of the complaints domain (registered on import)."""

from __future__ import annotations

from retento.web.i18n import N_
from retento.web.labels import register_field_labels, register_labels, register_value_labels
from retento.web.nav import NavItem, register_nav
from retento.web.system_texts import pgettext_noop as pgettext
from retento.web.system_texts import register_system_text

register_nav(NavItem("complaints", N_("Complaints"), "/complaints", "complaint:read", 30))
register_nav(
    NavItem(
        "complaints.dashboard",
        N_("Complaint dashboard"),
        "/complaints/dashboard",
        "complaint:read",
        31,
        "more",
    )
)
register_nav(NavItem("admin.sla", N_("SLA admin"), "/complaints/sla", "sla:manage", 30, "admin"))
register_nav(
    NavItem(
        "admin.complaint_categories",
        N_("Complaint categories"),
        "/complaints/categories",
        "sla:manage",
        31,
        "admin",
    )
)

register_labels(
    "complaint_status",
    {
        "accepted": N_("Accepted"),
        "in_progress": N_("In progress"),
        "awaiting_customer": N_("Awaiting customer"),
        "resolved": N_("Resolved (feedback given)"),
        "follow_up": N_("Follow-up"),
        "closed": N_("Closed"),
    },
)
register_labels("complaint_kind", {"complaint": N_("Complaint"), "grumble": N_("Grumble")})
register_labels(
    "entity",
    {
        "complaint": N_("Complaint"),
        "complaint_event": N_("Complaint event"),
        "complaint_remedy": N_("Remedy"),
        "complaint_attachment": N_("Attachment"),
        "complaint_category": N_("Complaint category"),
        "complaint_improvement": N_("Improvement (PDCA)"),
        "business_calendar": N_("Business calendar"),
        "sla_policy": N_("SLA policy"),
    },
)
register_labels(
    "complaint_channel",
    {
        "phone": N_("Phone"),
        "email": N_("Email"),
        "web_form": N_("Web form"),
        "store": N_("Store"),
        "chat": N_("Chat"),
        "social": N_("Social media"),
        "api": N_("API"),
    },
)
register_labels(
    "severity",
    {
        "1": N_("1 · Inconvenience"),
        "2": N_("2 · Moderate"),
        "3": N_("3 · Major"),
        "4": N_("4 · Serious loss"),
    },
)
register_labels(
    "emotion", {"calm": N_("Calm"), "cold": N_("Cold anger"), "intense": N_("Intense anger")}
)
register_labels(
    "purpose",
    {
        "heard": N_("To be heard"),
        "respected": N_("To be respected"),
        "resolved": N_("To get it resolved"),
        "compensated": N_("To be compensated"),
    },
)
register_labels(
    "remedy_kind",
    {
        "apology": N_("Apology"),
        "explanation": N_("Explanation"),
        "compensation": N_("Compensation"),
        "thanks": N_("Thanks"),
    },
)
register_labels(
    "compensation_type",
    {
        "voucher": N_("Voucher"),
        "refund": N_("Refund"),
        "gift": N_("Gift"),
        "loyalty_points": N_("Loyalty points"),
    },
)
register_labels(
    "complaint_action",
    {
        "start": N_("Start handling"),
        "await_customer": N_("Wait for the customer"),
        "customer_replied": N_("Customer replied"),
        "resolve": N_("Resolve and give feedback"),
        "follow_up": N_("Start follow-up"),
        "close": N_("Close"),
        "reopen": N_("Reopen"),
    },
)
register_labels(
    "complaint_event",
    {
        "created": N_("Received"),
        "received": N_("Received"),
        "edited": N_("Intake edited"),
        "status": N_("Status changed"),
        "transition": N_("Status changed"),
        "note": N_("Internal note"),
        "message": N_("Message to the customer"),
        "customer_reply": N_("Customer reply"),
        "assignment": N_("Assignment"),
        "remedy": N_("Service recovery"),
        "severity": N_("Severity changed"),
        "escalation": N_("Escalation"),
        "feedback": N_("Feedback"),
        "attachment": N_("Attachment"),
    },
)
register_labels(
    "sla_state",
    {
        "ok": N_("On time"),
        "running": N_("On time"),
        "near_breach": N_("Near breach"),
        "breached": N_("Breached"),
        # Which target a complaint missed (sla_clocks.sla_badge): the queue, its page, the
        # 360 box and the home dashboards name it rather than saying "Breached".
        "first_response_late": N_("First response late"),
        "resolution_late": N_("Resolution late"),
        "paused": N_("Paused"),
        "met": N_("Met"),
        "done": N_("Done"),
        "none": N_("No SLA"),
    },
)
register_labels(
    "sla_clock",
    {"first_response": N_("First response"), "resolution": N_("Resolution")},
)
register_labels(
    "pdca",
    {
        "plan": N_("Plan"),
        "do": N_("Do"),
        "check": N_("Check"),
        "act": N_("Act"),
        "done": N_("Done"),
    },
)
register_labels(
    "value_class",
    {
        "vip": N_("VIP"),
        "major": N_("Major"),
        "ordinary": N_("Ordinary"),
        "small": N_("Small"),
        "below_zero": N_("Below zero"),
    },
)
register_labels(
    "speed",
    {
        "within_1_day": N_("Within 1 day"),
        "1_to_7_days": N_("1 to 7 days"),
        "over_7_days": N_("Over 7 days"),
        "unresolved": N_("Not resolved"),
    },
)
register_labels(
    "literature",
    {
        "major_problem": N_("After a major problem (literature: 4 %)"),
        "minor_problem": N_("After a minor problem (literature: 53 %)"),
        "solved_fast": N_("Solved fast (literature: 52–95 %)"),
    },
)
# Root causes are short labels the Pareto groups by, stored lower-cased in one language whatever
# the reader's; the common ones (the demo's among them) are named in the reader's language and
# offered on the forms, any other shows as typed. "unclassified": complaints without one.
register_labels(
    "root_cause",
    {
        "courier delay": N_("Courier delay"),
        "wrong address": N_("Wrong address"),
        "packaging": N_("Packaging"),
        "supplier batch": N_("Supplier batch"),
        "storage humidity": N_("Storage humidity"),
        "promotion rules": N_("Promotion rules"),
        "double charge": N_("Double charge"),
        "booking system": N_("Booking system"),
        "training": N_("Lack of staff training"),
        "understaffing": N_("Understaffing"),
        "other": N_("Other"),
        "unclassified": N_("Unclassified"),
    },
)

# The complaint's fields in the audit log's before/after view.
register_field_labels(
    "complaint",
    {
        "tracking_code": N_("Tracking code"),
        "kind": N_("Type"),
        "category_id": N_("Category"),
        "root_cause": N_("Root cause"),
        "subject": N_("Subject"),
        "description": N_("What happened"),
        "order_id": N_("Related order number"),
        "product_id": N_("Related product number"),
        "severity": N_("Severity"),
        "emotion": N_("Emotion"),
        "purposes": N_("What the customer wants"),
        "assignee_id": N_("Assignee"),
        "team_manager_id": N_("Team manager"),
        "value_class": N_("Value class"),
        "sla_policy_id": N_("SLA policy"),
        "received_at": N_("Received at"),
        "clock_started_at": N_("SLA clock started at"),
        "paused_since": N_("Paused since"),
        "first_response_due_at": N_("First response due"),
        "first_response_warn_at": N_("First response warning at"),
        "first_responded_at": N_("First responded at"),
        "first_response_breached": N_("First response overdue"),
        "first_response_flag": N_("First response state"),
        "resolution_due_at": N_("Resolution due"),
        "resolution_warn_at": N_("Resolution warning at"),
        "resolution_breached": N_("Resolution overdue"),
        "first_response_ever_breached": N_("First response deadline ever missed"),
        "resolution_ever_breached": N_("Resolution deadline ever missed"),
        "next_warn_at": N_("Next warning at"),
        "sla_flag": N_("SLA state"),
        "flagged": N_("Flagged"),
        "resolved_at": N_("Resolved at"),
        "first_resolved_at": N_("First resolved at"),
        "closed_at": N_("Closed at"),
        "reopen_count": N_("Times reopened"),
        "feedback": N_("Feedback to the customer"),
        "followup_token": N_("Follow-up link"),
        "csat": N_("Customer's rating of the handling"),
        "would_buy_again": N_("Would buy again"),
        "survey_answered_at": N_("Follow-up answered at"),
        "won_back": N_("Won back"),
        "contact_name": N_("Contact name"),
        "contact_email": N_("Contact email"),
        "contact_phone": N_("Contact phone"),
    },
)
# Which of the groups above names the values of a record's enumerated fields (the audit log's
# before/after view and the stale-edit page show "Major", not 3).
register_value_labels(
    "complaint",
    {
        "status": "complaint_status",
        "kind": "complaint_kind",
        "channel": "complaint_channel",
        "severity": "severity",
        "emotion": "emotion",
        "purposes": "purpose",
        "value_class": "value_class",
        "first_response_flag": "sla_state",
        "sla_flag": "sla_state",
        "root_cause": "root_cause",
    },
)
register_value_labels("sla_policy", {"severity": "severity", "value_class": "value_class"})
register_value_labels(
    "complaint_remedy", {"kind": "remedy_kind", "compensation_type": "compensation_type"}
)
register_value_labels("complaint_event", {"kind": "complaint_event"})
register_value_labels("complaint_improvement", {"stage": "pdca"})

# The SLA policies and the business calendar a new installation starts with (migration 0003)
# store English names; pages show them in the reader's language while they keep those names
# (a renamed policy is shown as typed). The context keeps "Major" (a severity) apart from the
# value class "Major" (重要型).
for _name in (
    pgettext("sla policy", "Default"),
    pgettext("sla policy", "Inconvenience"),
    pgettext("sla policy", "Moderate"),
    pgettext("sla policy", "Major"),
    pgettext("sla policy", "Serious loss"),
    pgettext("sla policy", "VIP"),
    pgettext("sla policy", "VIP serious loss"),
):
    register_system_text(_name, field="sla_policy.name", context="sla policy")
register_system_text(
    pgettext("business calendar", "Office hours"),
    field="business_calendar.name",
    context="business calendar",
)

# Notes the system writes into a complaint's timeline (a reopen after a low CSAT answer, an
# automatic reassignment after an SLA breach): stored in the installation's language, shown in
# the reader's (``localize_system_text`` recognises either language's wording).
for _note in (
    N_("Customer not satisfied (CSAT %(csat)s)."),
    N_("Reassigned automatically after an SLA breach."),
):
    register_system_text(_note, field="complaint_event.body")
