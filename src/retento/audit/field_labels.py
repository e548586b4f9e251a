"""The audit log's names for the fields of every audited record type, in both languages.

``/admin/audit`` shows each changed field by a label (``web.labels.field_msgid``). Domains name
their records' fields next to their pages (``customers/field_labels.py``, ``complaints/pages/
labels.py`` …); the fields no domain named, and the keys of the summaries some entries hold
instead of a record (an import's counts, the demo's, a batch of win-back cases), are named here
(translations in ``audit_fields.po``). ``tests/audit/test_field_labels.py`` checks that every
column of every audited table and every key the code writes has a label in English and Chinese,
so a new column cannot appear under its column name.
"""

from __future__ import annotations

from retento.web.i18n import N_
from retento.web.labels import (
    register_field_labels,
    register_labels,
)

# Record types of the audit log no domain named yet.
register_labels(
    "entity",
    {
        "experience": N_("Experience record"),
        "notification_preferences": N_("Notification settings"),
        "value_settings": N_("Value settings"),
    },
)

# entity → field → message id. The settings pages name their own records' fields where their
# forms label them (value_settings in scoring.pages_settings, retention_playbook in
# retention.pages_playbooks, loyalty_programme in loyalty.pages).
FIELDS: dict[str, dict[str, str]] = {
    "user": {
        "username": N_("Username"),
        "display_name": N_("Display name"),
        "email": N_("Email"),
        "role": N_("Role"),
        "is_active": N_("Active"),
        "locale": N_("Language"),
        "password": N_("Password"),
    },
    "role": {
        "users_renamed": N_("Users moved to the new name"),
    },
    "api_token": {
        "user": N_("User"),
        "name": N_("Token name"),
        "prefix": N_("Token prefix"),
    },
    "user_sessions": {
        "sessions": N_("Sessions ended"),
    },
    "customer": {
        "merged_id": N_("Merged customer"),
        "moved": N_("Records moved"),
        "merged_into": N_("Merged into"),
        "sections": N_("Exported data"),
        "attachment_files": N_("Attachment files"),
        "reason": N_("Reason"),
        "counts": N_("Records erased"),
        "survey_emails_cancelled": N_("Survey emails cancelled"),
        "personal_data": N_("Personal data"),
        "audit_entries_redacted": N_("Audit entries redacted"),
        "emails_forgotten": N_("Emails cancelled and cleared"),
    },
    "order": {
        "refunds": N_("Refunds"),
    },
    "product": {
        "category": N_("Category"),
        "unit_price": N_("List price"),
        "unit_cost": N_("Unit cost"),
        "is_active": N_("Active"),
    },
    "import": {
        "entity": N_("Record type"),
        "file": N_("File"),
        "created": N_("Created"),
        "updated": N_("Updated"),
        "unchanged": N_("Unchanged"),
        "rejected": N_("Rejected"),
    },
    "demo": {
        "customers": N_("Customers"),
        "products": N_("Products"),
        "orders": N_("Orders"),
        "order_lines": N_("Order lines"),
        "refunds": N_("Refunds"),
        "touchpoints": N_("Touchpoints"),
        "seed": N_("Random seed"),
        "scoring_run": N_("Scoring run"),
        "complaints": N_("Complaints"),
        "complaint_notifications": N_("Complaint notifications"),
        "complaints_resolution_breached": N_("Complaints past their resolution deadline"),
        "surveys": N_("Surveys"),
        "survey_responses": N_("Survey responses"),
        "survey_emails_queued": N_("Survey emails queued"),
        "experience records": N_("Experience records"),
        "survey questions with an experience mode": N_("Survey questions with an experience mode"),
        "loyalty_members": N_("Loyalty members"),
        "loyalty_points_expired": N_("Loyalty points expired"),
        "loyalty_redemptions": N_("Loyalty redemptions"),
        "loyalty_refunds": N_("Loyalty refunds"),
        "retention_alerts": N_("Retention alerts"),
        "retention_cases": N_("Win-back cases"),
        "retention_history_cases": N_("Past win-back cases"),
        "retention_settled": N_("Win-back cases settled"),
        "retention_came_back": N_("Customers who came back"),
        "retention_actions_queued": N_("Win-back actions queued"),
    },
    "complaint_attachment": {
        "complaint_id": N_("Complaint"),
        "filename": N_("File name"),
        "content_type": N_("File type"),
        "size": N_("Size (bytes)"),
        "sha256": N_("SHA-256 checksum"),
        "path": N_("Stored as"),
        "uploaded_at": N_("Uploaded at"),
        "uploaded_by_id": N_("Uploaded by"),
    },
    "complaint_event": {
        "complaint_id": N_("Complaint"),
        "at": N_("When"),
        "kind": N_("Type"),
        "internal": N_("Internal only"),
        "actor_id": N_("User"),
        "actor_name": N_("By"),
        "body": N_("Text"),
        "data": N_("Details"),
    },
    "complaint_remedy": {
        "complaint_id": N_("Complaint"),
        "kind": N_("Kind"),
        "compensation_type": N_("Compensation type"),
        "amount": N_("Amount given"),
        "cost": N_("Cost to us"),
        "points": N_("Loyalty points"),
        "given_at": N_("Given at"),
    },
    "complaint_improvement": {
        "title": N_("Title"),
        "root_cause": N_("Root cause"),
        "category_id": N_("Category"),
        "owner_id": N_("Owner"),
        "stage": N_("PDCA stage"),
        "plan": N_("Plan"),
        "do_note": N_("Do"),
        "check_result": N_("Check"),
        "act_note": N_("Act"),
        "due_on": N_("Due"),
    },
    "complaint_category": {
        "code": N_("Code"),
        "name_zh": N_("Chinese name"),
        "parent_id": N_("Parent category"),
        "is_active": N_("Active"),
    },
    "business_calendar": {
        "timezone": N_("Time zone"),
        "hours": N_("Working hours"),
        "holidays": N_("Holidays"),
    },
    "sla_policy": {
        "severity": N_("Severity"),
        "value_class": N_("Value class"),
        "priority": N_("Priority"),
        "first_response_minutes": N_("First response (minutes)"),
        "resolution_minutes": N_("Resolution (minutes)"),
        "warn_fraction": N_("Warn at (fraction)"),
        "calendar_id": N_("Business calendar"),
        "auto_reassign_to_id": N_("Reassign on breach to"),
        "is_active": N_("Active"),
    },
    "survey": {
        "reminded": N_("Reminded"),
        "emails_queued": N_("Emails queued"),
        "at": N_("When"),
        "missing": N_("Texts missing"),
    },
    "survey_distribution": {
        "survey_id": N_("Survey"),
        "segment_kind": N_("Send to"),
        "segment_value": N_("Segment"),
        "invited": N_("Invited"),
        "expires_at": N_("Links valid until"),
        "error": N_("Error"),
        "finished_at": N_("Finished at"),
        "request_hash": N_("Request fingerprint"),
        "emails_queued": N_("Emails queued"),
        "not_emailed": N_("Not emailed"),
        "skipped_archived": N_("Skipped: archived"),
        "skipped_no_consent": N_("Skipped: no consent"),
        "skipped_open_invitations": N_("Skipped: invitation still open"),
    },
    "mail_message": {
        "recipient": N_("Recipient"),
        "subject": N_("Subject"),
        "body_text": N_("Text"),
        "body_html": N_("HTML text"),
        "locale": N_("Language"),
        "kind": N_("Kind"),
        "related_type": N_("Related record type"),
        "related_id": N_("Related record"),
        "attempts": N_("Attempts"),
        "last_error": N_("Last error"),
        "next_attempt_at": N_("Next attempt at"),
        "claim_token": N_("Sending run"),
        "claimed_at": N_("Picked up for sending at"),
        "sent_at": N_("Sent at"),
    },
    "mail_outbox": {
        "queued": N_("Queued"),
        "sent": N_("Sent"),
        "retrying": N_("Retrying"),
        "failed": N_("Failed"),
        "cancelled": N_("Cancelled"),
    },
    "work_item": {
        "kind": N_("Kind"),
        "ref": N_("About"),
        "payload": N_("Input"),
        "progress": N_("Progress"),
        "stage": N_("Stage"),
        "result": N_("Result"),
        "error": N_("Error"),
        "attempts": N_("Attempts"),
        "claimed_by": N_("Worker"),
        "heartbeat_at": N_("Last sign of life"),
        "started_at": N_("Started at"),
        "finished_at": N_("Finished at"),
    },
    "experience": {
        "touchpoint_id": N_("Touchpoint"),
        "survey_response_id": N_("Survey response"),
        "survey_answer_id": N_("Survey answer"),
        "mode": N_("Experience mode"),
        "stage": N_("Journey stage"),
        "rating": N_("Experience rating"),
        "occurred_at": N_("When"),
    },
    "loyalty_club": {
        "description": N_("Description"),
        "min_tier_id": N_("Lowest tier"),
    },
    "loyalty_club_member": {
        "club_id": N_("Club"),
        "joined_at": N_("Joined at"),
    },
    "loyalty_club_event": {
        "club_id": N_("Club"),
        "title": N_("Title"),
        "starts_at": N_("Starts at"),
        "location": N_("Location"),
    },
    "loyalty_attendance": {
        "event_id": N_("Club event"),
        "touchpoint_id": N_("Touchpoint"),
        "at": N_("When"),
    },
    "loyalty_measurement_run": {
        "customers": N_("Customers measured"),
        "trap": N_("Satisfaction trap"),
    },
    "loyalty_members": {
        "rows": N_("Rows"),
        "enrolled": N_("Enrolled"),
        "tier_changes": N_("Tier changes"),
        "posted": N_("Postings"),
        "replayed": N_("Already imported"),
        "points": N_("Points"),
        "ignored_columns": N_("Ignored columns"),
    },
    "retention_config": {
        "default_owner_id": N_("Default owner"),
        "auto_apply": N_("Apply playbooks automatically"),
        "notify_owner": N_("Notify the owner"),
    },
    "retention_rule": {
        "code": N_("Code"),
        "enabled": N_("Enabled"),
        "threshold": N_("Threshold"),
        "window_days": N_("Window (days)"),
        "severity": N_("Severity"),
        "classes": N_("Customer classes"),
    },
    "retention_alert": {
        "rule": N_("Warning rule"),
        "cause_key": N_("Cause"),
        "severity": N_("Severity"),
        "reason_code": N_("Reason"),
        "reason_params": N_("Reason details"),
        "value_class": N_("Value class"),
        "risk": N_("Churn risk"),
        "owner_id": N_("Owner"),
        "acknowledged_at": N_("Acknowledged at"),
        "closed_at": N_("Closed at"),
        "closed_by_id": N_("Closed by"),
        "close_note": N_("Closing note"),
        "created": N_("Created"),
        "first_id": N_("First record"),
        "last_id": N_("Last record"),
    },
    "retention_case": {
        "alert_id": N_("Alert"),
        "playbook_id": N_("Playbook"),
        "value_class": N_("Value class"),
        "seq": N_("Position in its group"),
        "arm": N_("Group (treated or control)"),
        "action": N_("Action"),
        "risk": N_("Churn risk"),
        "assigned_at": N_("Assigned at"),
        "window_ends_at": N_("Came-back window ends"),
        "reached": N_("Customer reached"),
        "offer_accepted": N_("Offer accepted"),
        "email_sent": N_("Email sent"),
        "outcome": N_("Outcome"),
        "came_back_at": N_("Came back at"),
        "revenue": N_("Revenue"),
        "cost": N_("Cost"),
        "action_status": N_("Action status"),
        "action_error": N_("Action error"),
        "actions_done": N_("Actions carried out"),
        "created": N_("Created"),
        "first_id": N_("First record"),
        "last_id": N_("Last record"),
    },
    "retention_task": {
        "case_id": N_("Win-back case"),
        "owner_id": N_("Owner"),
        "kind": N_("Kind"),
        "title": N_("Title"),
        "script": N_("Script"),
        "due_on": N_("Due"),
        "result": N_("Result"),
        "done_at": N_("Done at"),
        "done_by_id": N_("Done by"),
    },
    "score_run": {
        "model": N_("Model"),
        "customers": N_("Customers scored"),
    },
}
for _entity, _labels in FIELDS.items():
    register_field_labels(_entity, _labels)


def load_kind_labels() -> None:
    """Load every kind of e-mail and of notification: the mail and notification registries
    name the audit log's per-kind fields with the kinds' labels as the domains register them,
    which a page may not have done yet."""
    from retento.mail.kinds import load_email_modules
    from retento.notifications.kinds import load_kind_modules

    load_email_modules()
    load_kind_modules()
