"""Render a run for people (a rich table and a summary line) and for machines (JSON); no decisions here."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from reconcile.decide import QUIET
from reconcile.model import Action, Outcome, Result, RunSummary

RESULT_STYLE = {
    Result.SUCCEEDED: "green",
    Result.FAILED: "bold red",
    Result.BLOCKED: "yellow",
    Result.SKIPPED: "dim",
    Result.NOT_STARTED: "cyan",
}


def outcome_record(outcome: Outcome) -> dict[str, Any]:
    step = outcome.step
    owner = step.owner
    return {
        "kind": owner.kind if owner else "",
        "namespace": owner.namespace if owner else "",
        "name": owner.name if owner else "",
        "release": {"namespace": step.key.namespace, "name": step.key.name},
        "action": str(step.action),
        "state": str(step.state),
        "reason": step.reason,
        "result": str(outcome.result),
        "message": outcome.message,
        "revision": outcome.revision or (step.observed.revision if step.observed else 0),
        "seconds": round(outcome.seconds, 3),
        **({"errorKind": outcome.error} if outcome.error else {}),
    }


def summary_counts(summary: RunSummary) -> dict[str, int]:
    counts = Counter((o.step.action.ends_in, o.result) for o in summary.outcomes)
    return {
        "installed": counts[Action.INSTALL, Result.SUCCEEDED],
        "upgraded": counts[Action.UPGRADE, Result.SUCCEEDED],
        "uninstalled": counts[Action.UNINSTALL, Result.SUCCEEDED],
        "inSync": counts[Action.SKIP, Result.SKIPPED],
        "waiting": counts[Action.WAIT, Result.SKIPPED],
        "queued": counts[Action.QUEUE, Result.SKIPPED],
        "pending": sum(1 for o in summary.outcomes if o.result is Result.NOT_STARTED),
        "blocked": sum(1 for o in summary.outcomes if o.result is Result.BLOCKED),
        "failed": sum(1 for o in summary.outcomes if o.result is Result.FAILED),
        "kindErrors": len(summary.kind_errors),
    }


def render_json(summary: RunSummary, stats: dict[str, Any], diff: dict[str, Any] | None = None) -> str:
    """Its schema is docs/schemas/report.schema.json; a preview adds ``diff`` (docs/schemas/diff.schema.json)."""
    document: dict[str, Any] = {
        "apiVersion": "helmcr.io/v1alpha1",
        "kind": "SyncReport",
        "summary": summary_counts(summary),
        "outcomes": [outcome_record(o) for o in summary.outcomes],
        "errors": [str(e) for e in summary.kind_errors] + list(summary.status_errors),
        "warnings": list(summary.warnings),
        "stats": stats,
    }
    if diff is not None:
        document["diff"] = diff
    return _dumps(document)


def _dumps(document: dict[str, Any]) -> str:
    """Indented, but each outcome on one line: Python's JSON encoder indents only in pure Python, which takes
    seconds over 10,000 outcomes; one compact line per outcome is C-fast and still reads (and greps) well."""
    outcomes = document["outcomes"]
    placeholder = f"outcomes-{uuid.uuid4()}"
    text = json.dumps({**document, "outcomes": placeholder}, indent=2, ensure_ascii=False)
    lines = ",\n    ".join(json.dumps(record, ensure_ascii=False) for record in outcomes)
    return text.replace(f'"{placeholder}"', f"[\n    {lines}\n  ]" if outcomes else "[]", 1)


def render_table(summary: RunSummary, console: Console, seconds: float, dry_run: bool) -> None:
    """One row per CR or release that has something to say (a release in sync is only counted, in the summary
    line: 10,000 of them would bury the one that failed); helm's full messages follow the table."""
    table = Table(title="helmcr plan (dry run: nothing changed)" if dry_run else "helmcr sync", title_justify="left")
    for column in ("Resource", "Release", "Action", "Result", "Rev", "Time", "Reason"):
        table.add_column(column, overflow="fold", no_wrap=column not in ("Resource", "Release", "Reason"))
    shown = [outcome for outcome in summary.outcomes if outcome.step.state not in QUIET]
    for outcome in shown:
        owner = outcome.step.owner
        record = outcome_record(outcome)
        table.add_row(
            str(owner) if owner else "",
            str(outcome.step.key),
            record["action"],
            f"[{RESULT_STYLE[outcome.result]}]{_result_text(outcome, dry_run)}[/]",
            str(record["revision"] or ""),
            f"{outcome.seconds:.1f}s" if outcome.seconds else "",
            outcome.message if outcome.result is Result.NOT_STARTED else record["reason"],
        )
    if shown:
        console.print(table)
    for outcome in summary.failed:
        if outcome.result is Result.FAILED:
            console.print(
                f"[bold red]failed:[/] {outcome.step.owner or outcome.step.key}: {outcome.message}", highlight=False
            )
    for error in summary.kind_errors:
        console.print(f"[bold red]error:[/] {error}", highlight=False)
    console.print(summary_line(summary, seconds, dry_run), highlight=False)


def _result_text(outcome: Outcome, dry_run: bool) -> str:
    return "planned" if dry_run and outcome.result is Result.NOT_STARTED else str(outcome.result)


def summary_line(summary: RunSummary, seconds: float, dry_run: bool) -> str:
    counts = summary_counts(summary)
    if dry_run:
        parts = [f"{counts['pending']} to change", f"{counts['inSync']} in sync"]
    else:
        parts = [
            f"{counts['installed']} installed",
            f"{counts['upgraded']} upgraded",
            f"{counts['uninstalled']} uninstalled",
            f"{counts['inSync']} in sync",
        ]
        if counts["waiting"]:
            parts.append(f"{counts['waiting']} waiting")
        if counts["queued"]:
            parts.append(f"{counts['queued']} queued")
        if counts["pending"]:
            parts.append(f"{counts['pending']} not started")
    parts += [f"{counts['blocked']} blocked", f"{counts['failed']} failed"]
    if counts["kindErrors"]:
        parts.append(f"{counts['kindErrors']} kind(s) not synced")
    return ", ".join(parts) + f" in {seconds:.1f}s"
