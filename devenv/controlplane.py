"""A real, throwaway Kubernetes control plane on loopback: etcd, kube-apiserver and kube-controller-manager.

Why not a mock or envtest's bare apiserver: helmcr's job is to drive helm against a cluster and to run with just enough
RBAC, so the tests need the real API machinery (admission, RBAC, server-side apply, garbage collection, namespace
finalization). There is no scheduler and no kubelet: Pods stay Pending, which is fine for everything helm does short of
``--wait``.

Everything lives in one temp dir ``$TMPDIR/helmcr-cp-<owner pid>-<random>`` with an ``owner.json`` that names the
owning process and its children, so a later run can find and remove what a killed run left behind.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, TracebackType

from kubernetes import client, config

from devenv import binaries, kubeconfig, pki, processes
from devenv.processes import ProcessRecord

DIR_PREFIX = "helmcr-cp-"
OWNER_FILE = "owner.json"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
# Ports are drawn below the kernel's ephemeral range, so no outgoing connection (e.g. apiserver -> etcd) can grab a
# port between the moment we pick it and the moment the component binds it.
PORT_FLOOR = 20000


AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
"""


# Pods of a node on loopback need host networking (see devenv/node.py), which no Pod Security level allows: the node's
# pods run with this RuntimeClass, which Pod Security exempts. Every other pod is judged as in any cluster.
LOOPBACK_RUNTIME_CLASS = "helmcr-loopback"

ADMISSION_CONFIGURATION = f"""\
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: PodSecurity
    configuration:
      apiVersion: pod-security.admission.config.k8s.io/v1
      kind: PodSecurityConfiguration
      defaults: {{enforce: privileged, audit: privileged, warn: privileged}}
      exemptions: {{usernames: [], namespaces: [], runtimeClasses: [{LOOPBACK_RUNTIME_CLASS}]}}
"""


class ControlPlaneError(RuntimeError):
    """A component did not start or become ready; the message ends with the tail of its log."""


class TerminatedBySignal(KeyboardInterrupt):
    """SIGTERM, turned into the exception that pytest and ``with`` blocks already treat as "stop now, clean up".

    Python's default SIGTERM action ends the process without running ``finally`` blocks, which would leave the temp
    dir behind (the children die anyway, through their parent-death signal).
    """


def default_root() -> Path:
    return Path(tempfile.gettempdir())


def ephemeral_port_floor() -> int:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return low


def free_port(taken: set[int]) -> int:
    """A loopback port that is free now, outside the ephemeral range and not in ``taken``."""
    ceiling = max(PORT_FLOOR + 1000, ephemeral_port_floor())
    for _ in range(200):
        port = random.randrange(PORT_FLOOR, ceiling)
        if port in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise ControlPlaneError(f"no free loopback port found in [{PORT_FLOOR}, {ceiling})")


def child_environment() -> dict[str, str]:
    """The parent's environment minus what would make a component read the user's own etcd or cluster settings."""
    return {key: value for key, value in os.environ.items() if key != "KUBECONFIG" and not key.startswith("ETCD_")}


def http_status(port: int, path: str, context: ssl.SSLContext | None = None) -> int | None:
    """Status of GET ``path`` on 127.0.0.1:``port`` (HTTPS when ``context`` is given); None if it cannot connect.

    http.client rather than urllib: urllib would route loopback through a configured HTTP proxy.
    """
    connection: http.client.HTTPConnection
    if context is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    else:
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=context)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def owner_of(directory: Path) -> ProcessRecord | None:
    """The process that owns a control plane dir, or None when it is known to be gone."""
    try:
        data = json.loads((directory / OWNER_FILE).read_text())
        return ProcessRecord.from_json(data["owner"])
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError):
        return None
    # No owner file yet: the dir may be seconds old. Its name carries the owner's pid.
    pid_text = directory.name.removeprefix(DIR_PREFIX).split("-", 1)[0]
    return ProcessRecord.of(int(pid_text)) if pid_text.isdigit() else None


def recorded_children(directory: Path) -> list[ProcessRecord]:
    try:
        data = json.loads((directory / OWNER_FILE).read_text())
        return [ProcessRecord.from_json(child) for child in data["children"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def clean_stale(root: Path | None = None) -> list[Path]:
    """Remove control plane dirs under ``root`` whose owner is dead, killing their recorded children that still run.

    Dirs of live owners (another test session, a ``make cluster-up`` supervisor) are left alone. Returns the removed
    dirs.
    """
    removed = []
    for directory in sorted((root or default_root()).glob(f"{DIR_PREFIX}*")):
        owner = owner_of(directory)
        if not directory.is_dir() or (owner is not None and owner.is_alive()):
            continue
        processes.kill_stale(recorded_children(directory))
        shutil.rmtree(directory, ignore_errors=True)
        removed.append(directory)
    return removed


class ControlPlane:
    """etcd + kube-apiserver (+ kube-controller-manager) in a temp dir; a context manager that always cleans up.

    ``controller_manager=False`` gives a smaller control plane for tests that need only the API (no garbage
    collection, namespaces never finish terminating, no default ServiceAccounts).
    """

    def __init__(
        self,
        *,
        controller_manager: bool = True,
        ready_timeout: float = 120.0,
        grace_seconds: float = 5.0,
        root: Path | None = None,
    ) -> None:
        self.with_controller_manager = controller_manager
        self.ready_timeout = ready_timeout
        self.grace_seconds = grace_seconds
        self.root = root or default_root()
        self.startup_seconds = 0.0
        self.phase_seconds: dict[str, float] = {}
        self._directory: Path | None = None
        self._pki: pki.Pki | None = None
        self._ports: set[int] = set()
        self._api_port = 0
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._commands: dict[str, list[str]] = {}
        self._readiness: dict[str, Callable[[], bool]] = {}
        self._previous_sigterm: signal._HANDLER | None = None
        self._sigterm_installed = False
        self._started = False
        self._stopped = False

    # --- public API -------------------------------------------------------------------------------------------------

    @property
    def directory(self) -> Path:
        if self._directory is None:
            raise ControlPlaneError("the control plane was not started")
        return self._directory

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (user helmcr-admin in group system:masters, context ``helmcr-dev``)."""
        return self.directory / "admin.kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self._api_port}"

    @property
    def ca_cert(self) -> Path:
        return self._require_pki().ca_cert

    @property
    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self._processes.items()}

    def log_path(self, component: str) -> Path:
        return self.directory / f"{component}.log"

    @property
    def audit_log(self) -> Path:
        """Every request the API server answered (metadata level, JSON lines): tests count requests and writes here,
        on the server's side, rather than trusting what the client says it did."""
        return self.directory / "audit.log"

    def admin_client(self) -> client.ApiClient:
        """A new kubernetes ApiClient with cluster-admin rights; the caller closes it."""
        api_client: client.ApiClient = config.new_client_from_config(config_file=str(self.kubeconfig))
        return api_client

    def bin_path(self, helm_major: int = 4) -> str:
        """A PATH prefix with the pinned ``helm`` (3 or 4) and ``kubectl``; prepend it to $PATH."""
        dirs = [binaries.helm_binary(helm_major).parent, binaries.kubectl_binary().parent]
        return os.pathsep.join(str(directory) for directory in dirs)

    def user_kubeconfig(self, path: Path, user: str, groups: tuple[str, ...] = ()) -> Path:
        """Write a kubeconfig authenticating as ``user`` (in ``groups``) with a client certificate from this CA: how
        a node's kubelet joins, as ``system:node:<name>`` in ``system:nodes``."""
        keys = self._require_pki()
        subject = "".join(f"/O={group}" for group in groups) + f"/CN={user}"
        name = path.stem
        cert, key = pki.signed_certificate(
            path.parent, name, subject, ["extendedKeyUsage=clientAuth"], (keys.ca_cert, keys.ca_key)
        )
        kubeconfig.write_kubeconfig(path, self.server, self.ca_cert, kubeconfig.client_certificate_user(cert, key))
        return path

    def service_account_kubeconfig(self, namespace: str, name: str, path: Path, seconds: int = 3600) -> Path:
        """Write a kubeconfig authenticating as ServiceAccount ``namespace/name`` with a TokenRequest token."""
        with self.admin_client() as admin:
            return kubeconfig.service_account_kubeconfig(
                admin, self.server, self.ca_cert, namespace, name, path, seconds
            )

    # --- faults, for the tests of what helmcr does when the cluster misbehaves ------------------------------------

    def stop_component(self, name: str) -> None:
        """Stop one component (e.g. ``kube-apiserver``) as an outage would; ``start_component`` brings it back."""
        processes.terminate([self._processes[name]], self.grace_seconds)

    def start_component(self, name: str) -> None:
        """Start a stopped component again with its original command line (same ports, same data) and wait."""
        self._launch(name, self._commands[name])
        self._wait_until(name, self._readiness[name])

    def pause(self, name: str) -> None:
        """Freeze a component (SIGSTOP): it keeps its connections but answers nothing, like a stalled disk."""
        processes.signal_group(self._processes[name].pid, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        processes.signal_group(self._processes[name].pid, signal.SIGCONT)

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> ControlPlane:
        """Start all components and return once the API is ready; on any failure everything started is stopped."""
        if self._started:
            raise ControlPlaneError("a ControlPlane can be started only once")
        self._started = True
        clean_stale(self.root)
        started = time.monotonic()
        commands = self._resolve_binaries()  # may build for many minutes: before anything needs cleaning up
        self._install_sigterm_handler()
        atexit.register(self.stop)
        try:
            self._directory = Path(tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{os.getpid()}-", dir=self.root))
            self._write_owner_file()
            self._start_all(commands)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        """Stop the components, last started first, and remove the temp dir. Idempotent.

        Each component gets SIGTERM, then SIGKILL after ``grace_seconds``.
        """
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        try:
            processes.terminate(reversed(list(self._processes.values())), self.grace_seconds)
        finally:
            if self._directory is not None:
                shutil.rmtree(self._directory, ignore_errors=True)
            self._restore_sigterm_handler()

    # --- startup ----------------------------------------------------------------------------------------------------

    def _resolve_binaries(self) -> dict[str, Path]:
        commands = {"etcd": binaries.etcd_binary(), "kube-apiserver": binaries.kube_apiserver_binary()}
        if self.with_controller_manager:
            commands["kube-controller-manager"] = binaries.kube_controller_manager_binary()
        return commands

    def _start_all(self, commands: dict[str, Path]) -> None:
        with self._phase("certificates"):
            self._pki = pki.generate(self.directory / "pki")
        with self._phase("etcd"):
            etcd_port = self._start_etcd(commands["etcd"])
        with self._phase("kube-apiserver"):
            self._start_apiserver(commands["kube-apiserver"], etcd_port)
        kubeconfig.write_kubeconfig(
            self.kubeconfig,
            self.server,
            self.ca_cert,
            kubeconfig.client_certificate_user(self._pki.admin_cert, self._pki.admin_key),
        )
        if "kube-controller-manager" in commands:
            with self._phase("kube-controller-manager"):
                self._start_controller_manager(commands["kube-controller-manager"])

    @contextlib.contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        self.phase_seconds[name] = round(time.monotonic() - started, 2)

    def _start_etcd(self, command: Path) -> int:
        client_port, peer_port = free_port(self._ports), free_port(self._ports)
        client_url, peer_url = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
        self._launch(
            "etcd",
            [
                str(command),
                "--name=helmcr",
                f"--data-dir={self.directory / 'etcd'}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=helmcr={peer_url}",
                "--initial-cluster-state=new",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        self._wait_until("etcd", lambda: http_status(client_port, "/health") == 200)
        return client_port

    def _start_apiserver(self, command: Path, etcd_port: int) -> None:
        keys = self._require_pki()
        self._api_port = free_port(self._ports)
        self._launch(
            "kube-apiserver",
            [
                str(command),
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                f"--secure-port={self._api_port}",
                "--bind-address=127.0.0.1",
                # Loopback only: without an advertise address the apiserver picks the machine's outward interface, and
                # Endpoints may not hold a loopback IP, hence no endpoint reconciler.
                "--advertise-address=127.0.0.1",
                "--endpoint-reconciler-type=none",
                f"--cert-dir={self.directory / 'apiserver-certs'}",
                f"--tls-cert-file={keys.serving_cert}",
                f"--tls-private-key-file={keys.serving_key}",
                f"--client-ca-file={keys.ca_cert}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--allow-privileged=true",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={self.server}/",
                f"--service-account-key-file={keys.service_account_public_key}",
                f"--service-account-signing-key-file={keys.service_account_key}",
                f"--audit-policy-file={self._write_file('audit-policy.yaml', AUDIT_POLICY)}",
                f"--admission-control-config-file={self._write_file('admission.yaml', ADMISSION_CONFIGURATION)}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--audit-log-mode=blocking",
            ],
        )
        # Anonymous requests get 403 until the RBAC bootstrap is done, so ask as the admin.
        context = ssl.create_default_context(cafile=str(keys.ca_cert))
        context.load_cert_chain(str(keys.admin_cert), str(keys.admin_key))
        self._wait_until("kube-apiserver", lambda: http_status(self._api_port, "/readyz", context) == 200)

    def _write_file(self, name: str, text: str) -> Path:
        path = self.directory / name
        path.write_text(text)
        return path

    def _start_controller_manager(self, command: Path) -> None:
        keys = self._require_pki()
        port = free_port(self._ports)
        admin = str(self.kubeconfig)
        self._launch(
            "kube-controller-manager",
            [
                str(command),
                f"--kubeconfig={admin}",
                f"--authentication-kubeconfig={admin}",
                f"--authorization-kubeconfig={admin}",
                "--leader-elect=false",
                "--controllers=*",
                f"--service-account-private-key-file={keys.service_account_key}",
                f"--root-ca-file={keys.ca_cert}",
                "--use-service-account-credentials=false",
                f"--cluster-signing-cert-file={keys.ca_cert}",
                f"--cluster-signing-key-file={keys.ca_key}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.directory / 'kcm-certs'}",
            ],
        )
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE  # its serving certificate is self-signed, made at startup
        self._wait_until("kube-controller-manager", lambda: http_status(port, "/healthz", insecure) == 200)

    def _launch(self, name: str, argv: list[str]) -> None:
        self._commands[name] = argv
        self._processes[name] = processes.spawn(argv, self.log_path(name), child_environment())
        self._write_owner_file()

    def _wait_until(self, name: str, ready: Callable[[], bool]) -> None:
        self._readiness[name] = ready
        log = self.log_path(name)
        processes.wait_ready(name, self._processes[name], ready, log, self.ready_timeout, ControlPlaneError)

    def _write_owner_file(self) -> None:
        """Record owner and children atomically, for :func:`clean_stale` in a later run if this one gets killed."""
        owner = ProcessRecord.of(os.getpid())
        children = [ProcessRecord.of(process.pid) for process in self._processes.values()]
        data = {
            "owner": owner.to_json() if owner else None,
            "children": [child.to_json() for child in children if child is not None],
        }
        temporary = self.directory / f"{OWNER_FILE}.tmp"
        temporary.write_text(json.dumps(data, indent=2) + "\n")
        temporary.replace(self.directory / OWNER_FILE)

    def _require_pki(self) -> pki.Pki:
        if self._pki is None:
            raise ControlPlaneError("the control plane's certificates were not generated yet")
        return self._pki

    # --- signals ----------------------------------------------------------------------------------------------------

    def _install_sigterm_handler(self) -> None:
        """Turn SIGTERM into :class:`TerminatedBySignal`, unless someone else already handles SIGTERM."""
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_terminated)
        self._sigterm_installed = True

    def _restore_sigterm_handler(self) -> None:
        if self._sigterm_installed and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._sigterm_installed = False


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise TerminatedBySignal(f"received signal {signum}")
