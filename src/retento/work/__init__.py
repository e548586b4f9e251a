"""Background work shared by every process: leased scheduled jobs and a durable work queue.

``leases``: a scheduled job runs once per tick across all web and worker processes.
``queue``: long work (scoring runs, large imports) is enqueued by the web and run by a worker,
with its progress stored in the ``work_items`` table so any web process can show it.
This package is a lower layer: domains register their work kinds here, it imports no domain.
"""
