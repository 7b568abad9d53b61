"""What the commands do once their flags are parsed: build the adapters, run, render, choose the exit code
(:mod:`reconcile.exits` says which)."""

from __future__ import annotations

import enum
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.console import Console

from reconcile import __version__
from reconcile.adapters.helm import Connection, Helm
from reconcile.adapters.kube import Kube
from reconcile.config import load_config
from reconcile.config_fields import parse_portion
from reconcile.diff import render_markdown, render_text, to_json_document
from reconcile.errors import ConfigError, ExitCode, HelmcrError
from reconcile.exits import exit_code, preview_exit_code
from reconcile.model import RunSummary
from reconcile.observe import ClusterSource, OfflineSource, Source
from reconcile.preview import Preview, PreviewSettings
from reconcile.report import render_json, render_table, summary_line
from reconcile.savedplan import plan_document, read_plan, reviewed_only, write_plan
from reconcile.settings import Config, RunOptions, Scope, Selector
from reconcile.shards import Shard
from reconcile.sync import RunControl, preview_run, sync_once


class Output(enum.StrEnum):
    text = "text"
    table = "table"  # the same as text
    json = "json"
    markdown = "markdown"


@dataclass(frozen=True)
class Invocation:
    """The flags every command shares."""

    config_path: Path
    namespaces: tuple[str, ...] = ()
    selector: str = ""
    shard: str = ""
    output: Output = Output.text
    concurrency: int | None = None
    helm_binary: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    max_uninstalls: str | None = None
    force_uninstalls: bool = False
    wait_for_lock: float = 0.0
    time_budget: float = 0.0
    grace_period: float = 30.0
    resume_rollout: bool = False
    verbose: bool = False


@dataclass(frozen=True)
class PreviewRequest:
    detailed_exitcode: bool = False
    context_lines: int = 3
    show_secrets: bool = False
    files: tuple[Path, ...] = ()
    offline: bool = False
    server_side: bool = False  # render --from-file CRs with a server-side dry run (trusted files only)
    base_files: tuple[Path, ...] = ()
    save_to: Path | None = None


@dataclass(frozen=True)
class Adapters:
    """How a command reaches the cluster and helm; unit tests hand in fakes of both."""

    kube: Callable[[str, str], Kube] = lambda kubeconfig, context: Kube.connect(
        kubeconfig, context, user_agent=f"helmcr/{__version__}"
    )
    helm: Callable[[str, Connection], Helm] = Helm


@dataclass
class Session:
    config: Config
    options: RunOptions
    kube: Kube | None  # None only offline
    helm: Helm
    errors: Console = field(default_factory=lambda: Console(stderr=True, soft_wrap=True))

    def source(self, request: PreviewRequest) -> Source:
        if self.kube is None:
            return OfflineSource(self.options.scope, request.base_files, request.files)
        return ClusterSource(self.kube, self.options.scope, self.config.page_size, request.files)


def run_sync(invocation: Invocation, once: bool, interval: float, adapters: Adapters = Adapters()) -> int:
    control = RunControl(time_budget_seconds=invocation.time_budget)
    return _guarded(invocation, adapters, lambda session: _sync_passes(session, invocation, control, once, interval))


def run_preview(invocation: Invocation, request: PreviewRequest, adapters: Adapters = Adapters()) -> int:
    return _guarded(invocation, adapters, lambda session: _preview(session, invocation, request), request)


def run_apply(invocation: Invocation, plan_file: Path, adapters: Adapters = Adapters()) -> int:
    try:
        document = read_plan(plan_file)
    except HelmcrError as error:
        return _failed(error)
    control = RunControl(time_budget_seconds=invocation.time_budget)
    namespaces = invocation.namespaces or tuple(document.get("namespaces") or ())

    def apply(session: Session) -> int:
        session.options = replace(session.options, approve=reviewed_only(document))
        return _sync_passes(session, invocation, control, once=True, interval=0)

    return _guarded(replace(invocation, namespaces=namespaces), adapters, apply)


def _guarded(
    invocation: Invocation,
    adapters: Adapters,
    body: Callable[[Session], int],
    request: PreviewRequest | None = None,
) -> int:
    """Set up, run, and turn helmcr's own errors into one red line and their exit code."""
    logging.basicConfig(
        level=logging.INFO if invocation.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("urllib3").setLevel(logging.ERROR)  # each failed request is reported once, by helmcr
    try:
        code: int = body(_session(invocation, adapters, request or PreviewRequest()))
        return code
    except HelmcrError as error:
        return _failed(error)


def _failed(error: HelmcrError) -> int:
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {error}", highlight=False)
    return error.exit_code


def _session(invocation: Invocation, adapters: Adapters, request: PreviewRequest) -> Session:
    config = load_config(invocation.config_path)
    budget = invocation.max_uninstalls
    options = RunOptions(
        scope=Scope(
            namespaces=invocation.namespaces,
            selector=_selector(invocation.selector),
            shard=parse_shard(invocation.shard),
        ),
        concurrency=invocation.concurrency or config.concurrency,
        max_uninstalls=parse_portion(budget, lambda problem: ConfigError(f"--max-uninstalls: {problem}"))
        if budget
        else config.max_uninstalls,
        force_uninstalls=invocation.force_uninstalls,
        lease_wait_seconds=invocation.wait_for_lock,
        namespace_budget=config.namespace_budget,
        resume_rollouts=invocation.resume_rollout,
    )
    kubeconfig = invocation.kubeconfig or config.kubeconfig
    context = invocation.context or config.context
    kube = None if request.offline else adapters.kube(kubeconfig, context)
    helm = adapters.helm(
        invocation.helm_binary or config.helm_binary or "helm",
        Connection(kubeconfig or os.environ.get("KUBECONFIG", ""), context),
    )
    return Session(config, options, kube, helm)


def parse_shard(text: str) -> Shard:
    """``INDEX/COUNT``, the index counted from 0 as an Indexed Job's ``JOB_COMPLETION_INDEX`` is."""
    if not text:
        return Shard()
    index, slash, count = text.strip().partition("/")
    if slash and index.isdecimal() and count.isdecimal() and 0 <= int(index) < int(count):
        return Shard(int(index), int(count))
    raise ConfigError(
        f"--shard {text!r}: expected INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/3 for the first of three shards"
    )


def _sync_passes(session: Session, invocation: Invocation, control: RunControl, once: bool, interval: float) -> int:
    assert session.kube is not None, "a real run always has a cluster"
    stop_on_signals(control, session.helm, invocation.grace_period, session.errors)
    while True:
        started = time.monotonic()
        session.kube.requests = session.helm.processes = 0
        summary = sync_once(session.config, session.kube, session.helm, session.options, control)
        _print_problems(summary, session.errors)
        seconds = time.monotonic() - started
        if invocation.output is Output.json:
            typer.echo(render_json(summary, _stats(session, seconds)))
        else:
            render_table(summary, _stdout_console(), seconds, dry_run=False)
        code = exit_code(summary)
        if once or control.stop.is_set():
            return ExitCode.INTERRUPTED if control.stop.is_set() else code
        if control.stop.wait(interval):  # a signal while waiting ends the loop, not after one more pass
            return ExitCode.INTERRUPTED
        control.started = time.monotonic()


def _preview(session: Session, invocation: Invocation, request: PreviewRequest) -> int:
    started = time.monotonic()
    # CR files from a pull request are rendered client-side unless asked: a server-side dry run would run their
    # lookups with this command's credentials and print what they read into the preview.
    client_side = request.offline or (bool(request.files) and not request.server_side)
    settings = PreviewSettings(request.context_lines, request.show_secrets, client_side)
    source = session.source(request)
    summary, result, plans = preview_run(session.config, source, session.helm, session.options, settings)
    _print_problems(summary, session.errors)
    for problem in result.problems:
        session.errors.print(f"[bold red]error:[/] {problem}", highlight=False)
    seconds = time.monotonic() - started
    _render_preview(summary, result, invocation.output, _stats(session, seconds), seconds)
    if request.save_to is not None:
        write_plan(plan_document([(k.watch, k.plan) for k in plans], invocation.config_path, invocation.namespaces),
                   request.save_to)  # fmt: skip
        session.errors.print(f"saved the plan to {request.save_to}; apply it with: helmcr apply {request.save_to}")
    return preview_exit_code(summary, result, request.detailed_exitcode)


def _render_preview(
    summary: RunSummary, result: Preview, output: Output, stats: dict[str, Any], seconds: float
) -> None:
    if output is Output.json:
        typer.echo(render_json(summary, stats, diff=to_json_document(result.diffs)))
    elif output is Output.markdown:
        typer.echo(render_markdown(result.diffs, title=f"helmcr plan: {summary_line(summary, seconds, True)}"))
    else:
        console = _stdout_console()
        render_table(summary, console, seconds, dry_run=True)
        if result.diffs:
            console.print(render_text(result.diffs, color=console.is_terminal), markup=False, highlight=False)


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


def _print_problems(summary: RunSummary, errors: Console) -> None:
    for warning in summary.warnings:
        errors.print(f"[yellow]warning:[/] {warning}", highlight=False)
    for problem in summary.status_errors:
        errors.print(f"[bold red]error:[/] {problem}", highlight=False)


def _stats(session: Session, seconds: float) -> dict[str, Any]:
    requests = session.kube.requests if session.kube else 0
    return {"seconds": round(seconds, 3), "apiRequests": requests, "helmProcesses": session.helm.processes}


def _stdout_console() -> Console:
    """A pipe or a CI log gets a wide table rather than rich's 80-column fallback."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


def _selector(text: str) -> Selector:
    if not text:
        return Selector()
    try:
        pairs = dict(part.split("=", 1) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"--selector {text!r}: use key=value pairs separated by commas") from None
    return Selector(match_labels={k.strip(): v.strip() for k, v in pairs.items()})
