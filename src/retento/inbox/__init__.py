"""The user's inbox: escalation notices (SLA near-breach and breach) in the web UI."""
