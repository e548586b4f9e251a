"""`retento work`: the background work queue from a shell (what Administration → Background work
shows): list items, show one, run a failed one again."""

from __future__ import annotations

import json

import typer

from retento.core.cli_language import output_locale
from retento.core.cli_support import cli_actor, cli_session, console, friendly_errors

app = typer.Typer(help="Background work items (imports' follow-ups, scoring runs, ...).",
                  no_args_is_help=True)  # fmt: skip

_AS = typer.Option(None, "--as", help="Act as this user (default: first admin).")
_LOCALE = typer.Option(
    None,
    "--locale",
    "--lang",
    help="Language of the kinds, statuses and stages: en or zh_CN (default: the command "
    "line's language: retento --lang, RETENTO_LANG, LANG).",
)


def _words(item, locale: str) -> dict:
    """The kind, status, stage and reference in words, in ``locale``: the same labels as the
    Background work page (``work.pages.item_view``)."""
    from retento.web.i18n import translate
    from retento.work.pages import STATUS_LABELS, item_view

    view = item_view(item)
    ref = view["ref_words"]
    return {
        "kind_label": translate(locale, view["kind_label"]),
        "status_label": translate(locale, STATUS_LABELS.get(item.status, item.status)),
        "stage_label": translate(locale, view["stage_label"]) if view["stage_label"] else None,
        "ref_label": translate(locale, ref[0], **ref[1]) if ref else item.ref,
    }


def _row(item, locale: str = "en") -> dict:
    return {
        "id": item.id,
        "kind": item.kind,
        "status": item.status,
        "progress": round(float(item.progress or 0.0), 3),
        "stage": item.stage,
        "attempts": item.attempts,
        "error": item.error,
        "result": item.result,
        "created_at": item.created_at.isoformat() if item.created_at else None,
        "finished_at": item.finished_at.isoformat() if item.finished_at else None,
        **_words(item, locale),
    }


@app.command("list")
@friendly_errors
def list_cmd(
    status: str | None = typer.Option(
        None, "--status", help="Only items of this status (queued, running, done, failed)."
    ),
    limit: int = typer.Option(20, "--limit", min=1, max=500, help="Newest items shown."),
    as_json: bool = typer.Option(
        False, "--json", help='JSON: {"total": N, "items": [...]}, as `retention alerts --json`.'
    ),
    as_user: str | None = _AS,
    locale: str | None = _LOCALE,
) -> None:
    """The newest work items, with their status and, for failed ones, why.

    Each line gives the codes (for scripts and `--status`) and then the same words as the
    Background work page, in `--lang`."""
    from retento.web.i18n import translate
    from retento.work.queue import load_kinds
    from retento.work.service import list_items

    locale = output_locale(locale)
    load_kinds()
    with cli_session() as session:
        items, total = list_items(
            session, actor=cli_actor(session, as_user), status=status, limit=limit
        )
        rows = [_row(i, locale) for i in items]
    if as_json:  # plain print: a console would wrap long lines inside the JSON
        print(json.dumps({"total": total, "items": rows}, ensure_ascii=False))
        return
    if not rows:
        msg = "No work items with status %(status)s." if status else "No work items."
        console.print(translate(locale, msg, status=status) if status else translate(locale, msg))
        return
    for r in rows:
        done = f"{r['progress'] * 100:.0f}%"
        line = f"#{r['id']}  {r['kind']}  {r['status']}  {done}"
        if r["stage"]:
            line += f"  {r['stage']}"
        words = [r["kind_label"], r["status_label"], r["stage_label"], r["ref_label"]]
        line += "  — " + " · ".join(w for w in words if w)
        console.print(line, markup=False, highlight=False)
        if r["status"] == "failed" and r["error"]:
            console.print(f"    {r['error'].splitlines()[0][:200]}", markup=False)
    console.print(
        translate(locale, "%(shown)s of %(total)s item(s).", shown=len(rows), total=total)
    )


@app.command("show")
@friendly_errors
def show_cmd(
    item_id: int = typer.Argument(..., help="Work item id."),
    as_user: str | None = _AS,
    locale: str | None = _LOCALE,
):
    """One work item as JSON: kind, status, progress, result or error, and their words."""
    from retento.work.queue import load_kinds
    from retento.work.service import get_item

    locale = output_locale(locale)
    load_kinds()
    with cli_session() as session:
        row = _row(get_item(session, item_id, actor=cli_actor(session, as_user)), locale)
    print(json.dumps(row, indent=2, ensure_ascii=False))


@app.command("retry")
@friendly_errors
def retry_cmd(
    item_id: int = typer.Argument(..., help="Work item id."),
    as_user: str | None = _AS,
    locale: str | None = _LOCALE,
):
    """Run a failed item again from the start, as "Run again" in the web does.

    Only kinds safe to repeat, such as the loyalty points of a large import. The worker picks
    it up."""
    from retento.web.i18n import translate
    from retento.work.queue import load_kinds
    from retento.work.service import retry_item

    locale = output_locale(locale)
    load_kinds()
    with cli_session() as session:
        item = retry_item(session, item_id, actor=cli_actor(session, as_user))
        words = _words(item, locale)
    console.print(
        translate(
            locale,
            "Work item #%(id)s (%(kind)s) is queued again; `retento worker` runs it.",
            id=item_id,
            kind=words["kind_label"],
        )
    )
