"""Display names of experience modes (SPEC §7), registered with the web labels."""

from __future__ import annotations

from retento.web.i18n import N_
from retento.web.labels import register_labels, register_value_labels

MODE_LABELS = {
    "sense": N_("Sense (sensory)"),
    "feel": N_("Feel (emotional)"),
    "think": N_("Think (cognitive)"),
    "act": N_("Act (behavioural)"),
    "relate": N_("Relate (social)"),
}
MODE_HELP = {
    "sense": N_("What the customer saw, heard, touched: look, sound, packaging, the shop."),
    "feel": N_("How the customer felt: moods and emotions during the contact."),
    "think": N_("What made the customer think: surprise, curiosity, clear information."),
    "act": N_("What the customer did or could do: convenience, usage, lifestyle."),
    "relate": N_("How the customer relates to others through the brand: community, identity."),
}
SOURCE_LABELS = {"record": N_("Experience records"), "survey": N_("Survey answers")}

register_labels("experience_mode", MODE_LABELS)
register_labels("experience_source", SOURCE_LABELS)
register_labels("stage", {"unknown": N_("Stage unknown")})
# An experience record's mode and stage by label in the audit log and on the stale-edit page.
register_value_labels("experience", {"mode": "experience_mode", "stage": "stage"})
