"""The only module that runs helm: values files, processes, and helm's failures sorted into categories.

A run's values reach helm on its standard input (``--values -``), never through ``--set`` or a file: they do not
show in ``ps``, in audit logs of the process table or in a crash report's argv, and a killed helmcr leaves none on
disk. Only ``template`` (offline previews, scaffold) layers values files, each in a private temporary directory
(mode 0600) removed when helm exits. The command lines themselves are built in :mod:`reconcile.adapters.helm_argv`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from reconcile.adapters.helm_argv import render_argv, template_argv, uninstall_argv, upgrade_argv
from reconcile.adapters.helm_messages import helm_error, short_message
from reconcile.adapters.incluster import write_kubeconfig
from reconcile.errors import HelmError, HelmInterrupted
from reconcile.manifests import release_manifest
from reconcile.model import ChartRef, ReleaseKey
from reconcile.settings import HelmOptions

STDIN = Path("-")  # as a values file: helm reads the values from its standard input


@dataclass(frozen=True)
class Connection:
    """The cluster helm talks to; empty fields mean helm's own defaults, or in a pod the pod's ServiceAccount."""

    kubeconfig: str = ""
    context: str = ""

    def flags(self, scratch: str) -> list[str]:
        """``scratch``: the helm process's own directory, where an in-cluster kubeconfig is written if needed."""
        flags = []
        if self.kubeconfig:
            flags += ["--kubeconfig", self.kubeconfig]
        if self.context:
            flags += ["--kube-context", self.context]
        pod_credentials = None if flags else write_kubeconfig(scratch)
        return ["--kubeconfig", pod_credentials] if pod_credentials else flags


class Helm:
    """Runs the helm binary, counting processes; each gets a scratch cache, since the CronJob's root is read-only.

    helm runs in a session of its own, so a Ctrl-C meant for helmcr does not kill it halfway through an upgrade
    (which would leave the release pending); helmcr decides when to stop it (``terminate_all``).
    """

    def __init__(self, binary: str, connection: Connection, base_env: Mapping[str, str] | None = None) -> None:
        self.binary = binary
        self.connection = connection
        self._env = dict(os.environ if base_env is None else base_env)
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen[bytes]] = set()
        self._major = 0
        self._version_lock = threading.Lock()
        self.processes = 0

    def resolve(self) -> str:
        path = shutil.which(self.binary)
        if path is None:
            raise HelmError(f"helm binary {self.binary!r} not found (set --helm-binary or HELMCR_HELM)")
        return path

    def major_version(self) -> int:
        """Asked once per run (the run's workers wait for the first to ask), and only when a flag differs between
        Helm 3 and 4."""
        with self._version_lock:
            if not self._major:
                version = re.match(r"v?(\d+)\.", self.run(["version", "--template", "{{.Version}}"]).strip())
                self._major = int(version.group(1)) if version else 3
            return self._major

    def upgrade(
        self,
        key: ReleaseKey,
        chart: ChartRef,
        values: Mapping[str, Any],
        labels: Mapping[str, str],
        options: HelmOptions,
        secrets: Sequence[str] = (),
    ) -> int:
        """The revision helm made; chart name and version come from the chart itself (see charts.py)."""
        major = self.major_version() if options.rollback_on_failure or options.force_conflicts else 3
        argv = upgrade_argv(key, chart, STDIN, labels, options, major)
        revision = _json(self.run(argv, secrets, stdin=values_json(values))).get("version")
        if not isinstance(revision, int) or isinstance(revision, bool) or revision < 1:
            raise HelmError(f"helm succeeded but its release JSON has no revision (version: {revision!r})")
        return revision

    def uninstall(self, key: ReleaseKey, options: HelmOptions, secrets: Sequence[str] = ()) -> None:
        self.run(uninstall_argv(key, options), secrets)

    def render(
        self,
        key: ReleaseKey,
        chart: ChartRef,
        values: Mapping[str, Any],
        options: HelmOptions,
        offline: bool,
        secrets: Sequence[str] = (),
    ) -> str:
        """The manifest helm would apply (hooks included, as they are objects too)."""
        major = self.major_version() if options.force_conflicts and not offline else 3
        argv = render_argv(key, chart, STDIN, options, offline, major)
        output = self.run(argv, secrets, connect=not offline, stdin=values_json(values))
        if offline:
            return output
        return release_manifest(_json(output), with_hooks=not options.disable_hooks)

    def template(
        self,
        release: str,
        chart: str,
        namespace: str,
        values: Sequence[Mapping[str, Any]],
        hooks: bool,
        kube_version: str = "",
    ) -> str:
        """The rendered manifests; each values layer is a file, later layers win as with repeated ``--values``."""
        with ExitStack() as stack:
            files = [stack.enter_context(values_file(layer)) for layer in values]
            return self.run(template_argv(release, chart, namespace, files, hooks, kube_version=kube_version))

    def run(
        self,
        argv: Sequence[str],
        secrets: Sequence[str] = (),
        connect: bool = True,
        stdin: bytes = b"",
        env: Mapping[str, str] | None = None,
    ) -> str:
        """helm's standard output; a failure raises its category. ``env`` adds to helm's environment."""
        returncode, stdout, stderr = self.call(argv, connect, stdin, env)
        if returncode != 0:
            raise helm_error(short_message(stderr or stdout, secrets), returncode)
        return stdout

    def call(
        self, argv: Sequence[str], connect: bool = True, stdin: bytes = b"", env: Mapping[str, str] | None = None
    ) -> tuple[int, str, str]:
        """Exit code, standard output and error of one helm, for a caller that reads a failure's output itself."""
        try:
            with tempfile.TemporaryDirectory(prefix="helmcr-helm-") as home:
                with self._lock:
                    self.processes += 1
                command = [*argv, *(self.connection.flags(home) if connect else [])]
                returncode, stdout, stderr = self._execute(command, {**self._helm_env(home), **(env or {})}, stdin)
        except OSError as error:  # a full TMPDIR, a binary that is no executable (bad shebang, wrong format)
            raise HelmError(f"cannot run helm ({self.binary}): {error.strerror or error}") from None
        if returncode < 0:
            raise HelmInterrupted(f"helm was stopped by signal {-returncode} before it finished", 1)
        return returncode, stdout, stderr

    def _execute(self, argv: list[str], env: dict[str, str], stdin: bytes) -> tuple[int, str, str]:
        """The process: helm in a session of its own, tracked so a signal can stop it; unit tests replace it.

        Its output goes to files already unlinked (it may hold the values and the manifest): if helmcr dies, helm
        neither dies of SIGPIPE halfway through an upgrade nor leaves anything on disk, and it finishes its
        operation, so the release is not left pending."""
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            process = subprocess.Popen(
                [self.resolve(), *argv], stdin=subprocess.PIPE, stdout=out, stderr=err, env=env, start_new_session=True
            )
            with self._lock:
                self._live.add(process)
            try:
                _feed(process, stdin)
                process.wait()
            finally:
                with self._lock:
                    self._live.discard(process)
            return process.returncode, _read_back(out), _read_back(err)

    def terminate_all(self) -> int:
        """Ask every running helm to stop (SIGTERM lets it record the release as failed); returns how many."""
        with self._lock:
            running = list(self._live)
        for process in running:
            process.terminate()
        return len(running)

    @property
    def environment(self) -> Mapping[str, str]:
        """What helm runs with (before its scratch cache): where its registry and repository configs are."""
        return self._env

    def _helm_env(self, scratch: str) -> dict[str, str]:
        """Only the cache moves to scratch: config (registry logins) and data (plugins) stay the user's own."""
        env = dict(self._env)
        env.setdefault("HELM_CACHE_HOME", scratch)
        return env


def values_json(values: Mapping[str, Any]) -> bytes:
    """The values as helm reads them from ``--values -``: JSON, which helm reads as YAML, so every string stays
    quoted and a value such as ``1e3``, ``0x1F`` or ``yes`` reaches the chart as the string it is in the CR (PyYAML
    would leave ``1e3`` bare, and Go's YAML reads that as the number 1000). Through a pipe, never a file: nothing
    of them is left on disk if helmcr is killed."""
    return json.dumps(dict(values), ensure_ascii=False, sort_keys=True).encode()


def _feed(process: subprocess.Popen[bytes], data: bytes) -> None:
    assert process.stdin is not None
    try:
        process.stdin.write(data)
        process.stdin.close()
    except BrokenPipeError:  # helm exited before reading its values (a bad flag): its stderr says why
        pass


def _read_back(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read().decode(errors="replace")


@contextmanager
def values_file(values: Mapping[str, Any]) -> Iterator[Path]:
    """A 0600 file in a 0700 directory, removed as soon as helm returns: for ``helm template`` with several layers
    (scaffold's, from the user's own files), where one pipe is not enough."""
    with tempfile.TemporaryDirectory(prefix="helmcr-values-") as directory:
        path = Path(directory) / "values.json"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(values_json(values))
        yield path


def _json(output: str) -> dict[str, Any]:
    try:
        document = json.loads(output)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise HelmError("helm succeeded but printed no release JSON (is --helm-binary really helm?)")
    return document
