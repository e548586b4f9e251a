"""The ledger's journal reasons in the reader's language.

The ledger stores each journal's reason as an English sentence the system wrote ("Order
DO00000388", "Refund on order DO00000388", "Points expired") or the text an agent typed (an
adjustment's reason). Pages show them in the reader's language: a system reason is matched
here and rebuilt from a translated message id with the same values; anything else (typed
text, a reason of an unknown shape) is shown as stored. Stored rows stay as they are, so old
history reads translated too and the API and exports keep the stored text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from retento.web.i18n import N_, Shapes, message_shapes, translate, translate_shaped
from retento.web.labels import register_field_labels, register_labels, register_value_labels
from retento.web.system_texts import localize_system_text

if TYPE_CHECKING:
    from retento.loyalty.models import LoyaltyReward

# What a lot or journal came from (``source_type``), for the member page's lot list. A source
# an API client named itself (``POST /loyalty/events``) is shown as it was sent.
register_labels(
    "loyalty_source",
    {
        "order": N_("Order"),
        "refund": N_("Refund"),
        "survey": N_("Survey"),
        "complaint_remedy": N_("Complaint remedy"),
        "hold": N_("Hold"),
        "import": N_("Import"),
        "manual": N_("Adjustment"),
        "birthday": N_("Birthday"),
        "referral": N_("Referral"),
        "reward": N_("Reward"),
        "system": N_("System"),
        "retention_case": N_("Win-back offer"),
    },
)
# What a journal did to the member's points (its ``kind``), for the member page's history.
JOURNAL_KIND_LABELS = {
    "earn": N_("Points earned"),
    "event": N_("Event points"),
    "redeem": N_("Redemption"),
    "clawback": N_("Refund clawback"),
    "write_off": N_("Written off (nothing left to take back)"),
    "return": N_("Points returned"),
    "expire": N_("Expiry"),
    "adjust": N_("Adjustment"),
    "hold": N_("Hold"),
    "hold_confirm": N_("Hold confirmed"),
    "hold_void": N_("Hold released"),
    "reversal": N_("Reversal"),
    "transfer": N_("Customer merge"),
}
register_labels("loyalty_journal_kind", JOURNAL_KIND_LABELS)
# Why a member's tier changed (``LoyaltyTierChange.reason``), for the member page.
register_labels(
    "loyalty_tier_reason",
    {
        "upgrade": N_("Upgrade"),
        "downgrade": N_("Downgrade"),
        "invite": N_("Invitation"),
        "manual": N_("Set by hand"),
    },
)
# The fields of a points posting (journal entry) and of a redemption in the audit log's
# before/after view: what changed a member's points account.
register_field_labels(
    "loyalty_journal",
    {
        "kind": N_("Entry type"),
        "source_type": N_("Source"),
        "source_id": N_("Source number"),
        "idem_key": N_("Idempotency key"),
        "request_hash": N_("Request fingerprint"),
        "reason": N_("Reason"),
        "actor_id": N_("User"),
        "reverses_id": N_("Reverses entry"),
        "points": N_("Points"),
    },
)
register_value_labels(
    "loyalty_journal", {"kind": "loyalty_journal_kind", "source_type": "loyalty_source"}
)
register_field_labels(
    "loyalty_redemption",
    {
        "reward_id": N_("Reward"),
        "order_id": N_("Order"),
        "points": N_("Points"),
        "returned": N_("Points returned"),
        "journal_id": N_("Journal entry"),
        "agent_id": N_("Service agent"),
    },
)

# (pattern, msgid); the msgid's %(x)s placeholders are the pattern's named groups. The most
# specific shape comes first ("Order X cancelled" before "Order X").
PATTERNS: Shapes = message_shapes(
    (
        (r"^Points expired$", N_("Points expired")),
        (r"^Points redeemed$", N_("Points redeemed")),
        (r"^Opening balance \(member import\)$", N_("Opening balance (member import)")),
        (r"^Order (?P<ref>.+) cancelled$", N_("Order %(ref)s cancelled")),
        (r"^Order (?P<ref>.+) corrected$", N_("Order %(ref)s corrected")),
        (r"^Lines cancelled on order (?P<ref>.+)$", N_("Lines cancelled on order %(ref)s")),
        (
            r"^Points spent on order (?P<ref>.+) returned$",
            N_("Points spent on order %(ref)s returned"),
        ),
        (r"^Refund on order (?P<ref>.+)$", N_("Refund on order %(ref)s")),
        (r"^Order (?P<ref>.+)$", N_("Order %(ref)s")),
        (r"^Reward (?P<name>.+)$", N_("Reward %(name)s")),
        (r"^Reversal of journal (?P<id>\d+)$", N_("Reversal of journal %(id)s")),
        (r"^Hold (?P<id>\d+) confirmed$", N_("Hold %(id)s confirmed")),
        (r"^Hold (?P<id>\d+) voided$", N_("Hold %(id)s voided")),
        (r"^Hold (?P<id>\d+) expired$", N_("Hold %(id)s expired")),
        (r"^Hold$", N_("Hold")),
        (r"^Hold (?P<ref>.+)$", N_("Hold %(ref)s")),
        (r"^Complaint (?P<code>\S+): remedy$", N_("Complaint %(code)s: remedy")),
        (r"^Birthday (?P<year>\d{4})$", N_("Birthday %(year)s")),
        (r"^Birthday$", N_("Birthday")),
        (r"^Referral of customer (?P<id>\d+)$", N_("Referral of customer %(id)s")),
        (r"^Referral$", N_("Referral")),
        # An event rule's award without a reason of its own: the event's name
        # (``earning.award_event``: "survey_answered" → "Survey answered").
        (r"^Survey answered$", N_("Survey answered")),
        (r"^Club attendance$", N_("Club attendance")),
        (r"^Complaint remedy$", N_("Complaint remedy")),
        (
            r"^Points of customer (?P<a>\d+) merged into customer (?P<b>\d+)$",
            N_("Points of customer %(a)s merged into customer %(b)s"),
        ),
    )
)


def journal_reason(
    locale: str,
    reason: str | None,
    reward: LoyaltyReward | None = None,
    kind: str | None = None,
    session: Any = None,
) -> str:
    """``reason`` in ``locale`` when the system wrote it, else as stored.

    A redemption's reason holds the reward's English name ("Reward Tea mug", or "Reward Tea
    mug: <why>" for a granted voucher); given the ``reward`` redeemed, its name is shown in
    ``locale`` instead while it still has the name the reason recorded (a reward renamed since
    keeps the recorded name, as a typed note does).

    Given the journal's ``kind``, a reason left empty, or holding the kind's code (what a
    privacy erasure stored in place of an empty reason before it kept the reason as it was),
    reads as the kind's label ("Redemption", not ``redeem``).

    A reason another domain wrote (a win-back offer's) is one of the registered system texts
    (:mod:`retento.web.system_texts`); ``session`` lets its values (the playbook's name) be
    shown in ``locale`` too.
    """
    if kind in JOURNAL_KIND_LABELS and (not reason or reason == kind):
        return translate(locale, JOURNAL_KIND_LABELS[kind])
    if not reason:
        return ""
    if reward is not None:
        named = _reward_reason(locale, reason, reward)
        if named is not None:
            return named
    shaped = translate_shaped(PATTERNS, reason, lambda msgid: translate(locale, msgid))
    return (
        shaped
        if shaped != reason
        else localize_system_text(locale, reason, session, field="loyalty_journal.reason")
    )


def _reward_reason(locale: str, reason: str, reward: LoyaltyReward) -> str | None:
    head = f"Reward {reward.name}"
    name = reward.name_in(locale)
    if reason == head:
        return translate(locale, N_("Reward %(name)s"), name=name)
    if reason.startswith(head + ": "):
        why = reason[len(head) + 2 :]
        return translate(locale, N_("Reward %(name)s: %(reason)s"), name=name, reason=why)
    return None


def reason_labeller(
    locale: str, session: Any = None
) -> Callable[[str | None, LoyaltyReward | None, str | None], str]:
    """:func:`journal_reason` for one page's locale (what the templates call)."""
    return lambda reason, reward=None, kind=None: journal_reason(
        locale, reason, reward, kind, session
    )
