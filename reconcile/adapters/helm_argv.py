"""helm's command lines, built as pure argv lists: the one place that knows helm's flags.

Flags used here exist with the same meaning in Helm 3.13+ and Helm 4 (``--wait`` alone means "watcher" in Helm 4);
where they differ (``--atomic``, renamed ``--rollback-on-failure``) the major version chooses. Values are never on
a command line: only the path of their file is, ``-`` (helm's standard input) for a run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from reconcile.model import ChartRef, ReleaseKey
from reconcile.settings import HelmOptions


def upgrade_argv(
    key: ReleaseKey,
    chart: ChartRef,
    values_file: Path,
    labels: Mapping[str, str],
    options: HelmOptions,
    helm_major: int = 3,
) -> list[str]:
    """``upgrade --install``: one command for install and upgrade, so a release created meanwhile is not lost.

    ``--reset-values``: the CR's values are the whole truth. Without it helm reuses the deployed values whenever the
    new ones are empty, so a CR whose spec became ``{}`` would keep its old values forever."""
    argv = [
        "upgrade",
        "--install",
        key.name,
        chart.source,
        "--namespace",
        key.namespace,
        "--values",
        str(values_file),
        "--labels",
        _labels_flag(labels),
        "--history-max",
        str(options.history_max),
        "--timeout",
        options.timeout,
        "--output",
        "json",
        "--reset-values",
        *_chart_flags(chart, options),
        *_identity_flags(key, options),
    ]
    if options.wait:
        argv.append("--wait")
    if options.rollback_on_failure:
        # Helm 4 renamed --atomic; both wait for readiness and roll a failed upgrade back (a failed install is
        # uninstalled by helm itself, which is what atomic install means).
        argv.append("--rollback-on-failure" if helm_major >= 4 else "--atomic")
    return argv


def render_argv(key: ReleaseKey, chart: ChartRef, values_file: Path, options: HelmOptions, offline: bool) -> list[str]:
    """What an install or upgrade would deploy, changing nothing: a server-side dry run when there is a cluster
    (lookups and capabilities are real), ``helm template`` when there is none (CI jobs without credentials)."""
    if offline:
        hooks = not options.disable_hooks
        # without the chart's crds/: no value reaches them, and an upgrade never applies them
        argv = template_argv(key.name, chart.source, key.namespace, [values_file], hooks, include_crds=False)
        return argv + _source_flags(chart)
    argv = ["upgrade", "--install", key.name, chart.source, "--namespace", key.namespace,
            "--values", str(values_file), "--dry-run=server", "--output", "json", "--reset-values"]  # fmt: skip
    return argv + _chart_flags(chart, options) + _identity_flags(key, options)


def _identity_flags(key: ReleaseKey, options: HelmOptions) -> list[str]:
    """helm acts as the kind's ServiceAccount in the release's namespace, when the config names one: the API server
    then bounds what a chart, and so a CR, can reach (helmcr needs only the right to impersonate it)."""
    if not options.service_account:
        return []
    return ["--kube-as-user", f"system:serviceaccount:{key.namespace}:{options.service_account}"]


def _chart_flags(chart: ChartRef, options: HelmOptions) -> list[str]:
    """Where the chart comes from and what of it is rendered: the same for a real run and its preview."""
    return _source_flags(chart) + (["--no-hooks"] if options.disable_hooks else [])


def _source_flags(chart: ChartRef) -> list[str]:
    flags = []
    if chart.repo_url:
        flags += ["--repo", chart.repo_url]
    if chart.pinned:
        flags += ["--version", chart.version]
    return flags


def uninstall_argv(key: ReleaseKey, options: HelmOptions) -> list[str]:
    argv = ["uninstall", key.name, "--namespace", key.namespace, "--timeout", options.timeout]
    argv += _identity_flags(key, options)
    if options.wait:
        argv.append("--wait")
    if options.disable_hooks:
        argv.append("--no-hooks")
    return argv


def template_argv(
    release: str, chart: str, namespace: str, values_files: Sequence[Path], hooks: bool, include_crds: bool = True
) -> list[str]:
    """``template``: what an install would create, offline (scaffold's RBAC, the offline preview, the object
    check's fallback): tests left out, as ``helm install`` does; CRDs only where asked (scaffold's RBAC)."""
    crds = ["--include-crds"] if include_crds else []
    argv = ["template", release, chart, "--namespace", namespace, *crds, "--skip-tests"]
    for path in values_files:
        argv += ["--values", str(path)]
    if not hooks:
        argv.append("--no-hooks")
    return argv


def _labels_flag(labels: Mapping[str, str]) -> str:
    return ",".join(f"{name}={value}" for name, value in sorted(labels.items()))
