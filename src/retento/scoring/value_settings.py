"""Value settings: the pyramid cut-offs and loyalty-stage rules a manager edits (SPEC §1).

One row (id 1) in ``value_settings``, versioned: an edit names the version it started from and
a stale one is refused with 409. The next scoring run reads the row (``rules_for_run``) and
hands the rules to ``scoring.compute``; the run's report keeps the values it used
(``report["settings"]``), so a dashboard shows the rule of its run next to the real shares and
the settings page shows the configured targets next to the latest run's shares.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import utcnow
from retento.core.errors import FieldError, InvalidInput, Msg
from retento.core.money import number_text, to_money
from retento.core.versioning import lock_for_edit
from retento.scoring.models import ValueSettings
from retento.scoring.value_rules import (
    DEFAULTS,
    INT_FIELDS,
    PYRAMID_FIELDS,
    ValueRules,
    rules_from,
)

#: Yes/no settings beside the numbers (not rules of the pyramid: see ``scoring.consent``).
BOOL_FIELDS = ("profiling_needs_consent",)
BOOL_DEFAULTS = {"profiling_needs_consent": False}
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}
MAX_DAYS = 3650
MAX_PER_YEAR = 365.0
MAX_THRESHOLD = Decimal("999999999999.99")


def ensure(session: Session) -> ValueSettings:
    """The settings row, created with the defaults if missing (a database made without the
    migration, e.g. by ``create_all``); concurrent creators insert once."""
    row = session.get(ValueSettings, 1)
    if row is not None:
        return row
    from retento.retention.sql import insert_ignore

    insert_ignore(
        session,
        ValueSettings,
        [{"id": 1, **DEFAULTS, "updated_at": utcnow(), "version": 1}],
        ["id"],
        [ValueSettings.id],
    )
    return session.get(ValueSettings, 1, populate_existing=True)  # type: ignore[return-value]


def get_settings(session: Session, *, actor: User | None = None) -> ValueSettings:
    """The current value settings (anyone who sees scores may read them)."""
    if actor is not None:
        require(actor, "score:read")
    return ensure(session)


def rules_for_run(session: Session) -> ValueRules:
    """The rules the next scoring run applies."""
    return rules_from(ensure(session))


def as_dict(row: ValueSettings) -> dict[str, Any]:
    """The editable fields of ``row``."""
    return {k: getattr(row, k) for k in (*DEFAULTS, *BOOL_FIELDS)}


def _flag(raw: Any, name: str, problems: list[FieldError]) -> bool | None:
    """A yes/no field (true/false, yes/no, 1/0, on/off), or a problem naming the field."""
    if isinstance(raw, bool) or raw is None:
        return bool(raw)
    text = str(raw).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    problems.append(FieldError(name, f"{name} must be true or false"))
    return None


def _number(raw: Any, name: str, problems: list[FieldError]) -> float | Decimal | int | None:
    """One field as its type, or a problem naming the field."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        problems.append(FieldError(name, f"{name} is required"))
        return None
    if isinstance(raw, bool):
        problems.append(FieldError(name, f"{name} must be a number"))
        return None
    try:
        text = number_text(str(raw))  # "1,250" is 1250; "10,5" is refused, saying why
    except ValueError as exc:
        problems.append(
            FieldError(name, Msg("%(field)s: %(message)s", field=name, message=exc.args[0]))
        )
        return None
    if name == "small_profit_threshold":
        # Read like every money field (core.money): finite, within Numeric(14, 2), at most two
        # decimals ("1e400" made quantize raise: a 500; "1.005" was silently rounded).
        try:
            return to_money(text)
        except ValueError as exc:
            problems.append(FieldError(name, f"{name} must be an amount of money ({exc})"))
            return None
    try:
        number = float(text)
    except ValueError:
        problems.append(FieldError(name, f"{name} must be a number"))
        return None
    if not math.isfinite(number):
        problems.append(FieldError(name, f"{name} must be a finite number"))
        return None
    if name in INT_FIELDS:
        if number != int(number):
            problems.append(FieldError(name, f"{name} must be a whole number of days"))
            return None
        return int(number)
    return number


def read_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Each given field as its type, without the checks between fields; a value that does not
    read stays as given. What a form's values mean, for comparing them (web.conflict)."""
    out: dict[str, Any] = {}
    for name, raw in values.items():
        problems: list[FieldError] = []
        if name in DEFAULTS:
            value = _number(raw, name, problems)
        elif name in BOOL_FIELDS:
            value = _flag(raw, name, problems)
        else:
            value = raw
        out[name] = raw if problems else value
    return out


def validate(values: dict[str, Any]) -> dict[str, Any]:
    """Parsed and checked settings; ``InvalidInput`` naming every bad field otherwise.

    Cut-offs are cumulative percentages and must increase: 0 < VIP < major < ordinary ≤ 100.
    """
    problems: list[FieldError] = []
    unknown = sorted(set(values) - set(DEFAULTS) - set(BOOL_FIELDS))
    for name in unknown:
        problems.append(FieldError(name, f"{name} is not a value setting"))
    parsed = {k: _number(values.get(k), k, problems) for k in DEFAULTS}
    for name in BOOL_FIELDS:
        if name in values:
            parsed[name] = _flag(values[name], name, problems)

    def bad(name: str, message: str) -> None:
        if not any(p.field == name for p in problems):
            problems.append(FieldError(name, message))

    vip, major, ordinary = (parsed[k] for k in PYRAMID_FIELDS[:3])
    if vip is not None and not 0 < vip < 100:
        bad("vip_top_pct", "vip_top_pct must be above 0 % and below 100 %")
    if major is not None and not 0 < major <= 100:
        bad("major_top_pct", "major_top_pct must be above 0 % and at most 100 %")
    if ordinary is not None and not 0 < ordinary <= 100:
        bad("ordinary_top_pct", "ordinary_top_pct must be above 0 % and at most 100 %")
    if vip is not None and major is not None and not vip < major:
        bad("major_top_pct", "major_top_pct must be above vip_top_pct (cut-offs increase)")
    if major is not None and ordinary is not None and not major < ordinary:
        bad("ordinary_top_pct", "ordinary_top_pct must be above major_top_pct (cut-offs increase)")
    threshold = parsed["small_profit_threshold"]
    if threshold is not None and not Decimal(0) <= threshold <= MAX_THRESHOLD:
        bad("small_profit_threshold", "small_profit_threshold must be zero or positive")
    for name in ("new_days", "long_tenure_days", "lapsed_days"):
        if parsed[name] is not None and not 0 <= parsed[name] <= MAX_DAYS:
            bad(name, f"{name} must be between 0 and {MAX_DAYS} days")
    for name in ("recent_days", "frequency_window_days", "wallet_window_days"):
        if parsed[name] is not None and not 1 <= parsed[name] <= MAX_DAYS:
            bad(name, f"{name} must be between 1 and {MAX_DAYS} days")
    for name in ("regular_per_year", "loyal_per_year"):
        if parsed[name] is not None and not 0 < parsed[name] <= MAX_PER_YEAR:
            bad(name, f"{name} must be above 0 and at most {MAX_PER_YEAR:g} purchases a year")
    reg, loyal = parsed["regular_per_year"], parsed["loyal_per_year"]
    if reg is not None and loyal is not None and loyal < reg:
        bad("loyal_per_year", "loyal_per_year must be at least regular_per_year")
    new, tenure = parsed["new_days"], parsed["long_tenure_days"]
    if new is not None and tenure is not None and tenure <= new:
        bad("long_tenure_days", "long_tenure_days must be longer than new_days")
    recent, window = parsed["recent_days"], parsed["frequency_window_days"]
    if recent is not None and window is not None and recent > window:
        bad("recent_days", "recent_days must be at most frequency_window_days")
    if problems:
        raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
    return parsed


def update_settings(
    session: Session, data: dict[str, Any], *, actor: User, version: int | None = None
) -> ValueSettings:
    """Change some or all value settings (``score:configure``); the next scoring run applies them.

    The row is locked and its version checked first, so of two concurrent edits from the same
    version one wins and the other gets 409; nothing is written when a field is invalid.
    """
    require(actor, "score:configure")
    row = ensure(session)
    lock_for_edit(session, row, version)
    before = snapshot(row)
    merged = {**as_dict(row), **data}
    parsed = validate(merged)
    for key, value in parsed.items():
        setattr(row, key, value)
    row.updated_by_id = actor.id
    session.flush()
    record(session, actor, "update", "value_settings", row.id, before, snapshot(row))
    return row
