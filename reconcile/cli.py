"""The ``helmcr`` command: parse flags, load the config, connect, run the pipeline, render, choose the exit code.

Exit codes (also in ``helmcr sync --help`` and the README):
  0  everything converged (or, with --dry-run, the plan was made)
  1  some releases failed or are blocked, a chart could not be read, or some status could not be written;
     everything else converged
  3  the config file is invalid: nothing was done
  4  the API server could not be reached, or refused to list a kind: nothing of that kind was changed
  130 interrupted
"""

from __future__ import annotations

import enum
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from reconcile import __version__
from reconcile.adapters.helm import Connection, Helm
from reconcile.adapters.kube import Kube
from reconcile.config import Config, Selector, load_config, parse_budget
from reconcile.errors import ConfigError, HelmcrError
from reconcile.model import Action, Result, RunSummary
from reconcile.observe import Scope
from reconcile.report import render_json, render_table
from reconcile.scaffold.command import scaffold_command
from reconcile.sync import RunControl, RunOptions, sync_once

app = typer.Typer(
    name="helmcr",
    help="Turn any Helm chart into a Kubernetes operator: custom resources become Helm releases, one run at a time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
log = logging.getLogger("helmcr")


class ExitCode(enum.IntEnum):
    CONVERGED = 0
    NOT_CONVERGED = 1
    CONFIG_ERROR = 3
    CLUSTER_ERROR = 4
    LEASE_HELD = 5
    INTERRUPTED = 130


class Output(enum.StrEnum):
    table = "table"
    json = "json"


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


EXIT_CODES = (
    "Exit codes: 0 converged; 1 some releases failed, are blocked or were not started; 3 invalid config; "
    "4 API server unreachable or a list refused; 5 another run holds the lease; 130 stopped by a signal."
)


@app.command(epilog=EXIT_CODES)
def sync(
    once: Annotated[bool, typer.Option("--once", help="Run one pass and exit (as a CronJob or CI step does).")] = False,
    config_path: Annotated[
        Path,
        typer.Option(
            "--config", "-c", help="The helmcr config or an operator-sdk watches.yaml.", envvar="HELMCR_CONFIG"
        ),
    ] = Path("helmcr.yaml"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
    namespace: Annotated[
        list[str] | None, typer.Option("--namespace", "-n", help="Only CRs in this namespace (repeatable).")
    ] = None,
    selector: Annotated[str, typer.Option("--selector", "-l", help="Only CRs with these labels (key=value,...).")] = "",
    output: Annotated[Output, typer.Option("--output", "-o", help="table or json (on stdout).")] = Output.table,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Helm operations at once (default: the config's, else 4).")
    ] = None,
    helm_binary: Annotated[
        str | None,
        typer.Option(envvar="HELMCR_HELM", help="helm to run (default: the config's helmBinary, else helm on PATH)."),
    ] = None,
    kubeconfig: Annotated[
        str | None, typer.Option(help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else in-cluster).")
    ] = None,
    context: Annotated[str | None, typer.Option(help="kubeconfig context.")] = None,
    max_uninstalls: Annotated[
        str | None,
        typer.Option(
            help="Most uninstalls one run may do, a count or a percentage of owned releases (default: "
            "the config's maxUninstalls, else 20); beyond it, none happens."
        ),
    ] = None,
    force_uninstalls: Annotated[bool, typer.Option(help="Uninstall even beyond --max-uninstalls.")] = False,
    wait_for_lock: Annotated[
        float, typer.Option(min=0, help="Seconds to wait while another run holds the lease (default: fail at once).")
    ] = 0.0,
    time_budget: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds this run may take: no helm operation starts that could end later "
            "(set it below the CronJob's activeDeadlineSeconds). 0: no limit.",
        ),
    ] = 0.0,
    grace_period: Annotated[
        float, typer.Option(min=0, help="On SIGTERM/SIGINT, seconds running helm operations get to finish.")
    ] = 30.0,
    interval: Annotated[float, typer.Option(min=1, help="Seconds between passes without --once.")] = 60.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step to stderr.")] = False,
) -> None:
    """Make every release match its custom resource: install, upgrade, uninstall; then write each CR's status."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("urllib3").setLevel(logging.ERROR)  # each failed request is reported once, by helmcr
    errors = Console(stderr=True, soft_wrap=True)
    control = RunControl(time_budget_seconds=time_budget)
    try:
        config = load_config(config_path)
        options = RunOptions(
            scope=Scope(namespaces=tuple(namespace or ()), selector=_selector(selector)),
            dry_run=dry_run,
            concurrency=concurrency or config.concurrency,
            max_uninstalls=parse_budget(max_uninstalls, _flag_error("--max-uninstalls")) if max_uninstalls else None,
            force_uninstalls=force_uninstalls,
            lease_wait_seconds=wait_for_lock,
        )
        kube = Kube.connect(
            kubeconfig or config.kubeconfig, context or config.context, user_agent=f"helmcr/{__version__}"
        )
        helm = Helm(
            helm_binary or config.helm_binary or "helm",
            Connection(kubeconfig or config.kubeconfig or os.environ.get("KUBECONFIG", ""), context or config.context),
        )
        stop_on_signals(control, helm, grace_period, errors)
        while True:
            code = _one_pass(config, kube, helm, options, control, output, errors)
            if once or control.stop.is_set():
                raise typer.Exit(ExitCode.INTERRUPTED if control.stop.is_set() else code)
            control.stop.wait(interval)
            control.started = time.monotonic()
    except HelmcrError as error:
        errors.print(f"[bold red]error:[/] {error}", highlight=False)
        raise typer.Exit(error.exit_code) from None


def stop_on_signals(control: RunControl, helm: Helm, grace_seconds: float, errors: Console) -> None:
    """The first SIGTERM/SIGINT starts nothing new and gives running helm operations ``grace_seconds`` to finish
    (their status is still written), then stops them; a second one stops them at once."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if control.stop.is_set():
            helm.terminate_all()
            return
        control.stop.set()
        errors.print(
            f"received {signal.Signals(signum).name}: starting nothing new; running helm operations get "
            f"{grace_seconds:.0f}s to finish",
            highlight=False,
        )
        timer = threading.Timer(grace_seconds, helm.terminate_all)
        timer.daemon = True
        timer.start()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def _one_pass(
    config: Config, kube: Kube, helm: Helm, options: RunOptions, control: RunControl, output: Output, errors: Console
) -> ExitCode:
    started = time.monotonic()
    kube.requests = helm.processes = 0
    summary = sync_once(config, kube, helm, options, control)
    seconds = time.monotonic() - started
    for warning in summary.warnings:
        errors.print(f"[yellow]warning:[/] {warning}", highlight=False)
    for problem in summary.status_errors:
        errors.print(f"[bold red]error:[/] {problem}", highlight=False)
    if output is Output.json:
        stats = {"seconds": round(seconds, 3), "apiRequests": kube.requests, "helmProcesses": helm.processes}
        typer.echo(render_json(summary, stats))
    else:
        render_table(summary, _stdout_console(), seconds, options.dry_run)
    return exit_code(summary)


def _flag_error(flag: str) -> Callable[[str], ConfigError]:
    return lambda problem: ConfigError(f"{flag}: {problem}")


def _stdout_console() -> Console:
    """A pipe or a CI log gets a wide table rather than rich's 80-column fallback."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


def exit_code(summary: RunSummary) -> ExitCode:
    if any(error.cluster for error in summary.kind_errors):
        return ExitCode.CLUSTER_ERROR
    not_started = any(o.result is Result.NOT_STARTED and o.step.action is not Action.SKIP for o in summary.outcomes)
    if summary.kind_errors or summary.failed or summary.status_errors or not_started:
        return ExitCode.NOT_CONVERGED
    return ExitCode.CONVERGED


def _selector(text: str) -> Selector:
    if not text:
        return Selector()
    try:
        pairs = dict(part.split("=", 1) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"--selector {text!r}: use key=value pairs separated by commas") from None
    return Selector(match_labels={k.strip(): v.strip() for k, v in pairs.items()})


app.command(name="scaffold", epilog="Exit codes: 0 written or up to date; 1 files edited by hand; 3 bad input.")(
    scaffold_command
)

if __name__ == "__main__":
    app()
