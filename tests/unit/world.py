"""A small world for orchestration tests: a fake API server with one CRD, fake helm over it, and a config whose
one kind maps to the project's example chart. Each test states only its CRs, its faults and what it expects."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconcile.adapters.helm import Connection
from reconcile.adapters.kube import EVENTS, SECRETS, ResourceType
from reconcile.model import RunSummary
from reconcile.runner import Adapters
from reconcile.settings import Config, RunOptions, Scope, Watch
from reconcile.sync import RunControl, sync_once
from tests.unit.fakes import FakeApiServer, FakeHelm, FakeKube

CHART = Path(__file__).resolve().parents[2] / "examples" / "memcached" / "chart"
CACHES = ResourceType("anywhere.io", "v1alpha1", "memcacheds")
NAMESPACE = "team-a"


@dataclass
class World:
    server: FakeApiServer = field(default_factory=FakeApiServer)
    kube: FakeKube = field(init=False)
    helm: FakeHelm = field(init=False)
    watch: Watch = field(
        default_factory=lambda: Watch(group="anywhere.io", version="v1alpha1", kind="Memcached", chart=str(CHART))
    )

    def __post_init__(self) -> None:
        self.server.add_crd(CACHES, kind="Memcached")
        self.kube = FakeKube(self.server)
        self.helm = FakeHelm(self.server)

    @property
    def config(self) -> Config:
        return Config(path=CHART.parent / "helmcr.yaml", watches=(self.watch,))

    def cr(self, name: str, spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
        body = {
            "apiVersion": "anywhere.io/v1alpha1",
            "kind": "Memcached",
            "metadata": {"name": name, **metadata},
            "spec": spec if spec is not None else {"replicaCount": 1},
        }
        return self.server.create(CACHES, NAMESPACE, body)

    def edit(self, name: str, spec: dict[str, Any]) -> None:
        current = self.server.get(CACHES, NAMESPACE, name)
        self.server.replace(CACHES, NAMESPACE, name, {**current, "spec": spec})

    def delete(self, name: str) -> None:
        self.server.delete(CACHES, NAMESPACE, name)

    def status(self, name: str) -> dict[str, Any]:
        status: dict[str, Any] = self.server.get(CACHES, NAMESPACE, name).get("status") or {}
        return status

    def ready(self, name: str) -> dict[str, Any]:
        return next(c for c in self.status(name).get("conditions", []) if c["type"] == "Ready")

    def releases(self) -> dict[str, tuple[int, str]]:
        """Release name → (latest revision, status), from the records as helm left them."""
        latest: dict[str, tuple[int, str]] = {}
        for record in self.server.objects(SECRETS, NAMESPACE):
            labels = record["metadata"].get("labels") or {}
            if labels.get("owner") == "helm":
                revision = int(labels["version"])
                if revision > latest.get(labels["name"], (0, ""))[0]:
                    latest[labels["name"]] = (revision, labels["status"])
        return latest

    def events(self) -> list[str]:
        return [e["reason"] for e in self.server.objects(EVENTS)]

    def sync(self, options: RunOptions | None = None, control: RunControl | None = None) -> RunSummary:
        """One ``sync --once``, counting from zero."""
        self.kube.requests = self.helm.processes = 0
        return sync_once(
            self.config, self.kube, self.helm, options or RunOptions(scope=Scope()), control or RunControl()
        )

    def sync_config(self, config: Config) -> RunSummary:
        """One ``sync --once`` with another config (several kinds)."""
        self.kube.requests = self.helm.processes = 0
        return sync_once(config, self.kube, self.helm, RunOptions(scope=Scope()), RunControl())

    def adapters(self) -> Adapters:
        """For the runner: the same fakes wherever it would connect."""
        return Adapters(kube=lambda kubeconfig, context: self.kube, helm=lambda binary, connection: self.helm)


__all__ = ["CACHES", "NAMESPACE", "Connection", "World"]
