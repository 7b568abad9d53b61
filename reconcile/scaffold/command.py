"""``helmcr scaffold``: check the flags, read and render the chart, generate, write, and say what was granted.

Exit codes: 0 written (or already up to date); 1 some files were edited by hand (nothing written; --force
overwrites); 3 bad input (a flag, the chart, a values file, or the chart does not render).
"""

from __future__ import annotations

import enum
import re
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from reconcile.adapters.helm import Connection, Helm
from reconcile.errors import HelmcrError, HelmError
from reconcile.scaffold.chart import load_chart, load_values_file
from reconcile.scaffold.cronjob import DEFAULT_IMAGE, DEFAULT_SCHEDULE
from reconcile.scaffold.errors import ScaffoldInputError
from reconcile.scaffold.generate import Request, Scaffold, scaffold
from reconcile.scaffold.kinds import CustomKind
from reconcile.scaffold.render import RenderSettings, render_chart
from reconcile.scaffold.writer import Change, write_files
from reconcile.settings import guess_plural

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
KIND = re.compile(r"^[A-Z][A-Za-z0-9]{0,62}$")
CRON_FIELDS = 5


class ResourceScope(enum.StrEnum):
    Namespaced = "Namespaced"
    Cluster = "Cluster"


def scaffold_command(
    chart: Annotated[Path, typer.Option(help="The chart: a directory or a packaged .tgz.")],
    group: Annotated[str, typer.Option(help="API group of the new kind, e.g. cache.example.com.")],
    version: Annotated[str, typer.Option(help="API version of the new kind, e.g. v1alpha1.")],
    kind: Annotated[str, typer.Option(help="The new kind, CamelCase, e.g. Memcached.")],
    out: Annotated[Path, typer.Option(help="Directory to write into (created if missing).")],
    plural: Annotated[str, typer.Option(help="Resource name (default: derived from the kind).")] = "",
    scope: Annotated[ResourceScope, typer.Option(help="Namespaced or Cluster CRs.")] = ResourceScope.Namespaced,
    namespace: Annotated[
        str, typer.Option(help="Where helmcr runs (CronJob, ServiceAccount, Lease); by default also its only scope.")
    ] = "default",
    watch_namespace: Annotated[
        list[str] | None,
        typer.Option(help="A namespace whose CRs helmcr manages (repeatable; default: --namespace)."),
    ] = None,
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", help="Manage CRs in every namespace (cluster-wide RBAC).")
    ] = False,
    chart_ref: Annotated[
        str, typer.Option(help="The chart as the CronJob sees it (default: /charts/<chart name>, in the image).")
    ] = "",
    image: Annotated[str, typer.Option(help="The helmcr image the CronJob runs.")] = DEFAULT_IMAGE,
    schedule: Annotated[str, typer.Option(help="The CronJob schedule.")] = DEFAULT_SCHEDULE,
    shards: Annotated[
        int,
        typer.Option(
            min=1,
            help="Split the CRs over this many pods of one Indexed Job, each running sync --shard INDEX/COUNT "
            "with a lease of its own (default 1: one pod).",
        ),
    ] = 1,
    values: Annotated[
        list[Path] | None,
        typer.Option("--values", "-f", help="Render with these values too, to grant what they enable (repeatable)."),
    ] = None,
    disable_hooks: Annotated[
        bool, typer.Option("--disable-hooks", help="Leave the chart's hooks out (RBAC, and disableHooks in config).")
    ] = False,
    defaults: Annotated[
        bool,
        typer.Option(
            "--defaults/--no-defaults",
            help="Copy values.yaml's defaults into the CRD schema. The API server then stores them in each CR when "
            "it is created, so a chart bump that changes a default never reaches existing CRs; off by default (the "
            "chart's defaults apply at render time, and the description shows them).",
        ),
    ] = False,
    impersonate: Annotated[
        bool,
        typer.Option(
            "--impersonate/--no-impersonate",
            help="helm acts as a ServiceAccount of each release's namespace, which holds the chart's RBAC "
            "(serviceAccountName); --no-impersonate gives helmcr's own account the chart's RBAC instead.",
        ),
    ] = True,
    kube_version: Annotated[
        str,
        typer.Option(
            "--kube-version",
            help="The Kubernetes version to render for (e.g. 1.38.0), for charts whose kubeVersion or templates "
            "check it (default: helm's own).",
        ),
    ] = "",
    force: Annotated[bool, typer.Option("--force", help="Overwrite files edited by hand.")] = False,
    helm_binary: Annotated[
        str, typer.Option(envvar="HELMCR_HELM", help="helm to render the chart with (default: helm on PATH).")
    ] = "helm",
) -> None:
    """Generate a CRD with a schema, least-privilege RBAC, a CronJob and its kustomization, a sample CR and the
    config entry for a chart. Exit codes: 0 written or up to date; 1 files edited by hand (use --force);
    3 bad input."""
    try:
        request = build_request(
            group, version, kind, plural, scope, namespace, watch_namespace or [], all_namespaces, image, schedule
        )
        loaded = load_chart(chart)
        request = replace(
            request,
            chart_ref=chart_ref or f"/charts/{loaded.name}",
            disable_hooks=disable_hooks,
            defaults=defaults,
            impersonate=impersonate,
            shards=shards,
        )
        helm = Helm(helm_binary, Connection())
        _resolve(helm)
        layers = [load_values_file(path) for path in values or []]
        rendering = render_chart(helm, chart, loaded.values, layers, RenderSettings(not disable_hooks, kube_version))
        result = scaffold(request, loaded, rendering)
        changes = write_files(out, result.files, result.origin, force)
    except HelmcrError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(error.exit_code) from None
    _report(result, changes)


def build_request(
    group: str,
    version: str,
    kind: str,
    plural: str,
    scope: ResourceScope,
    namespace: str,
    watch_namespaces: list[str],
    all_namespaces: bool,
    image: str,
    schedule: str,
) -> Request:
    """The flags, checked as the API server would check the CRD and objects made from them."""
    problems = []
    if not KIND.match(kind):
        problems.append(f"--kind {kind!r}: a kind is CamelCase, starting with an upper-case letter")
    if "." not in group or not all(DNS_LABEL.match(part) for part in group.split(".")):
        problems.append(f"--group {group!r}: a group is a DNS name with at least one dot, e.g. cache.example.com")
    if not DNS_1035_LABEL.match(version):
        problems.append(f"--version {version!r}: a version is a lower-case name such as v1alpha1")
    if plural and not DNS_1035_LABEL.match(plural):
        problems.append(f"--plural {plural!r}: a resource name is lower-case letters, digits and '-'")
    for name in (namespace, *watch_namespaces):
        if not DNS_LABEL.match(name):
            problems.append(f"namespace {name!r} is not a valid namespace name")
    if all_namespaces and watch_namespaces:
        problems.append("--all-namespaces and --watch-namespace exclude each other")
    if scope is ResourceScope.Cluster and (all_namespaces or watch_namespaces):
        problems.append("a cluster-scoped kind has no namespaces to watch: its releases go to --namespace")
    if len(schedule.split()) != CRON_FIELDS and not schedule.startswith("@"):
        problems.append(f"--schedule {schedule!r}: expected five cron fields, e.g. '*/5 * * * *'")
    if not image.strip():
        problems.append("--image must name an image")
    if problems:
        raise ScaffoldInputError("; ".join(problems))
    return Request(
        kind=CustomKind(group, version, kind, plural or guess_plural(kind), scope is ResourceScope.Namespaced),
        namespace=namespace,
        watched=None if all_namespaces else tuple(dict.fromkeys(watch_namespaces or [namespace])),
        chart_ref="",
        image=image,
        schedule=schedule,
    )


def _resolve(helm: Helm) -> None:
    try:
        helm.resolve()
    except HelmError as error:
        raise ScaffoldInputError(str(error)) from None


def _report(result: Scaffold, changes: list[tuple[Path, Change]]) -> None:
    for path, change in changes:
        typer.echo(f"{change.value:>11}  {path}")
    typer.echo("granted to helmcr:")
    for grant in result.grants:
        typer.echo(f"  {grant}")
    if result.release_grants:
        typer.echo("granted to the account helm acts as:")
        for grant in result.release_grants:
            typer.echo(f"  {grant}")
    for note in result.notes:
        typer.echo(f"note: {note}")
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
