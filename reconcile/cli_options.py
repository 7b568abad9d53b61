"""The command line's options, declared once, in groups that commands take as single parameters.

typer reads a command's options from its function signature, so options shared by several commands would be
repeated in each signature. Here each group is a frozen dataclass whose fields carry their ``typer.Option``;
:func:`grouped` gives a command the signature typer expects (the group's fields as options) and hands the
command one instance per group.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, get_type_hints

import typer

from reconcile.runner import Output


@dataclasses.dataclass(frozen=True)
class Common:
    """Every command that talks to the cluster."""

    config_path: Annotated[
        Path,
        typer.Option(
            "--config", "-c", help="The helmcr config or an operator-sdk watches.yaml.", envvar="HELMCR_CONFIG"
        ),
    ] = Path("helmcr.yaml")
    output: Annotated[Output, typer.Option("--output", "-o", help="text (table; default), json or markdown.")] = (
        Output.text
    )
    helm_binary: Annotated[
        str | None,
        typer.Option(envvar="HELMCR_HELM", help="helm to run (default: the config's helmBinary, else helm on PATH)."),
    ] = None
    kubeconfig: Annotated[
        str | None, typer.Option(help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else in-cluster).")
    ] = None
    context: Annotated[str | None, typer.Option(help="kubeconfig context.")] = None
    max_uninstalls: Annotated[
        str | None,
        typer.Option(
            help="Most uninstalls one run may do: a count, or a percentage of owned releases (default: the "
            "config's maxUninstalls, else 20). Beyond it none happens."
        ),
    ] = None
    force_uninstalls: Annotated[bool, typer.Option(help="Uninstall even beyond --max-uninstalls.")] = False
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step to stderr.")] = False


@dataclasses.dataclass(frozen=True)
class Selection:
    """Which CRs a command looks at."""

    namespace: Annotated[
        list[str] | None, typer.Option("--namespace", "-n", help="Only CRs in this namespace (repeatable).")
    ] = None
    selector: Annotated[str, typer.Option("--selector", "-l", help="Only CRs with these labels (key=value,...).")] = ""
    shard: Annotated[
        str,
        typer.Option(
            envvar="HELMCR_SHARD",
            help="INDEX/COUNT: only the CRs whose UID hashes to shard INDEX (from 0) of COUNT, with a lease of its "
            "own, so COUNT runs (an Indexed Job's pods) split one fleet. Releases of other shards are never touched.",
        ),
    ] = ""


@dataclasses.dataclass(frozen=True)
class Execution:
    """Commands that change releases."""

    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Helm operations at once (default: the config's, else 4).")
    ] = None
    wait_for_lock: Annotated[
        float, typer.Option(min=0, help="Seconds to wait while another run holds the lease (default: fail at once).")
    ] = 0.0
    time_budget: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds this run may take: no helm operation starts that could end later (set it below the "
            "CronJob's activeDeadlineSeconds). 0: no limit.",
        ),
    ] = 0.0
    grace_period: Annotated[
        float, typer.Option(min=0, help="On SIGTERM/SIGINT, seconds running helm operations get to finish.")
    ] = 30.0
    resume_rollout: Annotated[
        bool,
        typer.Option(
            "--resume-rollout",
            help="A rollout halted by its failure budget goes on with its next wave in this run (to resume it for "
            "good, set rollout.resume to the digest its halt message names).",
        ),
    ] = False


@dataclasses.dataclass(frozen=True)
class Previewing:
    """Commands that preview: what the diffs show and where the desired state comes from."""

    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 0 when nothing would change, 2 when something would.")
    ] = False
    context_lines: Annotated[int, typer.Option("--context", min=0, help="Lines of context in manifest diffs.")] = 3
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Reveal Secret data and sensitive values in diffs (off by default).")
    ] = False
    from_file: Annotated[
        list[Path] | None,
        typer.Option(
            "--from-file",
            "-f",
            help="CR files or directories (e.g. a pull request's checkout) that replace the cluster's CRs as the "
            "desired state (repeatable).",
        ),
    ] = None
    offline: Annotated[
        bool, typer.Option(help="No cluster: compare --from-file with --base files, rendering with helm template.")
    ] = False
    base: Annotated[
        list[Path] | None, typer.Option("--base", help="With --offline: the CR files deployed now (repeatable).")
    ] = None
    server_side: Annotated[
        bool,
        typer.Option(
            "--server-side-render",
            help="Render --from-file CRs with a server-side dry run (lookup and capabilities real, with this "
            "command's credentials). Off by default: a pull request's CRs are rendered with helm template.",
        ),
    ] = False

    @property
    def asked(self) -> bool:
        """Whether an option was given that means nothing to a real run."""
        return (
            self.detailed_exitcode
            or self.show_secrets
            or bool(self.from_file)
            or self.offline
            or bool(self.base)
            or self.server_side
        )


def grouped(command: Callable[..., None]) -> Callable[..., None]:
    """``command``'s parameters typed with a group become that group's options; the rest stay as they are."""
    hints = get_type_hints(command, include_extras=True)
    groups: dict[str, type[Any]] = {
        name: hint for name, hint in hints.items() if isinstance(hint, type) and dataclasses.is_dataclass(hint)
    }
    parameters: list[inspect.Parameter] = []
    for name, parameter in inspect.signature(command).parameters.items():
        if name not in groups:
            parameters.append(parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[name]))
            continue
        group_hints = get_type_hints(groups[name], include_extras=True)
        parameters += [
            inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=group_hints[f.name])
            for f in dataclasses.fields(groups[name])
        ]

    def call(**values: Any) -> None:
        for name, group in groups.items():
            values[name] = group(**{f.name: values.pop(f.name) for f in dataclasses.fields(group)})
        command(**values)

    call.__name__, call.__doc__, call.__module__ = command.__name__, command.__doc__, command.__module__
    call.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    call.__annotations__ = {p.name: p.annotation for p in parameters}
    return call
