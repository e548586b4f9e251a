"""`retento retention ...`: evaluate the warning rules, list alerts, print the uplift report."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from retento.core.cli_language import output_locale
from retento.core.cli_say import say, say_in
from retento.core.cli_support import cli_actor, cli_session, console, friendly_errors

app = typer.Typer(
    help="Churn early warning and win-back: rules, alerts, uplift report.", no_args_is_help=True
)

RULE_HELP = "Only this rule (repeat for several): " + ", ".join(
    ("churn_risk", "rhythm", "complaint", "survey", "tier_downgrade", "points_expiring")
)


@app.command("evaluate")
@friendly_errors
def evaluate_cmd(
    rule: list[str] = typer.Option(None, "--rule", help=RULE_HELP),
    as_user: str | None = typer.Option(
        None, "--as", help="Act as this user (default: first admin)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Evaluate the warning rules now (the retention_evaluate job does it every 15 minutes);
    a cause already alerted is never alerted again."""
    from retento.retention.service import evaluate_now

    with cli_session() as session:
        rep = evaluate_now(session, actor=cli_actor(session, as_user), rules=rule or None)
        out = rep.to_dict()
    if as_json:
        print(json.dumps(out))
        return
    console.print(
        say(
            "%(created)s new alert(s) from %(candidates)s warning(s) of %(rules)s rule(s); "
            "%(cases)s playbook case(s) opened (%(actions)s action(s) queued for the worker), "
            "%(escalated)s escalated, %(notified)s owner notice(s) queued.",
            created=out["created"],
            candidates=out["candidates"],
            rules=out["checked_rules"],
            cases=out["cases"],
            actions=out["actions_queued"],
            escalated=out["escalated"],
            notified=out["notified"],
        )
    )


@app.command("alerts")
@friendly_errors
def alerts_cmd(
    status: str | None = typer.Option("open", help="open, acknowledged, closed (empty: all)."),
    rule: str | None = typer.Option(None, help="Only this rule."),
    value_class: str | None = typer.Option(None, "--class", help="key, ordinary, small, bad."),
    limit: int = typer.Option(50, min=1, max=500, help="At most this many alerts (1–500)."),
    locale: str | None = typer.Option(
        None,
        "--locale",
        "--lang",
        help="Language of the reasons: en or zh_CN (default: the command line's language).",
    ),
    as_user: str | None = typer.Option(
        None, "--as", help="Act as this user (default: first admin)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the alerts as JSON."),
) -> None:
    """List alerts, newest first, with their reason in words."""
    from retento.retention.reasons import render_reason
    from retento.retention.service import list_alerts

    locale = output_locale(locale)
    with cli_session() as session:
        rows, total = list_alerts(
            session,
            actor=cli_actor(session, as_user),
            limit=limit,
            status=status or None,
            rule=rule,
            value_class=value_class,
        )
        items = [
            {
                "id": a.id,
                "customer_id": a.customer_id,
                "rule": a.rule,
                "severity": a.severity,
                "class": a.value_class,
                "owner_id": a.owner_id,
                "status": a.status,
                "created_at": a.created_at.isoformat(timespec="minutes"),
                "reason": render_reason(a.reason_code, a.reason_params, locale),
            }
            for a in rows
        ]
    if as_json:
        print(json.dumps({"total": total, "items": items}, ensure_ascii=False))
        return
    table = Table(title=say("%(n)s alert(s)", n=total))
    for col in (
        say_in("column", "id"),
        say_in("column", "customer"),
        say_in("column", "rule"),
        say_in("column", "severity"),
        say_in("column", "class"),
        say_in("column", "owner"),
        say_in("column", "status"),
        say_in("column", "reason"),
    ):
        table.add_column(col)
    for i in items:
        table.add_row(
            str(i["id"]),
            str(i["customer_id"]),
            i["rule"],
            i["severity"],
            i["class"],
            str(i["owner_id"] or "—"),
            i["status"],
            i["reason"],
        )
    console.print(table)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


@app.command("report")
@friendly_errors
def report_cmd(
    playbook_id: int | None = typer.Option(None, "--playbook", help="Only this playbook."),
    top_k: float = typer.Option(0.3, help="Share of cases with the highest risk for 'top k'."),
    locale: str | None = typer.Option(
        None,
        "--locale",
        "--lang",
        help="Language of the playbook names: en or zh_CN (English where a playbook has no "
        "Chinese name; default: the command line's language).",
    ),
    as_user: str | None = typer.Option(
        None, "--as", help="Act as this user (default: first admin)."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the full report as JSON (both names)."
    ),
) -> None:
    """Per playbook: came-back rate treated vs control with a 95 % interval, uplift, uplift in
    the top k by risk, and incremental revenue minus cost (settled cases only)."""
    from retento.retention.report import playbook_name, uplift_report

    locale = output_locale(locale)
    with cli_session() as session:
        rep = uplift_report(
            session, actor=cli_actor(session, as_user), playbook_id=playbook_id, top_k=top_k
        )
    if as_json:
        print(json.dumps(rep, ensure_ascii=False, default=str))
        return
    table = Table(title=say("Win-back uplift by playbook"))
    for col in (
        say_in("column", "playbook"),
        say_in("column", "treated"),
        say_in("column", "control"),
        say_in("column", "rate T"),
        say_in("column", "rate C"),
        say_in("column", "uplift [95 % CI]"),
        say("top %(share)s", share=f"{top_k:.0%}"),
        say_in("column", "net revenue"),
    ):
        table.add_column(col)
    for r in rep:
        est, top, money = r["estimate"], r["top_k"], r["revenue"]
        table.add_row(
            f"{r['playbook_id']} {playbook_name(r, locale)}",
            str(r["n_treated"])
            + (
                say(" (%(n)s no phone consent)", n=r["no_phone_consent"])
                if r["no_phone_consent"]
                else ""
            ),
            str(r["n_control"]),
            _pct(est and est["rate_treated"]),
            _pct(est and est["rate_control"]),
            "—"
            if est is None
            else f"{_pct(est['uplift'])} [{_pct(est['ci_low'])}, {_pct(est['ci_high'])}]",
            "—" if top is None else _pct(top["uplift"]),
            "—"
            if money is None
            else say("%(net)s (cost %(cost)s)", net=money["net"], cost=money["cost"]),
        )
    console.print(table)
