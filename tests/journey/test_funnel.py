"""The journey funnel on a hand-made set of touchpoints (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from retento.core.errors import InvalidInput
from retento.journey.funnel import journey_funnel
from tests.factories import make_customer, make_touchpoint

DAY0 = datetime(2025, 1, 1, 12, tzinfo=UTC)


def _tp(db, customer, day: float, stage: str, channel: str):
    return make_touchpoint(
        db, customer, occurred_at=DAY0 + timedelta(days=day), stage=stage, channel=channel
    )


@pytest.fixture
def journeys(db):
    """Seven customers; the funnel below is worked out by hand in the comments."""
    a, b, c, d, e, f, g = (make_customer(db, name=f"Journey {n}") for n in "ABCDEFG")
    # A: desire → information → order (furthest: order).
    _tp(db, a, 1, "desire", "ads")
    _tp(db, a, 3, "information", "web")
    _tp(db, a, 10, "order", "store")
    # B: desire → information (stops at information).
    _tp(db, b, 2, "desire", "ads")
    _tp(db, b, 4, "information", "phone")
    # C: information twice (first by web) → selection (stops at selection).
    _tp(db, c, 1, "information", "web")
    _tp(db, c, 5, "information", "phone")
    _tp(db, c, 6, "selection", "store")
    # D: desire only; an order after the period does not count.
    _tp(db, d, 1, "desire", "email")
    _tp(db, d, 40, "order", "store")
    # E: payment only in the period; an after-sales contact before the period does not count.
    _tp(db, e, 20, "payment", "web")
    _tp(db, e, -5, "after_sales", "phone")
    # F: desire → information after 5 days.
    _tp(db, f, 0, "desire", "ads")
    _tp(db, f, 5, "information", "web")
    # G: information first, desire later: no desire→information gap.
    _tp(db, g, 1, "information", "web")
    _tp(db, g, 8, "desire", "chat")
    db.flush()
    return DAY0, DAY0 + timedelta(days=30)


def test_stages_conversion_and_drop_off(db, journeys):
    start, end = journeys
    fun = journey_funnel(db, start=start, end=end)
    assert fun.customers == 7
    got = {s.stage: (s.reached, s.stopped) for s in fun.stages}
    assert got == {
        "desire": (7, 1),  # D stopped
        "information": (6, 3),  # B, F, G stopped
        "cognition": (3, 0),
        "selection": (3, 1),  # C
        "order": (2, 1),  # A
        "receipt": (1, 0),
        "payment": (1, 1),  # E
        "after_sales": (0, 0),
    }
    desire = fun.stages[0]
    assert desire.conversion == pytest.approx(6 / 7)
    assert desire.drop_off == pytest.approx(1 / 7)
    assert fun.stages[1].conversion == pytest.approx(3 / 6)
    assert fun.stages[-1].conversion is None and fun.stages[-1].drop_off is None


def test_per_channel(db, journeys):
    start, end = journeys
    fun = journey_funnel(db, start=start, end=end)
    rows = {(r.stage, r.channel): (r.entered, r.went_on) for r in fun.channels}
    assert rows == {
        ("desire", "ads"): (3, 3),  # A, B, F
        ("desire", "email"): (1, 0),  # D
        ("desire", "chat"): (1, 1),  # G (furthest: information)
        ("information", "web"): (4, 2),  # A, C on; F, G stop (C's first is web)
        ("information", "phone"): (1, 0),  # B
        ("selection", "store"): (1, 0),
        ("order", "store"): (1, 0),
        ("payment", "web"): (1, 0),
    }
    info_web = next(r for r in fun.channels if (r.stage, r.channel) == ("information", "web"))
    assert info_web.conversion == pytest.approx(0.5) and info_web.drop_off == pytest.approx(0.5)


def test_time_between_stages(db, journeys):
    start, end = journeys
    fun = journey_funnel(db, start=start, end=end)
    gap = fun.gaps[0]
    assert (gap.from_stage, gap.to_stage) == ("desire", "information")
    # A: 2 days, B: 2 days, F: 5 days; G went the other way round.
    assert gap.customers == 3
    assert gap.median_days == pytest.approx(2.0)
    assert gap.mean_days == pytest.approx(3.0)
    assert all(g.customers == 0 and g.median_days is None for g in fun.gaps[1:])


def test_even_median_and_all_time(db, journeys):
    # Without a period D's order and E's after-sales contact count: D reaches order.
    fun = journey_funnel(db)
    assert fun.customers == 7
    assert {s.stage: s.reached for s in fun.stages}["order"] == 3
    # Add a fourth desire→information gap of 4 days: median of 2, 2, 4, 5 is 3.
    h = make_customer(db, name="Journey H")
    _tp(db, h, 2, "desire", "web")
    _tp(db, h, 6, "information", "web")
    fun = journey_funnel(db, start=journeys[0], end=journeys[1])
    assert fun.gaps[0].customers == 4
    assert fun.gaps[0].median_days == pytest.approx(3.0)


def test_empty_and_bad_period(db):
    fun = journey_funnel(
        db, start=datetime(1990, 1, 1, tzinfo=UTC), end=datetime(1990, 2, 1, tzinfo=UTC)
    )
    assert fun.customers == 0 and all(s.reached == 0 for s in fun.stages)
    assert all(s.conversion is None for s in fun.stages)
    with pytest.raises(InvalidInput) as exc:
        journey_funnel(db, start=DAY0, end=DAY0)
    assert exc.value.field == "until"


def test_orders_and_complaints_count_as_stages(db, journeys):
    """``sources``: orders (not cancelled) are "order and deposit" events, complaints
    "after-sales service" events, each in its own channel mapped onto the touchpoint ones."""
    from tests.factories import make_order
    from tests.factories.complaints import make_complaint

    start, end = journeys
    b = make_customer(db, name="Journey B2")
    _tp(db, b, 2, "desire", "ads")
    # B2 orders on the web on day 6, complains through the web form on day 9: it reaches
    # after-sales only when complaints count, order only when orders count.
    make_order(db, b, ordered_at=DAY0 + timedelta(days=6), channel="web")
    make_complaint(db, customer_id=b.id, channel="web_form", received_at=DAY0 + timedelta(days=9))
    # A customer with only a partner order in the period and a cancelled one; another whose
    # only order is after the period.
    c = make_customer(db, name="Journey C2")
    make_order(db, c, ordered_at=DAY0 + timedelta(days=3), channel="partner")
    make_order(db, c, ordered_at=DAY0 + timedelta(days=1), channel="store", status="cancelled")
    late = make_customer(db, name="Journey late")
    make_order(db, late, ordered_at=end + timedelta(days=1))
    db.flush()

    plain = journey_funnel(db, start=start, end=end)
    assert plain.customers == 8 and plain.sources == []  # the seven + B2 (desire only)

    fun = journey_funnel(db, start=start, end=end, sources=("orders",))
    assert fun.sources == ["orders"]
    assert fun.customers == 9  # C2 enters through its order; "late" does not
    reached = {s.stage: s.reached for s in fun.stages}
    assert reached["order"] == 2 + 2  # A, E (payment) + B2, C2
    channels = {(r.stage, r.channel): r.entered for r in fun.channels}
    assert channels[("order", "web")] == 1  # B2
    assert channels[("order", "other")] == 1  # C2's partner order; the cancelled one ignored
    assert channels[("order", "store")] == 1  # A's touchpoint
    # B2: desire on day 2 → order on day 6; A's desire → order is not adjacent.
    assert fun.gaps[3].customers == 0  # selection → order: nobody has both

    both = journey_funnel(db, start=start, end=end, sources=("complaints", "orders"))
    assert both.sources == ["orders", "complaints"]
    after = {s.stage: (s.reached, s.stopped) for s in both.stages}["after_sales"]
    assert after == (1, 1)  # B2 through the web form
    assert {(r.stage, r.channel): r.entered for r in both.channels}[("after_sales", "web")] == 1


def test_unknown_source_is_refused(db):
    from retento.journey.funnel import parse_sources

    assert parse_sources(["orders,complaints", "orders"]) == ("orders", "complaints")
    with pytest.raises(InvalidInput) as exc:
        journey_funnel(db, sources=("payments",))
    assert exc.value.field == "include"
