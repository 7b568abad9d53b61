"""helm's command lines: values only by file, the same flags for Helm 3 and 4, and messages that keep secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reconcile.adapters.helm import values_file
from reconcile.adapters.helm_argv import (
    pull_argv,
    render_argv,
    repo_update_argv,
    template_argv,
    uninstall_argv,
    upgrade_argv,
)
from reconcile.adapters.helm_messages import short_message
from reconcile.model import ChartRef, ReleaseKey
from reconcile.settings import HelmOptions

KEY = ReleaseKey("ns", "cache")


def test_upgrade_install_passes_values_by_file_and_labels() -> None:
    chart = ChartRef(source="/charts/memcached", identity="x")
    argv = upgrade_argv(KEY, chart, Path("/tmp/v.yaml"), {"b": "2", "a": "1"}, HelmOptions())
    assert argv[:4] == ["upgrade", "--install", "cache", "/charts/memcached"]
    assert argv[argv.index("--values") + 1] == "/tmp/v.yaml"
    assert argv[argv.index("--labels") + 1] == "a=1,b=2"
    assert "--set" not in argv and "--wait" not in argv and "--version" not in argv


def test_wait_is_opt_in() -> None:
    chart = ChartRef(source="/tmp/run/0/chart/redis-1.2.3.tgz", identity="x")
    argv = upgrade_argv(KEY, chart, Path("/v"), {}, HelmOptions(wait=True, timeout_seconds=90, history_max=3))
    assert argv[argv.index("--timeout") + 1] == "90s" and argv[argv.index("--history-max") + 1] == "3"
    assert "--wait" in argv and "--repo" not in argv and "--version" not in argv
    assert uninstall_argv(KEY, HelmOptions(wait=True))[:4] == ["uninstall", "cache", "--namespace", "ns"]


def test_a_remote_chart_is_pulled_at_its_pinned_version_and_never_given_to_an_install() -> None:
    repo = ChartRef(source="redis", identity="x", repo_url="https://charts.example", version="1.2.3", pinned=True)
    oci = ChartRef(source="oci://registry.example/charts/redis", identity="y", version="1.2.3", pinned=True)
    tail = ["--version", "1.2.3", "--destination", "/scratch"]
    assert pull_argv(oci, Path("/scratch")) == ["pull", "oci://registry.example/charts/redis", *tail]
    assert pull_argv(repo, Path("/scratch")) == ["pull", "redis", "--repo", "https://charts.example", *tail]
    assert pull_argv(repo, Path("/scratch"), repository="private") == ["pull", "private/redis", *tail]
    assert repo_update_argv("private") == ["repo", "update", "private"]
    for remote in (repo, oci):
        with pytest.raises(ValueError, match="must be pulled"):
            upgrade_argv(KEY, remote, Path("-"), {}, HelmOptions())
        with pytest.raises(ValueError, match="must be pulled"):
            render_argv(KEY, remote, Path("-"), HelmOptions(), offline=True)


def test_values_file_is_private_and_removed(tmp_path: Path) -> None:
    with values_file({"password": "hunter22", "nested": {"ü": "—"}, "e": "1e3"}) as path:
        assert '"1e3"' in path.read_text()
        assert path.stat().st_mode & 0o777 == 0o600
        assert yaml.safe_load(path.read_text()) == {"password": "hunter22", "nested": {"ü": "—"}, "e": "1e3"}
    assert not path.exists()


def test_short_message_takes_helms_error_line_and_masks_secrets() -> None:
    stderr = "WARNING: something\nError: UPGRADE FAILED: value hunter22 is not allowed\n"
    assert short_message(stderr, ["hunter22"]) == "UPGRADE FAILED: value *** is not allowed"
    assert len(short_message("Error: " + "x" * 5000)) <= 600


def test_a_go_panic_is_reported_by_its_panic_line_not_the_stack_trace_below_it() -> None:
    stderr = (
        "panic: interface conversion: interface {} is nil, not *chart.Chart\n\ngoroutine 1 [running]:\n"
        "helm.sh/helm/v4/pkg/action.(*Install).RunWithContext(...)\n\t/go/pkg/action/install.go:301 +0x1c\n"
        "main.main()\n\t/go/cmd/helm/helm.go:42 +0x2d\n"
    )
    assert short_message(stderr) == "helm crashed: panic: interface conversion: interface {} is nil, not *chart.Chart"


def test_template_renders_for_the_kubernetes_version_asked_for() -> None:
    argv = template_argv("x", "/c", "ns", [], hooks=True, kube_version="1.38.0")
    assert argv[argv.index("--kube-version") + 1] == "1.38.0"
    assert "--kube-version" not in template_argv("x", "/c", "ns", [], hooks=True)


def test_a_kinds_service_account_is_impersonated_in_the_releases_namespace() -> None:
    chart = ChartRef(source="/charts/memcached", identity="x")
    options = HelmOptions(service_account="tenant")
    user = "system:serviceaccount:ns:tenant"
    for argv in (upgrade_argv(KEY, chart, Path("-"), {}, options), uninstall_argv(KEY, options)):
        assert argv[argv.index("--kube-as-user") + 1] == user
    assert "--kube-as-user" not in upgrade_argv(KEY, chart, Path("-"), {}, HelmOptions())
