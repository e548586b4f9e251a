"""`retento work`: the background work queue from a shell (what Administration → Background work
shows): list items, show one, run a failed one again."""

from __future__ import annotations

import json

import typer

from retento.core.cli_support import cli_actor, cli_session, console, friendly_errors

app = typer.Typer(help="Background work items (imports' follow-ups, scoring runs, ...).",
                  no_args_is_help=True)  # fmt: skip

_AS = typer.Option(None, "--as", help="Act as this user (default: first admin).")


def _row(item) -> dict:
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
) -> None:
    """The newest work items, with their status and, for failed ones, why."""
    from retento.work.service import list_items

    with cli_session() as session:
        items, total = list_items(
            session, actor=cli_actor(session, as_user), status=status, limit=limit
        )
        rows = [_row(i) for i in items]
    if as_json:  # plain print: a console would wrap long lines inside the JSON
        print(json.dumps({"total": total, "items": rows}, ensure_ascii=False))
        return
    if not rows:
        console.print("No work items" + (f" with status {status}." if status else "."))
        return
    for r in rows:
        done = f"{r['progress'] * 100:.0f}%"
        line = f"#{r['id']}  {r['kind']}  {r['status']}  {done}"
        if r["stage"]:
            line += f"  {r['stage']}"
        console.print(line, markup=False, highlight=False)
        if r["status"] == "failed" and r["error"]:
            console.print(f"    {r['error'].splitlines()[0][:200]}", markup=False)
    console.print(f"{len(rows)} of {total} item(s).")


@app.command("show")
@friendly_errors
def show_cmd(item_id: int = typer.Argument(..., help="Work item id."), as_user: str | None = _AS):
    """One work item as JSON: kind, status, progress, result or error."""
    from retento.work.service import get_item

    with cli_session() as session:
        row = _row(get_item(session, item_id, actor=cli_actor(session, as_user)))
    print(json.dumps(row, indent=2, ensure_ascii=False))


@app.command("retry")
@friendly_errors
def retry_cmd(item_id: int = typer.Argument(..., help="Work item id."), as_user: str | None = _AS):
    """Run a failed item again from the start, as "Run again" in the web does.

    Only kinds safe to repeat, such as the loyalty points of a large import. The worker picks
    it up."""
    from retento.work.service import retry_item

    with cli_session() as session:
        item = retry_item(session, item_id, actor=cli_actor(session, as_user))
        kind, status = item.kind, item.status
    console.print(f"Work item #{item_id} ({kind}) is {status} again; `retento worker` runs it.")
