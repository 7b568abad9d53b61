"""helm in a pod gets the pod's credentials as a kubeconfig (client-go ignores them once impersonation is asked)."""

from __future__ import annotations

import json
from pathlib import Path

from reconcile.adapters.helm import Connection
from reconcile.adapters.incluster import write_kubeconfig


def pod_environment(tmp_path: Path) -> tuple[dict[str, str], Path]:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("not read by helmcr")
    return {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443", "HOME": str(tmp_path)}, account


def test_in_a_pod_helm_gets_a_kubeconfig_naming_the_token_file_not_the_token(tmp_path: Path) -> None:
    environ, account = pod_environment(tmp_path)
    written = write_kubeconfig(str(tmp_path), environ, account)
    assert written is not None
    document = json.loads(Path(written).read_text())
    (cluster,) = document["clusters"]
    assert cluster["cluster"] == {"server": "https://10.0.0.1:443", "certificate-authority": str(account / "ca.crt")}
    assert document["users"][0]["user"] == {"tokenFile": str(account / "token")}
    assert "not read by helmcr" not in Path(written).read_text()


def test_an_ipv6_service_host_is_bracketed(tmp_path: Path) -> None:
    environ, account = pod_environment(tmp_path)
    written = write_kubeconfig(str(tmp_path), {**environ, "KUBERNETES_SERVICE_HOST": "fd00::1"}, account)
    assert written is not None
    assert json.loads(Path(written).read_text())["clusters"][0]["cluster"]["server"] == "https://[fd00::1]:443"


def test_outside_a_pod_or_with_a_kubeconfig_helm_keeps_its_defaults(tmp_path: Path) -> None:
    environ, account = pod_environment(tmp_path)
    assert write_kubeconfig(str(tmp_path), {"HOME": str(tmp_path)}, account) is None
    assert write_kubeconfig(str(tmp_path), {**environ, "KUBECONFIG": "/some/config"}, account) is None
    assert write_kubeconfig(str(tmp_path), environ, tmp_path / "no-such-account") is None


def test_a_connection_that_names_a_kubeconfig_or_context_passes_only_that(tmp_path: Path) -> None:
    assert Connection("/k", "ctx").flags(str(tmp_path)) == ["--kubeconfig", "/k", "--kube-context", "ctx"]
    assert not list(tmp_path.iterdir())
