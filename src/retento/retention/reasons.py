"""Alert reasons in words: a language-neutral ``{code, params}`` rendered in English or Chinese.

The texts go through gettext (catalogue ``locale/zh_CN/LC_MESSAGES/retention.po``); model reasons
of the churn-risk rule (``CustomerScore.churn_reasons``) are rendered by
``retento.analytics.churn_reasons.render_reason``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import cache
from typing import Any

from retento.core.config import get_settings
from retento.web.i18n import N_, Formatter, gettext, normalise_locale
from retento.web.system_texts import localize_system_text

REASON_TEXTS: dict[str, str] = {
    "churn_risk": N_("Churn risk %(risk)s %% (risk model)"),
    "rhythm": N_("No purchase for %(days)s days; usually buys every %(gap)s days"),
    "complaint_open": N_("Complaint %(code)s open for %(days)s days (severity %(severity)s)"),
    "complaint_breached": N_("Complaint %(code)s breached its SLA %(days)s days ago"),
    "detractor": N_("Detractor: scored %(score)s of 10 on likelihood to recommend"),
    "low_survey": N_("Low survey score: %(score)s on a scale of %(min)s to %(max)s"),
    "tier_downgrade": N_("Loyalty tier dropped from %(from_tier)s to %(to_tier)s"),
    "points_expiring": N_("%(points)s loyalty points expire unused on %(date)s"),
}
# A reason whose values span several days (``last`` set): points expiring over several days.
RANGE_TEXTS: dict[str, str] = {
    "points_expiring": N_("%(points)s loyalty points expire unused between %(date)s and %(last)s"),
}

RULE_NAMES: dict[str, str] = {
    "churn_risk": N_("Churn risk above a threshold"),
    "rhythm": N_("Buying slower than the customer's own rhythm"),
    "complaint": N_("Open or SLA-breached complaint of a valuable customer"),
    "survey": N_("Detractor or low survey score"),
    "tier_downgrade": N_("Loyalty tier downgrade"),
    "points_expiring": N_("Loyalty points expiring unused"),
}

CLASS_NAMES: dict[str, str] = {
    "key": N_("Key customers"),
    "ordinary": N_("Ordinary customers"),
    "small": N_("Small customers"),
    "bad": N_("Below zero"),
}

SEVERITY_NAMES: dict[str, str] = {
    "low": N_("Low"),
    "medium": N_("Medium"),
    "high": N_("High"),
}

ALERT_STATUS_NAMES: dict[str, str] = {
    "open": N_("Open"),
    "acknowledged": N_("Acknowledged"),
    "closed": N_("Closed"),
}

ACTION_NAMES: dict[str, str] = {
    "task": N_("Task for the owner"),
    "call": N_("Call"),
    "offer": N_("Offer"),
    "email": N_("Automated email"),
    "let_go": N_("Let go"),
}

NONE_TIER = N_("no tier")
REASONS_SEP = "; "

# The notes the system writes itself: the close note of an alert it closes, the note of a task
# closed because its case settled, a case's note. The note is stored as this English message id
# (the API shows it so) and the pages translate it (``system_note``); a note someone typed is
# shown as typed.
CAME_BACK_NOTE = N_("customer ordered again")
HELD_OUT_NOTE = N_("held out: control group")
LET_GO_NOTE = N_("let go (playbook)")
# A points_expiring alert the ledger no longer bears out (retention.points_now.follow_ledger):
# nothing expires within the rule's window, fewer points than its threshold do, or the first
# expiry day moved (the new day is a new cause, with an alert of its own).
POINTS_GONE_NOTE = N_("no loyalty points expire within the rule's window any more")
POINTS_BELOW_NOTE = N_("fewer loyalty points than the rule's threshold expire now")
POINTS_MOVED_NOTE = N_("the first expiry day of the loyalty points moved")
NO_EMAIL_NOTE = N_("no email consent or address")
# Written on a treated case whose owner task would have the owner phone a customer who has not
# agreed to phone calls: the task is still created, and says not to call (playbook_apply._act).
NO_PHONE_NOTE = N_("no phone consent: the owner is asked not to call")
# Written on a task closed because its case settled (below the owner's own note, if any).
SETTLED_NOTES: dict[str, str] = {
    "came_back": N_("Closed automatically: the customer came back (ordered again)."),
    "lost": N_("Closed automatically: the case was settled as lost."),
}
SYSTEM_NOTES = frozenset(
    (
        CAME_BACK_NOTE,
        HELD_OUT_NOTE,
        LET_GO_NOTE,
        POINTS_GONE_NOTE,
        POINTS_BELOW_NOTE,
        POINTS_MOVED_NOTE,
        NO_EMAIL_NOTE,
        NO_PHONE_NOTE,
        *SETTLED_NOTES.values(),
    )
)
# The consent lines of a case's note: kept when someone records an outcome note on the case
# (outcomes.record_outcome), so the report still tells which treated cases could not be acted on.
CONSENT_NOTES = (NO_EMAIL_NOTE, NO_PHONE_NOTE)


def _lang(locale: str) -> str:
    return "zh" if str(locale).lower().startswith("zh") else "en"


@cache
def _money_format(locale: str, currency: str) -> Callable[[float], str]:
    return Formatter(locale, currency=currency).money


def money_format(locale: str, currency: str | None = None) -> Callable[[float], str]:
    """How the churn model's reasons write an amount in ``locale``: in ``currency``, by default
    the installation's (``US$9,928.90``, not a bare ``9,928.90``)."""
    return _money_format(normalise_locale(locale), currency or get_settings().currency)


# Reason parameters that hold a day, stored as ISO text ("2026-11-03") so the reason stays
# language-neutral, and written in the reader's way inside the sentence ("Nov 3, 2026",
# "2026年11月3日").
DATE_PARAMS = frozenset({"date", "last"})


@cache
def _formatter(locale: str, timezone: str) -> Formatter:
    return Formatter(locale, timezone)


def format_day(value: Any, locale: str) -> Any:
    """An ISO day (text or ``date``) as the pages write a date in ``locale``; anything else
    (a reason stored by hand, a value that is not a day) unchanged."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, date):
        return value
    return _formatter(normalise_locale(locale), get_settings().timezone).date(value)


def model_reason(
    code: str, params: dict[str, Any] | None, locale: str = "en", currency: str | None = None
) -> str:
    """One reason of the churn model (``CustomerScore.churn_reasons``) in words, amounts in the
    currency (by default the installation's)."""
    from retento.analytics.churn_reasons import render_reason as render_model

    return render_model(code, params, _lang(locale), money=money_format(locale, currency))


def render_reason(
    code: str, params: dict[str, Any] | None, locale: str = "en", currency: str | None = None
) -> str:
    """The alert reason in words; model reasons of a churn-risk alert follow after a colon
    (their amounts in ``currency``, by default the installation's)."""
    params = dict(params or {})
    template = REASON_TEXTS.get(code)
    if template is None:
        return code
    if params.get("last") and params.get("last") != params.get("date"):
        template = RANGE_TEXTS.get(code, template)
    if code == "tier_downgrade":
        # The tiers' names as they were when the alert was raised, in both languages
        # (``from_tier_zh``/``to_tier_zh`` since alerts store them; an older alert has the
        # English name only and reads as it did).
        zh = _lang(locale) == "zh"
        for key in ("from_tier", "to_tier"):
            name = (params.get(f"{key}_zh") if zh else None) or params.get(key)
            params[key] = name or gettext(locale, NONE_TIER)
    for key in DATE_PARAMS.intersection(params):
        params[key] = format_day(params[key], locale)
    if isinstance(params.get("points"), int):
        params["points"] = _formatter(normalise_locale(locale), "UTC").number(params["points"])
    try:
        text = gettext(locale, template) % {k: v for k, v in params.items() if k != "model"}
    except (KeyError, TypeError, ValueError):
        text = gettext(locale, template)
    model = params.get("model") or []
    if model:
        parts = [model_reason(r.get("code", ""), r.get("params"), locale, currency) for r in model]
        # Full-width punctuation in Chinese ("流失风险 84 %（风险模型）：…；…").
        zh = _lang(locale) == "zh"
        text += ("：" if zh else ": ") + ("；" if zh else REASONS_SEP).join(p for p in parts if p)
    return text


def label(table: dict[str, str], key: str, locale: str = "en") -> str:
    """A rule, class, severity or action name in ``locale`` (the key itself if unknown)."""
    return gettext(locale, table[key]) if key in table else key


def consent_lines(note: str | None) -> str | None:
    """The lines of a case note that record a missing consent (``CONSENT_NOTES``), or None."""
    lines = [x for x in (note or "").split("\n") if x in CONSENT_NOTES]
    return "\n".join(lines) or None


def system_lines(note: str | None, locale: str = "en", sep: str = " · ") -> str:
    """Only the lines of ``note`` the system wrote, translated (an owner's own text and the
    offers' fixed lines left out), joined by ``sep``: what the 360 box shows of a case."""
    lines = [x for x in (note or "").split("\n") if x in SYSTEM_NOTES]
    return sep.join(gettext(locale, x) for x in lines)


def system_note(note: str | None, locale: str = "en") -> str:
    """A stored note (an alert's close note, a task's or a case's note) for a reader in
    ``locale``: each line the system wrote (one of ``SYSTEM_NOTES``) translated, every other
    line (typed by someone, or written before notes were stored so) as stored."""
    if not note:
        return ""
    return "\n".join(
        gettext(locale, line)
        if line in SYSTEM_NOTES
        else localize_system_text(locale, line, field="retention.note")
        for line in note.split("\n")
    )
