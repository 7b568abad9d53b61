"""The configuration files of a node on loopback, and the cluster objects that keep its pods on loopback.

Why each setting is there is said beside it: most are what this machine needs (cgroup v1, no CAP_SYS_RESOURCE, no
registry, nothing but loopback), the rest keep the node's state inside its own directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from devenv.controlplane import LOOPBACK_RUNTIME_CLASS

NODE_NAME = "127.0.0.1"
TAINT_KEY = "helmcr.dev/loopback-node"
# Images the environment built and imported carry this prefix; a pod runs on the node only if all of its do.
LOCAL_IMAGE_PREFIX = "localhost/"
KUBELET_PORT = 10250
# Any pull of an image that was not imported goes here and fails at once: nothing listens on the discard port.
REGISTRY_BLACK_HOLE = "http://127.0.0.1:9"


@dataclass(frozen=True)
class NodePaths:
    """Everything of the node lives under one directory, so that removing it (after unmounting) removes the node."""

    root: Path

    @property
    def containerd_root(self) -> Path:
        return self.root / "containerd" / "root"

    @property
    def containerd_state(self) -> Path:
        return self.root / "containerd" / "state"

    @property
    def containerd_opt(self) -> Path:
        return self.root / "containerd" / "opt"

    @property
    def containerd_sock(self) -> Path:
        return self.root / "containerd" / "containerd.sock"

    @property
    def containerd_config(self) -> Path:
        return self.root / "containerd" / "config.toml"

    @property
    def registry_hosts(self) -> Path:
        return self.root / "containerd" / "certs.d"

    @property
    def cni_conf(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def kubelet_root(self) -> Path:
        return self.root / "kubelet"

    @property
    def kubelet_certs(self) -> Path:
        return self.root / "kubelet-pki"

    @property
    def kubelet_config(self) -> Path:
        return self.root / "kubelet-config.yaml"

    @property
    def kubelet_kubeconfig(self) -> Path:
        return self.root / "kubelet-pki" / "kubelet.kubeconfig"

    @property
    def pod_logs(self) -> Path:
        return self.root / "pod-logs"

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def owner(self) -> Path:
        return self.root / "owner.json"

    @property
    def host_record(self) -> Path:
        return self.root / "host.json"


def containerd_config(paths: NodePaths, runc: Path, cni_bin: Path, pause_image: str) -> str:
    state = paths.containerd_state
    return f"""\
version = 4
root = '{paths.containerd_root}'
state = '{state}'
imports = []

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '{pause_image}'
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = '{paths.registry_hosts}'

[plugins.'io.containerd.cri.v1.runtime']
  # This machine's root lacks CAP_SYS_RESOURCE: runc could not raise a container's oom_score_adj.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  cdi_spec_dirs = []
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = 'io.containerd.runc.v2'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
      BinaryName = '{runc}'
      SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['{cni_bin}']
    conf_dir = '{paths.cni_conf}'

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
  stream_server_port = '0'

[plugins.'io.containerd.internal.v1.opt']
  path = '{paths.containerd_opt}'

[plugins.'io.containerd.nri.v1.nri']
  disable = true

[plugins.'io.containerd.image-verifier.v1.bindir']
  bin_dir = '{paths.containerd_opt}/image-verifier'

[plugins.'io.containerd.server.v1.grpc']
  address = '{paths.containerd_sock}'

[plugins.'io.containerd.server.v1.ttrpc']
  address = '{paths.containerd_sock}.ttrpc'
"""


# Pods get no network of their own: host networking, on a host where everything listens on loopback.
LOOPBACK_ONLY_CNI = json.dumps(
    {"cniVersion": "1.0.0", "name": "loopback-only", "plugins": [{"type": "loopback"}]}, indent=2
)

REGISTRY_HOSTS = f"""\
server = "{REGISTRY_BLACK_HOLE}"
"""


def kubelet_config(paths: NodePaths, cgroup: str) -> str:
    return f"""\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine is cgroup v1 (hybrid), which the kubelet refuses unless told it is deprecated, not unsupported.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /{cgroup}
containerRuntimeEndpoint: unix://{paths.containerd_sock}
address: 127.0.0.1
port: {KUBELET_PORT}
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
failSwapOn: false
makeIPTablesUtilChains: false
podLogsDir: {paths.pod_logs}
resolvConf: /etc/resolv.conf
# The API server holds no kubelet client certificate; the kubelet listens on loopback only.
authentication:
  anonymous: {{enabled: true}}
  webhook: {{enabled: false}}
authorization: {{mode: AlwaysAllow}}
# Only pods the loopback policy admitted (they tolerate this) may land here; a chart's own workloads stay Pending.
registerWithTaints:
  - {{key: {TAINT_KEY}, value: "true", effect: NoSchedule}}
# A laptop-sized disk must not evict the tests' pods.
evictionHard: {{memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
"""


def loopback_policy(api_port: int) -> list[dict[str, object]]:
    """The objects that keep every pod of the node on loopback, whoever writes it.

    A pod whose images were all built here gets host networking, ``KUBERNETES_SERVICE_HOST``/``_PORT`` pointing at
    the API server's loopback address (the ``kubernetes`` Service's IP is in the service range, off loopback), no
    service links, the RuntimeClass Pod Security exempts (host networking is allowed at no level) and the node's
    toleration; any other pod stays Pending. Dry runs are left alone, so a server-side dry run shows how Pod Security
    judges a pod as written.
    """
    toleration = f'Object.spec.tolerations{{key: "{TAINT_KEY}", operator: "Exists", effect: "NoSchedule"}}'
    local = f"c.image.startsWith('{LOCAL_IMAGE_PREFIX}')"
    env = (
        'Object.spec.containers.env{name: "KUBERNETES_SERVICE_HOST", value: "127.0.0.1"}, '
        f'Object.spec.containers.env{{name: "KUBERNETES_SERVICE_PORT", value: "{api_port}"}}'
    )
    return [
        {
            "apiVersion": "node.k8s.io/v1",
            "kind": "RuntimeClass",
            "metadata": {"name": LOOPBACK_RUNTIME_CLASS},
            "handler": "runc",
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingAdmissionPolicy",
            "metadata": {"name": "helmcr-loopback-node"},
            "spec": {
                "failurePolicy": "Fail",
                "reinvocationPolicy": "Never",
                "matchConstraints": {
                    "resourceRules": [
                        {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}
                    ]
                },
                "matchConditions": [
                    {"name": "not-a-dry-run", "expression": "!request.dryRun"},
                    {
                        "name": "environment-images-only",
                        "expression": f"object.spec.containers.all(c, {local}) && "
                        f"(!has(object.spec.initContainers) || object.spec.initContainers.all(c, {local}))",
                    },
                ],
                "mutations": [
                    {
                        "patchType": "ApplyConfiguration",
                        "applyConfiguration": {
                            "expression": "Object{spec: Object.spec{hostNetwork: true, enableServiceLinks: false, "
                            f'runtimeClassName: "{LOOPBACK_RUNTIME_CLASS}", '
                            "containers: object.spec.containers.map(c, Object.spec.containers{name: c.name, "
                            f"env: [{env}]}})}}}}"
                        },
                    },
                    {
                        "patchType": "JSONPatch",
                        "jsonPatch": {
                            "expression": "has(object.spec.tolerations) ? "
                            f'[JSONPatch{{op: "add", path: "/spec/tolerations/-", value: {toleration}}}] : '
                            f'[JSONPatch{{op: "add", path: "/spec/tolerations", value: [{toleration}]}}]'
                        },
                    },
                ],
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingAdmissionPolicyBinding",
            "metadata": {"name": "helmcr-loopback-node"},
            "spec": {"policyName": "helmcr-loopback-node"},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "helmcr-loopback-node"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:node"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": f"system:node:{NODE_NAME}"}],
        },
    ]
