"""Customer journey and experience (SPEC §2 stage funnel, §7 客户体验).

``models`` holds experience records (mode, rating, note, linked to a touchpoint and/or a
survey answer); ``service`` creates and edits them; ``funnel`` computes the journey funnel
from touchpoints; ``dashboard`` aggregates experience by mode and journey stage from records
and from answers to survey questions that carry an experience mode.
"""
