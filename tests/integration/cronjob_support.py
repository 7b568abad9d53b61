"""A kind deployed as its users deploy it: scaffold's output, applied with ``kubectl apply -k``, run by the CronJob.

Runs are started with ``kubectl create job --from=cronjob/...`` (the template as is, at once) unless a test waits for
the schedule itself; what a test asserts is what a user reads: the Job's outcome, its pod's log, the CR's status and
Events, the releases.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml
from kubernetes import client

from devenv.helmcli import Helm
from tests.integration.support import kubectl, run_scaffold, wait_for

GROUP = "e2e.helmcr.test"
VERSION = "v1alpha1"
JOB_TIMEOUT = 300.0


@dataclass(frozen=True)
class JobRun:
    """One Job of the CronJob: how it ended and what its pod printed."""

    name: str
    succeeded: bool
    log: str
    pod: client.V1Pod | None  # None once deleted


@dataclass
class Deployment:
    """One scaffolded kind in one namespace, its CronJob deployed."""

    kubeconfig: Path
    api: client.ApiClient
    namespace: str
    out: Path
    kind: str
    plural: str
    cronjob: str
    runs: int = field(default=0)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def apply(self) -> str:
        """``kubectl apply -k`` of the scaffolded directory; returns its stderr (warnings included)."""
        applied = kubectl(self.kubeconfig, "apply", "-k", str(self.out))
        assert applied.returncode == 0, applied.stderr
        return applied.stderr

    def edit_config(self, **settings: Any) -> None:
        """Change the generated config as a user edits it (then applies it again)."""
        path = self.out / "helmcr.yaml"
        config = yaml.safe_load(path.read_text())
        config["watches"][0].update(settings)
        path.write_text(yaml.safe_dump(config))

    def create(self, name: str, spec: dict[str, Any]) -> None:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": self.kind, "metadata": {"name": name}, "spec": spec}
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, self.plural, body)

    def patch(self, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, self.plural, name, {"spec": spec})

    def delete(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, self.plural, name)

    def get(self, name: str) -> dict[str, Any]:
        found = self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, self.plural, name)
        return cast(dict[str, Any], found)

    def ready(self, name: str) -> dict[str, Any]:
        conditions = (self.get(name).get("status") or {}).get("conditions") or []
        return cast(dict[str, Any], next(c for c in conditions if c["type"] == "Ready"))

    def events(self, name: str) -> list[str]:
        """The reasons of the Events recorded for CR ``name``, oldest first."""
        listed = client.CoreV1Api(self.api).list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name},involvedObject.kind={self.kind}"
        )
        return [str(event.reason) for event in sorted(listed.items, key=lambda e: str(e.metadata.creation_timestamp))]

    def start_job(self) -> str:
        self.runs += 1
        name = f"{self.cronjob}-run-{self.runs}"
        created = kubectl(
            self.kubeconfig, "create", "job", name, f"--from=cronjob/{self.cronjob}", "-n", self.namespace
        )
        assert created.returncode == 0, created.stderr
        return name

    def run_job(self) -> JobRun:
        return self.wait_job(self.start_job())

    def wait_job(self, name: str, timeout: float = JOB_TIMEOUT) -> JobRun:
        batch = client.BatchV1Api(self.api)

        def outcome() -> str | None:
            """The Job's terminal condition. Not its pod counts: an Indexed Job has one success per completed
            index, so ``status.succeeded`` turns 1 while the other shards are still running."""
            status = batch.read_namespaced_job(name, self.namespace).status
            conditions = (status.conditions if status else None) or []
            ended = [c.type for c in conditions if c.type in ("Complete", "Failed") and c.status == "True"]
            return ended[0] if ended else None

        wait_for(lambda: outcome() is not None, f"job {self.namespace}/{name} to finish", timeout)
        return JobRun(name, outcome() == "Complete", self.job_log(name), self.job_pod(name))

    def job_pod(self, job: str) -> client.V1Pod | None:
        pods = client.CoreV1Api(self.api).list_namespaced_pod(self.namespace, label_selector=f"job-name={job}")
        return pods.items[-1] if pods.items else None

    def job_log(self, job: str) -> str:
        """The pod's log, as ``kubectl logs job/NAME`` shows it; a pod that was deleted has none."""
        logs = kubectl(self.kubeconfig, "logs", f"job/{job}", "-n", self.namespace)
        return logs.stdout if logs.returncode == 0 else f"(no log: {logs.stderr.strip()})"

    def pod_template(self) -> dict[str, Any]:
        (cronjob,) = [d for d in yaml.safe_load_all((self.out / "cronjob.yaml").read_text()) if d]
        return cast(dict[str, Any], cronjob["spec"]["jobTemplate"]["spec"]["template"])


def deploy(
    helm: Helm,
    kubeconfig: Path,
    api: client.ApiClient,
    namespace: str,
    out: Path,
    chart: Path,
    *flags: str,
) -> Deployment:
    """Scaffold ``chart`` as kind Greeting into ``out`` for ``namespace`` (flags: --image, --schedule, ...)."""
    done = run_scaffold(
        helm, chart, out, "--group", GROUP, "--version", VERSION, "--kind", "Greeting", "--namespace", namespace, *flags
    )
    assert done.returncode == 0, done.stderr
    crd = yaml.safe_load((out / "crd.yaml").read_text())
    (cronjob,) = [d for d in yaml.safe_load_all((out / "cronjob.yaml").read_text()) if d]
    return Deployment(
        kubeconfig, api, namespace, out, "Greeting", crd["spec"]["names"]["plural"], cronjob["metadata"]["name"]
    )


def digest_key(kubeconfig: Path, namespace: str) -> None:
    """The Secret the CronJob requires, made as docs/deploy.md tells users to."""
    created = kubectl(
        kubeconfig,
        "create",
        "secret",
        "generic",
        "helmcr-digest-key",
        "-n",
        namespace,
        f"--from-literal=key={secrets.token_hex(32)}",
    )
    assert created.returncode == 0, created.stderr
