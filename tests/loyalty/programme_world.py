"""The users and an active loyalty programme, built once per test module and backend: a shared
world (tests/shared_world.py) for the modules whose every test starts from them. Making the
programme's 64 system accounts takes a savepoint each, most of a small test's own time.

    from tests.loyalty.programme_world import programme_world  # noqa: F401 (fixtures)
    from tests.shared_world import session_factory_fixture, users_fixture  # noqa: F401

``programme_world`` is autouse: every test of the module that uses the test database (``db``,
``client``, ``users``) runs in a SAVEPOINT on the world."""

from __future__ import annotations

import pytest

from tests.factories.loyalty import make_programme
from tests.shared_world import World, make_users


def build(session) -> None:
    make_users(session)
    make_programme(session)
    session.commit()


@pytest.fixture(scope="module")
def world_programme():
    with World.for_module(build) as world:
        yield world


@pytest.fixture(autouse=True)
def programme_world(world_programme):
    """Takes the module's test database tests into the world (``world_*`` fixtures do)."""
