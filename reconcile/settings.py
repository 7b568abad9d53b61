"""What a run is told to do, as frozen values: the config file's and the command line's, already validated.

Every stage takes these and nothing else; the YAML parser (:mod:`reconcile.config`) is the only producer of a
``Config``, and the command line (:mod:`reconcile.runner`) the only producer of ``RunOptions``. Durations are
seconds here: they were parsed once, at the boundary.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconcile.clock import format_duration
from reconcile.model import Step
from reconcile.shards import Shard

Expression = tuple[str, str, tuple[str, ...]]
"""One matchExpressions term: key, operator (In, NotIn, Exists, DoesNotExist), values."""


@dataclass(frozen=True)
class HelmOptions:
    """Per-kind settings that change how helm runs; the rendering ones are part of the digest."""

    timeout_seconds: float = 300.0
    wait: bool = False
    history_max: int = 10
    disable_hooks: bool = False
    rollback_on_failure: bool = False
    service_account: str = ""  # helm impersonates this ServiceAccount of the release's namespace; "": helmcr's own
    # Helm 4's server-side apply: the release's fields win over a manual change (as Helm 3's three-way merge does),
    # instead of failing the upgrade on a field another manager took (``conflicts: fail``)
    force_conflicts: bool = True

    @property
    def timeout(self) -> str:
        """As helm's ``--timeout`` takes it."""
        return format_duration(self.timeout_seconds)


@dataclass(frozen=True)
class FailurePolicy:
    """When a pending release counts as stuck, how long a failed attempt waits before the next one, and how many
    upgrades a day mean something keeps undoing them (0: no limit)."""

    stuck_after_seconds: float = 900.0
    backoff_seconds: float = 60.0
    max_backoff_seconds: float = 3600.0
    # the churn guard: more upgrades than this in 24 hours, or more to the very same digest, is a loop
    max_upgrades_per_day: int = 48
    max_repeats_per_day: int = 5

    def backoff(self, failures: int) -> float:
        """Exponential: the base after the 1st failure, twice it after the 2nd, four times after the 3rd; capped."""
        return float(min(self.max_backoff_seconds, self.backoff_seconds * 2 ** max(0, failures - 1)))


@dataclass(frozen=True)
class Selector:
    """A label selector, kept as rules to test a CR's labels client-side and printable in Kubernetes' form."""

    match_labels: Mapping[str, str] = field(default_factory=dict)
    expressions: tuple[Expression, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(key) != value for key, value in self.match_labels.items()):
            return False
        return all(_expression_matches(labels, term) for term in self.expressions)

    def __str__(self) -> str:
        parts = [f"{key}={value}" for key, value in sorted(self.match_labels.items())]
        return ",".join(parts + [_expression_text(term) for term in self.expressions])


@dataclass(frozen=True)
class Portion:
    """A count, or a percentage of a whole: how many uninstalls one run may do (of the releases helmcr owns), how
    big a rollout's canary and waves are, how many failures a rollout tolerates. A percentage is one whenever it is
    set, 0% included (none of the whole), never the count."""

    count: int = 20
    percent: float | None = None

    def of(self, whole: int) -> int:
        return self.count if self.percent is None else int(whole * self.percent / 100)

    def allows(self, uninstalls: int, owned: int) -> bool:
        return uninstalls <= self.of(owned)

    @property
    def given(self) -> bool:
        return bool(self.count if self.percent is None else self.percent)

    def __str__(self) -> str:
        return str(self.count) if self.percent is None else f"{self.percent:g}%"


@dataclass(frozen=True)
class ObjectRules:
    """What a kind's releases may hold, checked on the rendered objects before helm applies them (docs/tenancy.md).

    The secure default: any namespaced kind, in the release's namespace only, nothing cluster-scoped."""

    kinds: tuple[str, ...] = ()  # "Kind" (any group) or "Kind.group"; empty: every kind
    cluster_scoped: bool = False
    other_namespaces: bool = False

    @property
    def unbounded(self) -> bool:
        """Everything allowed: nothing to check, so no render before the real operation."""
        return not self.kinds and self.cluster_scoped and self.other_namespaces

    def allows_kind(self, group: str, kind: str) -> bool:
        return not self.kinds or kind in self.kinds or f"{kind}.{group}" in self.kinds


class DriftMode(enum.StrEnum):
    OFF = "off"
    DETECT = "detect"  # reported (plan, status, event); nothing changed
    CORRECT = "correct"  # reported, and the release upgraded to what it already is


@dataclass(frozen=True)
class IgnoreRule:
    """Fields of the live objects that are nobody's drift: JSON pointers, optionally for one kind or name."""

    paths: tuple[str, ...]
    kind: str = ""
    name: str = ""

    def matches(self, kind: str, name: str, pointer: str) -> bool:
        if (self.kind and self.kind != kind) or (self.name and self.name != name):
            return False
        return any(pointer == path or pointer.startswith(path.rstrip("/") + "/") for path in self.paths)


# The HorizontalPodAutoscaler (and every other built-in controller) writes as kube-controller-manager: a field it
# took is the autoscaler's, not drift.
DEFAULT_IGNORED_MANAGERS = ("kube-controller-manager",)


@dataclass(frozen=True)
class LiveChecks:
    """What a run reads of the objects a release applied: their drift from it, and whether its workloads are up."""

    drift: DriftMode = DriftMode.OFF
    ignore: tuple[IgnoreRule, ...] = ()
    ignore_managers: tuple[str, ...] = DEFAULT_IGNORED_MANAGERS
    health: bool = False

    @property
    def active(self) -> bool:
        return self.drift is not DriftMode.OFF or self.health

    def ignored(self, kind: str, name: str, pointer: str) -> bool:
        return any(rule.matches(kind, name, pointer) for rule in self.ignore)


@dataclass(frozen=True)
class Rollout:
    """How a change to every release of a kind at once (its chart, or overrideValues) goes out: a canary, then waves,
    one per run, each after the releases before it are healthy, halted past a failure budget (reconcile.rollout).

    Off unless ``wave`` is given: then every release of the kind upgrades in the run that sees the change."""

    canary: Portion = Portion(count=0)
    canary_selector: Selector | None = None  # these CRs first (their count is the canary when canary is not given)
    wave: Portion = Portion(count=0)
    failure_budget: Portion = Portion(count=0)
    health_timeout_seconds: float = 600.0  # a release not ready this long after its upgrade counts as failed
    paused: bool = False  # no release starts the new chart (releases whose own CR changed still go)
    resume: str = ""  # a chart digest (or its first characters) whose failures no longer halt its rollout

    @property
    def active(self) -> bool:
        return self.wave.given or self.paused


@dataclass(frozen=True)
class LeaseConfig:
    name: str = ""  # default: derived from the watched kinds
    namespace: str = ""  # default: "default", wherever helmcr runs (one lease per config)
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
    allow_template_values: bool = False  # a CR's "{{" may reach a chart's tpl: only for CR authors you trust
    objects: ObjectRules = field(default_factory=ObjectRules)
    live: LiveChecks = field(default_factory=LiveChecks)
    owner_references: bool = False  # the release's objects are collected with their CR (adapters.ownership)
    rollout: Rollout = field(default_factory=Rollout)
    operator_sdk: bool = False  # operator-sdk's status kept beside helmcr's (docs/migrating-from-operator-sdk.md)

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
    max_uninstalls: Portion = field(default_factory=Portion)
    lease: LeaseConfig = field(default_factory=LeaseConfig)
    namespace_budget: int = 0  # most changes one run makes in one release namespace; 0: no limit
    warnings: tuple[str, ...] = ()
    digest_key: bytes = field(default=b"", repr=False)  # $HELMCR_DIGEST_KEY, else digestKeyFile's content


@dataclass(frozen=True)
class Scope:
    """What this invocation narrows, on top of the config file."""

    namespaces: tuple[str, ...] = ()
    selector: Selector = field(default_factory=Selector)
    shard: Shard = field(default_factory=Shard)

    def default_namespace(self) -> str:
        """Where a CR file without a namespace goes, as ``kubectl apply -n`` would put it."""
        return self.namespaces[0] if len(self.namespaces) == 1 else "default"


@dataclass(frozen=True)
class RunOptions:
    """What this invocation asks for, on top of the config file; the config's defaults already applied."""

    scope: Scope = field(default_factory=Scope)
    concurrency: int = 4
    max_uninstalls: Portion = field(default_factory=Portion)
    force_uninstalls: bool = False
    lease_wait_seconds: float = 0.0
    namespace_budget: int = 0
    resume_rollouts: bool = False  # --resume-rollout: a halted rollout goes on with its next wave, this run
    approve: Callable[[Step], str] | None = None  # a saved plan's check: "" lets a changing step go ahead


def guess_plural(kind: str) -> str:
    """The plural Kubernetes tooling derives from a kind; an irregular one is set with ``plural:``."""
    lower = kind.lower()
    if re.search(r"(s|x|z|ch|sh)$", lower):
        return lower + "es"
    if re.search(r"[^aeiou]y$", lower):
        return lower[:-1] + "ies"
    return lower + "s"


def _expression_matches(labels: Mapping[str, str], term: Expression) -> bool:
    key, operator, values = term
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    if operator == "In":
        return labels.get(key) in values
    return labels.get(key) not in values


def _expression_text(term: Expression) -> str:
    key, operator, values = term
    if operator == "Exists":
        return key
    if operator == "DoesNotExist":
        return f"!{key}"
    return f"{key} {'in' if operator == 'In' else 'notin'} ({','.join(values)})"
