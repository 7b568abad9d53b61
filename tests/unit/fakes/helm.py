"""A helm that keeps its releases in a FakeApiServer, as Helm's Secrets driver does: for fast orchestration tests.

:class:`FakeHelm` overrides nothing but ``Helm._execute``: argv building, the values file, error classification and
process counting stay the real adapter's code. It understands exactly the command lines helmcr builds
(``upgrade --install``, its ``--dry-run=server``, ``uninstall``, ``template``, ``version``, and ``pull`` and ``repo
update`` of the charts published to its :class:`~tests.unit.fakes.charts.ChartSources`) and refuses anything else
with ``Error: fake helm does not know ...``, so a test never passes on a command the real helm would reject.

What it writes are real release records, one Secret per revision, with Helm's labels (``createdAt`` when a record
is created, ``modifiedAt`` when it is updated, as Helm's driver stamps them) and Helm's payload encoding, so
``observed_releases``, ``helm_storage.read_release`` and ``mark_failed`` work on them unchanged. The release logic
follows Helm's own (pkg/action, pkg/storage): the pending lock, label merging onto the latest revision, history
pruning that never deletes the last deployed revision, an empty values file reusing the previous values (as
helm does without ``--reset-values``), ``--atomic``/``--rollback-on-failure`` uninstalling a failed install and
rolling a failed upgrade back.
"""

from __future__ import annotations

import copy
import datetime
import itertools
import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconcile.adapters.helm import Connection, Helm
from reconcile.adapters.helm_storage import CorruptRecordError, decode, encode, record_name
from reconcile.adapters.kube import SECRETS
from reconcile.model import ReleaseKey
from tests.unit.fakes.api import FakeApiError, FakeApiServer
from tests.unit.fakes.charts import ChartSources, PullRefused

Render = Callable[[str, str, Mapping[str, Any]], str]
Release = dict[str, Any]

VERSIONS = {3: "v3.22.0", 4: "v4.3.1"}
SYSTEM_LABELS = frozenset({"name", "owner", "status", "version", "createdAt", "modifiedAt"})
PENDING = frozenset({"pending-install", "pending-upgrade", "pending-rollback"})  # Helm's IsPending()
SUCCESSFUL = frozenset({"deployed", "superseded"})
RELEASE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
RELEASE_NAME_MAX = 53
KILLED = -9
CONNECTION_FLAGS = frozenset({"--kubeconfig", "--kube-context"})
VALUE_FLAGS = {
    "upgrade": frozenset({"--namespace", "--values", "--labels", "--history-max", "--timeout", "--output"}),
    "uninstall": frozenset({"--namespace", "--timeout"}),
    "template": frozenset({"--namespace", "--values"}),
    "version": frozenset({"--template"}),
    "pull": frozenset({"--version", "--destination", "--repo"}),
    "repo": frozenset(),
}
BOOLEAN_FLAGS = {
    "upgrade": frozenset({"--install", "--no-hooks", "--wait", "--atomic", "--reset-values", "--dry-run"}),
    "uninstall": frozenset({"--wait", "--no-hooks", "--keep-history"}),
    "template": frozenset({"--include-crds", "--skip-tests", "--no-hooks"}),
    "version": frozenset(),
    "pull": frozenset(),
    "repo": frozenset(),
}


class RenderFailed(Exception):
    """Raised by a ``render`` callable: helm reports it as the chart's template error (``HelmRenderError``)."""


@dataclass(frozen=True)
class HelmCall:
    """One helm invocation as the fake saw it: argv without the binary, and the values files read at call time."""

    argv: list[str]
    env: dict[str, str]
    values: dict[str, Any] | None  # the --values files merged in order; None when the command had none
    values_modes: tuple[int, ...] = ()  # permission bits of each --values file

    @property
    def command(self) -> str:
        return self.argv[0] if self.argv else ""

    @property
    def dry_run(self) -> bool:
        """A render that changes nothing: a preview's, or the object check's before each install and upgrade."""
        return any(arg.startswith("--dry-run") for arg in self.argv)

    @property
    def values_mode(self) -> int | None:
        return self.values_modes[0] if self.values_modes else None


def default_render(release: str, namespace: str, values: Mapping[str, Any]) -> str:
    """A ConfigMap named after the release whose data are the values flattened to dotted keys: enough for a test
    to see in a manifest (or a diff) what a release was rendered with."""
    document = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": release, "namespace": namespace},
        "data": dict(sorted(_flatten(values).items())),
    }
    return yaml.safe_dump(document, sort_keys=False)


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, Mapping) and value:
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value if isinstance(value, str) else json.dumps(value)
    return flat


class _Failed(Exception):
    """helm exits 1 with ``Error: <message>`` on stderr."""


class _Killed(Exception):
    """helm was killed mid-operation (SIGKILL): whatever it had written stays."""


class _RenderError(Exception):
    """The chart did not render; the caller words it as install or upgrade would."""


@dataclass
class _Script:
    kind: str  # "render", "apply", "pending", "uninstall"
    release: str
    namespace: str | None
    message: str
    times: int


@dataclass
class _Args:
    command: str
    positionals: list[str] = field(default_factory=list)
    options: dict[str, list[str]] = field(default_factory=dict)

    def one(self, flag: str, default: str = "") -> str:
        values = self.options.get(flag)
        return values[-1] if values else default

    def has(self, flag: str) -> bool:
        return self.one(flag, "false") != "false"


@dataclass(frozen=True)
class _Chart:
    name: str
    version: str


@dataclass(frozen=True)
class _Rendered:
    manifest: str
    hooks: list[dict[str, Any]]


@dataclass(frozen=True)
class _Upgrade:
    """What one ``upgrade --install`` command line asks for."""

    name: str
    namespace: str
    chart: _Chart
    values: dict[str, Any]
    labels: dict[str, str]
    history_max: int
    install: bool
    dry_run: bool
    atomic: bool
    reset_values: bool
    json_output: bool


def _parse(argv: list[str], major: int) -> _Args:
    """helm's command line, for the commands and flags helmcr uses; anything else is refused by name."""
    if not argv or argv[0] not in VALUE_FLAGS:
        raise _Failed(f"fake helm does not know the command {argv[:1]} (it knows {sorted(VALUE_FLAGS)})")
    args = _Args(argv[0])
    values = VALUE_FLAGS[args.command] | CONNECTION_FLAGS
    booleans = BOOLEAN_FLAGS[args.command]
    if args.command == "upgrade" and major >= 4:
        booleans |= {"--rollback-on-failure", "--server-side", "--force-conflicts"}
    items = iter(argv[1:])
    for item in items:
        flag, equals, inline = item.partition("=")
        if not item.startswith("-"):
            args.positionals.append(item)
        elif flag in values:
            value = inline if equals else next(items, None)
            if value is None:
                raise _Failed(f"flag needs an argument: {flag}")
            args.options.setdefault(flag, []).append(value)
        elif flag in booleans:
            args.options.setdefault(flag, []).append(inline if equals else "true")
        else:
            raise _Failed(
                f"fake helm does not know {item} for helm {major} {args.command} (helm: unknown flag: {flag})"
            )
    return args


def _positionals(args: _Args, count: int) -> list[str]:
    if len(args.positionals) != count:
        raise _Failed(f'"helm {args.command}" requires {count} arguments, got {args.positionals}')
    return args.positionals


def _values_paths(argv: list[str]) -> list[str]:
    paths = [after for flag, after in itertools.pairwise(argv) if flag == "--values"]
    return paths + [item.removeprefix("--values=") for item in argv if item.startswith("--values=")]


def _read_values(paths: list[str], stdin: bytes) -> tuple[dict[str, Any], tuple[int, ...]]:
    """The files as helm reads them (YAML, later files win key by key), with their permission bits (none for
    ``-``, helm's standard input)."""
    merged: dict[str, Any] = {}
    modes: list[int] = []
    for path in paths:
        try:
            if path == "-":
                text = stdin.decode("utf-8")
            else:
                text = Path(path).read_text(encoding="utf-8")
                modes.append(os.stat(path).st_mode & 0o777)
        except OSError as error:
            raise _Failed(f"open {path}: {(error.strerror or 'error').lower()}") from None
        layer = yaml.safe_load(text) or {}
        if not isinstance(layer, dict):
            raise _Failed(f"failed to parse {path}: error unmarshaling JSON: cannot unmarshal into a map")
        merged = _deep_merge(merged, layer)
    return merged, tuple(modes)


def _deep_merge(base: dict[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _labels(text: str) -> dict[str, str]:
    """``--labels k=v,k2=v2`` as helm's string-to-string flag reads it."""
    labels: dict[str, str] = {}
    for pair in filter(None, text.split(",")):
        key, equals, value = pair.partition("=")
        if not equals:
            raise _Failed(f'invalid argument "{text}" for "-l, --labels" flag: {pair} must be formatted as key=value')
        labels[key] = value
    if SYSTEM_LABELS & set(labels):
        reserved = sorted(SYSTEM_LABELS)
        raise _Failed(f"user supplied labels contains system reserved label name. System labels: {reserved}")
    return labels


def _merge_labels(current: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str]:
    """Helm merges an upgrade's labels onto the latest revision's; the value "null" removes a label."""
    return {key: value for key, value in {**current, **new}.items() if value != "null"}


def _check_release_name(name: str) -> None:
    if len(name) > RELEASE_NAME_MAX or not RELEASE_NAME.match(name):
        raise _Failed(
            f'release name "{name}": invalid release name, must match regex {RELEASE_NAME.pattern} and the length '
            f"must not be longer than {RELEASE_NAME_MAX}"
        )


def _chart(source: str, version: str) -> _Chart:
    """Name and version as helm takes them: from a local chart's Chart.yaml, else from the reference itself."""
    metadata = Path(source) / "Chart.yaml"
    if metadata.is_file():
        chart = yaml.safe_load(metadata.read_text(encoding="utf-8")) or {}
        return _Chart(str(chart.get("name") or ""), str(chart.get("version") or ""))
    base = source.rstrip("/").rsplit("/", 1)[-1].removesuffix(".tgz")
    packaged = re.fullmatch(r"(.+)-(\d+\.\d+\.\d+.*)", base) if source.endswith(".tgz") else None
    if packaged:
        return _Chart(packaged[1], version or packaged[2])
    return _Chart(base, version or "0.1.0")


def _payload(release: Release) -> Release:
    """The release as helm serializes it (record payload and ``--output json``): its labels live only on the
    record (``json:"-"``), and empty fields are omitted (``omitempty``)."""
    info = {key: value for key, value in release["info"].items() if value not in ("", None)}
    document = {key: value for key, value in release.items() if key != "labels" and value not in ("", None, [], {})}
    return {**document, "info": info}


def _status(release: Release) -> str:
    return str(release["info"]["status"])


def _set_status(release: Release, status: str, description: str = "") -> None:
    release["info"]["status"] = status
    if description:
        release["info"]["description"] = description


def _documents(text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for chunk in re.split(r"^---[ \t]*$\n?", text, flags=re.MULTILINE):
        body = yaml.safe_load(chunk)
        if isinstance(body, dict) and body:
            yield chunk.strip("\n"), body


def _split(text: str, chart: _Chart) -> _Rendered:
    """A rendered stream into helm's manifest (``---`` and ``# Source:`` before each object) and its hooks."""
    manifest: list[str] = []
    hooks: list[dict[str, Any]] = []
    for chunk, body in _documents(text):
        source_line = re.search(r"^# Source: (.+)$", chunk, flags=re.MULTILINE)
        default_source = f"{chart.name}/templates/{str(body.get('kind', 'manifest')).lower()}.yaml"
        source = source_line[1].strip() if source_line else default_source
        content = re.sub(r"^# Source: .+\n?", "", chunk, flags=re.MULTILINE).strip("\n")
        annotations = (body.get("metadata") or {}).get("annotations") or {}
        if "helm.sh/hook" in annotations:
            hooks.append(_hook(body, annotations, source, content))
        else:
            manifest.append(f"---\n# Source: {source}\n{content}\n")
    return _Rendered("".join(manifest), hooks)


def _hook(body: dict[str, Any], annotations: Mapping[str, str], source: str, content: str) -> dict[str, Any]:
    """As helm stores a hook: its manifest without the ``# Source:`` line, events from the annotation."""
    return {
        "name": (body.get("metadata") or {}).get("name", ""),
        "kind": body.get("kind", ""),
        "path": source,
        "manifest": content,
        "events": [event.strip() for event in str(annotations["helm.sh/hook"]).split(",")],
        "last_run": {"started_at": "", "completed_at": "", "phase": ""},
        "weight": int(annotations.get("helm.sh/hook-weight", "0") or 0),
        "delete_policies": [p.strip() for p in str(annotations.get("helm.sh/hook-delete-policy", "")).split(",") if p],
    }


class _History:
    """One release's records in the fake API server, read and written as Helm's Secrets driver does: list by
    labels, create, update without a resourceVersion, delete. The server's ``down`` and ``forbid`` apply."""

    def __init__(self, server: FakeApiServer, namespace: str, name: str) -> None:
        self.server = server
        self.key = ReleaseKey(namespace, name)
        self.warnings: list[str] = []

    def load(self) -> list[Release]:
        with self._request("GET", "query: failed to query with labels"):
            secrets = [s for s in self.server.objects(SECRETS, self.key.namespace) if self._ours(s)]
        return sorted((r for r in map(self._decode, secrets) if r is not None), key=lambda r: int(r["version"]))

    def create(self, release: Release) -> None:
        with self._request("POST", "create: failed to create"):
            self.server.create(SECRETS, self.key.namespace, self._secret(release, "createdAt"))

    def update(self, release: Release) -> None:
        """Best effort, as Helm's recordRelease: a refused update is only a warning, and helm carries on."""
        name = record_name(self.key, int(release["version"]))
        try:
            with self._request("PUT", "update: failed to update", name):
                self.server.replace(SECRETS, self.key.namespace, name, self._secret(release, "modifiedAt"))
        except _Failed as warning:
            self.warnings.append(str(warning))

    def delete(self, release: Release) -> None:
        name = record_name(self.key, int(release["version"]))
        with self._request("DELETE", f'delete: failed to delete release "{name}"', name):
            self.server.delete(SECRETS, self.key.namespace, name)

    @contextmanager
    def _request(self, method: str, wording: str, name: str = "") -> Iterator[None]:
        try:
            self.server.check_access(method, SECRETS, self.key.namespace, name)
            yield
        except ConnectionRefusedError:
            where = f"{self.server.host}/version"
            raise _Failed(
                f'Kubernetes cluster unreachable: Get "{where}": dial tcp: connect: connection refused'
            ) from None
        except FakeApiError as error:
            raise _Failed(f"{wording}: {error.message}") from None

    def _ours(self, secret: dict[str, Any]) -> bool:
        labels = secret["metadata"].get("labels") or {}
        return labels.get("owner") == "helm" and labels.get("name") == self.key.name

    def _decode(self, secret: dict[str, Any]) -> Release | None:
        """The payload is the truth (status included); custom labels come back from the Secret's labels. An
        undecodable record is skipped, as Helm's driver does."""
        labels = secret["metadata"].get("labels") or {}
        try:
            release = decode(secret, self.key, int(labels.get("version", "0")))
        except (CorruptRecordError, ValueError):
            return None
        release["labels"] = {key: value for key, value in labels.items() if key not in SYSTEM_LABELS}
        return release

    def _secret(self, release: Release, stamp: str) -> dict[str, Any]:
        labels = {
            **release.get("labels", {}),
            stamp: str(int(self.server.clock())),
            "name": self.key.name,
            "owner": "helm",
            "status": _status(release),
            "version": str(release["version"]),
        }
        metadata = {"name": record_name(self.key, int(release["version"])), "namespace": self.key.namespace}
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "helm.sh/release.v1",
            "metadata": {**metadata, "labels": labels},
            "data": {"release": encode(_payload(release))},
        }


class FakeHelm(Helm):
    """The real Helm adapter over an in-memory helm whose release records live in ``server``.

    ``render(release, namespace, values) -> YAML`` is the chart (default: :func:`default_render`); it may raise
    :class:`RenderFailed`. Scripted failures (``fail_render``, ``fail_apply``, ``leave_pending``, ``fail_uninstall``)
    apply to the next ``times`` matching invocations; render failures also hit dry runs and ``template``.
    """

    def __init__(
        self,
        server: FakeApiServer,
        major: int = 3,
        render: Render = default_render,
        connection: Connection | None = None,
        base_env: Mapping[str, str] | None = None,
    ) -> None:
        if major not in VERSIONS:
            raise ValueError(f"FakeHelm knows helm {sorted(VERSIONS)}, not {major}")
        super().__init__("helm", connection or Connection(), {} if base_env is None else base_env)
        self.server = server
        self.major = major
        self.renderer = render
        self.calls: list[HelmCall] = []
        self.sources = ChartSources()
        self._scripts: list[_Script] = []
        self._fake_lock = threading.Lock()

    # --- scripted failures ----------------------------------------------------------------------------------

    def fail_render(self, release: str, message: str, times: int = 1, namespace: str | None = None) -> None:
        """The chart does not render (exit 1, a template error); nothing is written, as with helm."""
        self._script("render", release, message, times, namespace)

    def fail_apply(self, release: str, message: str, times: int = 1, namespace: str | None = None) -> None:
        """Applying fails after the record was written: the new revision is ``failed`` (exit 1 with ``message``;
        e.g. "timed out waiting for the condition" classifies as HelmTimeout)."""
        self._script("apply", release, message, times, namespace)

    def leave_pending(self, release: str, times: int = 1, namespace: str | None = None) -> None:
        """helm is killed mid-operation: a ``pending-install``/``pending-upgrade`` record stays, exit -9."""
        self._script("pending", release, "", times, namespace)

    def fail_uninstall(self, release: str, message: str, times: int = 1, namespace: str | None = None) -> None:
        """``uninstall`` exits 1 with ``message`` and leaves the records as they were."""
        self._script("uninstall", release, message, times, namespace)

    def fail_pull(self, source: str, message: str, times: int = 1) -> None:
        """``pull`` of ``source`` (an ``oci://`` reference or a chart name) exits 1 with ``message``."""
        self._script("pull", source, message, times, None)

    def fail_repo_update(self, repository: str, message: str, times: int = 1) -> None:
        """``repo update`` cannot fetch the entry's index: helm 3 says why on stdout and exits 0 all the same,
        helm 4 exits 1 with only the URL on stderr."""
        self._script("repo-update", repository, message, times, None)

    def calls_of(self, command: str) -> list[HelmCall]:
        return [call for call in self.calls if call.command == command]

    def applied(self, command: str) -> list[HelmCall]:
        """The calls of a command that changed something: not the dry runs before them."""
        return [call for call in self.calls_of(command) if not call.dry_run]

    def _script(self, kind: str, release: str, message: str, times: int, namespace: str | None) -> None:
        with self._fake_lock:
            self._scripts.append(_Script(kind, release, namespace, message, times))

    def _take(self, kind: str, release: str, namespace: str) -> _Script | None:
        with self._fake_lock:
            for script in self._scripts:
                matches = (script.kind, script.release) == (kind, release) and script.namespace in (None, namespace)
                if matches and script.times > 0:
                    script.times -= 1
                    return script
        return None

    # --- the process ------------------------------------------------------------------------------------------

    def _execute(self, argv: list[str], env: dict[str, str], stdin: bytes = b"") -> tuple[int, str, str]:
        """One helm process: the values files are read now, while they exist, as helm would read them; ``-`` is
        the standard input."""
        paths = _values_paths(argv)
        try:
            values, modes = _read_values(paths, stdin)
        except _Failed as failure:
            self._record(HelmCall(list(argv), dict(env), None))
            return 1, "", f"Error: {failure}\n"
        self._record(HelmCall(list(argv), dict(env), values if paths else None, modes))
        with self.server.lock:  # one helm operation is atomic with respect to the tests' other clients
            try:
                return 0, self._run(argv, values, env), ""
            except _Failed as failure:
                return 1, "", f"Error: {failure}\n"
            except PullRefused as refused:
                return 1, refused.stdout, f"Error: {refused}\n"
            except _Killed:
                return KILLED, "", ""

    def _record(self, call: HelmCall) -> None:
        with self._fake_lock:
            self.calls.append(call)

    def _run(self, argv: list[str], values: dict[str, Any], env: Mapping[str, str]) -> str:
        args = _parse(argv, self.major)
        if args.command == "version":
            return self._version(args)
        if args.command == "pull":
            return self._pull(args, env)
        if args.command == "repo":
            return self._repo_update(args, env)
        if args.command == "template":
            return self._template(args, values)
        if args.command == "uninstall":
            return self._uninstall(args)
        return self._upgrade(self._upgrade_request(args, values))

    def _version(self, args: _Args) -> str:
        if args.one("--template") != "{{.Version}}" or args.positionals:
            raise _Failed("fake helm does not know this version command; it knows version --template {{.Version}}")
        return VERSIONS[self.major]

    def _now(self) -> str:
        return datetime.datetime.fromtimestamp(self.server.clock(), datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def _atomic_flag(self) -> str:
        return "rollback-on-failure" if self.major >= 4 else "atomic"

    # --- pull and repo update -----------------------------------------------------------------------------------

    def _pull(self, args: _Args, env: Mapping[str, str]) -> str:
        (reference,) = _positionals(args, 1)
        repo, source = args.one("--repo"), reference
        if not repo and not reference.startswith("oci://"):
            entry, _, source = reference.partition("/")
            repo = self._cached_index(entry, source, args.one("--version"), env)
        script = self._take("pull", source, "")
        if script is not None:
            raise _Failed(script.message)
        destination = Path(args.one("--destination", "."))
        self.sources.pull(repo, source, args.one("--version"), destination)
        return f"Pulled: {source}:{args.one('--version')}\n" if self.major >= 4 else ""

    def _cached_index(self, entry: str, chart: str, version: str, env: Mapping[str, str]) -> str:
        """``<entry>/<chart>`` is looked up in the index ``repo update`` cached; the entry's URL is the repository."""
        index = Path(env["HELM_REPOSITORY_CACHE"]) / f"{entry}-index.yaml"
        if not index.is_file():
            raise _Failed(f"no cached repo found. (try 'helm repo update'): open {index}: no such file or directory")
        cached = yaml.safe_load(index.read_text())
        if version not in cached["entries"].get(chart, []):
            raise _Failed(
                f"chart \"{chart}\" matching {version} not found in {entry} index. (try 'helm repo update'): "
                f"no chart version found for {chart}-{version}"
            )
        return str(cached["url"])

    def _repo_update(self, args: _Args, env: Mapping[str, str]) -> str:
        if args.positionals[:1] != ["update"] or len(args.positionals) != 2:
            raise _Failed(f"fake helm does not know repo {args.positionals}; it knows repo update NAME")
        name = args.positionals[1]
        config = Path(env.get("HELM_REPOSITORY_CONFIG", "/nonexistent"))
        if not config.is_file():
            raise _Failed("no repositories found. You must add one before updating")
        entries = {e["name"]: e for e in (yaml.safe_load(config.read_text()) or {}).get("repositories") or []}
        if name not in entries:
            raise _Failed(f"no repositories found matching '{name}'.  Nothing will be updated")
        url = str(entries[name]["url"])
        out = "Hang tight while we grab the latest from your chart repositories...\n"
        script = self._take("repo-update", name, "")
        if script is not None:
            out += f'...Unable to get an update from the "{name}" chart repository ({url}):\n\t{script.message}\n'
            if self.major >= 4:
                raise PullRefused(f"failed to update the following repositories: [{url}]", stdout=out)
            return out + "Update Complete. ⎈Happy Helming!⎈\n"
        cache = Path(env["HELM_REPOSITORY_CACHE"])
        cache.mkdir(parents=True, exist_ok=True)
        (cache / f"{name}-index.yaml").write_text(yaml.safe_dump({"url": url, "entries": self.sources.index(url)}))
        return out + f'...Successfully got an update from the "{name}" chart repository\nUpdate Complete.\n'

    # --- rendering --------------------------------------------------------------------------------------------

    def _render(self, name: str, namespace: str, values: Mapping[str, Any], chart: _Chart) -> _Rendered:
        script = self._take("render", name, namespace)
        try:
            if script is not None:
                raise RenderFailed(script.message)
            return _split(self.renderer(name, namespace, values), chart)
        except RenderFailed as failure:
            where = f"{chart.name}/templates/fake.yaml"
            message = f'template: {where}:1:3: executing "{where}" at <fail>: error calling fail: {failure}'
            raise _RenderError(message) from None

    def _template(self, args: _Args, values: dict[str, Any]) -> str:
        name, source = _positionals(args, 2)
        _check_release_name(name)
        chart = _chart(source, args.one("--version"))
        try:
            rendered = self._render(name, args.one("--namespace", "default"), values, chart)
        except _RenderError as error:
            raise _Failed(str(error)) from None
        hooks = [] if args.has("--no-hooks") else rendered.hooks
        if args.has("--skip-tests"):
            hooks = [hook for hook in hooks if not any(event.startswith("test") for event in hook["events"])]
        return rendered.manifest + "".join(f"---\n# Source: {h['path']}\n{h['manifest']}\n" for h in hooks)

    # --- upgrade --install ------------------------------------------------------------------------------------

    def _upgrade_request(self, args: _Args, values: dict[str, Any]) -> _Upgrade:
        name, source = _positionals(args, 2)
        _check_release_name(name)
        dry_run, output = args.one("--dry-run", "false"), args.one("--output", "table")
        if dry_run not in ("false", "server") or output not in ("json", "table"):
            raise _Failed(f"fake helm does not know --dry-run={dry_run} --output={output} (it knows server, json)")
        try:
            history_max = int(args.one("--history-max", "10"))
        except ValueError:
            raise _Failed(f'invalid argument "{args.one("--history-max")}" for "--history-max" flag') from None
        return _Upgrade(
            name=name,
            namespace=args.one("--namespace", "default"),
            chart=_chart(source, args.one("--version")),
            values=values,
            labels=_labels(args.one("--labels")),
            history_max=history_max,
            install=args.has("--install"),
            dry_run=dry_run == "server",
            atomic=args.has("--atomic") or args.has("--rollback-on-failure"),
            reset_values=args.has("--reset-values"),
            json_output=output == "json",
        )

    def _upgrade(self, request: _Upgrade) -> str:
        history = _History(self.server, request.namespace, request.name)
        releases = history.load()
        if not releases or _status(releases[-1]) == "uninstalled":
            if not request.install:
                raise _Failed(f'UPGRADE FAILED: "{request.name}" has no deployed releases')
            return self._print(self._install(history, releases, request), request, installed=True)
        return self._print(self._upgrade_existing(history, releases, request), request, installed=False)

    def _print(self, release: Release, request: _Upgrade, installed: bool) -> str:
        if request.json_output:
            return json.dumps(_payload(release))
        if installed:
            headline = f'Release "{request.name}" does not exist. Installing it now.'
        else:
            headline = f'Release "{request.name}" has been upgraded. Happy Helming!'
        return (
            f"{headline}\nNAME: {request.name}\nLAST DEPLOYED: {release['info']['last_deployed']}\n"
            f"NAMESPACE: {request.namespace}\nSTATUS: {_status(release)}\nREVISION: {release['version']}\n"
        )

    def _new_release(
        self, request: _Upgrade, rendered: _Rendered, values: Mapping[str, Any], version: int, first_deployed: str
    ) -> Release:
        now = self._now()
        return {
            "name": request.name,
            "namespace": request.namespace,
            "version": version,
            "info": {
                "first_deployed": first_deployed or now,
                "last_deployed": now,
                "deleted": "",
                "description": "",
                "status": "unknown",
                "notes": "",
            },
            "chart": {
                "metadata": {"apiVersion": "v2", "name": request.chart.name, "version": request.chart.version},
                "templates": [],
                "values": {},
            },
            "config": copy.deepcopy(dict(values)),
            "manifest": rendered.manifest,
            "hooks": rendered.hooks,
            "labels": dict(request.labels),
        }

    def _install(self, history: _History, releases: list[Release], request: _Upgrade) -> Release:
        """A first install, or a re-install over an ``uninstalled`` release (whose revision count goes on)."""
        try:
            rendered = self._render(request.name, request.namespace, request.values, request.chart)
        except _RenderError as error:
            raise _Failed(str(error)) from None  # upgrade --install does not prefix its install's errors
        release = self._new_release(request, rendered, request.values, 1, "")
        if request.dry_run:
            _set_status(release, "pending-install", "Dry run complete")
            return release
        if releases:
            release["version"] = int(releases[-1]["version"]) + 1
            _set_status(releases[-1], "superseded", "superseded by new release")
            history.update(releases[-1])
        _set_status(release, "pending-install", "Initial install underway")
        self._create(history, releases, release, request.history_max)
        return self._complete_install(history, release, request)

    def _complete_install(self, history: _History, release: Release, request: _Upgrade) -> Release:
        if self._take("pending", request.name, request.namespace):
            raise _Killed
        failure = self._take("apply", request.name, request.namespace)
        if failure is None:
            _set_status(release, "deployed", "Install complete")
            history.update(release)
            return release
        _set_status(release, "failed", f'Release "{request.name}" failed: {failure.message}')
        if not request.atomic:
            history.update(release)
            raise _Failed(failure.message)
        for record in history.load():
            history.delete(record)
        raise _Failed(
            f"release {request.name} failed, and has been uninstalled due to {self._atomic_flag} being set: "
            f"{failure.message}"
        )

    def _upgrade_existing(self, history: _History, releases: list[Release], request: _Upgrade) -> Release:
        latest = releases[-1]
        if _status(latest) in PENDING:
            raise _Failed("UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress")
        current = self._current(releases, request.name)
        values = request.values
        if not values and not request.reset_values and current.get("config"):
            values = current["config"]  # helm's reuseValues: no new values means the current release's values
        try:
            rendered = self._render(request.name, request.namespace, values, request.chart)
        except _RenderError as error:
            raise _Failed(f"UPGRADE FAILED: {error}") from None
        first = str(current["info"].get("first_deployed") or "")
        release = self._new_release(request, rendered, values, int(latest["version"]) + 1, first)
        release["labels"] = _merge_labels(latest.get("labels") or {}, request.labels)
        if request.dry_run:
            _set_status(release, "pending-upgrade", "Dry run complete")
            return release
        _set_status(release, "pending-upgrade", "Preparing upgrade")
        self._create(history, releases, release, request.history_max)
        return self._complete_upgrade(history, current, release, request)

    def _current(self, releases: list[Release], name: str) -> Release:
        """What helm upgrades from: the last deployed revision, else a failed or superseded latest one."""
        deployed = [release for release in releases if _status(release) == "deployed"]
        if deployed:
            return deployed[-1]
        if _status(releases[-1]) in ("failed", "superseded"):
            return releases[-1]
        raise _Failed(f'UPGRADE FAILED: "{name}" has no deployed releases')

    def _complete_upgrade(self, history: _History, current: Release, release: Release, request: _Upgrade) -> Release:
        if self._take("pending", request.name, request.namespace):
            raise _Killed
        failure = self._take("apply", request.name, request.namespace)
        if failure is not None:
            _set_status(release, "failed", f'Upgrade "{request.name}" failed: {failure.message}')
            history.update(release)
            if request.atomic:
                self._roll_back(history, request, failure.message)
            raise _Failed(f"UPGRADE FAILED: {failure.message}")
        _set_status(current, "superseded")
        history.update(current)
        _set_status(release, "deployed", "Upgrade complete")
        history.update(release)
        return release

    def _roll_back(self, history: _History, request: _Upgrade, message: str) -> None:
        """``--atomic``/``--rollback-on-failure``: a new revision with the last successful one's content."""
        releases = history.load()
        successful = [release for release in releases if _status(release) in SUCCESSFUL]
        if not successful:
            raise _Failed(
                "UPGRADE FAILED: unable to find a previously successful release when attempting to rollback. "
                f"original upgrade error: {message}"
            )
        target = successful[-1]
        rollback = copy.deepcopy(target)
        rollback["version"] = int(releases[-1]["version"]) + 1
        rollback["info"] |= {"last_deployed": self._now(), "status": "pending-rollback"}
        rollback["info"]["description"] = f"Rollback to {target['version']}"
        self._create(history, releases, rollback, request.history_max)
        for release in releases:
            if _status(release) == "deployed":
                _set_status(release, "superseded")
                history.update(release)
        _set_status(rollback, "deployed")
        history.update(rollback)
        raise _Failed(
            f"UPGRADE FAILED: release {request.name} failed, and has been rolled back due to {self._atomic_flag} "
            f"being set: {message}"
        )

    def _create(self, history: _History, releases: list[Release], release: Release, history_max: int) -> None:
        """Helm's storage.Create: first make room for one more record, then create it."""
        self._prune(history, releases, history_max)
        history.create(release)

    def _prune(self, history: _History, releases: list[Release], history_max: int) -> None:
        """Oldest first, down to ``history_max - 1`` records, never the last deployed one (0: no limit)."""
        if history_max <= 0:
            return
        deployed = [release["version"] for release in releases if _status(release) == "deployed"]
        keep = deployed[-1] if deployed else None
        excess = len(releases) - (history_max - 1)
        for release in releases:
            if excess <= 0:
                return
            if release["version"] != keep:
                history.delete(release)
                excess -= 1

    # --- uninstall --------------------------------------------------------------------------------------------

    def _uninstall(self, args: _Args) -> str:
        if not args.positionals:
            raise _Failed('"helm uninstall" requires at least 1 argument')
        namespace = args.one("--namespace", "default")
        return "".join(self._uninstall_one(name, namespace, args.has("--keep-history")) for name in args.positionals)

    def _uninstall_one(self, name: str, namespace: str, keep_history: bool) -> str:
        history = _History(self.server, namespace, name)
        releases = history.load()
        if not releases:
            raise _Failed(f"uninstall: Release not loaded: {name}: release: not found")
        failure = self._take("uninstall", name, namespace)
        if failure is not None:
            raise _Failed(failure.message)
        if keep_history and _status(releases[-1]) == "uninstalled":
            raise _Failed(f'the release named "{name}" is already deleted')
        if keep_history:
            _set_status(releases[-1], "uninstalled", "Uninstallation complete")
            history.update(releases[-1])
        else:
            for release in releases:
                history.delete(release)
        return f'release "{name}" uninstalled\n'
