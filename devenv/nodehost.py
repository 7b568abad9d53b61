"""What a node changes on the host outside its own directory, recorded before it starts and undone after it stops.

A kubelet and containerd are not tidy guests: the kubelet rewrites global sysctls and creates fixed paths
(``/var/lib/kubelet/device-plugins``, ``/var/log/containers``), containerd's shims outlive it, and containers leave
mounts and cgroups behind. The record is written to disk first, so a run that was killed outright is undone by the next
one (:func:`undo`), not left for a person to find.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
# What the kubelet sets at start-up (its "protect kernel defaults" list) when they differ from what it wants.
KUBELET_SYSCTLS = (
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
)
# Paths the kubelet and containerd use whatever their configuration says.
FIXED_PATHS = (Path("/var/lib/kubelet"), Path("/var/log/containers"), Path("/run/containerd"))
KILL_ROUNDS = 50


class HostStateError(RuntimeError):
    """The host could not be put back as it was; the message says what is left."""


@dataclass(frozen=True)
class HostRecord:
    """The host as it was before a node started: sysctl values, which fixed paths existed, the cgroup name, and the
    blackhole routes the node adds (recorded before they are added, so a killed run's are removed too)."""

    sysctls: dict[str, str]
    existing_paths: list[str]
    cgroup: str
    blackholes: list[str]

    @classmethod
    def take(cls, cgroup: str, blackholes: list[str]) -> HostRecord:
        return cls(
            sysctls={name: _sysctl_path(name).read_text().strip() for name in KUBELET_SYSCTLS},
            existing_paths=[str(path) for path in FIXED_PATHS if path.exists()],
            cgroup=cgroup,
            blackholes=[cidr for cidr in blackholes if not overlaps_local_network(cidr)],
        )

    def save(self, path: Path) -> None:
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.__dict__, indent=2) + "\n")
        temporary.replace(path)

    @classmethod
    def load(cls, path: Path) -> HostRecord:
        data = json.loads(path.read_text())
        return cls(dict(data["sysctls"]), list(data["existing_paths"]), str(data["cgroup"]), list(data["blackholes"]))


def overlaps_local_network(cidr: str) -> bool:
    """A blackhole over the machine's own network would cut it off: such a range is left alone."""
    network = ipaddress.ip_network(cidr)
    shown = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=False).stdout
    addresses = [ipaddress.ip_interface(field.split()[3]) for field in shown.splitlines() if len(field.split()) > 3]
    return any(address.network.overlaps(network) for address in addresses)


def add_blackholes(record: HostRecord) -> None:
    """Traffic to these ranges (the Service range) is dropped on this host: with no kube-proxy, a pod that dialled a
    Service IP would otherwise send it off the machine through the default route."""
    for cidr in record.blackholes:
        added = subprocess.run(["ip", "route", "add", "blackhole", cidr], capture_output=True, text=True, check=False)
        if added.returncode != 0 and "File exists" not in added.stderr:
            raise HostStateError(f"ip route add blackhole {cidr} failed: {added.stderr.strip()}")


def remove_blackholes(record: HostRecord) -> None:
    for cidr in record.blackholes:
        subprocess.run(["ip", "route", "del", "blackhole", cidr], capture_output=True, check=False)


def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def cgroup_dirs(cgroup: str) -> list[Path]:
    """The node's cgroup in every hierarchy mounted (cgroup v1 has one per controller, plus systemd's and v2's)."""
    return [hierarchy / cgroup for hierarchy in sorted(CGROUP_ROOT.iterdir()) if (hierarchy / "cgroup.procs").exists()]


def create_cgroups(cgroup: str) -> None:
    """The kubelet's ``cgroupRoot`` must exist in every hierarchy first; a new cpuset is empty until given the parent's
    cpus and memory nodes, and no process can join an empty one."""
    for directory in cgroup_dirs(cgroup):
        directory.mkdir(exist_ok=True)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if (directory / name).exists() and not (directory / name).read_text().strip():
                (directory / name).write_text((directory.parent / name).read_text())


def join_cgroups(cgroup: str, pid: int) -> None:
    """Move a process into a child cgroup of the node, so that what it forks later (containerd's shims) is found and
    killed at teardown even after it reparents to init."""
    for directory in cgroup_dirs(cgroup):
        runtime = directory / "runtime"
        runtime.mkdir(exist_ok=True)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if (runtime / name).exists() and not (runtime / name).read_text().strip():
                (runtime / name).write_text((directory / name).read_text())
        with contextlib.suppress(ProcessLookupError, OSError):
            (runtime / "cgroup.procs").write_text(str(pid))


def _cgroup_pids(cgroup: str) -> set[int]:
    pids: set[int] = set()
    for directory in cgroup_dirs(cgroup):
        if directory.is_dir():
            for procs in directory.rglob("cgroup.procs"):
                with contextlib.suppress(OSError):
                    pids.update(int(line) for line in procs.read_text().split())
    return pids


def kill_cgroup_processes(cgroup: str) -> int:
    """SIGKILL everything in the node's cgroups (shims, container processes) until none is left; returns how many."""
    killed: set[int] = set()
    for _ in range(KILL_ROUNDS):
        pids = _cgroup_pids(cgroup)
        if not pids:
            return len(killed)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        killed |= pids
        time.sleep(0.1)
    raise HostStateError(f"processes {sorted(_cgroup_pids(cgroup))} survived SIGKILL in cgroup {cgroup}")


def remove_cgroups(cgroup: str) -> None:
    """rmdir leaf first: a cgroup directory goes only once it has no children and no processes."""
    for directory in cgroup_dirs(cgroup):
        if not directory.is_dir():
            continue
        for child in sorted((d for d in directory.rglob("*") if d.is_dir()), key=lambda d: len(d.parts), reverse=True):
            child.rmdir()
        directory.rmdir()


def mounts_under(root: Path) -> list[Path]:
    """Mount points at or below ``root``, deepest first (the order they can be unmounted in)."""
    prefix = str(root.resolve())
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")  # mountinfo escapes spaces as \040
        if point == prefix or point.startswith(prefix + "/"):
            points.append(Path(point))
    return sorted(set(points), key=lambda p: len(p.parts), reverse=True)


def unmount_all(root: Path) -> None:
    for _ in range(5):  # a bind mount may be stacked on itself (the kubelet's rshared root dir)
        points = mounts_under(root)
        if not points:
            return
        for point in points:
            subprocess.run(["umount", str(point)], capture_output=True, check=False)
    left = mounts_under(root)
    for point in left:
        subprocess.run(["umount", "--lazy", str(point)], capture_output=True, check=False)
    if mounts_under(root):
        raise HostStateError(f"could not unmount {[str(p) for p in mounts_under(root)]}")


def restore(record: HostRecord) -> None:
    """Put sysctls back, remove the node's routes and the fixed paths that did not exist before the node."""
    remove_blackholes(record)
    for name, value in record.sysctls.items():
        path = _sysctl_path(name)
        if path.read_text().strip() != value:
            path.write_text(value)
    for path in FIXED_PATHS:
        if str(path) not in record.existing_paths and path.exists():
            unmount_all(path)
            shutil.rmtree(path)


def undo(root: Path, record_path: Path) -> None:
    """Everything a node left, in the order it can be undone: processes, mounts, cgroups, host settings, files."""
    record = HostRecord.load(record_path) if record_path.exists() else None
    if record is not None:
        kill_cgroup_processes(record.cgroup)
    unmount_all(root)
    if record is not None:
        remove_cgroups(record.cgroup)
        restore(record)
    shutil.rmtree(root, ignore_errors=True)
