"""Outbound e-mail: an outbox table filled by the domains and a job that sends it over SMTP."""
