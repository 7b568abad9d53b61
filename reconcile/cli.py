"""The ``helmcr`` command line: flags and help texts only; what each command does is in :mod:`reconcile.runner`.

The options shared by several commands are declared once, in :mod:`reconcile.cli_options`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reconcile import __version__
from reconcile.cli_options import Common, Execution, Previewing, Selection, grouped
from reconcile.runner import Invocation, Output, PreviewRequest, run_apply, run_preview, run_sync
from reconcile.scaffold.command import scaffold_command

app = typer.Typer(
    name="helmcr",
    help="Turn any Helm chart into a Kubernetes operator: custom resources become Helm releases, one run at a time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_CODES = (
    "Exit codes: 0 converged (or only changes queued by rollout waves or a namespace budget left); 1 some releases "
    "failed, are blocked, were not started, wait to retry or behind a halted rollout; 3 invalid config or flags; "
    "4 API server unreachable or a list refused; 5 another run holds the lease; 130 stopped by a signal."
)
PREVIEW_EXIT_CODES = (
    "Exit codes: 0 plan made (with --detailed-exitcode: nothing would change); 1 errors (a kind not listed, a CR "
    "blocked, a chart that does not render); 2 with --detailed-exitcode: changes pending; 3 invalid config or "
    "flags; 4 API server unreachable or a list refused."
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"helmcr {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """helmcr: reconcile custom resources into Helm releases."""


@grouped
def sync(
    common: Common,
    selection: Selection,
    execution: Execution,
    previewing: Previewing,
    once: Annotated[bool, typer.Option("--once", help="Run one pass and exit (as a CronJob or CI step does).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and its diffs; change nothing.")] = False,
    interval: Annotated[float, typer.Option(min=1, help="Seconds between passes without --once.")] = 60.0,
) -> None:
    """Make every release match its custom resource: install, upgrade, uninstall; then write each CR's status."""
    invocation = _invocation(common, selection, execution)
    if dry_run:
        raise typer.Exit(run_preview(invocation, _request(previewing)))
    if previewing.asked or common.output is Output.markdown:
        raise typer.BadParameter(
            "--detailed-exitcode, --show-secrets, --from-file, --offline, --base, --server-side-render and -o "
            "markdown go with --dry-run "
            "(or use helmcr diff)"
        )
    raise typer.Exit(run_sync(invocation, once, interval))


@grouped
def diff(
    common: Common,
    selection: Selection,
    previewing: Previewing,
    out: Annotated[
        Path | None, typer.Option("--out", help="Save the plan here (JSON, no values) for `helmcr apply`.")
    ] = None,
) -> None:
    """Preview a sync (sync --once --dry-run): the plan and, per release that would change, its diffs."""
    raise typer.Exit(run_preview(_invocation(common, selection, Execution()), _request(previewing, out)))


@grouped
def apply(
    common: Common,
    execution: Execution,
    plan_file: Annotated[Path, typer.Argument(help="A plan saved by `helmcr plan --out`.")],
) -> None:
    """Carry out a saved plan's reviewed steps; any whose CR, revision or digest changed is refused and named."""
    raise typer.Exit(run_apply(_invocation(common, Selection(), execution), plan_file))


def _invocation(common: Common, selection: Selection, execution: Execution) -> Invocation:
    namespaces = tuple(selection.namespace or ())
    return Invocation(
        **vars(common), **vars(execution), namespaces=namespaces, selector=selection.selector, shard=selection.shard
    )


def _request(previewing: Previewing, save_to: Path | None = None) -> PreviewRequest:
    return PreviewRequest(
        detailed_exitcode=previewing.detailed_exitcode,
        context_lines=previewing.context_lines,
        show_secrets=previewing.show_secrets,
        files=tuple(previewing.from_file or ()),
        offline=previewing.offline,
        base_files=tuple(previewing.base or ()),
        save_to=save_to,
        server_side=previewing.server_side,
    )


app.command(name="sync", epilog=EXIT_CODES)(sync)
app.command(name="diff", epilog=PREVIEW_EXIT_CODES)(diff)
app.command(
    name="plan",
    epilog=PREVIEW_EXIT_CODES,
    help="Preview a sync and, with --out FILE, save its plan for `helmcr apply` to carry out exactly that.",
)(diff)
app.command(name="apply", epilog=EXIT_CODES)(apply)
app.command(name="scaffold", epilog="Exit codes: 0 written or up to date; 1 files edited by hand; 3 bad input.")(
    scaffold_command
)

if __name__ == "__main__":
    app()
