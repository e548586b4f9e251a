"""Pure SLA deadline arithmetic: business calendars, business time, pauses and due times.

Nothing here touches the database. All instants are timezone-aware; arithmetic is done on real
(UTC) time, so a working day that contains a DST change is as long as the clock says it is, and
opening hours follow the local wall clock of the calendar's time zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from retento.core.errors import Conflict, InvalidInput, Msg

MINUTES_PER_DAY = 24 * 60
ZERO = timedelta(0)
# Searching further than this for working time means the calendar has (almost) none.
MAX_SEARCH_DAYS = 3 * 366
DEFAULT_WARN_FRACTION = 0.8


def parse_hhmm(text: str, field_name: str = "hours") -> int:
    """``"09:30"`` → 570 minutes after midnight; ``"24:00"`` is the end of the day."""
    try:
        hh, mm = text.strip().split(":")
        h, m = int(hh), int(mm)
    except (AttributeError, ValueError) as exc:
        raise InvalidInput(
            Msg("'%(text)s' is not a time like 09:00.", text=text), field=field_name
        ) from exc
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m != 0):
        raise InvalidInput(Msg("'%(text)s' is not a time of day.", text=text), field=field_name)
    return h * 60 + m


def format_hhmm(minutes: int) -> str:
    """570 → ``"09:30"``."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            Msg("Unknown time zone '%(name)s'.", name=name), field="timezone"
        ) from exc


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(Msg("%(field)s needs a time zone.", field=name), field=name)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class BusinessCalendar:
    """Working hours per weekday (0 = Monday) in a time zone, minus holidays.

    ``hours`` maps a weekday to ``(open_minute, close_minute)`` pairs; a pair whose close is not
    after its open runs overnight into the next day (e.g. 22:00–06:00).
    """

    timezone: str = "UTC"
    hours: Mapping[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()
    name: str = "calendar"

    def __post_init__(self) -> None:
        _zone(self.timezone)
        for day, spans in self.hours.items():
            if day not in range(7):
                raise InvalidInput(
                    Msg("Weekday %(day)s must be 0 (Monday) … 6 (Sunday).", day=day), field="hours"
                )
            for start, end in spans:
                if not (0 <= start < MINUTES_PER_DAY and 0 <= end <= MINUTES_PER_DAY):
                    raise InvalidInput("Opening hours must lie within the day.", field="hours")
        object.__setattr__(self, "_pieces", self._split())

    @classmethod
    def always(cls, timezone: str = "UTC") -> BusinessCalendar:
        """Around the clock, every day (24/7 support)."""
        return cls(timezone, {d: ((0, MINUTES_PER_DAY),) for d in range(7)}, name="24/7")

    @classmethod
    def from_spec(
        cls,
        timezone: str,
        hours: Mapping[str | int, Iterable[Sequence[str]]],
        holidays: Iterable[str | date] = (),
        name: str = "calendar",
    ) -> BusinessCalendar:
        """Build from the stored JSON shape: ``{"0": [["09:00", "17:00"]], ...}`` and ISO dates."""
        parsed: dict[int, tuple[tuple[int, int], ...]] = {}
        for key, spans in hours.items():
            try:
                day = int(key)
            except ValueError as exc:
                raise InvalidInput(
                    Msg("Weekday '%(day)s' must be 0…6.", day=key), field="hours"
                ) from exc
            out = []
            for span in spans:
                if len(span) != 2:
                    raise InvalidInput("Each span is [open, close].", field="hours")
                start, end = parse_hhmm(span[0]), parse_hhmm(span[1])
                if start == end:
                    raise InvalidInput("A span must not open and close at once.", field="hours")
                out.append((start, end))
            parsed[day] = tuple(sorted(out))
        days = set()
        for h in holidays:
            try:
                days.add(h if isinstance(h, date) else date.fromisoformat(str(h)))
            except ValueError as exc:
                raise InvalidInput(
                    Msg("Holiday '%(day)s' is not an ISO date.", day=h), field="holidays"
                ) from exc
        return cls(timezone, parsed, frozenset(days), name)

    def to_spec(self) -> dict:
        """The JSON shape stored in the database (inverse of ``from_spec``)."""
        return {
            "timezone": self.timezone,
            "hours": {
                str(d): [[format_hhmm(a), format_hhmm(b)] for a, b in spans]
                for d, spans in sorted(self.hours.items())
            },
            "holidays": sorted(d.isoformat() for d in self.holidays),
        }

    def _split(self) -> dict[int, tuple[tuple[int, int, int], ...]]:
        """Pieces per weekday as ``(open, close, day_offset)``; overnight spans become two."""
        pieces: dict[int, list[tuple[int, int, int]]] = {d: [] for d in range(7)}
        for day, spans in self.hours.items():
            for start, end in spans:
                if end > start:
                    pieces[day].append((start, end, 0))
                else:
                    # The overnight tail belongs to the shift that started the day before, so a
                    # holiday on the start day cancels the whole shift.
                    pieces[day].append((start, MINUTES_PER_DAY, 0))
                    if end > 0:
                        pieces[day].append((0, end, 1))
        return {d: tuple(sorted(p, key=lambda x: (x[2], x[0]))) for d, p in pieces.items()}

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _instant(self, day: date, minute: int) -> datetime:
        if minute >= MINUTES_PER_DAY:
            day, minute = day + timedelta(days=1), minute - MINUTES_PER_DAY
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone)
        return local.astimezone(UTC)

    def intervals(
        self, start: datetime, end: datetime | None = None
    ) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals (UTC) overlapping ``[start, end)``, clipped, in order."""
        start = _aware(start, "start")
        end = None if end is None else _aware(end, "end")
        if end is not None and end <= start:
            return
        # Begin a day early so an overnight shift that started yesterday is seen.
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        last_day = day + timedelta(days=MAX_SEARCH_DAYS)
        if end is not None:
            last_day = end.astimezone(self.zone).date() + timedelta(days=1)
        prev_end: datetime | None = None
        while day <= last_day:
            if day not in self.holidays:
                for open_m, close_m, offset in self._pieces[day.weekday()]:
                    a = self._instant(day, open_m + offset * MINUTES_PER_DAY)
                    b = self._instant(day, close_m + offset * MINUTES_PER_DAY)
                    a, b = max(a, start), b if end is None else min(b, end)
                    if prev_end is not None:
                        a = max(a, prev_end)  # overlapping spans count once
                    if b > a:
                        yield a, b
                        prev_end = b
            day += timedelta(days=1)

    def business_time(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two instants (zero if ``end`` is not after ``start``)."""
        total = ZERO
        for a, b in self.intervals(start, end):
            total += b - a
        return total

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when ``duration`` of working time has passed after ``start``."""
        if duration < ZERO:
            raise InvalidInput("A duration must not be negative.", field="duration")
        start = _aware(start, "start")
        if duration == ZERO:
            return start
        left = duration
        for a, b in self.intervals(start):
            if b - a >= left:
                return a + left
            left -= b - a
        raise InvalidInput(
            Msg(
                "Calendar '%(name)s' has no working time within %(days)s days.",
                name=self.name,
                days=MAX_SEARCH_DAYS,
            ),
            field="calendar",
        )

    def is_working(self, at: datetime) -> bool:
        """True if ``at`` falls inside working hours."""
        at = _aware(at, "at")
        return any(a <= at < b for a, b in self.intervals(at, at + timedelta(seconds=1)))


@dataclass(frozen=True)
class Pause:
    """The clock stood still from ``start`` until ``end`` (``None``: still paused)."""

    start: datetime
    end: datetime | None = None


@dataclass(frozen=True)
class CalendarPeriod:
    """``calendar`` applies from ``effective_from`` on (a policy or calendar change mid-way)."""

    effective_from: datetime
    calendar: BusinessCalendar


Calendars = BusinessCalendar | Sequence[CalendarPeriod]


def _periods(calendars: Calendars, start: datetime) -> list[CalendarPeriod]:
    if isinstance(calendars, BusinessCalendar):
        return [CalendarPeriod(start, calendars)]
    periods = sorted(calendars, key=lambda p: p.effective_from)
    if not periods:
        raise InvalidInput("At least one calendar is needed.", field="calendar")
    first = periods[0]
    if first.effective_from > start:
        periods[0] = CalendarPeriod(start, first.calendar)
    return periods


def _merged_pauses(pauses: Iterable[Pause]) -> list[tuple[datetime, datetime | None]]:
    spans = sorted(
        (
            (_aware(p.start, "pause"), None if p.end is None else _aware(p.end, "pause"))
            for p in pauses
        ),
        key=lambda s: s[0],
    )
    out: list[tuple[datetime, datetime | None]] = []
    for a, b in spans:
        if b is not None and b < a:
            raise InvalidInput("A pause must not end before it starts.", field="pauses")
        if out and (out[-1][1] is None or a <= out[-1][1]):
            prev_a, prev_b = out[-1]
            out[-1] = (prev_a, None if prev_b is None or b is None else max(prev_b, b))
        else:
            out.append((a, b))
    return out


def _running_segments(
    start: datetime, calendars: Calendars, pauses: Iterable[Pause], until: datetime | None
) -> Iterator[tuple[datetime, datetime | None, BusinessCalendar]]:
    """Spans when the clock runs: ``[start, until)`` minus pauses, cut where the calendar changes."""
    periods = _periods(calendars, start)
    cuts: list[tuple[datetime, datetime | None]] = []
    cursor: datetime | None = start
    for a, b in _merged_pauses(pauses):
        if cursor is None:
            break
        if b is not None and b <= cursor:
            continue
        if a > cursor:
            cuts.append((cursor, a))
        cursor = None if b is None else max(cursor, b)
    if cursor is not None:
        cuts.append((cursor, None))
    for a, b in cuts:
        if until is not None:
            if a >= until:
                break
            b = until if b is None else min(b, until)
        for i, period in enumerate(periods):
            p_end = periods[i + 1].effective_from if i + 1 < len(periods) else None
            lo = max(a, period.effective_from) if i else a
            hi = b if p_end is None else (p_end if b is None else min(b, p_end))
            if hi is not None and hi <= lo:
                continue
            yield lo, hi, period.calendar


def elapsed(
    calendars: Calendars, start: datetime, now: datetime, pauses: Iterable[Pause] = ()
) -> timedelta:
    """Business time the clock has run between ``start`` and ``now``, pauses excluded."""
    start, now = _aware(start, "start"), _aware(now, "now")
    total = ZERO
    for a, b, cal in _running_segments(start, calendars, pauses, now):
        assert b is not None
        total += cal.business_time(a, b)
    return total


def due_at(
    calendars: Calendars, start: datetime, target: timedelta, pauses: Iterable[Pause] = ()
) -> datetime | None:
    """When ``target`` business time will have run; ``None`` while an open pause stops the clock first."""
    if target < ZERO:
        raise InvalidInput("An SLA target must not be negative.", field="target")
    start = _aware(start, "start")
    left = target
    for a, b, cal in _running_segments(start, calendars, pauses, None):
        if left == ZERO:
            return a
        if b is None:
            return cal.add(a, left)
        span = cal.business_time(a, b)
        if span >= left:
            return cal.add(a, left)
        left -= span
    return None if left > ZERO else start


def remaining(
    calendars: Calendars,
    start: datetime,
    target: timedelta,
    now: datetime,
    pauses: Iterable[Pause] = (),
) -> timedelta:
    """Business time left before the target is reached (negative once breached)."""
    return target - elapsed(calendars, start, now, pauses)


@dataclass(frozen=True)
class SlaClock:
    """One SLA clock (first response or resolution): start, target, pauses, optional stop."""

    started_at: datetime
    target: timedelta
    pauses: tuple[Pause, ...] = ()
    stopped_at: datetime | None = None
    warn_fraction: float = DEFAULT_WARN_FRACTION

    def __post_init__(self) -> None:
        _aware(self.started_at, "started_at")
        if self.target <= ZERO:
            raise InvalidInput("An SLA target must be positive.", field="target")
        if not 0 < self.warn_fraction <= 1:
            raise InvalidInput("The warning fraction must be in (0, 1].", field="warn_fraction")

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1].end is None

    def pause(self, at: datetime) -> SlaClock:
        """Stop the clock (e.g. awaiting the customer)."""
        at = _aware(at, "at")
        if self.paused:
            raise Conflict("The SLA clock is already paused.", field="status")
        if at < self.started_at:
            raise InvalidInput("A pause cannot start before the clock.", field="at")
        return replace(self, pauses=(*self.pauses, Pause(at)))

    def resume(self, at: datetime) -> SlaClock:
        """Start the clock again (e.g. the customer replied)."""
        at = _aware(at, "at")
        if not self.paused:
            raise Conflict("The SLA clock is not paused.", field="status")
        last = self.pauses[-1]
        if at < last.start:
            raise InvalidInput("The clock cannot resume before it paused.", field="at")
        return replace(self, pauses=(*self.pauses[:-1], Pause(last.start, at)))

    def stop(self, at: datetime) -> SlaClock:
        """The target was achieved at ``at`` (response given, complaint resolved)."""
        at = _aware(at, "at")
        pauses = self.pauses
        if self.paused:
            pauses = (*pauses[:-1], Pause(pauses[-1].start, max(at, pauses[-1].start)))
        return replace(self, pauses=pauses, stopped_at=at)

    def with_target(self, target: timedelta) -> SlaClock:
        """Same clock, new target (severity or policy changed): elapsed time is kept."""
        return replace(self, target=target)

    def elapsed(self, calendars: Calendars, now: datetime) -> timedelta:
        end = self.stopped_at if self.stopped_at is not None else _aware(now, "now")
        return elapsed(calendars, self.started_at, min(end, _aware(now, "now")), self.pauses)

    def due(self, calendars: Calendars) -> datetime | None:
        """Deadline; ``None`` while paused (it moves when the clock resumes)."""
        return due_at(calendars, self.started_at, self.target, self.pauses)

    def warn_at(self, calendars: Calendars) -> datetime | None:
        """When ``warn_fraction`` of the target will have run (near-breach)."""
        return due_at(calendars, self.started_at, self.target * self.warn_fraction, self.pauses)

    def fraction(self, calendars: Calendars, now: datetime) -> float:
        return self.elapsed(calendars, now) / self.target

    def state(self, calendars: Calendars, now: datetime) -> str:
        """``met``, ``breached``, ``near_breach``, ``paused`` or ``running``."""
        if self.stopped_at is not None:
            deadline = self.due(calendars)
            return "met" if deadline is None or self.stopped_at <= deadline else "breached"
        f = self.fraction(calendars, now)
        if f >= 1:
            return "breached"
        if self.paused:
            return "paused"
        if f >= self.warn_fraction:
            return "near_breach"
        return "running"
