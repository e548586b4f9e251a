"""Pure SLA arithmetic: business hours, weekends, holidays, DST, pauses, policy changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from retento.complaints.policies import PolicyRule, explain, select_policy
from retento.complaints.sla import (
    BusinessCalendar,
    CalendarPeriod,
    Pause,
    SlaClock,
    due_at,
    elapsed,
    format_hhmm,
    parse_hhmm,
    remaining,
)
from retento.core.errors import Conflict, InvalidInput

BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def office(tz: str = "Europe/Berlin", holidays=()) -> BusinessCalendar:
    """Mon–Fri 09:00–17:00."""
    return BusinessCalendar.from_spec(
        tz, {str(d): [["09:00", "17:00"]] for d in range(5)}, holidays
    )


def test_parse_and_format_hhmm():
    assert parse_hhmm("09:30") == 570
    assert parse_hhmm("24:00") == 1440
    assert format_hhmm(570) == "09:30"
    for bad in ("9", "25:00", "24:30", "ab:cd", "10:60"):
        with pytest.raises(InvalidInput) as exc:
            parse_hhmm(bad)
        assert exc.value.field == "hours"


def test_add_within_the_same_day():
    cal = office()
    assert cal.add(berlin(2025, 1, 6, 10), 3 * H) == berlin(2025, 1, 6, 13)


def test_add_overnight_carries_to_next_morning():
    cal = office()
    # Tuesday 16:00 + 4 h: 1 h today, 3 h from Wednesday 09:00.
    assert cal.add(berlin(2025, 1, 7, 16), 4 * H) == berlin(2025, 1, 8, 12)


def test_add_ending_exactly_at_closing_time_stays_that_day():
    cal = office()
    assert cal.add(berlin(2025, 1, 7, 9), 8 * H) == berlin(2025, 1, 7, 17)


def test_start_before_opening_counts_from_opening():
    cal = office()
    assert cal.add(berlin(2025, 1, 7, 6, 30), 2 * H) == berlin(2025, 1, 7, 11)


def test_start_after_closing_counts_from_next_opening():
    cal = office()
    assert cal.add(berlin(2025, 1, 7, 22), 30 * timedelta(minutes=1)) == berlin(2025, 1, 8, 9, 30)


def test_weekend_is_skipped():
    cal = office()
    # Friday 15:00 + 4 h → 2 h Friday, 2 h Monday.
    assert cal.add(berlin(2025, 1, 10, 15), 4 * H) == berlin(2025, 1, 13, 11)
    # A Saturday start waits for Monday.
    assert cal.add(berlin(2025, 1, 11, 12), H) == berlin(2025, 1, 13, 10)


def test_holiday_is_skipped():
    cal = office(holidays=["2025-12-25", "2025-12-26"])
    # Wednesday 24 Dec 16:00 + 3 h → 1 h on the 24th, Thu/Fri holidays, weekend, Mon 29th 11:00.
    assert cal.add(berlin(2025, 12, 24, 16), 3 * H) == berlin(2025, 12, 29, 11)
    assert cal.business_time(berlin(2025, 12, 24, 9), berlin(2025, 12, 29, 9)) == 8 * H


def test_multiple_spans_per_day_lunch_break():
    cal = BusinessCalendar.from_spec(
        "Asia/Shanghai", {str(d): [["09:00", "12:00"], ["13:00", "18:00"]] for d in range(5)}
    )
    sh = ZoneInfo("Asia/Shanghai")
    assert cal.add(datetime(2025, 3, 3, 11, tzinfo=sh), 2 * H) == datetime(
        2025, 3, 3, 14, tzinfo=sh
    )
    day = cal.business_time(datetime(2025, 3, 3, tzinfo=sh), datetime(2025, 3, 4, tzinfo=sh))
    assert day == 8 * H


def test_overnight_shift_spans_midnight():
    # Night desk: 22:00–06:00 starting Monday to Friday nights.
    cal = BusinessCalendar.from_spec("UTC", {str(d): [["22:00", "06:00"]] for d in range(5)})
    mon = datetime(2025, 1, 6, 23, tzinfo=UTC)
    assert cal.add(mon, 3 * H) == datetime(2025, 1, 7, 2, tzinfo=UTC)
    # Friday night's shift runs into Saturday morning; the next shift is Monday 22:00.
    fri = datetime(2025, 1, 10, 22, tzinfo=UTC)
    assert cal.add(fri, 9 * H) == datetime(2025, 1, 13, 23, tzinfo=UTC)
    # Starting at 01:00 on Tuesday is inside Monday's shift.
    assert cal.is_working(datetime(2025, 1, 7, 1, tzinfo=UTC))
    assert not cal.is_working(datetime(2025, 1, 7, 12, tzinfo=UTC))


def test_dst_spring_forward_office_hours_follow_local_clock():
    cal = office()
    # Friday 28 March 2025 16:00 CET (+01:00) + 2 h → Monday 31 March 10:00 CEST (+02:00).
    due = cal.add(berlin(2025, 3, 28, 16), 2 * H)
    assert due == berlin(2025, 3, 31, 10)
    assert due.astimezone(BERLIN).utcoffset() == 2 * H
    assert due.astimezone(UTC) == datetime(2025, 3, 31, 8, tzinfo=UTC)


def test_dst_spring_forward_day_is_23_hours_on_a_24_7_calendar():
    cal = BusinessCalendar.always("Europe/Berlin")
    day = cal.business_time(berlin(2025, 3, 30), berlin(2025, 3, 31))
    assert day == 23 * H
    # 24 business hours from Saturday noon land on Sunday 13:00 local (one hour "lost").
    assert cal.add(berlin(2025, 3, 29, 12), 24 * H) == berlin(2025, 3, 30, 13)


def test_dst_fall_back_day_is_25_hours_on_a_24_7_calendar():
    cal = BusinessCalendar.always("Europe/Berlin")
    assert cal.business_time(berlin(2025, 10, 26), berlin(2025, 10, 27)) == 25 * H
    assert cal.add(berlin(2025, 10, 25, 12), 24 * H) == berlin(2025, 10, 26, 11)


def test_dst_sunday_working_hours_through_the_gap():
    # Emergency line Sundays 01:00–05:00 local: on 30 March 02:00–03:00 does not exist → 3 h.
    cal = BusinessCalendar.from_spec("Europe/Berlin", {"6": [["01:00", "05:00"]]})
    assert cal.business_time(berlin(2025, 3, 30), berlin(2025, 3, 31)) == 3 * H
    # On 26 October 02:00–03:00 happens twice → 5 h.
    assert cal.business_time(berlin(2025, 10, 26), berlin(2025, 10, 27)) == 5 * H


def test_business_time_between_and_reverse_is_zero():
    cal = office()
    a, b = berlin(2025, 1, 6, 8), berlin(2025, 1, 13, 8)
    assert cal.business_time(a, b) == 40 * H
    assert cal.business_time(b, a) == timedelta(0)


def test_naive_datetimes_are_rejected():
    with pytest.raises(InvalidInput) as exc:
        office().add(datetime(2025, 1, 6, 9), H)
    assert exc.value.field == "start"


def test_unknown_zone_and_bad_spec_name_the_field():
    with pytest.raises(InvalidInput) as exc:
        BusinessCalendar.always("Mars/Olympus")
    assert exc.value.field == "timezone"
    with pytest.raises(InvalidInput) as exc:
        BusinessCalendar.from_spec("UTC", {"7": [["09:00", "17:00"]]})
    assert exc.value.field == "hours"
    with pytest.raises(InvalidInput) as exc:
        BusinessCalendar.from_spec("UTC", {}, ["25/12/2025"])
    assert exc.value.field == "holidays"


def test_calendar_without_working_time_is_an_error():
    with pytest.raises(InvalidInput) as exc:
        BusinessCalendar("UTC", {}).add(datetime(2025, 1, 1, tzinfo=UTC), H)
    assert exc.value.field == "calendar"


def test_spec_round_trip():
    cal = office(holidays=["2025-05-01"])
    again = BusinessCalendar.from_spec(**cal.to_spec())
    assert again.hours == cal.hours and again.holidays == {date(2025, 5, 1)}


def test_pause_across_days_moves_the_deadline():
    cal = office()
    start = berlin(2025, 1, 6, 9)  # Monday
    # Target 12 h → Tuesday 13:00 without pauses.
    assert due_at(cal, start, 12 * H) == berlin(2025, 1, 7, 13)
    # Awaiting the customer from Monday 15:00 to Wednesday 11:00: 6 h ran before, 6 h after.
    pauses = [Pause(berlin(2025, 1, 6, 15), berlin(2025, 1, 8, 11))]
    assert due_at(cal, start, 12 * H, pauses) == berlin(2025, 1, 8, 17)
    assert elapsed(cal, start, berlin(2025, 1, 8, 12), pauses) == 7 * H
    assert remaining(cal, start, 12 * H, berlin(2025, 1, 8, 12), pauses) == 5 * H


def test_open_pause_has_no_deadline_and_freezes_elapsed():
    cal = office()
    start = berlin(2025, 1, 6, 9)
    pauses = [Pause(berlin(2025, 1, 6, 11))]
    assert due_at(cal, start, 4 * H, pauses) is None
    assert elapsed(cal, start, berlin(2025, 1, 9, 12), pauses) == 2 * H
    # A target already used up before the pause still has a deadline.
    assert due_at(cal, start, H, pauses) == berlin(2025, 1, 6, 10)


def test_overlapping_and_pauses_outside_hours():
    cal = office()
    start = berlin(2025, 1, 6, 9)
    pauses = [
        Pause(berlin(2025, 1, 6, 10), berlin(2025, 1, 6, 12)),
        Pause(berlin(2025, 1, 6, 11), berlin(2025, 1, 6, 13)),  # overlaps the first
        Pause(berlin(2025, 1, 6, 20), berlin(2025, 1, 7, 8)),  # outside hours: no effect
    ]
    assert elapsed(cal, start, berlin(2025, 1, 7, 10), pauses) == 6 * H
    with pytest.raises(InvalidInput) as exc:
        elapsed(
            cal, start, berlin(2025, 1, 7), [Pause(berlin(2025, 1, 6, 12), berlin(2025, 1, 6, 10))]
        )
    assert exc.value.field == "pauses"


def test_policy_change_mid_way_keeps_elapsed_time():
    cal = office()
    clock = SlaClock(berlin(2025, 1, 6, 9), 16 * H)
    assert clock.due(cal) == berlin(2025, 1, 7, 17)
    # At Monday 15:00 (6 h used) the customer becomes VIP: target tightened to 8 h.
    tighter = clock.with_target(8 * H)
    assert tighter.due(cal) == berlin(2025, 1, 6, 17)
    assert tighter.elapsed(cal, berlin(2025, 1, 6, 15)) == 6 * H
    # Tightened below what already ran: immediately breached.
    breached = clock.with_target(4 * H)
    assert breached.state(cal, berlin(2025, 1, 6, 15)) == "breached"


def test_calendar_change_mid_way():
    office_cal = office("UTC")
    always = BusinessCalendar.always("UTC")
    start = datetime(2025, 1, 6, 9, tzinfo=UTC)  # Monday
    switch = datetime(2025, 1, 6, 13, tzinfo=UTC)  # escalated to the 24/7 desk after 4 h
    periods = [CalendarPeriod(start, office_cal), CalendarPeriod(switch, always)]
    # 10 h target: 4 h under office hours, 6 h more around the clock → 19:00 the same day.
    assert due_at(periods, start, 10 * H) == datetime(2025, 1, 6, 19, tzinfo=UTC)
    assert elapsed(periods, start, datetime(2025, 1, 6, 21, tzinfo=UTC)) == 12 * H
    # Office-only would have been Tuesday 11:00.
    assert due_at(office_cal, start, 10 * H) == datetime(2025, 1, 7, 11, tzinfo=UTC)


def test_resolution_target_recomputed_when_severity_changes():
    cal = office()
    rules = [
        PolicyRule(1, "default", 4 * H, 40 * H),
        PolicyRule(2, "serious", H, 8 * H, severity=4),
    ]
    received = berlin(2025, 1, 6, 9)
    first = select_policy(rules, 2, "ordinary")
    clock = SlaClock(received, first.resolution)
    assert clock.due(cal) == berlin(2025, 1, 10, 17)
    # Monday 14:00 the agent raises the severity to 4 ("serious loss").
    second = select_policy(rules, 4, "ordinary")
    assert second.name == "serious"
    clock = clock.with_target(second.resolution)
    assert clock.due(cal) == berlin(2025, 1, 6, 17)
    assert clock.state(cal, berlin(2025, 1, 6, 14)) == "running"
    assert clock.state(cal, berlin(2025, 1, 6, 15, 30)) == "near_breach"


def test_clock_pause_resume_and_states():
    cal = office()
    clock = SlaClock(berlin(2025, 1, 6, 9), 10 * H)
    assert clock.state(cal, berlin(2025, 1, 6, 10)) == "running"
    assert clock.warn_at(cal) == berlin(2025, 1, 6, 17)
    clock = clock.pause(berlin(2025, 1, 6, 12))
    assert clock.paused and clock.due(cal) is None
    assert clock.state(cal, berlin(2025, 1, 9, 12)) == "paused"
    with pytest.raises(Conflict):
        clock.pause(berlin(2025, 1, 6, 13))
    clock = clock.resume(berlin(2025, 1, 7, 12))  # Tuesday noon, 3 h used
    assert clock.due(cal) == berlin(2025, 1, 8, 11)
    with pytest.raises(Conflict):
        clock.resume(berlin(2025, 1, 7, 13))
    assert clock.state(cal, berlin(2025, 1, 8, 10)) == "near_breach"
    assert clock.state(cal, berlin(2025, 1, 8, 11)) == "breached"
    assert clock.stop(berlin(2025, 1, 8, 10, 59)).state(cal, berlin(2025, 1, 9)) == "met"
    assert clock.stop(berlin(2025, 1, 8, 11, 1)).state(cal, berlin(2025, 1, 9)) == "breached"


def test_stop_while_paused_closes_the_pause():
    cal = office()
    clock = SlaClock(berlin(2025, 1, 6, 9), 4 * H).pause(berlin(2025, 1, 6, 10))
    stopped = clock.stop(berlin(2025, 1, 7, 9))
    assert not stopped.paused
    assert stopped.elapsed(cal, berlin(2025, 1, 9)) == H
    assert stopped.state(cal, berlin(2025, 1, 9)) == "met"


def test_clock_rejects_bad_values():
    with pytest.raises(InvalidInput) as exc:
        SlaClock(berlin(2025, 1, 6, 9), timedelta(0))
    assert exc.value.field == "target"
    with pytest.raises(InvalidInput) as exc:
        SlaClock(berlin(2025, 1, 6, 9), H, warn_fraction=1.5)
    assert exc.value.field == "warn_fraction"
    with pytest.raises(InvalidInput) as exc:
        SlaClock(berlin(2025, 1, 6, 9), H).pause(berlin(2025, 1, 6, 8))
    assert exc.value.field == "at"


def test_policy_precedence():
    rules = [
        PolicyRule(1, "catch-all", 8 * H, 72 * H, priority=1),
        PolicyRule(2, "severity 3", 4 * H, 24 * H, severity=3, priority=50),
        PolicyRule(3, "vip", 2 * H, 24 * H, value_class="vip", priority=10),
        PolicyRule(4, "vip severity 3", H, 8 * H, severity=3, value_class="vip", priority=90),
        PolicyRule(5, "inactive vip 3", H, 2 * H, severity=3, value_class="vip", is_active=False),
        PolicyRule(6, "severity 3 twin", 4 * H, 24 * H, severity=3, priority=50),
    ]
    assert select_policy(rules, 3, "vip").name == "vip severity 3"  # most specific wins
    assert select_policy(rules, 2, "vip").name == "vip"
    # severity 3 and "vip" are both specificity 1 for an ordinary... only severity matches:
    assert select_policy(rules, 3, "ordinary").name == "severity 3"  # lower id breaks the tie
    assert select_policy(rules, 1, None).name == "catch-all"  # no class → ordinary
    assert select_policy(rules[1:2], 1, "ordinary") is None
    lines = explain(rules, 3, "vip")
    assert lines[0].startswith("✓ vip severity 3") and len(lines) == 5


def test_policy_same_specificity_priority_decides():
    rules = [
        PolicyRule(1, "by severity", 4 * H, 24 * H, severity=2, priority=20),
        PolicyRule(2, "by class", 2 * H, 12 * H, value_class="major", priority=10),
    ]
    assert select_policy(rules, 2, "major").name == "by class"


def test_policy_rule_validation_names_fields():
    with pytest.raises(InvalidInput) as exc:
        PolicyRule(1, "x", H, 2 * H, severity=5)
    assert exc.value.field == "severity"
    with pytest.raises(InvalidInput) as exc:
        PolicyRule(1, "x", H, 2 * H, value_class="gold")
    assert exc.value.field == "value_class"
    with pytest.raises(InvalidInput) as exc:
        PolicyRule(1, "x", 4 * H, 2 * H)
    assert exc.value.field == "resolution_minutes"
