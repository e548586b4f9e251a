"""The kinds registry: discovered from the domains, which the notifications layer never imports;
an e-mailed customer reply (mail/inbound.py) reaches the assignee like one on the status page."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import retento.notifications
from retento.complaints.emails import file_reply
from retento.mail.inbound import InboundMail
from retento.notifications.kinds import CHANNELS, KINDS, load_kind_modules, register_kind
from retento.notifications.service import notify
from tests.factories.complaints import make_complaint
from tests.notifications.helpers import got, team

DOMAINS = ("complaints", "surveys", "scoring", "dataio", "customers", "orders", "retention")


def test_the_notifications_layer_imports_no_domain():
    for path in Path(retento.notifications.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        bad = [m for m in names if any(m.startswith(f"retento.{d}") for d in DOMAINS)]
        assert bad == [], (path.name, bad)


def test_every_domain_kind_is_registered_with_valid_defaults():
    kinds = load_kind_modules()
    assert {
        "complaint_assigned",
        "complaint_new",
        "complaint_reply",
        "survey_low_answer",
        "scoring_finished",
        "scoring_failed",
        "import_finished",
        "import_failed",
    } <= set(kinds)
    for k in kinds.values():
        assert all(c in CHANNELS for c in k.defaults.values()), k.code
        for role in ("admin", "manager", "agent", "analyst"):
            assert k.default_for(role) in CHANNELS


def test_bad_registrations_and_parameters_are_refused(db, users):
    with pytest.raises(ValueError):
        register_kind("x" * 41, label="l", description="d", text="t", defaults={})
    with pytest.raises(ValueError):
        register_kind("k", label="l", description="d", text="t", defaults={"*": "pigeon"})
    assert "k" not in KINDS
    with pytest.raises(ValueError):
        notify(db, "nope", [users["agent"]], key="1")
    with pytest.raises(ValueError):  # the text needs %(file)s, %(rows)s and %(rejected)s
        notify(db, "import_finished", [users["agent"]], key="1", params={"file": "a.csv"})


def test_an_emailed_reply_reaches_the_assignee(db, users):
    _, ann, _ = team(db, users)
    c = make_complaint(db, users["admin"], assignee_id=ann.id)
    mail = InboundMail(
        sender="kim@example.com",
        subject=f"Re: {c.tracking_code}",
        text="Still broken, please call me.",
        message_id="<r1@example.com>",
    )
    file_reply(db, c.tracking_code, mail)
    file_reply(db, c.tracking_code, mail)  # the same message delivered twice
    replies = got(db, ann, "complaint_reply")
    assert len(replies) == 1 and replies[0].link == f"/complaints/{c.id}"
