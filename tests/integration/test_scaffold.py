"""helmcr scaffold's output against the real API server (RBAC on), with helm 3 and helm 4 rendering the charts.

Each test scaffolds into its own directory with its own API group (named after the test's namespace), so CRDs of
different tests never collide, and deletes its CRD at the end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from kubernetes import client, config

from devenv.controlplane import ControlPlane
from devenv.crds import CRDS, establish_crd
from devenv.helmcli import Helm
from tests.integration.support import (
    REPO,
    SHARED_CHARTS,
    Helmcr,
    kubectl,
    release_records,
    run_scaffold,
    statefulset_replicas,
)

EXAMPLE = REPO / "examples" / "memcached"
EXAMPLE_FLAGS = ("--group", "cache.example.com", "--version", "v1alpha1", "--kind", "Memcached")
VERSION = "v1alpha1"


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@dataclass
class Scaffolded:
    """One kind scaffolded from a chart, its CRD established, its RBAC applied, a token for its ServiceAccount."""

    out: Path
    chart: Path
    group: str
    kind: str
    plural: str
    namespace: str
    service_account: str  # helmcr's
    release_account: str  # the one helm acts as
    sa_kubeconfig: Path

    def custom(self, api: client.ApiClient) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(api)

    def create(self, api: client.ApiClient, name: str, spec: Any, strict: bool = False) -> dict[str, Any]:
        body = {
            "apiVersion": f"{self.group}/{VERSION}",
            "kind": self.kind,
            "metadata": {"name": name},
            "spec": spec,
        }
        created = self.custom(api).create_namespaced_custom_object(
            self.group, VERSION, self.namespace, self.plural, body, field_validation="Strict" if strict else None
        )
        return cast(dict[str, Any], created)

    def get(self, api: client.ApiClient, name: str) -> dict[str, Any]:
        found = self.custom(api).get_namespaced_custom_object(self.group, VERSION, self.namespace, self.plural, name)
        return cast(dict[str, Any], found)


def scaffold_and_apply(
    helm: Helm,
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    out: Path,
    chart: Path,
    kind: str,
    *flags: str,
) -> Scaffolded:
    group = f"{namespace}.scaffold.helmcr.io"
    done = run_scaffold(helm, chart, out, "--group", group, "--version", VERSION, "--kind", kind, *flags)
    assert done.returncode == 0, done.stderr
    (crd,) = documents(out / "crd.yaml")
    establish_crd(kube, crd)
    applied = kubectl(control_plane.kubeconfig, "apply", "--server-side", "-f", str(out / "rbac.yaml"))
    assert applied.returncode == 0, applied.stderr
    account = f"helmcr-{kind.lower()}"
    sa_kubeconfig = control_plane.service_account_kubeconfig(namespace, account, out.parent / "sa.kubeconfig")
    plural = crd["spec"]["names"]["plural"]
    return Scaffolded(out, chart, group, kind, plural, namespace, account, f"{account}-release", sa_kubeconfig)


@pytest.fixture
def cleanup_crds(kube: client.ApiClient) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        client.CustomObjectsApi(kube).delete_cluster_custom_object(*CRDS, name)


@pytest.fixture
def example(
    helm: Helm,
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    tmp_path: Path,
    cleanup_crds: list[str],
) -> Scaffolded:
    """The example chart scaffolded for the test's namespace, its CRD and RBAC applied."""
    scaffolded = scaffold_and_apply(
        helm, control_plane, kube, namespace, tmp_path / "out", EXAMPLE / "chart", "Memcached", "--namespace", namespace
    )
    cleanup_crds.append(f"{scaffolded.plural}.{scaffolded.group}")
    return scaffolded


def api_error(call: Any) -> client.ApiException:
    with pytest.raises(client.ApiException) as caught:
        call()
    return caught.value


def message(error: client.ApiException) -> str:
    """The API server's own sentence, from the Status object it answered with."""
    return str(json.loads(error.body or "{}").get("message", ""))


def test_the_crd_is_accepted_and_rejects_what_the_chart_rejects_with_the_api_servers_message(
    example: Scaffolded, kube: client.ApiClient, control_plane: ControlPlane
) -> None:
    wrong_type = api_error(lambda: example.create(kube, "wrong-type", {"replicaCount": "three"}))
    assert wrong_type.status == 422
    assert 'spec.replicaCount: Invalid value: "string": spec.replicaCount in body must be of type integer' in message(
        wrong_type
    )
    unknown_enum = api_error(lambda: example.create(kube, "bad-enum", {"image": {"pullPolicy": "Sometimes"}}))
    assert unknown_enum.status == 422
    assert (
        'spec.image.pullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"'
        in message(unknown_enum)
    )
    out_of_range = api_error(lambda: example.create(kube, "bad-port", {"port": 70000}))
    assert "spec.port: Invalid value: 70000: spec.port in body should be less than or equal to 65535" in message(
        out_of_range
    )
    unknown_field = api_error(lambda: example.create(kube, "typo", {"replicas": 3}, strict=True))
    assert unknown_field.status == 400
    assert 'unknown field "spec.replicas"' in message(unknown_field)

    (sample,) = documents(example.out / "sample.yaml")
    example.create(kube, "sample", sample["spec"], strict=True)
    example.create(kube, "three", {"replicaCount": 3})
    assert example.get(kube, "three")["spec"] == {"replicaCount": 3}, "no chart default is frozen into the CR"

    listed = kubectl(control_plane.kubeconfig, "get", f"{example.plural}.{example.group}", "-n", example.namespace)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split("\n")[0].split() == ["NAME", "READY", "REASON", "REVISION", "CHART", "AGE"]


@pytest.mark.parametrize(
    ("chart", "extra_flags", "change"),
    [
        (EXAMPLE / "chart", (), {"replicaCount": 2, "port": 11311}),
        (
            SHARED_CHARTS / "memcached",  # 3.2.5: its PodDisruptionBudget hook is policy/v1beta1, gone since 1.25
            ("--disable-hooks",),
            {"replicaCount": 2, "serviceAnnotations": {"example.com/changed": "true"}},
        ),
    ],
    ids=["example", "memcached-3.2.5"],
)
def test_sync_as_the_generated_service_account_installs_upgrades_and_uninstalls_using_exactly_its_rbac(
    chart: Path,
    extra_flags: tuple[str, ...],
    change: dict[str, Any],
    helm: Helm,
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    tmp_path: Path,
    cleanup_crds: list[str],
) -> None:
    cache = scaffold_and_apply(
        helm, control_plane, kube, namespace, tmp_path / "out", chart, "Cache", "--namespace", namespace, *extra_flags
    )
    cleanup_crds.append(f"{cache.plural}.{cache.group}")
    runner = Helmcr(tmp_path, helm, control_plane.kubeconfig)
    runner.config = point_config_at_chart(cache.out / "helmcr.yaml", chart)
    audit_offset = control_plane.audit_log.stat().st_size

    cache.create(kube, "yy", {"replicaCount": 3})
    installed = runner.sync("-o", "json", kubeconfig=cache.sa_kubeconfig)
    assert installed.exit_code == 0, installed.stdout + installed.stderr
    assert installed.outcome("yy")["result"] == "succeeded"
    assert "forbidden" not in installed.stderr.lower() and "could not" not in installed.stderr
    status = cache.get(kube, "yy")["status"]
    assert (status["conditions"][0]["status"], status["revision"]) == ("True", 1)
    assert statefulset_replicas(kube, namespace, "yy-memcached") == 3
    events = client.CoreV1Api(kube).list_namespaced_event(namespace, field_selector="involvedObject.name=yy")
    assert "InstallSucceeded" in {event.reason for event in events.items}

    # The change touches the Service as well as the StatefulSet, so helm patches both.
    cache.custom(kube).patch_namespaced_custom_object(
        cache.group, VERSION, namespace, cache.plural, "yy", {"spec": change}
    )
    upgraded = runner.sync("-o", "json", kubeconfig=cache.sa_kubeconfig)
    assert upgraded.exit_code == 0, upgraded.stderr
    assert (upgraded.outcome("yy")["action"], cache.get(kube, "yy")["status"]["revision"]) == ("upgrade", 2)
    assert statefulset_replicas(kube, namespace, "yy-memcached") == 2

    cache.custom(kube).delete_namespaced_custom_object(cache.group, VERSION, namespace, cache.plural, "yy")
    uninstalled = runner.sync("-o", "json", kubeconfig=cache.sa_kubeconfig)
    assert uninstalled.exit_code == 0, uninstalled.stderr
    assert uninstalled.outcome("yy")["action"] == "uninstall"
    assert release_records(kube, namespace) == {}
    assert "yy-memcached" not in {
        s.metadata.name for s in client.AppsV1Api(kube).list_namespaced_stateful_set(namespace).items if s.metadata
    }

    rbac = cache.out / "rbac.yaml"
    helm_as = verbs_used(
        control_plane.audit_log, audit_offset, f"system:serviceaccount:{namespace}:{cache.release_account}"
    )
    assert not helm_as.denied, f"requests of helm the generated RBAC denied: {helm_as.denied}"
    granted = granted_verbs(rbac, cache.release_account)
    # The CR's deletion lets the garbage collector remove the objects (owner references), often before the next
    # run's helm uninstall gets to them: their delete is granted for when it does not.
    deleted = {key: {"delete"} for key in granted if key[0] in ("/services", "apps/statefulsets")}
    unused = {key: verbs - helm_as.allowed.get(key, set()) for key, verbs in granted.items()}
    assert set(helm_as.allowed) <= set(granted) and all(helm_as.allowed[k] <= granted[k] for k in helm_as.allowed)
    assert all(verbs <= deleted.get(key, set()) for key, verbs in unused.items()), "every other rule was used"
    own = verbs_used(
        control_plane.audit_log, audit_offset, f"system:serviceaccount:{namespace}:{cache.service_account}"
    )
    assert not own.denied, f"requests of helmcr the generated RBAC denied: {own.denied}"
    expected = granted_verbs(rbac, cache.service_account)
    # Not asked in a run that goes well: impersonation (authorized on each of helm's requests and on the owner
    # references set as helm's account, not on one of helmcr's own), and marking a release record failed
    # (unlocking a dead operation's release). Each install or upgrade reads its new release record (get).
    assert expected.pop(("/serviceaccounts", namespace)) == {"impersonate"}
    expected[("/secrets", namespace)] -= {"update"}
    assert own.allowed == expected, "helmcr itself used every other rule, and nothing else"


def test_the_generated_rbac_is_not_broad(
    example: Scaffolded, helm: Helm, control_plane: ControlPlane, kube: client.ApiClient, tmp_path: Path
) -> None:
    other = f"{example.namespace}-x"
    client.CoreV1Api(kube).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=other)))
    try:
        with config.new_client_from_config(config_file=str(example.sa_kubeconfig)) as account:
            core, rbac = client.CoreV1Api(account), client.RbacAuthorizationV1Api(account)
            denied = {
                "secrets in another namespace": lambda: core.list_namespaced_secret(other),
                "a kind the chart does not render": lambda: core.create_namespaced_config_map(
                    example.namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x"))
                ),
                "pods": lambda: core.list_namespaced_pod(example.namespace),
                "cluster roles": lambda: rbac.list_cluster_role(),
                "cluster role bindings": lambda: rbac.create_cluster_role_binding(
                    client.V1ClusterRoleBinding(
                        metadata=client.V1ObjectMeta(name=f"{other}-escalate"),
                        role_ref=client.V1RoleRef(
                            api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="admin"
                        ),
                        subjects=[client.RbacV1Subject(kind="User", name="someone")],
                    )
                ),
                "roles in its own namespace": lambda: rbac.list_namespaced_role(example.namespace),
                "its CRs in every namespace": lambda: client.CustomObjectsApi(account).list_cluster_custom_object(
                    example.group, VERSION, example.plural
                ),
                "the chart's kinds (the account helm acts as holds them)": lambda: client.AppsV1Api(
                    account
                ).read_namespaced_stateful_set("x", example.namespace),
            }
            codes = {what: api_error(call).status for what, call in denied.items()}
            account.set_default_header("Impersonate-User", f"system:serviceaccount:{example.namespace}:default")
            codes["acting as any other account"] = api_error(
                lambda: core.list_namespaced_secret(example.namespace)
            ).status
        assert codes == dict.fromkeys([*denied, "acting as any other account"], 403)

        runner = Helmcr(tmp_path, helm, control_plane.kubeconfig)
        runner.config = point_config_at_chart(example.out / "helmcr.yaml", example.chart, namespaces=[other])
        elsewhere = runner.sync(kubeconfig=example.sa_kubeconfig)
        assert elsewhere.exit_code == 4, "a config widened to another namespace is refused by the API server"
        assert "forbidden" in elsewhere.stdout + elsewhere.stderr
    finally:
        client.CoreV1Api(kube).delete_namespace(other)


def test_the_cronjob_and_kustomization_pass_a_server_side_dry_run_under_the_restricted_pod_security_profile(
    helm: Helm, control_plane: ControlPlane, kube: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    client.CoreV1Api(kube).patch_namespace(
        namespace,
        {"metadata": {"labels": {f"pod-security.kubernetes.io/{m}": "restricted" for m in ("enforce", "warn")}}},
    )
    out = tmp_path / "out"
    group = f"{namespace}.scaffold.helmcr.io"
    done = run_scaffold(
        helm,
        EXAMPLE / "chart",
        out,
        "--group",
        group,
        "--version",
        VERSION,
        "--kind",
        "Memcached",
        "--namespace",
        namespace,
    )
    assert done.returncode == 0, done.stderr
    overlay = tmp_path / "base-overlay"  # the generic base, placed by an overlay as docs/deploy.md shows
    overlay.mkdir()
    shutil.copytree(REPO / "cronjob", tmp_path / "cronjob", ignore=shutil.ignore_patterns("Dockerfile*"))
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({"namespace": namespace, "resources": ["../cronjob"]}))
    for directory, expected in ((out, 9), (overlay, 5)):  # scaffold adds the account helm acts as: SA, Role, binding
        applied = kubectl(control_plane.kubeconfig, "apply", "--server-side", "--dry-run=server", "-k", str(directory))
        assert applied.returncode == 0, applied.stderr
        assert "Warning" not in applied.stderr, applied.stderr
        assert applied.stdout.count("(server dry run)") == expected, applied.stdout
        assert "cronjob.batch/helmcr" in applied.stdout
    assert client.BatchV1Api(kube).list_namespaced_cron_job(namespace).items == []  # a dry run changes nothing


@pytest.mark.parametrize("chart", sorted(p.name for p in SHARED_CHARTS.iterdir() if (p / "Chart.yaml").is_file()))
def test_every_shared_chart_scaffolds_and_its_crd_takes_the_charts_own_defaults(
    chart: str, helm: Helm, kube: client.ApiClient, namespace: str, tmp_path: Path, cleanup_crds: list[str]
) -> None:
    group = f"{namespace}.scaffold.helmcr.io"
    done = run_scaffold(
        helm, SHARED_CHARTS / chart, tmp_path, "--group", group, "--version", VERSION, "--kind", "Thing"
    )
    assert done.returncode == 0, done.stderr
    (crd,) = documents(tmp_path / "crd.yaml")
    establish_crd(kube, crd)
    cleanup_crds.append(crd["metadata"]["name"])
    (sample,) = documents(tmp_path / "sample.yaml")
    created = cast(
        dict[str, Any],
        client.CustomObjectsApi(kube).create_namespaced_custom_object(
            group, VERSION, namespace, "things", {**sample, "metadata": {"name": "sample"}}, field_validation="Strict"
        ),
    )
    assert created["spec"] == sample["spec"], "the API server pruned or changed the chart's own defaults"
    if chart == "memcached-2.2.0":
        assert "apps/v1beta1, which Kubernetes ≥1.16 no longer serves" in done.stderr


def test_a_chart_bump_reaches_a_cr_created_before_it(
    helm: Helm,
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    tmp_path: Path,
    cleanup_crds: list[str],
) -> None:
    chart = tmp_path / "chart"
    shutil.copytree(EXAMPLE / "chart", chart)
    cache = scaffold_and_apply(
        helm, control_plane, kube, namespace, tmp_path / "out", chart, "Cache", "--namespace", namespace
    )
    cleanup_crds.append(f"{cache.plural}.{cache.group}")
    runner = Helmcr(tmp_path, helm, control_plane.kubeconfig)
    runner.config = point_config_at_chart(cache.out / "helmcr.yaml", chart, [namespace])
    cache.create(kube, "early", {"replicaCount": 1})
    installed = runner.sync("-o", "json")
    assert installed.exit_code == 0, installed.stdout + installed.stderr
    assert statefulset_image(kube, namespace, "early-memcached") == "memcached:1.6.38-alpine"

    values = chart / "values.yaml"
    values.write_text(values.read_text().replace('tag: "1.6.38-alpine"', 'tag: "1.6.39-alpine"'))
    (chart / "Chart.yaml").write_text((chart / "Chart.yaml").read_text().replace("version: 0.1.0", "version: 0.2.0"))
    cache = scaffold_and_apply(  # --force: the test pointed helmcr.yaml at the chart on disk
        helm, control_plane, kube, namespace, tmp_path / "out", chart, "Cache", "--namespace", namespace, "--force"
    )
    runner.config = point_config_at_chart(cache.out / "helmcr.yaml", chart, [namespace])
    bumped = runner.sync("-o", "json")
    assert bumped.exit_code == 0, bumped.stdout + bumped.stderr
    assert bumped.outcome("early")["action"] == "upgrade"
    assert statefulset_image(kube, namespace, "early-memcached") == "memcached:1.6.39-alpine"
    assert cache.get(kube, "early")["status"]["chartVersion"] == "0.2.0"


def statefulset_image(kube: client.ApiClient, namespace: str, name: str) -> str:
    found = cast(
        dict[str, Any],
        kube.sanitize_for_serialization(client.AppsV1Api(kube).read_namespaced_stateful_set(name, namespace)),
    )
    return str(found["spec"]["template"]["spec"]["containers"][0]["image"])


def test_rerunning_is_byte_identical_and_hand_edits_are_refused_unless_forced(helm: Helm, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_scaffold(helm, EXAMPLE / "chart", out, *EXAMPLE_FLAGS)
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    again = run_scaffold(helm, EXAMPLE / "chart", out, *EXAMPLE_FLAGS)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("unchanged") == len(before) == 6
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    edited = (out / "rbac.yaml").read_text().replace("verbs: [list]", "verbs: [get, list, watch]")
    (out / "rbac.yaml").write_text(edited)
    refused = run_scaffold(helm, EXAMPLE / "chart", out, *EXAMPLE_FLAGS, "--image", "registry.example.com/helmcr:1")
    assert refused.returncode == 1
    assert str(out / "rbac.yaml") in refused.stderr and "--force" in refused.stderr
    assert (out / "rbac.yaml").read_text() == edited
    assert (out / "cronjob.yaml").read_bytes() == before["cronjob.yaml"], "a refusal writes nothing at all"

    forced = run_scaffold(helm, EXAMPLE / "chart", out, *EXAMPLE_FLAGS, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "overwritten" in forced.stdout
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--chart", "no/such/chart", *EXAMPLE_FLAGS), "not found"),
        (("--chart", str(EXAMPLE / "chart"), *EXAMPLE_FLAGS[:-1], "memcached"), "--kind 'memcached'"),
        (("--chart", str(EXAMPLE / "chart"), "--group", "nodot", *EXAMPLE_FLAGS[2:]), "at least one dot"),
        (("--chart", str(EXAMPLE / "chart"), *EXAMPLE_FLAGS, "--helm-binary", "no-such-helm"), "not found"),
    ],
    ids=["missing-chart", "kind", "group", "helm"],
)
def test_bad_input_exits_3_and_writes_nothing(flags: tuple[str, ...], message: str, helm: Helm, tmp_path: Path) -> None:
    out = tmp_path / "out"
    process = subprocess.run(
        [sys.executable, "-m", "reconcile.cli", "scaffold", *flags, "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**helm.env, "HELMCR_HELM": str(helm.binary)},
        check=False,
    )
    assert process.returncode == 3, process.stderr
    assert message in process.stderr
    assert not out.exists()


def test_the_committed_example_is_what_scaffold_generates(helm: Helm, tmp_path: Path) -> None:
    copy = tmp_path / "deploy"
    shutil.copytree(EXAMPLE / "deploy", copy)
    done = run_scaffold(helm, EXAMPLE / "chart", copy, *EXAMPLE_FLAGS)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("unchanged") == 6, done.stdout


def point_config_at_chart(path: Path, chart: Path, namespaces: list[str] | None = None) -> Path:
    """In the cluster the image holds the chart; here it is on disk (the test's hand edit of the config)."""
    document = yaml.safe_load(path.read_text())
    document["watches"][0]["chart"] = str(chart)
    if namespaces is not None:
        document["watches"][0]["namespaces"] = namespaces
    path.write_text(yaml.safe_dump(document))
    return path


@dataclass
class Used:
    allowed: dict[tuple[str, str], set[str]]
    denied: list[str]


def verbs_used(audit_log: Path, offset: int, user: str) -> Used:
    """(group/resource[/subresource], namespace) → verbs a user was allowed, from the API server's audit log."""
    allowed: dict[tuple[str, str], set[str]] = {}
    denied: list[str] = []
    with audit_log.open() as handle:
        handle.seek(offset)
        events = [json.loads(line) for line in handle if line.strip()]
    for event in events:
        if _requester(event) != user or event.get("stage") != "ResponseComplete":
            continue
        ref = event.get("objectRef") or {}
        if not ref.get("resource"):
            continue  # discovery (/api, /apis, /version): open to every authenticated user
        resource = "/".join(filter(None, (ref.get("resource"), ref.get("subresource"))))
        key = (f"{ref.get('apiGroup', '')}/{resource}", ref.get("namespace", ""))
        if event.get("annotations", {}).get("authorization.k8s.io/decision") == "forbid":
            denied.append(f"{event['verb']} {key}")
        else:
            allowed.setdefault(key, set()).add(event["verb"])
            if event["verb"] == "patch" and event.get("responseStatus", {}).get("code") == 201:
                allowed[key].add("create")  # server-side apply creating an object: authorized as patch and create
    return Used(allowed, denied)


def _requester(event: dict[str, Any]) -> str:
    """Whom the API server authorized: the impersonated user when there is one (helm acting as an account)."""
    who = event.get("impersonatedUser") or event.get("user") or {}
    return str(who.get("username", ""))


def granted_verbs(rbac: Path, account: str) -> dict[tuple[str, str], set[str]]:
    """The verbs of the roles bound to one account, as the bindings in the file say."""
    every = documents(rbac)
    bound = {
        (d["roleRef"]["kind"], d["roleRef"]["name"], d["metadata"].get("namespace", ""))
        for d in every
        if d["kind"] in ("RoleBinding", "ClusterRoleBinding") and any(s["name"] == account for s in d["subjects"])
    }
    granted: dict[tuple[str, str], set[str]] = {}
    for document in every:
        where = document["metadata"].get("namespace", "") if document["kind"] == "Role" else ""
        if (document["kind"], document["metadata"]["name"], where) not in bound:
            continue
        for rule in document.get("rules") or ():
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    key = (f"{group}/{resource}", document["metadata"].get("namespace", ""))
                    granted.setdefault(key, set()).update(rule["verbs"])
    return granted
