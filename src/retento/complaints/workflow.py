"""The complaint state machine (pure): 受理 → 处理 → 反馈 → 跟踪 → closed, plus reopen."""

from __future__ import annotations

from dataclasses import dataclass

from retento.core.errors import Conflict, InvalidInput, Msg, Term, Terms
from retento.web.i18n import N_

STATES = ("accepted", "in_progress", "awaiting_customer", "resolved", "follow_up", "closed")
OPEN_STATES = ("accepted", "in_progress", "awaiting_customer")
DONE_STATES = ("resolved", "follow_up", "closed")


@dataclass(frozen=True)
class Transition:
    """A named action from some states to one target state."""

    action: str
    sources: tuple[str, ...]
    target: str
    # Which SLA effect the service applies: pause/resume the clock, stop or restart it.
    clock: str | None = None


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("start", ("accepted",), "in_progress"),
        Transition("await_customer", ("in_progress",), "awaiting_customer", clock="pause"),
        Transition("customer_replied", ("awaiting_customer",), "in_progress", clock="resume"),
        Transition("resolve", ("in_progress", "awaiting_customer"), "resolved", clock="stop"),
        Transition("follow_up", ("resolved",), "follow_up"),
        Transition("close", ("follow_up",), "closed"),
        Transition("reopen", DONE_STATES, "in_progress", clock="restart"),
    )
}


def allowed_actions(state: str) -> list[str]:
    """Actions that may be taken from ``state``, in workflow order."""
    _check_state(state)
    return [t.action for t in TRANSITIONS.values() if state in t.sources]


def _check_state(state: str) -> None:
    if state not in STATES:
        raise InvalidInput(Msg("Unknown complaint state '%(state)s'.", state=state), field="status")


def _terms(group: str, codes: list[str]) -> Msg | Terms:
    """Codes as one list of terms: "start, reopen" in English, their labels joined the
    reader's way elsewhere ("等待客户、解决并反馈", not "等待客户, 解决并反馈")."""
    from retento.web.labels import label_msgid

    if not codes:
        return Msg(N_("none"))
    return Terms((c, label_msgid(group, c)) for c in codes)


def transition(state: str, action: str) -> Transition:
    """The transition for ``action`` from ``state``; a clear error if it is not legal."""
    _check_state(state)
    t = TRANSITIONS.get(action)
    if t is None:
        raise InvalidInput(
            Msg(
                "Unknown action '%(action)s'. Known: %(known)s.",
                action=action,
                known=", ".join(TRANSITIONS),
            ),
            field="action",
        )
    if state not in t.sources:
        from retento.web.labels import label_msgid

        allowed = allowed_actions(state)
        raise Conflict(
            Msg(
                "Cannot '%(action)s' a complaint that is %(state)s (%(state)s → %(target)s is not "
                "allowed); allowed from %(state)s: %(allowed)s.",
                action=Term(action, label_msgid("complaint_action", action)),
                state=Term(state, label_msgid("complaint_status", state)),
                target=Term(t.target, label_msgid("complaint_status", t.target)),
                allowed=_terms("complaint_action", allowed),
            ),
            field="action",
        )
    return t


def is_open(state: str) -> bool:
    """True while the resolution clock can still run."""
    return state in OPEN_STATES
