"""The ``helmcr`` command line: flags and help texts only; what each command does is in :mod:`reconcile.runner`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reconcile import __version__
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
    "Exit codes: 0 converged; 1 some releases failed, are blocked or were not started; 3 invalid config or flags; "
    "4 API server unreachable or a list refused; 5 another run holds the lease; 130 stopped by a signal."
)
PREVIEW_EXIT_CODES = (
    "Exit codes: 0 plan made (with --detailed-exitcode: nothing would change); 1 errors (a kind not listed, a CR "
    "blocked, a chart that does not render); 2 with --detailed-exitcode: changes pending; 3 invalid config or "
    "flags; 4 API server unreachable or a list refused."
)

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", help="The helmcr config or an operator-sdk watches.yaml.", envvar="HELMCR_CONFIG"),
]
NamespaceOption = Annotated[
    list[str] | None, typer.Option("--namespace", "-n", help="Only CRs in this namespace (repeatable).")
]
SelectorOption = Annotated[str, typer.Option("--selector", "-l", help="Only CRs with these labels (key=value,...).")]
OutputOption = Annotated[Output, typer.Option("--output", "-o", help="text (table; default), json or markdown.")]
ConcurrencyOption = Annotated[
    int | None, typer.Option(min=1, help="Helm operations at once (default: the config's, else 4).")
]
HelmBinaryOption = Annotated[
    str | None,
    typer.Option(envvar="HELMCR_HELM", help="helm to run (default: the config's helmBinary, else helm on PATH)."),
]
KubeconfigOption = Annotated[
    str | None, typer.Option(help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else in-cluster).")
]
ContextOption = Annotated[str | None, typer.Option(help="kubeconfig context.")]
MaxUninstallsOption = Annotated[
    str | None,
    typer.Option(
        help="Most uninstalls one run may do: a count, or a percentage of owned releases (default: the config's "
        "maxUninstalls, else 20). Beyond it none happens."
    ),
]
ForceOption = Annotated[bool, typer.Option(help="Uninstall even beyond --max-uninstalls.")]
WaitForLockOption = Annotated[
    float, typer.Option(min=0, help="Seconds to wait while another run holds the lease (default: fail at once).")
]
TimeBudgetOption = Annotated[
    float,
    typer.Option(
        min=0,
        help="Seconds this run may take: no helm operation starts that could end later (set it below the "
        "CronJob's activeDeadlineSeconds). 0: no limit.",
    ),
]
GraceOption = Annotated[
    float, typer.Option(min=0, help="On SIGTERM/SIGINT, seconds running helm operations get to finish.")
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Log each step to stderr.")]
DetailedOption = Annotated[
    bool, typer.Option("--detailed-exitcode", help="Exit 0 when nothing would change, 2 when something would.")
]
ContextLinesOption = Annotated[int, typer.Option("--context", min=0, help="Lines of context in manifest diffs.")]
ShowSecretsOption = Annotated[
    bool, typer.Option("--show-secrets", help="Reveal Secret data and sensitive values in diffs (off by default).")
]
FromFileOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--from-file",
        "-f",
        help="CR files or directories (e.g. a pull request's checkout) that replace the cluster's CRs as the "
        "desired state (repeatable).",
    ),
]
OfflineOption = Annotated[
    bool,
    typer.Option(help="No cluster: compare --from-file with --base files, rendering with helm template."),
]
BaseOption = Annotated[
    list[Path] | None, typer.Option("--base", help="With --offline: the CR files deployed now (repeatable).")
]


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


@app.command(epilog=EXIT_CODES)
def sync(
    once: Annotated[bool, typer.Option("--once", help="Run one pass and exit (as a CronJob or CI step does).")] = False,
    config_path: ConfigOption = Path("helmcr.yaml"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and its diffs; change nothing.")] = False,
    namespace: NamespaceOption = None,
    selector: SelectorOption = "",
    output: OutputOption = Output.text,
    concurrency: ConcurrencyOption = None,
    helm_binary: HelmBinaryOption = None,
    kubeconfig: KubeconfigOption = None,
    context: ContextOption = None,
    max_uninstalls: MaxUninstallsOption = None,
    force_uninstalls: ForceOption = False,
    wait_for_lock: WaitForLockOption = 0.0,
    time_budget: TimeBudgetOption = 0.0,
    grace_period: GraceOption = 30.0,
    interval: Annotated[float, typer.Option(min=1, help="Seconds between passes without --once.")] = 60.0,
    detailed_exitcode: DetailedOption = False,
    context_lines: ContextLinesOption = 3,
    show_secrets: ShowSecretsOption = False,
    from_file: FromFileOption = None,
    offline: OfflineOption = False,
    base: BaseOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Make every release match its custom resource: install, upgrade, uninstall; then write each CR's status."""
    invocation = Invocation(
        config_path, tuple(namespace or ()), selector, output, concurrency, helm_binary, kubeconfig, context,
        max_uninstalls, force_uninstalls, wait_for_lock, time_budget, grace_period, verbose,
    )  # fmt: skip
    preview_flags = detailed_exitcode or show_secrets or from_file or offline or base or output is Output.markdown
    if dry_run:
        request = PreviewRequest(detailed_exitcode, context_lines, show_secrets, tuple(from_file or ()), offline,
                                 tuple(base or ()))  # fmt: skip
        raise typer.Exit(run_preview(invocation, request))
    if preview_flags:
        raise typer.BadParameter(
            "--detailed-exitcode, --show-secrets, --from-file, --offline, --base and -o markdown go with --dry-run "
            "(or use helmcr diff)"
        )
    raise typer.Exit(run_sync(invocation, once, interval))


def diff(
    config_path: ConfigOption = Path("helmcr.yaml"),
    namespace: NamespaceOption = None,
    selector: SelectorOption = "",
    output: OutputOption = Output.text,
    helm_binary: HelmBinaryOption = None,
    kubeconfig: KubeconfigOption = None,
    context: ContextOption = None,
    max_uninstalls: MaxUninstallsOption = None,
    force_uninstalls: ForceOption = False,
    detailed_exitcode: DetailedOption = False,
    context_lines: ContextLinesOption = 3,
    show_secrets: ShowSecretsOption = False,
    from_file: FromFileOption = None,
    offline: OfflineOption = False,
    base: BaseOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Save the plan here (JSON, no values) for `helmcr apply`.")
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Preview a sync (sync --once --dry-run): the plan and, per release that would change, its diffs."""
    invocation = Invocation(
        config_path, tuple(namespace or ()), selector, output, None, helm_binary, kubeconfig, context,
        max_uninstalls, force_uninstalls, verbose=verbose,
    )  # fmt: skip
    request = PreviewRequest(detailed_exitcode, context_lines, show_secrets, tuple(from_file or ()), offline,
                             tuple(base or ()), out)  # fmt: skip
    raise typer.Exit(run_preview(invocation, request))


app.command(name="diff", epilog=PREVIEW_EXIT_CODES)(diff)
app.command(
    name="plan",
    epilog=PREVIEW_EXIT_CODES,
    help="Preview a sync and, with --out FILE, save its plan for `helmcr apply` to carry out exactly that.",
)(diff)


@app.command(epilog=EXIT_CODES)
def apply(
    plan_file: Annotated[Path, typer.Argument(help="A plan saved by `helmcr plan --out`.")],
    config_path: ConfigOption = Path("helmcr.yaml"),
    output: OutputOption = Output.text,
    concurrency: ConcurrencyOption = None,
    helm_binary: HelmBinaryOption = None,
    kubeconfig: KubeconfigOption = None,
    context: ContextOption = None,
    max_uninstalls: MaxUninstallsOption = None,
    force_uninstalls: ForceOption = False,
    wait_for_lock: WaitForLockOption = 0.0,
    time_budget: TimeBudgetOption = 0.0,
    grace_period: GraceOption = 30.0,
    verbose: VerboseOption = False,
) -> None:
    """Carry out a saved plan's reviewed steps; any whose CR, revision or digest changed is refused and named."""
    invocation = Invocation(
        config_path, (), "", output, concurrency, helm_binary, kubeconfig, context, max_uninstalls,
        force_uninstalls, wait_for_lock, time_budget, grace_period, verbose,
    )  # fmt: skip
    raise typer.Exit(run_apply(invocation, plan_file))


app.command(name="scaffold", epilog="Exit codes: 0 written or up to date; 1 files edited by hand; 3 bad input.")(
    scaffold_command
)

if __name__ == "__main__":
    app()
