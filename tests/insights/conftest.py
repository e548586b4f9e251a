"""Fixtures shared with the web tests (log in through the form), and the data sets of
tests/insights/data.py as shared worlds (tests/shared_world.py): a test that takes a ``world_*``
fixture runs in a SAVEPOINT on data built once per module and backend; ``session_factory`` and
``users`` here are shared_world's, the same as tests/conftest.py's for the other tests."""

import pytest

from tests.insights.data import build_months, build_shop
from tests.shared_world import (  # noqa: F401 (fixtures)
    World,
    make_users,
    session_factory_fixture,
    users_fixture,
)
from tests.web.conftest import web  # noqa: F401


def _users_and_shop(session) -> dict:
    make_users(session)
    session.commit()
    return build_shop(session)


@pytest.fixture(scope="module")
def world_shop():
    """The users and ``build_shop``'s shop."""
    with World.for_module(_users_and_shop) as world:
        yield world


@pytest.fixture(scope="module")
def world_months():
    """The users and ``build_months``' months of orders, complaints and NPS answers."""
    with World.for_module(build_months) as world:
        yield world
