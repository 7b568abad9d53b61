"""helmcr's CronJob on a real node: scaffold's output applied with ``kubectl apply -k`` and only the image reference
given, each run a pod of the image built from cronjob/Dockerfile (helm 3 and helm 4), with the ServiceAccount's
in-cluster credentials, a read-only root filesystem, uid 65532 and an emptyDir /tmp, in a namespace that enforces the
``restricted`` Pod Security level.
"""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path
from typing import Any, Protocol

import pytest
import yaml
from kubernetes import client

from devenv.controlplane import LOOPBACK_RUNTIME_CLASS, ControlPlane
from devenv.helmcli import Helm, isolated_helm
from devenv.registry import ChartRepository, OciRegistry
from reconcile.shards import shard_of
from tests.integration.cronjob_support import Deployment, deploy, digest_key
from tests.integration.node_fixtures import E2E_CHARTS
from tests.integration.support import kubectl, releases, served, wait_for

NEVER = "0 0 1 1 *"  # runs are started by hand (kubectl create job --from), at once and one at a time
EVERY_MINUTE = "* * * * *"
RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}


@pytest.fixture
def restricted_namespace(kube: client.ApiClient, namespace: str) -> str:
    client.CoreV1Api(kube).patch_namespace(namespace, {"metadata": {"labels": RESTRICTED}})
    return namespace


@pytest.fixture
def host_helm(control_plane: ControlPlane, tmp_path: Path) -> Helm:
    """helm on the host, to read releases and to render for scaffold (the pod runs the image's own helm)."""
    return isolated_helm(4, control_plane.kubeconfig, tmp_path / "host-helm")


@pytest.fixture
def hold_values(tmp_path: Path) -> Path:
    """Values that turn the chart's hook on: scaffold renders with them so that the RBAC grants its Job."""
    path = tmp_path / "hold.yaml"
    path.write_text("holdHook: true\n")
    return path


class Deploy(Protocol):
    def __call__(self, schedule: str, *flags: str, **config: Any) -> tuple[Deployment, str]: ...


@pytest.fixture
def deploy_greeting(
    host_helm: Helm,
    control_plane: ControlPlane,
    kube: client.ApiClient,
    restricted_namespace: str,
    tmp_path: Path,
    helmcr_image: str,
    hold_values: Path,
) -> Deploy:
    """Scaffold the greeting chart for the test's restricted namespace with the image and a schedule, edit the
    config with ``config`` as a user would, and apply it; returns the deployment and kubectl's warnings."""

    keyed: list[str] = []

    def deploy_with(schedule: str, *extra: str, **config: Any) -> tuple[Deployment, str]:
        flags = ("--image", helmcr_image, "--schedule", schedule, "--values", str(hold_values), *extra)
        chart = E2E_CHARTS["greeting"]
        deployment = deploy(
            host_helm, control_plane.kubeconfig, kube, restricted_namespace, tmp_path / "deploy", chart, *flags
        )
        if config:
            deployment.edit_config(**config)
        if not keyed:  # deployed again (say, with another --shards): the key stays
            digest_key(control_plane.kubeconfig, restricted_namespace)
            keyed.append(restricted_namespace)
        return deployment, deployment.apply()

    return deploy_with


@pytest.fixture
def greetings(deploy_greeting: Deploy) -> tuple[Deployment, str]:
    return deploy_greeting(NEVER)


def configmap_message(kube: client.ApiClient, namespace: str, release: str) -> str | None:
    try:
        found = client.CoreV1Api(kube).read_namespaced_config_map(f"{release}-greeting", namespace)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise
    return str((found.data or {}).get("message"))


def requests_by(control_plane: ControlPlane, user: str) -> list[dict[str, Any]]:
    with control_plane.audit_log.open() as log:
        events = (json.loads(line) for line in log if line.strip())
        return [e for e in events if e.get("user", {}).get("username") == user and e.get("stage") == "ResponseComplete"]


def test_cronjob_pods_install_upgrade_and_uninstall_releases(
    greetings: tuple[Deployment, str], kube: client.ApiClient, host_helm: Helm, control_plane: ControlPlane
) -> None:
    deployment, apply_warnings = greetings
    ns = deployment.namespace
    assert "PodSecurity" not in apply_warnings  # the CronJob's pod template meets `restricted` as written

    deployment.create("hello", {"message": "hello from a pod"})
    installed = deployment.run_job()
    assert installed.succeeded, installed.log
    assert configmap_message(kube, ns, "hello") == "hello from a pod"
    assert releases(host_helm, ns) == {"hello": (1, "deployed")}
    assert deployment.ready("hello")["reason"] == "InstallSucceeded"
    assert "InstallSucceeded" in deployment.events("hello")
    assert "hello" in installed.log

    pod = kube.sanitize_for_serialization(installed.pod)
    assert pod["spec"]["serviceAccountName"] == f"helmcr-{deployment.kind.lower()}"
    assert pod["spec"]["runtimeClassName"] == LOOPBACK_RUNTIME_CLASS  # the environment's loopback policy ran
    account = f"system:serviceaccount:{ns}:{pod['spec']['serviceAccountName']}"
    assert any(e["userAgent"].startswith("helmcr/") for e in requests_by(control_plane, account))

    deployment.patch("hello", {"message": "edited"})
    upgraded = deployment.run_job()
    assert upgraded.succeeded, upgraded.log
    assert configmap_message(kube, ns, "hello") == "edited"
    assert releases(host_helm, ns) == {"hello": (2, "deployed")}
    assert deployment.ready("hello")["reason"] == "UpgradeSucceeded"

    unchanged = deployment.run_job()
    assert unchanged.succeeded, unchanged.log
    assert releases(host_helm, ns) == {"hello": (2, "deployed")}

    deployment.delete("hello")
    uninstalled = deployment.run_job()
    assert uninstalled.succeeded, uninstalled.log
    assert configmap_message(kube, ns, "hello") is None
    assert releases(host_helm, ns) == {}


def test_restricted_pod_security_admits_the_pod_as_written(
    greetings: tuple[Deployment, str], kube: client.ApiClient
) -> None:
    """A server-side dry run is judged without the environment's loopback policy: it shows what Pod Security makes
    of the pod the Job creates, as any cluster would. The same pod with a privilege escalation is refused, so the
    namespace really enforces."""
    deployment, _ = greetings
    template = deployment.pod_template()
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "as-written"}, "spec": template["spec"]}
    admitted = dry_run_create(deployment, pod)
    assert admitted.returncode == 0, admitted.stderr

    escalating = json.loads(json.dumps(pod))
    escalating["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    refused = dry_run_create(deployment, escalating)
    assert refused.returncode != 0 and 'violates PodSecurity "restricted' in refused.stderr


def dry_run_create(deployment: Deployment, manifest: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return kubectl(
        deployment.kubeconfig,
        "create",
        "--dry-run=server",
        "-n",
        deployment.namespace,
        "-f",
        "-",
        stdin=json.dumps(manifest),
    )


def scheduled_jobs(kube: client.ApiClient, namespace: str) -> list[str]:
    """The names of the Jobs the CronJob controller made on schedule (not by hand)."""
    jobs = kube.sanitize_for_serialization(client.BatchV1Api(kube).list_namespaced_job(namespace))["items"]
    scheduled = [
        j for j in jobs if "batch.kubernetes.io/cronjob-scheduled-timestamp" in j["metadata"].get("annotations", {})
    ]
    return [str(j["metadata"]["name"]) for j in scheduled]


def job_active(kube: client.ApiClient, namespace: str, name: str) -> bool:
    status = client.BatchV1Api(kube).read_namespaced_job(name, namespace).status
    return bool(status and status.active)


def next_minute() -> datetime.datetime:
    now = datetime.datetime.now(datetime.UTC)
    return now.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)


def test_a_run_that_outlasts_the_schedule_is_neither_doubled_nor_overtaken(
    deploy_greeting: Deploy, host_helm: Helm, kube: client.ApiClient, restricted_namespace: str
) -> None:
    """A run held by a hook for 100 s spans two schedule ticks: Forbid starts no second Job, and a Job started by
    hand meanwhile, with a new CR to install, finds the run lease held and changes nothing."""
    ns = restricted_namespace
    deployment, _ = deploy_greeting(EVERY_MINUTE, timeout="100s", stuckAfter="10m")
    deployment.create("slow", {"holdHook": True})
    wait_for(lambda: bool(scheduled_jobs(kube, ns)), "the CronJob's first scheduled Job", timeout=90)
    (first,) = scheduled_jobs(kube, ns)
    wait_for(lambda: releases(host_helm, ns).get("slow", (0, ""))[1] == "pending-install", "helm to wait on the hook")

    deployment.create("later", {"message": "after the slow one"})
    overtaking = deployment.run_job()
    assert not overtaking.succeeded
    assert "another helmcr run holds the lease" in overtaking.log
    assert releases(host_helm, ns) == {"slow": (1, "pending-install")}

    tick = next_minute()
    wait_for(
        lambda: datetime.datetime.now(datetime.UTC) > tick + datetime.timedelta(seconds=10),
        "a schedule tick",
        timeout=75,
    )
    assert job_active(kube, ns, first), "the first run should still be waiting on its hook"
    assert scheduled_jobs(kube, ns) == [first]

    done = deployment.wait_job(first)
    assert not done.succeeded  # the hook never ran: helm timed out, and the CR says so
    assert deployment.ready("slow")["reason"] == "InstallFailed"


def test_a_job_killed_mid_upgrade_leaves_a_release_the_next_job_recovers(
    deploy_greeting: Deploy,
    host_helm: Helm,
    control_plane: ControlPlane,
    kube: client.ApiClient,
    restricted_namespace: str,
) -> None:
    ns = restricted_namespace
    deployment, _ = deploy_greeting(NEVER, timeout="60s", stuckAfter="70s")
    deployment.create("victim", {"message": "v1"})
    assert deployment.run_job().succeeded
    deployment.patch("victim", {"message": "v2", "holdHook": True})
    job = deployment.start_job()
    wait_for(lambda: releases(host_helm, ns).get("victim", (0, ""))[1] == "pending-upgrade", "the upgrade to start")
    wait_for(lambda: deployment.job_pod(job) is not None, "the Job's pod")
    deleted = kubectl(
        control_plane.kubeconfig, "delete", "pod", "-n", ns, "-l", f"job-name={job}", "--grace-period=0", "--force"
    )
    assert deleted.returncode == 0, deleted.stderr
    killed = deployment.wait_job(job)
    assert not killed.succeeded
    assert releases(host_helm, ns) == {"victim": (2, "pending-upgrade")}

    deployment.patch("victim", {"message": "v3", "holdHook": False})

    def recovered() -> bool:
        run = deployment.run_job()
        return run.succeeded and configmap_message(kube, ns, "victim") == "v3"

    wait_for(recovered, "a later Job to recover the release", timeout=300)
    assert releases(host_helm, ns)["victim"][1] == "deployed"
    assert deployment.ready("victim")["reason"] == "UpgradeSucceeded"


CHART_CREDENTIALS = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {cronjob}
  namespace: {namespace}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: helmcr
              env:
                - name: HELM_REGISTRY_CONFIG
                  value: /etc/helmcr-charts/registry/config.json
                - name: HELM_REPOSITORY_CONFIG
                  value: /etc/helmcr-charts/repositories/repositories.yaml
                - name: SSL_CERT_FILE
                  value: /etc/helmcr-charts/ca/ca-bundle.pem
              volumeMounts:
                - {{name: chart-registry, mountPath: /etc/helmcr-charts/registry, readOnly: true}}
                - {{name: chart-repositories, mountPath: /etc/helmcr-charts/repositories, readOnly: true}}
                - {{name: chart-ca, mountPath: /etc/helmcr-charts/ca, readOnly: true}}
          volumes:
            - name: chart-registry
              secret:
                secretName: helmcr-registry
                items: [{{key: .dockerconfigjson, path: config.json}}]
            - name: chart-repositories
              secret: {{secretName: helmcr-chart-repositories}}
            - name: chart-ca
              configMap: {{name: helmcr-chart-ca}}
"""


def mount_chart_credentials(
    deployment: Deployment, registry: OciRegistry, repository: ChartRepository, helm: Helm, url: str, work: Path
) -> None:
    """The Secrets and the CronJob patch of docs/deploy.md ("Charts from a registry or a repository"), as written
    there: credentials made without a password on any command line, mounted read-only."""
    ns, kubeconfig = deployment.namespace, deployment.kubeconfig
    docker_config = registry.write_docker_config(work / "config.json")
    repositories = repository.add_to(helm, "team", work / "repositories.yaml", url)
    for made in (
        kubectl(kubeconfig, "-n", ns, "create", "secret", "generic", "helmcr-registry",
                "--type=kubernetes.io/dockerconfigjson", f"--from-file=.dockerconfigjson={docker_config}"),
        kubectl(kubeconfig, "-n", ns, "create", "secret", "generic", "helmcr-chart-repositories",
                f"--from-file=repositories.yaml={repositories}"),
        kubectl(kubeconfig, "-n", ns, "create", "configmap", "helmcr-chart-ca",
                f"--from-file=ca-bundle.pem={registry.ca_cert}"),
    ):  # fmt: skip
        assert made.returncode == 0, made.stderr
    (deployment.out / "chart-credentials.yaml").write_text(
        CHART_CREDENTIALS.format(cronjob=deployment.cronjob, namespace=ns)
    )
    kustomization = yaml.safe_load((deployment.out / "kustomization.yaml").read_text())
    kustomization["patches"] = [{"path": "chart-credentials.yaml"}]
    (deployment.out / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))


@pytest.mark.parametrize("source", ["oci", "repo"])
def test_cronjob_pods_install_charts_from_a_registry_and_a_repository_pulling_once(
    source: str,
    deploy_greeting: Deploy,
    host_helm: Helm,
    kube: client.ApiClient,
    restricted_namespace: str,
    tmp_path: Path,
    oci_registry: OciRegistry,
    chart_repository: ChartRepository,
) -> None:
    ns = restricted_namespace
    host_helm.run("package", str(E2E_CHARTS["greeting"]), "--destination", str(tmp_path))
    package = tmp_path / "greeting-1.0.0.tgz"
    reference = oci_registry.push(host_helm, package, ns)
    url = chart_repository.publish(host_helm, package, ns)
    remote = {"oci": {"chart": reference}, "repo": {"repo": url, "chart": "greeting"}}[source]
    deployment, _ = deploy_greeting(NEVER, **remote, chartVersion="1.0.0")
    mount_chart_credentials(deployment, oci_registry, chart_repository, host_helm, url, tmp_path)
    deployment.apply()
    for name in ("first", "second"):
        deployment.create(name, {"message": f"{name} from {source}"})

    run = deployment.run_job()
    assert run.succeeded, run.log
    assert releases(host_helm, ns) == {"first": (1, "deployed"), "second": (1, "deployed")}
    assert configmap_message(kube, ns, "second") == f"second from {source}"
    pulls = {
        "oci": served(oci_registry.log_path, f"GET /v2/{ns}/greeting/manifests/1.0.0"),
        "repo": served(chart_repository.log_path, f"GET /{ns}/greeting-1.0.0.tgz"),
    }
    assert pulls[source] == 1, "one pull for the run, not one per release"
    assert oci_registry.password not in run.log and chart_repository.password not in run.log


def shard_pods(deployment: Deployment, job: str) -> dict[int, str]:
    """Completion index → that pod's log."""
    listed = client.CoreV1Api(deployment.api).list_namespaced_pod(
        deployment.namespace, label_selector=f"job-name={job}"
    )
    logs = {}
    for pod in deployment.api.sanitize_for_serialization(listed)["items"]:
        index = int(pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"])
        logged = kubectl(deployment.kubeconfig, "logs", f"pod/{pod['metadata']['name']}", "-n", deployment.namespace)
        assert logged.returncode == 0, logged.stderr
        logs[index] = logged.stdout
    return logs


def test_an_indexed_job_splits_the_fleet_over_its_shards_and_a_new_count_takes_over_safely(
    deploy_greeting: Deploy, host_helm: Helm, kube: client.ApiClient
) -> None:
    deployment, _ = deploy_greeting(NEVER, "--shards", "3")
    ns = deployment.namespace
    names = [f"g{i}" for i in range(9)]
    for name in names:
        deployment.create(name, {"message": name})
    uids = {name: deployment.get(name)["metadata"]["uid"] for name in names}
    run = deployment.run_job()
    assert run.succeeded, run.log
    assert releases(host_helm, ns) == {name: (1, "deployed") for name in names}, "each installed once"
    logs = shard_pods(deployment, run.name)
    assert sorted(logs) == [0, 1, 2], "one pod per shard, told its index by the job controller"
    for index, log in logs.items():
        mine = sum(1 for uid in uids.values() if shard_of(uid, 3) == index)
        assert f"{mine} installed, 0 upgraded, 0 uninstalled" in log, log
    leases = kube.sanitize_for_serialization(client.CoordinationV1Api(kube).list_namespaced_lease(ns))["items"]
    assert sorted(lease["metadata"]["name"].rsplit("-", 3)[1] for lease in leases) == ["0", "1", "2"], "one each"

    deploy_greeting(NEVER, "--shards", "2")  # the fleet re-split, as a user reruns scaffold and applies it
    gone = names[:3]
    for name in gone:
        deployment.delete(name)
    resplit = deployment.run_job()
    assert resplit.succeeded, resplit.log
    assert releases(host_helm, ns) == {name: (1, "deployed") for name in names[3:]}, "only the deleted CRs' go"
    logs = shard_pods(deployment, resplit.name)
    assert sorted(logs) == [0, 1]
    for index, log in logs.items():
        mine = sum(1 for name in gone if shard_of(uids[name], 2) == index)
        assert f"0 installed, 0 upgraded, {mine} uninstalled" in log, log
