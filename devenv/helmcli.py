"""Running a pinned helm binary in an environment of its own.

Helm reads and writes repositories, plugins, registry logins and caches under the user's home and ``HELM_*`` /
``XDG_*`` variables. Tests and the demo must neither depend on nor touch the developer's own helm setup, so every
:class:`Helm` gets a private HOME and private helm dirs, and sees only the cluster it is given.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devenv import binaries

KEPT_VARIABLES = ("PATH", "TMPDIR", "LANG", "LC_ALL", "TZ")


class HelmError(RuntimeError):
    """helm exited non-zero; the message carries the command line, stderr and stdout."""

    def __init__(self, args: list[str], process: subprocess.CompletedProcess[str]) -> None:
        super().__init__(
            f"{shlex.join(args)} exited {process.returncode}\n"
            f"--- stderr ---\n{process.stderr.strip()}\n--- stdout ---\n{process.stdout.strip()}"
        )
        self.process = process


@dataclass(frozen=True)
class Helm:
    """One helm major version (3 or 4) bound to a kubeconfig and a private set of helm/home dirs."""

    binary: Path
    major: int
    env: dict[str, str]

    def run(
        self, *args: str, check: bool = True, timeout: float = 180.0, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``helm *args``; raises :class:`HelmError` (with stderr) on failure unless ``check`` is False.
        ``input`` is helm's standard input (a ``--password-stdin``), never shown in the error."""
        argv = [str(self.binary), *args]
        process = subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=timeout, check=False, input=input
        )
        if check and process.returncode != 0:
            raise HelmError(argv, process)
        return process


def isolated_helm(major: int, kubeconfig: Path, home: Path, extra_path: str = "") -> Helm:
    """A :class:`Helm` whose HOME and helm dirs live under ``home`` and whose only cluster is ``kubeconfig``.

    The environment is built from scratch (keeping only PATH, TMPDIR and locale), so no ``HELM_*``, ``XDG_*`` or
    ``KUBECONFIG`` of the caller leaks in. ``extra_path`` is prepended to PATH (e.g. the pinned kubectl's dir, for
    post-renderers and plugins that call it).
    """
    env = {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}
    if extra_path:
        env["PATH"] = os.pathsep.join(part for part in (extra_path, env.get("PATH", "")) if part)
    dirs = {
        "HOME": home,
        "HELM_CONFIG_HOME": home / "helm-config",
        "HELM_CACHE_HOME": home / "helm-cache",
        "HELM_DATA_HOME": home / "helm-data",
    }
    for directory in dirs.values():
        directory.mkdir(parents=True, exist_ok=True)
    env.update({name: str(directory) for name, directory in dirs.items()})
    env["KUBECONFIG"] = str(kubeconfig)
    return Helm(binary=binaries.helm_binary(major), major=major, env=env)
