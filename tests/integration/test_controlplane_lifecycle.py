"""The control plane never leaks: not after ``stop()``, not after its owner is SIGKILLed.

Leaked etcd/kube-apiserver processes would pile up on developer machines and CI runners with every interrupted run,
so these guarantees are tested, not assumed. Each test uses its own control plane under its own temp root.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kubernetes import client

from devenv import paths
from devenv.controlplane import ControlPlane, clean_stale
from devenv.processes import ProcessRecord, group_exists

DEATH_TIMEOUT = 10.0


def records(pids: dict[str, int]) -> dict[str, ProcessRecord]:
    found = {name: ProcessRecord.of(pid) for name, pid in pids.items()}
    assert all(found.values()), f"some components are not running: {found}"
    return {name: record for name, record in found.items() if record is not None}


def assert_all_gone(processes: dict[str, ProcessRecord]) -> None:
    """Wait (briefly: the kernel kills, our reaper may lag) until no component or process group is left."""
    deadline = time.monotonic() + DEATH_TIMEOUT
    while time.monotonic() < deadline:
        alive = [name for name, record in processes.items() if record.is_alive() or group_exists(record.pid)]
        if not alive:
            return
        time.sleep(0.1)
    raise AssertionError(f"still running after {DEATH_TIMEOUT:.0f} s: {alive}")


def test_stop_leaves_no_process_and_no_dir(tmp_path: Path) -> None:
    plane = ControlPlane(root=tmp_path)
    with plane:
        components = records(plane.pids)
        assert set(components) == {"etcd", "kube-apiserver", "kube-controller-manager"}
        directory = plane.directory
        with plane.admin_client() as api:
            assert client.VersionApi(api).get_code().git_version
    assert not directory.exists()
    for record in components.values():  # stop() reaped them, so nothing can be a zombie either
        assert not record.is_alive()
        assert not group_exists(record.pid)
    plane.stop()  # idempotent


OWNER_SCRIPT = """
import json, sys, time
from pathlib import Path
from devenv.controlplane import ControlPlane
plane = ControlPlane(root=Path(sys.argv[1])).start()
print(json.dumps({"directory": str(plane.directory), "pids": plane.pids}), flush=True)
time.sleep(600)
"""


def test_children_die_with_a_killed_owner_and_its_dir_is_cleaned_later(tmp_path: Path) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT, str(tmp_path)], cwd=paths.repo_root(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert owner.stdout is not None
        started = json.loads(owner.stdout.readline())
        components = records(started["pids"])
    finally:
        os.kill(owner.pid, signal.SIGKILL)  # no cleanup code can run: only the parent-death signal helps
        owner.wait()

    assert_all_gone(components)
    directory = Path(started["directory"])
    assert directory.is_dir()  # nobody removed it...
    assert clean_stale(tmp_path) == [directory]  # ...until the next start cleans stale dirs
    assert not directory.exists()


def write_owner_file(directory: Path, owner: ProcessRecord, children: list[ProcessRecord]) -> None:
    directory.mkdir()
    data = {"owner": owner.to_json(), "children": [child.to_json() for child in children]}
    (directory / "owner.json").write_text(json.dumps(data))


def test_clean_stale_kills_recorded_children_and_spares_live_owners(tmp_path: Path) -> None:
    dead_owner = subprocess.Popen(["true"])
    dead_owner.wait()
    orphan = subprocess.Popen(["sleep", "300"], start_new_session=True)  # stands in for an etcd whose owner died
    live, stale = tmp_path / f"helmcr-cp-{os.getpid()}-live", tmp_path / f"helmcr-cp-{dead_owner.pid}-stale"
    write_owner_file(live, records({"me": os.getpid()})["me"], [])
    write_owner_file(stale, ProcessRecord(dead_owner.pid, start_time=0), [records({"orphan": orphan.pid})["orphan"]])
    try:
        assert clean_stale(tmp_path) == [stale]
        assert orphan.wait(timeout=DEATH_TIMEOUT) == -signal.SIGKILL
        assert live.is_dir()
    finally:
        orphan.kill()
        orphan.wait()
