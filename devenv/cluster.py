"""A long-lived development cluster for the shell: ``python -m devenv.cluster up|down|status``.

``up`` starts a :class:`~devenv.controlplane.ControlPlane` inside a detached supervisor process (``serve``), so the
cluster outlives the command and the make recipe, and prints only shell ``export`` lines on stdout (``NODE=1``, i.e.
``HELMCR_DEV_NODE=1``, adds one Ready node, :class:`~devenv.node.Node`)::

    eval "$(make -s cluster-up)"   # KUBECONFIG and PATH (pinned helm and kubectl) now point at the dev cluster

Progress goes to stderr. The kubeconfig is copied to a fixed path, so a shell that ran ``eval`` keeps working across
``down``/``up``. ``HELMCR_DEV_HELM=3|4`` (default 4) picks the helm put on PATH. ``down`` sends SIGTERM to the
supervisor, which stops the control plane and removes its temp dir; a supervisor that was killed takes the control
plane with it (parent-death signal) and the next ``up`` or ``down`` removes what is left.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubernetes import client, config

from devenv import binaries, controlplane, node
from devenv.paths import cache_root
from devenv.processes import ProcessRecord

READY_TIMEOUT = 600.0  # the supervisor's own ControlPlane allows 120 s per component
STOP_TIMEOUT = 30.0
REPO_ROOT = Path(__file__).resolve().parent.parent


def state_dir() -> Path:
    return cache_root() / "cluster"


def state_file() -> Path:
    return state_dir() / "state.json"


def stable_kubeconfig() -> Path:
    return state_dir() / "kubeconfig"


def supervisor_log() -> Path:
    return state_dir() / "supervisor.log"


def log(message: str) -> None:
    """Progress for humans, on stderr: stdout is reserved for the export lines that the caller evals."""
    print(f"devenv: {message}", file=sys.stderr, flush=True)


def helm_major() -> int:
    value = os.environ.get("HELMCR_DEV_HELM", "4")
    if value not in ("3", "4"):
        raise SystemExit(f"devenv: HELMCR_DEV_HELM must be 3 or 4, not {value!r}")
    return int(value)


def export_lines(major: int) -> str:
    path_dirs = [binaries.helm_binary(major).parent, binaries.kubectl_binary().parent]
    path = ":".join(shlex.quote(str(directory)) for directory in path_dirs)
    return f"export KUBECONFIG={shlex.quote(str(stable_kubeconfig()))}\nexport PATH={path}:$PATH"


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """One ``up`` or ``down`` at a time, so two shells never start two supervisors for the same state file."""
    state_dir().mkdir(parents=True, exist_ok=True)
    with (state_dir() / "lock").open("w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield


def read_state() -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads(state_file().read_text())
    except (OSError, ValueError):
        return None
    return state


def supervisor_of(state: dict[str, Any]) -> ProcessRecord:
    return ProcessRecord.from_json(state["supervisor"])


def responds(kubeconfig_path: Path) -> bool:
    """True when the API server behind ``kubeconfig_path`` answers; a reused cluster must be a working one."""
    try:
        api = config.new_client_from_config(config_file=str(kubeconfig_path))
        with api:
            client.VersionApi(api).get_code(_request_timeout=5)
    except Exception:  # any failure means "do not reuse": connection refused, bad certs, missing file
        return False
    return True


def with_node() -> bool:
    return os.environ.get("HELMCR_DEV_NODE", "") not in ("", "0")


def build_missing() -> None:
    """Build what the cluster and the shell need, telling the user first (a cold Kubernetes build takes long)."""
    node_components = ("kubernetes-node", "containerd", "runc", "cni-plugins") if with_node() else ()
    for name in ("etcd", "kubernetes", f"helm{helm_major()}", *node_components):
        wanted = binaries.component(name)
        if not wanted.is_built():
            log(f"building {name} {wanted.version} (the first build of kubernetes can take 20-40 minutes) ...")
        binaries.ensure_built(name)


def start_supervisor() -> ProcessRecord:
    """Start ``serve`` in its own session, detached from our stdout (``$(...)`` would otherwise wait for it)."""
    state_dir().mkdir(parents=True, exist_ok=True)
    with supervisor_log().open("wb") as log_stream:
        process = subprocess.Popen(
            [sys.executable, "-m", "devenv.cluster", "serve"],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log_stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    record = ProcessRecord.of(process.pid)
    if record is None:
        raise SystemExit(f"devenv: the cluster supervisor exited at once; see {supervisor_log()}")
    return record


def wait_ready(supervisor: ProcessRecord) -> dict[str, Any]:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        state = read_state()
        if state is not None and supervisor_of(state) == supervisor:
            return state
        if not supervisor.is_alive():
            break
        time.sleep(0.2)
    tail = "\n".join(supervisor_log().read_text(errors="replace").splitlines()[-40:])
    raise SystemExit(f"devenv: the cluster did not come up; last lines of {supervisor_log()}:\n{tail}")


def stop_supervisor(state: dict[str, Any]) -> None:
    """SIGTERM the supervisor and wait; SIGKILL it if it hangs (its children die with it)."""
    supervisor = supervisor_of(state)
    if supervisor.is_alive():
        os.kill(supervisor.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while supervisor.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if supervisor.is_alive():
            log(f"supervisor {supervisor.pid} ignored SIGTERM for {STOP_TIMEOUT:.0f} s; killing it")
            os.kill(supervisor.pid, signal.SIGKILL)
    controlplane.clean_stale()
    node.clean_stale()
    state_file().unlink(missing_ok=True)


def up() -> int:
    major = helm_major()
    build_missing()
    with locked():
        state = read_state()
        wrong_shape = state is not None and with_node() and not state.get("node")
        if state and not wrong_shape and supervisor_of(state).is_alive() and responds(stable_kubeconfig()):
            log(f"reusing the running cluster at {state['server']} (supervisor pid {supervisor_of(state).pid})")
        else:
            if state:
                log("replacing a cluster without a node" if wrong_shape else "replacing a dead or broken cluster")
                stop_supervisor(state)
            log("starting the control plane ...")
            state = wait_ready(start_supervisor())
            with_a_node = f", a node Ready {state['node']['startup_seconds']:.1f} s later" if state.get("node") else ""
            log(
                f"cluster ready at {state['server']} in {state['startup_seconds']:.1f} s{with_a_node}; "
                f"logs in {state['directory']}; stop it with `make cluster-down`"
            )
    print(export_lines(major), flush=True)
    return 0


def down() -> int:
    with locked():
        state = read_state()
        if state is None:
            log("no cluster is running")
            controlplane.clean_stale()
            node.clean_stale()
        else:
            log(f"stopping the cluster (supervisor pid {supervisor_of(state).pid}) ...")
            stop_supervisor(state)
            log("cluster stopped")
        stable_kubeconfig().unlink(missing_ok=True)
    return 0


def status() -> int:
    state = read_state()
    if state and supervisor_of(state).is_alive() and responds(stable_kubeconfig()):
        log(f"running at {state['server']} (supervisor pid {supervisor_of(state).pid}, dir {state['directory']})")
        return 0
    log("not running")
    return 1


def write_state(plane: controlplane.ControlPlane, running: node.Node | None) -> None:
    """Publish the running cluster; written last and atomically, so ``up`` treats its existence as "ready"."""
    supervisor = ProcessRecord.of(os.getpid())
    assert supervisor is not None  # we are running
    state = {
        "supervisor": supervisor.to_json(),
        "server": plane.server,
        "directory": str(plane.directory),
        "kubeconfig": str(stable_kubeconfig()),
        "startup_seconds": plane.startup_seconds,
        "phase_seconds": plane.phase_seconds,
        "pids": plane.pids,
        "node": {"startup_seconds": running.startup_seconds, "phase_seconds": running.phase_seconds}
        if running
        else None,
    }
    temporary = state_file().with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2) + "\n")
    temporary.replace(state_file())


def serve() -> int:
    """The supervisor: run the control plane until SIGTERM (turned into an exception that runs ``stop()``)."""
    with controlplane.ControlPlane() as plane, contextlib.ExitStack() as stack:
        running = stack.enter_context(node.Node(plane)) if with_node() else None
        shutil.copyfile(plane.kubeconfig, stable_kubeconfig())
        stable_kubeconfig().chmod(0o600)
        write_state(plane, running)
        print(f"control plane up in {plane.startup_seconds:.1f} s: {plane.phase_seconds}", flush=True)
        if running:
            print(f"node Ready in {running.startup_seconds:.1f} s: {running.phase_seconds}", flush=True)
        try:
            while True:
                signal.pause()
        except KeyboardInterrupt:
            print("stopping", flush=True)
        finally:
            state = read_state()
            if state and supervisor_of(state).pid == os.getpid():
                state_file().unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devenv.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status", "serve"])
    command = parser.parse_args(argv).command
    handlers = {"up": up, "down": down, "status": status, "serve": serve}
    return handlers[command]()


if __name__ == "__main__":
    sys.exit(main())
