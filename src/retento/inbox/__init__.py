"""The user's inbox: every notification (``retento.notifications``) and the complaint SLA
escalation notices in one list, the header badge, and the notification preferences page."""
