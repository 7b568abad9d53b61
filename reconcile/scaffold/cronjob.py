"""The CronJob that runs ``helmcr sync --once`` on a schedule, and the kustomization that deploys it.

A run is one pass; the schedule is the retry loop. So: ``concurrencyPolicy: Forbid`` (two runs never drive helm
against the same releases), ``backoffLimit: 0`` (a failed pass is retried by the next scheduled one, not at once),
``startingDeadlineSeconds`` (a run missed while the controller was down is skipped rather than piled up), and a
generous ``activeDeadlineSeconds`` (it only stops a hung run: a run killed in the middle of a helm operation leaves
that release ``pending-*``). The pod runs as non-root with a read-only root filesystem, so helm's home, cache,
config and data directories point into an emptyDir at /tmp.

The same builders make the generic base in ``cronjob/`` (``generate.base_files``), so the two never drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reconcile import __version__
from reconcile.scaffold.documents import manifest

CONFIG_DIR = "/etc/helmcr"
CONFIG_FILE = "helmcr.yaml"
DEFAULT_IMAGE = f"helmcr:{__version__}"
DEFAULT_SCHEDULE = "*/5 * * * *"
RUN_AS = 65532  # the image's non-root user (the "nonroot" uid of distroless images)
STARTING_DEADLINE_SECONDS = 120
ACTIVE_DEADLINE_SECONDS = 3600
HELM_ENV = {
    "HOME": "/tmp",
    "HELM_CACHE_HOME": "/tmp/helm/cache",
    "HELM_CONFIG_HOME": "/tmp/helm/config",
    "HELM_DATA_HOME": "/tmp/helm/data",
}
# Keys the digests (docs/tenancy.md), so that no status, label or saved plan lets a guessed value be confirmed.
# Required: until the Secret exists the pod does not start (kubectl describe names the Secret), rather than run
# unkeyed. Made once per namespace: kubectl create secret generic helmcr-digest-key
# --from-literal=key="$(openssl rand -hex 32)".
DIGEST_KEY_SECRET = "helmcr-digest-key"
DIGEST_KEY_COMMAND = f'kubectl create secret generic {DIGEST_KEY_SECRET} --from-literal=key="$(openssl rand -hex 32)"'
DIGEST_KEY_ENV = {
    "name": "HELMCR_DIGEST_KEY",
    "valueFrom": {"secretKeyRef": {"name": DIGEST_KEY_SECRET, "key": "key"}},
}
RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}


@dataclass(frozen=True)
class Deployment:
    """Names and placement shared by the ServiceAccount, ConfigMap and CronJob of one helmcr."""

    name: str
    namespace: str | None  # None: left to the kustomization or `kubectl -n` (the generic base)
    image: str = DEFAULT_IMAGE
    schedule: str = DEFAULT_SCHEDULE
    shards: int = 1

    @property
    def labels(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": "helmcr", "app.kubernetes.io/instance": self.name}


def cron_job(deployment: Deployment) -> dict[str, Any]:
    container = {
        "name": "helmcr",
        "image": deployment.image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["sync", "--once", "--config", f"{CONFIG_DIR}/{CONFIG_FILE}", *_shard_args(deployment.shards)],
        "env": [{"name": name, "value": value} for name, value in HELM_ENV.items()] + [DIGEST_KEY_ENV],
        "resources": RESOURCES,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    pod = {
        "serviceAccountName": deployment.name,
        "restartPolicy": "Never",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            {"name": "config", "configMap": {"name": deployment.name}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        ],
    }
    return {
        **manifest("batch/v1", "CronJob", deployment.name, deployment.namespace, deployment.labels),
        "spec": {
            "schedule": deployment.schedule,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": STARTING_DEADLINE_SECONDS,
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": deployment.labels},
                "spec": {
                    **_indexed(deployment.shards),
                    "activeDeadlineSeconds": ACTIVE_DEADLINE_SECONDS,
                    "template": {"metadata": {"labels": deployment.labels}, "spec": pod},
                },
            },
        },
    }


def _indexed(shards: int) -> dict[str, Any]:
    """One pod per shard, all at once: each Job's pods split the fleet, and the next Job starts after all are done
    (``concurrencyPolicy: Forbid``), so a shard never overlaps itself. Changing the count is safe: a shard only
    acts on its own CRs, and never uninstalls a release whose CR exists, whatever the count.

    No retry in either case (the next tick is the retry). Sharded, the limit is per index: a Job-wide
    ``backoffLimit: 0`` would fail the whole Job at the first shard that exits 1 (any failed release does) and
    have the Job controller kill the other shards mid-run."""
    if shards <= 1:
        return {"backoffLimit": 0}
    return {"completionMode": "Indexed", "completions": shards, "parallelism": shards, "backoffLimitPerIndex": 0}


def _shard_args(shards: int) -> list[str]:
    """The job controller sets ``JOB_COMPLETION_INDEX`` in each pod's env, and the kubelet expands ``$(…)`` in args."""
    return ["--shard", f"$(JOB_COMPLETION_INDEX)/{shards}"] if shards > 1 else []


def kustomization(deployment: Deployment, resources: Sequence[str]) -> dict[str, Any]:
    """Deploy everything with ``kubectl apply -k``; the config file becomes the ConfigMap the CronJob mounts.

    No name-suffix hash: every run is a new pod that mounts the ConfigMap as it is then, so a hash would only leave
    old ConfigMaps behind. Namespaces are set on each object, not by the kustomization, since RBAC may span several.
    """
    generator: dict[str, Any] = {"name": deployment.name}
    if deployment.namespace:
        generator["namespace"] = deployment.namespace
    generator["files"] = [CONFIG_FILE]
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": list(resources),
        "configMapGenerator": [generator],
        "generatorOptions": {"disableNameSuffixHash": True, "labels": deployment.labels},
    }
