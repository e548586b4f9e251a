"""Per-user notifications: a registry of kinds the domains fill, preferences, delivery, digest.

A lower layer: it knows users, the outbox and the web helpers, never a domain. Each domain that
raises notifications has a ``retento/<domain>/notifications.py`` that registers its kinds
(``kinds.register_kind``), subscribes to its own events (``core/hooks``) and calls
``service.notify``; ``kinds.load_kind_modules`` discovers those modules like ``emails.py``.
"""
