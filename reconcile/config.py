"""The config file, validated once into frozen objects before any cluster call.

Two shapes are accepted. A top-level list is an operator-sdk ``watches.yaml`` taken as it is, so a team can point
helmcr at the file its Helm operator already uses; fields that only make sense for a long-running controller are
accepted with a warning. A mapping holds ``watches:`` plus global options. Every problem is reported as one
sentence naming the file, the field and what is wrong.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconcile.errors import ConfigError
from reconcile.model import FailurePolicy, HelmOptions

RELEASE_NAME_FIELDS = ("name", "namespace", "kind")
PLACEHOLDERS = ", ".join("{" + field + "}" for field in RELEASE_NAME_FIELDS)
CONTROLLER_ONLY_FIELDS = frozenset(
    {
        "reconcilePeriod",
        "watchDependentResources",
        "maxConcurrentReconciles",
        "finalizer",
        "blacklist",
        "dryRunOption",
        "maxWorkers",
    }
)
ENTRY_FIELDS = frozenset(
    {
        "group",
        "version",
        "kind",
        "plural",
        "chart",
        "repo",
        "chartVersion",
        "namespaces",
        "selector",
        "releaseName",
        "overrideValues",
        "timeout",
        "historyMax",
        "wait",
        "disableHooks",
        "targetNamespace",
        "adopt",
        "rollbackOnFailure",
        "stuckAfter",
        "retryBackoff",
        "maxRetryBackoff",
    }
)
GLOBAL_FIELDS = frozenset(
    {"watches", "concurrency", "helmBinary", "kubeconfig", "context", "pageSize", "maxUninstalls", "lease"}
)
LEASE_FIELDS = frozenset({"name", "namespace", "durationSeconds"})
DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d+)?s)?$")
ENV_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Selector:
    """A label selector, kept as Kubernetes' string form and as rules to test a CR's labels client-side."""

    match_labels: Mapping[str, str] = field(default_factory=dict)
    expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(key) != value for key, value in self.match_labels.items()):
            return False
        return all(_expression_matches(labels, key, op, values) for key, op, values in self.expressions)

    def __str__(self) -> str:
        parts = [f"{key}={value}" for key, value in sorted(self.match_labels.items())]
        for key, op, values in self.expressions:
            parts.append(_expression_text(key, op, values))
        return ",".join(parts)


@dataclass(frozen=True)
class UninstallBudget:
    """How many uninstalls one run may do: a count, or a percentage of the releases helmcr owns."""

    count: int = 20
    percent: float = 0.0

    def allows(self, uninstalls: int, owned: int) -> bool:
        limit = self.count if not self.percent else int(owned * self.percent / 100)
        return uninstalls <= limit

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent else str(self.count)


@dataclass(frozen=True)
class LeaseConfig:
    name: str = ""  # default: derived from the watched kinds
    namespace: str = ""  # default: the pod's namespace, else the kubeconfig context's, else default
    duration_seconds: int = 60


@dataclass(frozen=True)
class Watch:
    """One kind mapped to one chart, with everything that decides how its CRs become releases."""

    group: str
    version: str
    kind: str
    chart: str
    plural: str = ""
    repo: str = ""
    chart_version: str = ""
    namespaces: tuple[str, ...] = ()
    selector: Selector = field(default_factory=Selector)
    release_name: str = "{name}"
    override_values: Mapping[str, Any] = field(default_factory=dict)
    helm: HelmOptions = field(default_factory=HelmOptions)
    target_namespace: str = ""
    adopt: bool = False
    policy: FailurePolicy = field(default_factory=FailurePolicy)

    @property
    def resource_plural(self) -> str:
        return self.plural or guess_plural(self.kind)

    def __str__(self) -> str:
        return f"{self.kind}.{self.group}/{self.version}"


@dataclass(frozen=True)
class Config:
    path: Path
    watches: tuple[Watch, ...]
    concurrency: int = 4
    helm_binary: str = ""
    kubeconfig: str = ""
    context: str = ""
    page_size: int = 1000
    max_uninstalls: UninstallBudget = field(default_factory=UninstallBudget)
    lease: LeaseConfig = field(default_factory=LeaseConfig)
    warnings: tuple[str, ...] = ()


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the file; every problem becomes a ConfigError naming the file and the field."""
    environ = os.environ if environ is None else environ
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file: {error.strerror or error}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(error)}") from None
    return _Parser(path, environ).parse(document)


def duration_seconds(text: str) -> float:
    """Seconds in a Go-style duration ("1h2m3s", "90s", "5m"); the config parser has already validated it."""
    match = DURATION.fullmatch(text)
    if not match or not text:
        raise ValueError(f"not a duration: {text!r}")
    hours, minutes, seconds = (match.group(i) for i in (1, 2, 3))
    return (
        (float(hours[:-1]) * 3600 if hours else 0)
        + (float(minutes[:-1]) * 60 if minutes else 0)
        + (float(seconds[:-1]) if seconds else 0)
    )


def parse_budget(value: Any, fail: Callable[[str], ConfigError]) -> UninstallBudget:
    """``20`` or ``"10%"``; used for the config's maxUninstalls and for --max-uninstalls."""
    text = str(value).strip()
    try:
        if text.endswith("%"):
            percent = float(text[:-1])
            if not 0 <= percent <= 100:
                raise ValueError
            return UninstallBudget(percent=percent)
        count = int(text)
        if count < 0:
            raise ValueError
        return UninstallBudget(count=count)
    except ValueError:
        raise fail(f"expected a count such as 20 or a percentage such as 10%, got {value!r}") from None


def guess_plural(kind: str) -> str:
    """The plural Kubernetes tooling derives from a kind; an irregular one is set with ``plural:``."""
    lower = kind.lower()
    if re.search(r"(s|x|z|ch|sh)$", lower):
        return lower + "es"
    if re.search(r"[^aeiou]y$", lower):
        return lower[:-1] + "ies"
    return lower + "s"


class _Parser:
    """Walks the document once, carrying the file path so every message can name it."""

    def __init__(self, path: Path, environ: Mapping[str, str]) -> None:
        self.path = path
        self.environ = environ
        self.warnings: list[str] = []

    def fail(self, where: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {where}: {problem}")

    def parse(self, document: Any) -> Config:
        if isinstance(document, list):
            return Config(path=self.path, watches=self._watches(document, "watches"), warnings=self._warned())
        if not isinstance(document, dict):
            raise self.fail("top level", "expected a list of watches (watches.yaml) or a mapping with 'watches:'")
        self._check_fields(document, GLOBAL_FIELDS, "top level")
        if "watches" not in document:
            raise self.fail("top level", "missing required field 'watches'")
        return Config(
            path=self.path,
            watches=self._watches(document["watches"], "watches"),
            concurrency=self._int(document, "concurrency", "top level", 4, minimum=1),
            helm_binary=self._str(document, "helmBinary", "top level"),
            kubeconfig=self._str(document, "kubeconfig", "top level"),
            context=self._str(document, "context", "top level"),
            page_size=self._int(document, "pageSize", "top level", 1000, minimum=1),
            max_uninstalls=parse_budget(document.get("maxUninstalls", 20), lambda p: self.fail("maxUninstalls", p)),
            lease=self._lease(document.get("lease") or {}),
            warnings=self._warned(),
        )

    def _warned(self) -> tuple[str, ...]:
        return tuple(self.warnings)

    def _watches(self, entries: Any, where: str) -> tuple[Watch, ...]:
        if not isinstance(entries, list) or not entries:
            raise self.fail(where, "expected a non-empty list of watch entries")
        watches = tuple(self._watch(entry, f"{where}[{index}]") for index, entry in enumerate(entries))
        seen: dict[tuple[str, str], str] = {}
        for index, watch in enumerate(watches):
            identity = (watch.group, watch.kind)
            if identity in seen:
                raise self.fail(
                    f"{where}[{index}]", f"kind {watch.kind}.{watch.group} is already watched by {seen[identity]}"
                )
            seen[identity] = f"{where}[{index}]"
        return watches

    def _watch(self, entry: Any, where: str) -> Watch:
        if not isinstance(entry, dict):
            raise self.fail(where, "expected a mapping with group, version, kind and chart")
        ignored = sorted(CONTROLLER_ONLY_FIELDS & entry.keys())
        if ignored:
            self.warnings.append(
                f"{self.path}: {where}: ignored {', '.join(ignored)} (a one-shot run has no watch loop; "
                "the CronJob schedule sets how often it runs)"
            )
        self._check_fields(entry, ENTRY_FIELDS | CONTROLLER_ONLY_FIELDS, where)
        kind = self._required(entry, "kind", where)
        if not re.fullmatch(r"[A-Z][A-Za-z0-9]{0,62}", kind):
            raise self.fail(f"{where}.kind", f"{kind!r} is not a Kubernetes kind (CamelCase, starting upper-case)")
        target_namespace = self._str(entry, "targetNamespace", where)
        helm = HelmOptions(
            timeout=self._duration(entry, where, "timeout", "5m0s"),
            wait=self._bool(entry, "wait", where, False),
            history_max=self._int(entry, "historyMax", where, 10, minimum=0),
            disable_hooks=self._bool(entry, "disableHooks", where, False),
            rollback_on_failure=self._bool(entry, "rollbackOnFailure", where, False),
        )
        return Watch(
            group=self._dns_name(self._required(entry, "group", where), f"{where}.group"),
            version=self._required(entry, "version", where),
            kind=kind,
            plural=self._str(entry, "plural", where),
            chart=self._required(entry, "chart", where),
            repo=self._str(entry, "repo", where),
            chart_version=self._str(entry, "chartVersion", where),
            namespaces=self._namespaces(entry, where),
            selector=self._selector(entry.get("selector"), f"{where}.selector"),
            release_name=self._release_name(entry, where),
            override_values=self._expand(entry.get("overrideValues") or {}, f"{where}.overrideValues"),
            helm=helm,
            target_namespace=self._dns_name(target_namespace, f"{where}.targetNamespace") if target_namespace else "",
            adopt=self._bool(entry, "adopt", where, False),
            policy=self._policy(entry, where, helm),
        )

    def _policy(self, entry: Mapping[str, Any], where: str, helm: HelmOptions) -> FailurePolicy:
        stuck_after = duration_seconds(self._duration(entry, where, "stuckAfter", "15m"))
        if stuck_after <= duration_seconds(helm.timeout):
            raise self.fail(
                f"{where}.stuckAfter",
                f"must be longer than timeout ({helm.timeout}), or a release still being installed would be "
                "taken for a stuck one",
            )
        return FailurePolicy(
            stuck_after_seconds=stuck_after,
            backoff_seconds=duration_seconds(self._duration(entry, where, "retryBackoff", "1m")),
            max_backoff_seconds=duration_seconds(self._duration(entry, where, "maxRetryBackoff", "1h")),
        )

    def _lease(self, value: Any) -> LeaseConfig:
        if not isinstance(value, dict):
            raise self.fail("lease", "expected a mapping with name, namespace and durationSeconds")
        self._check_fields(value, LEASE_FIELDS, "lease")
        name, namespace = self._str(value, "name", "lease"), self._str(value, "namespace", "lease")
        return LeaseConfig(
            name=self._dns_name(name, "lease.name") if name else "",
            namespace=self._dns_name(namespace, "lease.namespace") if namespace else "",
            duration_seconds=self._int(value, "durationSeconds", "lease", 60, minimum=10),
        )

    def _check_fields(self, mapping: Mapping[str, Any], known: frozenset[str], where: str) -> None:
        for name in mapping:
            if name not in known:
                hint = difflib.get_close_matches(str(name), sorted(known), n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else f"; known fields: {', '.join(sorted(known))}"
                raise self.fail(where, f"unknown field {name!r}{suggestion}")

    def _required(self, mapping: Mapping[str, Any], name: str, where: str) -> str:
        if mapping.get(name) in (None, ""):
            raise self.fail(where, f"missing required field {name!r}")
        return self._str(mapping, name, where)

    def _str(self, mapping: Mapping[str, Any], name: str, where: str) -> str:
        value = mapping.get(name, "")
        if value is None:
            return ""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise self.fail(f"{where}.{name}", f"expected a string, got {_type_name(value)}")
        return str(value)

    def _int(self, mapping: Mapping[str, Any], name: str, where: str, default: int, minimum: int) -> int:
        value = mapping.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise self.fail(f"{where}.{name}", f"expected a whole number ≥ {minimum}, got {value!r}")
        return value

    def _bool(self, mapping: Mapping[str, Any], name: str, where: str, default: bool) -> bool:
        value = mapping.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(f"{where}.{name}", f"expected true or false, got {value!r}")
        return value

    def _dns_name(self, value: str, where: str) -> str:
        if (
            not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", value)
            or len(value) > 253
        ):
            raise self.fail(where, f"{value!r} is not a valid DNS name (lower-case letters, digits, '-' and '.')")
        return value

    def _namespaces(self, entry: Mapping[str, Any], where: str) -> tuple[str, ...]:
        value = entry.get("namespaces") or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(f"{where}.namespaces", f"expected a list of namespace names, got {_type_name(value)}")
        return tuple(sorted({self._dns_name(str(item), f"{where}.namespaces") for item in value}))

    def _release_name(self, entry: Mapping[str, Any], where: str) -> str:
        template = self._str(entry, "releaseName", where) or "{name}"
        fields = set(re.findall(r"\{([^{}]*)\}", template))
        unknown = fields - set(RELEASE_NAME_FIELDS)
        if unknown:
            raise self.fail(
                f"{where}.releaseName",
                f"unknown placeholder {{{sorted(unknown)[0]}}}; use {PLACEHOLDERS}",
            )
        return template

    def _duration(self, entry: Mapping[str, Any], where: str, name: str, default: str) -> str:
        value = entry.get(name, default)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return f"{value}s"
        if not isinstance(value, str) or not value or not DURATION.fullmatch(value):
            raise self.fail(f"{where}.{name}", f"expected a duration such as 300s or 5m, got {value!r}")
        return value

    def _selector(self, value: Any, where: str) -> Selector:
        if value in (None, "", {}):
            return Selector()
        if isinstance(value, str):
            return self._selector({"matchLabels": _parse_equality_selector(value, self.fail, where)}, where)
        if not isinstance(value, dict):
            raise self.fail(
                where, f"expected a label selector (matchLabels / matchExpressions), got {_type_name(value)}"
            )
        self._check_fields(value, frozenset({"matchLabels", "matchExpressions"}), where)
        labels = value.get("matchLabels") or {}
        if not isinstance(labels, dict):
            raise self.fail(f"{where}.matchLabels", "expected a mapping of label names to values")
        return Selector(
            match_labels={str(k): str(v) for k, v in labels.items()},
            expressions=tuple(
                self._expression(e, f"{where}.matchExpressions[{i}]")
                for i, e in enumerate(value.get("matchExpressions") or [])
            ),
        )

    def _expression(self, value: Any, where: str) -> tuple[str, str, tuple[str, ...]]:
        if not isinstance(value, dict) or "key" not in value or "operator" not in value:
            raise self.fail(where, "expected a mapping with key, operator and values")
        operator = value["operator"]
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise self.fail(f"{where}.operator", f"{operator!r} is not one of In, NotIn, Exists, DoesNotExist")
        values = tuple(str(v) for v in value.get("values") or [])
        if operator in ("In", "NotIn") and not values:
            raise self.fail(f"{where}.values", f"operator {operator} needs at least one value")
        return str(value["key"]), operator, values

    def _expand(self, value: Any, where: str) -> Any:
        """Expand $VAR and ${VAR} in strings like operator-sdk does, but refuse unset variables instead of ''."""
        if isinstance(value, dict):
            return {str(k): self._expand(v, f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self._expand(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, str):
            return ENV_REFERENCE.sub(lambda match: self._env(match, where), value)
        return value

    def _env(self, match: re.Match[str], where: str) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(2)
        if name not in self.environ:
            raise self.fail(where, f"environment variable {name} is not set (write $$ for a literal $)")
        return self.environ[name]


def _expression_matches(labels: Mapping[str, str], key: str, operator: str, values: tuple[str, ...]) -> bool:
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    if operator == "In":
        return labels.get(key) in values
    return labels.get(key) not in values


def _expression_text(key: str, operator: str, values: tuple[str, ...]) -> str:
    if operator == "Exists":
        return key
    if operator == "DoesNotExist":
        return f"!{key}"
    return f"{key} {'in' if operator == 'In' else 'notin'} ({','.join(values)})"


def _parse_equality_selector(text: str, fail: Any, where: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or value.startswith("="):
            raise fail(where, f"{part!r}: only key=value terms are accepted in a string selector")
        labels[key.strip()] = value.strip()
    return labels


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", bool: "a boolean", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else str(problem)
