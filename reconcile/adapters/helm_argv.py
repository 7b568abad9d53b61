"""helm's command lines, built as pure argv lists: the one place that knows helm's flags.

Flags used here exist with the same meaning in Helm 3.13+ and Helm 4 (``--wait`` alone means "watcher" in Helm 4);
where they differ (``--atomic``, renamed ``--rollback-on-failure``; server-side apply's ``--force-conflicts``, only
in Helm 4) the major version chooses. Values are never on
a command line: only the path of their file is, ``-`` (helm's standard input) for a run. Neither are credentials:
helm reads them from its registry and repository configs. A remote chart reaches an install, an upgrade or a render
only as the archive ``pull`` fetched for the run (:mod:`reconcile.adapters.helm_pull`).
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
        _local(chart),
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
        *_hook_flags(options),
        *_identity_flags(key, options),
    ]
    if options.wait:
        argv.append("--wait")
    argv += _conflict_flags(options, helm_major)
    if options.rollback_on_failure:
        # Helm 4 renamed --atomic; both wait for readiness and roll a failed upgrade back (a failed install is
        # uninstalled by helm itself, which is what atomic install means).
        argv.append("--rollback-on-failure" if helm_major >= 4 else "--atomic")
    return argv


def render_argv(
    key: ReleaseKey, chart: ChartRef, values_file: Path, options: HelmOptions, offline: bool, helm_major: int = 3
) -> list[str]:
    """What an install or upgrade would deploy, changing nothing: a server-side dry run when there is a cluster
    (lookups and capabilities are real), ``helm template`` when there is none (CI jobs without credentials)."""
    if offline:
        hooks = not options.disable_hooks
        # without the chart's crds/: no value reaches them, and an upgrade never applies them
        return template_argv(key.name, _local(chart), key.namespace, [values_file], hooks, include_crds=False)
    argv = ["upgrade", "--install", key.name, _local(chart), "--namespace", key.namespace,
            "--values", str(values_file), "--dry-run=server", "--output", "json", "--reset-values"]  # fmt: skip
    return argv + _hook_flags(options) + _identity_flags(key, options) + _conflict_flags(options, helm_major)


def _conflict_flags(options: HelmOptions, helm_major: int) -> list[str]:
    """Server-side apply (Helm 4) fails on a field another manager took, a manual scale say, unless forced: then
    the release's fields win, as with Helm 3's three-way merge. Forcing works only with server-side apply, which
    Helm 4's "auto" leaves off for a release Helm 3 (or operator-sdk) applied, so it is asked for too."""
    if helm_major >= 4 and options.force_conflicts:
        return ["--server-side=true", "--force-conflicts"]
    return []


def _identity_flags(key: ReleaseKey, options: HelmOptions) -> list[str]:
    """helm acts as the kind's ServiceAccount in the release's namespace, when the config names one: the API server
    then bounds what a chart, and so a CR, can reach (helmcr needs only the right to impersonate it)."""
    if not options.service_account:
        return []
    return ["--kube-as-user", f"system:serviceaccount:{key.namespace}:{options.service_account}"]


def _hook_flags(options: HelmOptions) -> list[str]:
    """What of the chart is rendered: the same for a real run and its preview."""
    return ["--no-hooks"] if options.disable_hooks else []


def _local(chart: ChartRef) -> str:
    """The chart as helm is given it: a directory or an archive, never a remote reference (helm would fetch it
    again for every release, or its latest version once the pin is lost)."""
    if chart.pinned:
        raise ValueError(f"remote chart {chart.source} {chart.version} must be pulled before helm renders it")
    return chart.source


def pull_argv(chart: ChartRef, destination: Path, repository: str = "") -> list[str]:
    """``pull`` of a remote chart's pinned version into ``destination``: an OCI reference as it is; a repository's
    chart as ``<repository>/<chart>`` when the repository config has an entry (``repository``) for its URL, else
    with ``--repo`` (a public repository, no credentials)."""
    if repository:
        source = [f"{repository}/{chart.source}"]
    elif chart.repo_url:
        source = [chart.source, "--repo", chart.repo_url]
    else:
        source = [chart.source]
    return ["pull", *source, "--version", chart.version, "--destination", str(destination)]


def repo_update_argv(repository: str) -> list[str]:
    """``repo update`` of one entry of the repository config: its index, fetched with the entry's credentials."""
    return ["repo", "update", repository]


def uninstall_argv(key: ReleaseKey, options: HelmOptions) -> list[str]:
    argv = ["uninstall", key.name, "--namespace", key.namespace, "--timeout", options.timeout]
    argv += _identity_flags(key, options)
    if options.wait:
        argv.append("--wait")
    if options.disable_hooks:
        argv.append("--no-hooks")
    return argv


def template_argv(
    release: str,
    chart: str,
    namespace: str,
    values_files: Sequence[Path],
    hooks: bool,
    include_crds: bool = True,
    kube_version: str = "",
) -> list[str]:
    """``template``: what an install would create, offline (scaffold's RBAC, the offline preview, the object
    check's fallback): tests left out, as ``helm install`` does; CRDs only where asked (scaffold's RBAC). Offline,
    helm assumes a Kubernetes version of its own; ``kube_version`` names the cluster's, for charts that check it."""
    crds = ["--include-crds"] if include_crds else []
    argv = ["template", release, chart, "--namespace", namespace, *crds, "--skip-tests"]
    if kube_version:
        argv += ["--kube-version", kube_version]
    for path in values_files:
        argv += ["--values", str(path)]
    if not hooks:
        argv.append("--no-hooks")
    return argv


def _labels_flag(labels: Mapping[str, str]) -> str:
    return ",".join(f"{name}={value}" for name, value in sorted(labels.items()))
