"""Running the real ``helmcr`` CLI against the session's control plane, and reading what it did.

helm is run through a wrapper script that logs each invocation and then execs the real binary: the count of helm
processes a run started is read from that log, not from helmcr's own report.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml
from kubernetes import client

from devenv import binaries
from devenv.crds import establish_crd, free_form_crd
from devenv.helmcli import Helm
from devenv.paths import shared_charts_dir

REPO = Path(__file__).resolve().parents[2]
SHARED_CHARTS = shared_charts_dir()
GROUP = "test.helmcr.io"
VERSION = "v1alpha1"


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    helm_processes: int
    requests: list[dict[str, Any]]  # the API server's audit events for helmcr's own requests

    @property
    def writes(self) -> list[dict[str, Any]]:
        return [event for event in self.requests if event["verb"] not in ("get", "list", "watch")]

    @property
    def report(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.stdout)
        return document

    def outcome(self, name: str) -> dict[str, Any]:
        return next(o for o in self.report["outcomes"] if o["name"] == name or o["release"]["name"] == name)


class Helmcr:
    """One test's helmcr: its config file, a counting helm wrapper, and the admin kubeconfig.

    The wrapper logs each helm invocation and its pid (so a test can kill one helm mid-operation) and, when
    HELM_TEST_DELAY is set, waits that long before exec'ing the real helm, so faults can land mid-run.
    """

    def __init__(self, workdir: Path, helm: Helm, kubeconfig: Path, audit_log: Path | None = None) -> None:
        self.workdir = workdir
        self.helm = helm
        self.kubeconfig = kubeconfig
        self.audit_log = audit_log
        self.calls = workdir / "helm-calls.log"
        self.pids = workdir / "helm-pids.log"
        self.wrapper = workdir / "helm"
        self.wrapper.write_text(
            "#!/bin/sh\n"
            f'echo "$1" >> "{self.calls}"\n'
            'if [ -n "$HELM_TEST_DELAY" ]; then sleep "$HELM_TEST_DELAY"; fi\n'
            f'echo "$$ $1" >> "{self.pids}"\n'
            f'exec "{helm.binary}" "$@"\n'
        )
        self.wrapper.chmod(0o755)
        self.config = workdir / "helmcr.yaml"

    def configure(self, watches: list[dict[str, Any]], **globals_: Any) -> Path:
        self.config.write_text(yaml.safe_dump({"watches": watches, **globals_}))
        return self.config

    def command(
        self, *args: str, kubeconfig: Path | None = None, verb: tuple[str, ...] = ("sync", "--once")
    ) -> list[str]:
        return [
            sys.executable,
            "-m",
            "reconcile.cli",
            *verb,
            "--config",
            str(self.config),
            "--helm-binary",
            str(self.wrapper),
            "--kubeconfig",
            str(kubeconfig or self.kubeconfig),
            *args,
        ]

    def sync(self, *args: str, kubeconfig: Path | None = None, env: Mapping[str, str] | None = None) -> Run:
        return self.run(("sync", "--once"), *args, kubeconfig=kubeconfig, env=env)

    def run(
        self,
        verb: tuple[str, ...],
        *args: str,
        kubeconfig: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Run:
        """Any helmcr command (``("diff",)``, ``("apply", "plan.json")``) with this test's config, helm and cluster."""
        before = self._helm_calls()
        audit_offset = self.audit_log.stat().st_size if self.audit_log else 0
        process = subprocess.run(
            self.command(*args, kubeconfig=kubeconfig, verb=verb),
            capture_output=True,
            text=True,
            timeout=600,
            cwd=REPO,
            env={**self.helm.env, **(env or {})},
        )
        requests = helmcr_requests(self.audit_log, audit_offset) if self.audit_log else []
        return Run(process.returncode, process.stdout, process.stderr, self._helm_calls() - before, requests)

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        """helmcr in the background, for faults injected while it runs; the caller waits for it."""
        return subprocess.Popen(
            self.command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**self.helm.env, **(env or {})},
        )

    def helm_pids(self) -> list[tuple[int, str]]:
        """(pid, helm subcommand) of every helm started so far, in order."""
        if not self.pids.exists():
            return []
        return [(int(pid), verb) for pid, verb in (line.split() for line in self.pids.read_text().splitlines())]

    def _helm_calls(self) -> int:
        return len(self.calls.read_text().splitlines()) if self.calls.exists() else 0


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def helmcr_requests(audit_log: Path, offset: int) -> list[dict[str, Any]]:
    """Audit events (written when each response completed) of requests made by helmcr itself, after ``offset``."""
    with audit_log.open() as handle:
        handle.seek(offset)
        events = [json.loads(line) for line in handle if line.strip()]
    return [e for e in events if e.get("userAgent", "").startswith("helmcr/") and e.get("stage") == "ResponseComplete"]


def install_crd(api: client.ApiClient, kind: Kind, strict_spec: bool = False) -> None:
    """By default the spec is free-form, so helmcr's own checks (not the API server's) are exercised."""
    spec: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}
    if strict_spec:
        spec["type"] = "object"
    establish_crd(api, free_form_crd(GROUP, VERSION, kind.kind, kind.plural, spec))


class Resources:
    """Create, read, edit and delete the CRs of one kind in one namespace."""

    def __init__(self, api: client.ApiClient, kind: Kind, namespace: str) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.kind = kind
        self.namespace = namespace

    def create(self, name: str, spec: Any, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": self.kind.kind,
            "metadata": {"name": name, "labels": dict(labels or {})},
            "spec": spec,
        }
        created = self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, self.kind.plural, body)
        return cast(dict[str, Any], created)

    def get(self, name: str) -> dict[str, Any]:
        found = self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, self.kind.plural, name)
        return cast(dict[str, Any], found)

    def patch_spec(self, name: str, spec: Mapping[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, self.kind.plural, name, {"spec": dict(spec)}
        )

    def annotate(self, name: str, annotations: Mapping[str, str]) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, self.kind.plural, name, {"metadata": {"annotations": dict(annotations)}}
        )

    def delete(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, self.kind.plural, name)

    def ready(self, name: str) -> dict[str, Any]:
        status = self.get(name).get("status") or {}
        return next(c for c in status.get("conditions", []) if c["type"] == "Ready")


def release_records(api: client.ApiClient, namespace: str) -> dict[str, str]:
    """Release record name → resourceVersion: any write to a release shows up here."""
    secrets = client.CoreV1Api(api).list_namespaced_secret(namespace, label_selector="owner=helm")
    return {str(s.metadata.name): str(s.metadata.resource_version) for s in secrets.items if s.metadata}


def helm_status(helm: Helm, namespace: str, release: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(helm.run("status", release, "-n", namespace, "-o", "json").stdout)
    return document


def statefulset_replicas(api: client.ApiClient, namespace: str, name: str) -> int:
    spec = client.AppsV1Api(api).read_namespaced_stateful_set(name, namespace).spec
    assert spec is not None and spec.replicas is not None
    return spec.replicas


def names(items: Iterable[Any]) -> set[str]:
    return {item.metadata.name for item in items}


CACHE = Kind("Cache", "caches")
EXAMPLE_CHART = REPO / "examples" / "memcached" / "chart"


def cache_watch(**extra: Any) -> dict[str, Any]:
    """A watch of the Cache kind on the project's own small example chart (fast, no hooks)."""
    return {"group": GROUP, "version": VERSION, "kind": CACHE.kind, "chart": str(EXAMPLE_CHART), **extra}


def releases(helm: Helm, namespace: str, kubeconfig: Path | None = None) -> dict[str, tuple[int, str]]:
    where = ["--kubeconfig", str(kubeconfig)] if kubeconfig else []
    listed = json.loads(
        helm.run("list", "-n", namespace, "--deployed", "--failed", "--pending", "-o", "json", *where).stdout
    )
    return {r["name"]: (int(r["revision"]), r["status"]) for r in listed}


def bind_role(
    kube: client.ApiClient, namespace: str, name: str, rules: list[client.V1PolicyRule], account: str
) -> None:
    """A Role of exactly these rules in the namespace, bound to one of its ServiceAccounts."""
    rbac = client.RbacAuthorizationV1Api(kube)
    rbac.create_namespaced_role(namespace, client.V1Role(metadata=client.V1ObjectMeta(name=name), rules=rules))
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name=name),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=name),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name=account, namespace=namespace)],
        ),
    )


def service_account(kube: client.ApiClient, namespace: str, name: str) -> None:
    client.CoreV1Api(kube).create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name))
    )


def run_scaffold(helm: Helm, chart: Path, out: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """The real CLI, rendering with the helm under test (HELMCR_HELM, as a user would set it)."""
    return subprocess.run(
        [sys.executable, "-m", "reconcile.cli", "scaffold", "--chart", str(chart), "--out", str(out), *flags],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**helm.env, "HELMCR_HELM": str(helm.binary)},
        timeout=120,
        check=False,
    )


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binaries.kubectl_binary()), "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def served(log: Path, request: str) -> int:
    """How many times a server answered ``request`` (e.g. ``GET /x/index.yaml``) with 200, from its own log."""
    pattern = re.compile(rf'"{re.escape(request)} HTTP/[\d.]+" 200 ')
    return sum(1 for line in log.read_text().splitlines() if pattern.search(line))
