"""Import notifications: a file import finished, or failed.

``import_finished`` / ``import_failed`` are the functions to call when an import ends away from
the person who started it (the browser wizard's background jobs, a future scheduled import).
They are subscribed to the wizard's ``import.finished`` and ``import.failed`` events (job,
actor); a synchronous CLI or API import answers its caller directly and raises nothing.
Keyed by the import (the wizard's job id), so one outcome notifies once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.core.errors import Msg
from retento.core.hooks import subscribe
from retento.dataio.messages import translate
from retento.notifications.kinds import register_kind
from retento.notifications.service import notify
from retento.web.i18n import N_, gettext, installation_locale, message_text

GROUP = N_("Scoring and imports")

register_kind(
    "import_finished",
    label=N_("My import finished"),
    description=N_("A file you imported in the browser has been loaded."),
    text=N_("Import of %(file)s finished: %(rows)s rows, %(rejected)s rejected."),
    defaults={"*": "in_app"},
    group=GROUP,
    roles=("admin", "manager"),
    counts=("rows", "rejected"),
)
register_kind(
    "import_failed",
    label=N_("My import failed"),
    description=N_("A file you imported in the browser was refused; nothing of it was written."),
    text=N_("Import of %(file)s failed: %(reason)s"),
    defaults={"*": "in_app"},
    group=GROUP,
    roles=("admin", "manager"),
)


def import_finished(
    session: Session,
    user: User | None,
    *,
    key: str,
    file_name: str,
    rows: int,
    rejected: int = 0,
    link: str | None = None,
) -> int:
    """Tell ``user`` their import is done; returns how many notifications were raised."""
    return len(
        notify(
            session,
            "import_finished",
            [user],
            key=key,
            params={"file": file_name[:120], "rows": rows, "rejected": rejected},
            link=link,
            subject_type="import",
        )
    )


def import_failed(
    session: Session,
    user: User | None,
    *,
    key: str,
    file_name: str,
    reason: str,
    link: str | None = None,
) -> int:
    """Tell ``user`` their import was refused; returns how many notifications were raised."""
    return len(
        notify(
            session,
            "import_failed",
            [user],
            key=key,
            params={"file": file_name[:120], "reason": (reason or "")[:200]},
            link=link,
            subject_type="import",
        )
    )


def _owner(session: Session, job: Any) -> User | None:
    uid = getattr(job, "created_by_id", None)
    return session.get(User, uid) if uid is not None else None


def on_import_finished(session: Session, job: Any, **_) -> None:
    import_finished(
        session,
        _owner(session, job),
        key=f"job:{job.id}",
        file_name=job.filename,
        rows=job.rows or 0,
        rejected=job.rejected or 0,
        link=f"/imports/{job.id}",
    )


# The result page's words for an all-or-nothing run refused for its invalid rows.
REFUSED_ROWS = N_(
    "All or nothing was chosen and some rows are invalid: fix them and upload the file again."
)


def _reason(job: Any, locale: str) -> str:
    """Why the job failed, in the language of the one it notifies (the reason is stored with the
    notification as written): as the job's result page says it, not the importer's message for
    the command line ("… or use --skip-invalid")."""
    errors = getattr(job, "errors", None) or ()
    if getattr(job, "phase", None) == "running" and any(e.get("row") for e in errors):
        return gettext(locale, REFUSED_ROWS)
    message = job.message or ""
    if isinstance(message, Msg):
        return message_text(locale, message)
    shown = translate(message, lambda m: gettext(locale, m))
    return shown if shown is not message else gettext(locale, message)


def on_import_failed(session: Session, job: Any, **_) -> None:
    owner = _owner(session, job)
    import_failed(
        session,
        owner,
        key=f"job:{job.id}",
        file_name=job.filename,
        reason=_reason(job, (owner.locale if owner else None) or installation_locale()),
        link=f"/imports/{job.id}",
    )


subscribe("import.finished", on_import_finished)
subscribe("import.failed", on_import_failed)
