"""The pure complaint state machine."""

from __future__ import annotations

import pytest

from retento.complaints.workflow import (
    STATES,
    TRANSITIONS,
    allowed_actions,
    is_open,
    transition,
)
from retento.core.errors import Conflict, InvalidInput

HAPPY_PATH = [
    ("accepted", "start", "in_progress"),
    ("in_progress", "await_customer", "awaiting_customer"),
    ("awaiting_customer", "customer_replied", "in_progress"),
    ("in_progress", "resolve", "resolved"),
    ("resolved", "follow_up", "follow_up"),
    ("follow_up", "close", "closed"),
]


@pytest.mark.parametrize(("state", "action", "target"), HAPPY_PATH)
def test_happy_path(state, action, target):
    assert transition(state, action).target == target


@pytest.mark.parametrize("state", ["resolved", "follow_up", "closed"])
def test_reopen_goes_back_to_in_progress(state):
    t = transition(state, "reopen")
    assert t.target == "in_progress" and t.clock == "restart"


def test_clock_effects():
    assert transition("in_progress", "await_customer").clock == "pause"
    assert transition("awaiting_customer", "customer_replied").clock == "resume"
    assert transition("awaiting_customer", "resolve").clock == "stop"
    assert transition("accepted", "start").clock is None


def test_every_illegal_pair_is_a_conflict_naming_the_transition():
    illegal = 0
    for state in STATES:
        for action, t in TRANSITIONS.items():
            if state in t.sources:
                continue
            illegal += 1
            with pytest.raises(Conflict) as exc:
                transition(state, action)
            assert exc.value.field == "action"
            assert f"{state} → {t.target}" in exc.value.message
            assert action in exc.value.message
    assert illegal == len(STATES) * len(TRANSITIONS) - sum(
        len(t.sources) for t in TRANSITIONS.values()
    )


def test_closed_cannot_be_resolved_again():
    with pytest.raises(Conflict) as exc:
        transition("closed", "resolve")
    assert "allowed from closed: reopen" in exc.value.message


def test_unknown_action_and_state():
    with pytest.raises(InvalidInput) as exc:
        transition("accepted", "teleport")
    assert exc.value.field == "action"
    with pytest.raises(InvalidInput) as exc:
        transition("limbo", "start")
    assert exc.value.field == "status"


def test_allowed_actions_and_openness():
    assert allowed_actions("accepted") == ["start"]
    assert allowed_actions("in_progress") == ["await_customer", "resolve"]
    assert allowed_actions("awaiting_customer") == ["customer_replied", "resolve"]
    assert allowed_actions("closed") == ["reopen"]
    assert [s for s in STATES if is_open(s)] == ["accepted", "in_progress", "awaiting_customer"]
