"""Who may work an alert, a case's task: an agent only their own (``acts_on_own``); managers
any. Checked before anything else is said about the record, so an agent is not told about
another agent's alert (its case, its state) by the refusal."""

from __future__ import annotations

from retento.auth.models import User
from retento.auth.permissions import acts_on_own
from retento.core.errors import Forbidden


def check_agent_owns(actor: User, owner_id: int | None) -> None:
    """403 when ``actor`` works only their own records and ``owner_id`` is someone else."""
    if acts_on_own(actor) and owner_id is not None and owner_id != actor.id:
        raise Forbidden("Agents may work only their own alerts and tasks.")
