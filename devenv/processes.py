"""Child processes that cannot outlive the Python process that started them.

A test run that is killed (SIGKILL from a CI timeout, an OOM kill, a closed terminal) never runs its cleanup code, and
a leaked etcd or kube-apiserver keeps ports, memory and a temp dir forever. So every child is started

- with ``PR_SET_PDEATHSIG=SIGKILL``: the kernel kills it when its parent dies, whatever the way the parent dies;
- in its own session and process group: a Ctrl-C on the terminal reaches only the Python parent (which then stops the
  children in order), and stopping a child's group also stops any helper it spawned;

and is recorded as a :class:`ProcessRecord` (pid plus kernel start time), so that a later run can tell a stale child
from an unrelated process that got the same pid.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ProcessRecord:
    """A process identity that survives pid reuse: the pid and the kernel's start time (clock ticks since boot)."""

    pid: int
    start_time: int

    @classmethod
    def of(cls, pid: int) -> ProcessRecord | None:
        start_time = process_start_time(pid)
        return None if start_time is None else cls(pid, start_time)

    def is_alive(self) -> bool:
        """True while this very process runs (a zombie or a new process with the same pid does not count)."""
        return process_start_time(self.pid) == self.start_time and process_state(self.pid) not in (None, "Z", "X")

    def to_json(self) -> dict[str, int]:
        return {"pid": self.pid, "start_time": self.start_time}

    @classmethod
    def from_json(cls, data: Mapping[str, int]) -> ProcessRecord:
        return cls(int(data["pid"]), int(data["start_time"]))


def _proc_stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (which may contain spaces and parentheses)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return stat[stat.rindex(")") + 2 :].split()


def process_start_time(pid: int) -> int | None:
    fields = _proc_stat_fields(pid)
    return None if fields is None else int(fields[19])  # field 22 of stat(5), counted after "pid (comm)"


def process_state(pid: int) -> str | None:
    fields = _proc_stat_fields(pid)
    return None if fields is None else fields[0]


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    """A preexec_fn that asks the kernel to SIGKILL the child when the parent dies.

    If the parent already died between fork and prctl, the death signal would never come: the child then exits at once.
    """

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            os._exit(127)
        if os.getppid() != parent_pid:
            os._exit(127)

    return preexec


def spawn(argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``argv`` with its stdout and stderr appended to ``log_path``, tied to this process's life.

    The death signal is sent when the *thread* that forked the child exits, so start children from a thread that
    lives as long as they should (the main thread, in practice).
    """
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=None if env is None else dict(env),
            start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()),  # safe here: it only calls prctl and getppid
        )


def signal_group(pid: int, signum: int) -> None:
    """Signal the process group led by ``pid`` (each child leads its own), ignoring groups that are already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def group_exists(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def terminate(processes: Iterable[subprocess.Popen[bytes]], grace_seconds: float) -> None:
    """Stop the processes one after another, in the given order, and reap them.

    Each process group gets SIGTERM, then SIGKILL if it is still there after ``grace_seconds``. One at a time, because
    shutdowns depend on each other: kube-apiserver exits in about a second while etcd runs, but hangs until killed
    once etcd is gone.
    """
    for process in processes:
        if process.poll() is None:
            signal_group(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace_seconds)
        signal_group(process.pid, signal.SIGKILL)  # also reaches helpers the leader spawned
        process.wait()


def kill_stale(records: Iterable[ProcessRecord]) -> list[ProcessRecord]:
    """SIGKILL recorded processes (and their groups) that still run; returns those that were killed.

    Used for leftovers of a run that was killed itself, so there is nobody to wait for a graceful shutdown. A record
    whose pid now belongs to another process is left alone.
    """
    killed = [record for record in records if record.is_alive()]
    for record in killed:
        signal_group(record.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGKILL)
    return killed


LOG_TAIL_LINES = 40
READY_POLL_SECONDS = 0.1


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a component's log, for an error that says why it did not come up."""
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError as error:
        return f"(no log: {error})"
    return f"--- last {len(tail)} lines of {path} ---\n" + "\n".join(tail)


def wait_ready(
    name: str,
    process: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    log: Path,
    timeout: float,
    error: Callable[[str], Exception],
) -> None:
    """Poll ``ready`` until it holds; fail fast, with the log's tail, if the process exits or the timeout passes
    (a component that died at start would otherwise cost the whole timeout and say nothing)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise error(f"{name} exited with code {process.returncode} while starting\n{log_tail(log)}")
        if time.monotonic() > deadline:
            raise error(f"{name} was not ready after {timeout:.0f} s\n{log_tail(log)}")
        time.sleep(READY_POLL_SECONDS)
