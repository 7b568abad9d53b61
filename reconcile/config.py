"""The config file, validated once into the frozen values of :mod:`reconcile.settings` before any cluster call.

Two shapes are accepted. A top-level list is an operator-sdk ``watches.yaml`` taken as it is, so a team can point
helmcr at the file its Helm operator already uses; fields that only make sense for a long-running controller are
accepted with a warning. A mapping holds ``watches:`` plus global options. Every problem is reported as one
sentence naming the file, the field and what is wrong (see :mod:`reconcile.config_fields`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from reconcile.config_entry import override_values, release_name, service_account
from reconcile.config_fields import Fields, parse_portion
from reconcile.config_live import live_checks
from reconcile.config_rollout import rollout
from reconcile.errors import ConfigError
from reconcile.limits import spec_problem
from reconcile.settings import (
    Config,
    FailurePolicy,
    HelmOptions,
    LeaseConfig,
    ObjectRules,
    Watch,
)

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
        "allowTemplateValues",
        "serviceAccountName",
        "allowedKinds",
        "allowClusterScoped",
        "allowOtherNamespaces",
        "drift",
        "health",
        "conflicts",
        "operatorSdkStatus",
        "ownerReferences",
        "rollout",
        "maxUpgradesPerDay",
        "maxRepeatsPerDay",
    }
)
CONFLICT_POLICIES = ("force", "fail")
GLOBAL_FIELDS = frozenset(
    {
        "watches",
        "concurrency",
        "helmBinary",
        "kubeconfig",
        "context",
        "pageSize",
        "maxUninstalls",
        "lease",
        "digestKeyFile",
        "namespaceBudget",
    }
)
LEASE_FIELDS = frozenset({"name", "namespace", "durationSeconds"})
KIND_NAME = re.compile(r"[A-Z][A-Za-z0-9]{0,62}")
DIGEST_KEY_VARIABLE = "HELMCR_DIGEST_KEY"
MIN_DIGEST_KEY = 16


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the file; every problem becomes a ConfigError naming the file and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not a text file (not UTF-8 at byte {error.start})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(error)}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config") from None
    if problem := spec_problem(document, "the config"):
        raise ConfigError(f"{path}: {problem}")
    environ = os.environ if environ is None else environ
    config = parse_config(document, Fields(path, environ))
    return replace(config, digest_key=_digest_key(document, path, environ))


def parse_config(document: Any, fields: Fields) -> Config:
    if isinstance(document, list):
        fields.watches_yaml = True
        return Config(path=fields.path, watches=_watches(document, fields), warnings=tuple(fields.warnings))
    if not isinstance(document, dict):
        raise fields.fail("top level", "expected a list of watches (watches.yaml) or a mapping with 'watches:'")
    fields.check_names(document, GLOBAL_FIELDS, "top level")
    if "watches" not in document:
        raise fields.fail("top level", "missing required field 'watches'")
    return Config(
        path=fields.path,
        watches=_watches(document["watches"], fields),
        concurrency=fields.whole(document, "concurrency", "top level", 4, minimum=1),
        helm_binary=fields.text(document, "helmBinary", "top level"),
        kubeconfig=fields.text(document, "kubeconfig", "top level"),
        context=fields.text(document, "context", "top level"),
        page_size=fields.whole(document, "pageSize", "top level", 1000, minimum=1),
        max_uninstalls=parse_portion(document.get("maxUninstalls", 20), lambda p: fields.fail("maxUninstalls", p)),
        lease=_lease(document.get("lease") or {}, fields),
        namespace_budget=fields.whole(document, "namespaceBudget", "top level", 0, minimum=0),
        warnings=tuple(fields.warnings),
    )


def _digest_key(document: Any, path: Path, environ: Mapping[str, str]) -> bytes:
    """$HELMCR_DIGEST_KEY, else the file the config names (a mounted Secret); none: digests are plain SHA-256."""
    where = document.get("digestKeyFile") if isinstance(document, dict) else None
    if environ.get(DIGEST_KEY_VARIABLE):
        key, source = environ[DIGEST_KEY_VARIABLE].strip().encode(), f"${DIGEST_KEY_VARIABLE}"
    elif where:
        key_file = (path.parent / str(where)).expanduser()
        source = f"{path}: digestKeyFile {key_file}"
        try:
            key = key_file.read_bytes().strip()
        except OSError as error:
            raise ConfigError(f"{source}: cannot read it: {error.strerror or error}") from None
    else:
        return b""
    if len(key) < MIN_DIGEST_KEY:
        raise ConfigError(f"{source}: holds {len(key)} bytes; a digest key needs at least {MIN_DIGEST_KEY}")
    return key


def _watches(entries: Any, fields: Fields) -> tuple[Watch, ...]:
    if not isinstance(entries, list) or not entries:
        raise fields.fail("watches", "expected a non-empty list of watch entries")
    watches = tuple(_watch(entry, f"watches[{index}]", fields) for index, entry in enumerate(entries))
    seen: dict[tuple[str, str], str] = {}
    for index, watch in enumerate(watches):
        identity = (watch.group, watch.kind)
        if identity in seen:
            raise fields.fail(
                f"watches[{index}]", f"kind {watch.kind}.{watch.group} is already watched by {seen[identity]}"
            )
        seen[identity] = f"watches[{index}]"
    return watches


def _watch(entry: Any, where: str, fields: Fields) -> Watch:
    if not isinstance(entry, dict):
        raise fields.fail(where, "expected a mapping with group, version, kind and chart")
    ignored = sorted(CONTROLLER_ONLY_FIELDS & entry.keys())
    if ignored:
        fields.warnings.append(
            f"{fields.path}: {where}: ignored {', '.join(ignored)} (a one-shot run has no watch loop; "
            "the CronJob schedule sets how often it runs)"
        )
    fields.check_names(entry, ENTRY_FIELDS | CONTROLLER_ONLY_FIELDS, where)
    kind = fields.required(entry, "kind", where)
    if not KIND_NAME.fullmatch(kind):
        raise fields.fail(f"{where}.kind", f"{kind!r} is not a Kubernetes kind (CamelCase, starting upper-case)")
    helm = HelmOptions(
        timeout_seconds=fields.seconds(entry, "timeout", where, "5m0s"),
        wait=fields.flag(entry, "wait", where, False),
        history_max=fields.whole(entry, "historyMax", where, 10, minimum=0),
        disable_hooks=fields.flag(entry, "disableHooks", where, False),
        rollback_on_failure=fields.flag(entry, "rollbackOnFailure", where, False),
        service_account=service_account(entry, where, fields),
        force_conflicts=fields.choice(entry, "conflicts", where, CONFLICT_POLICIES) == "force",
    )
    return Watch(
        group=fields.dns_name(fields.required(entry, "group", where), f"{where}.group"),
        version=fields.required(entry, "version", where),
        kind=kind,
        plural=fields.text(entry, "plural", where),
        chart=fields.source(entry, "chart", where),
        repo=fields.source(entry, "repo", where),
        chart_version=fields.text(entry, "chartVersion", where),
        namespaces=fields.namespaces(entry, where),
        selector=fields.selector(entry.get("selector"), f"{where}.selector"),
        release_name=release_name(entry, where, fields),
        override_values=override_values(entry, where, fields),
        helm=helm,
        target_namespace=fields.optional_dns_name(entry, "targetNamespace", where),
        adopt=fields.flag(entry, "adopt", where, False),
        policy=_policy(entry, where, helm, fields),
        allow_template_values=fields.flag(entry, "allowTemplateValues", where, False),
        objects=ObjectRules(
            kinds=fields.kinds(entry, "allowedKinds", where),
            cluster_scoped=fields.flag(entry, "allowClusterScoped", where, False),
            other_namespaces=fields.flag(entry, "allowOtherNamespaces", where, False),
        ),
        live=live_checks(entry, where, fields),
        operator_sdk=fields.flag(entry, "operatorSdkStatus", where, fields.watches_yaml),
        owner_references=fields.flag(entry, "ownerReferences", where, fields.watches_yaml),
        rollout=rollout(entry, where, fields),
    )


def _policy(entry: Mapping[str, Any], where: str, helm: HelmOptions, fields: Fields) -> FailurePolicy:
    stuck_after = fields.seconds(entry, "stuckAfter", where, "15m")
    if stuck_after <= helm.timeout_seconds:
        raise fields.fail(
            f"{where}.stuckAfter",
            f"must be longer than timeout ({entry.get('timeout', helm.timeout)}), or a release still being "
            "installed would be taken for a stuck one",
        )
    return FailurePolicy(
        stuck_after_seconds=stuck_after,
        backoff_seconds=fields.seconds(entry, "retryBackoff", where, "1m"),
        max_backoff_seconds=fields.seconds(entry, "maxRetryBackoff", where, "1h"),
        max_upgrades_per_day=fields.whole(entry, "maxUpgradesPerDay", where, FailurePolicy.max_upgrades_per_day, 0),
        max_repeats_per_day=fields.whole(entry, "maxRepeatsPerDay", where, FailurePolicy.max_repeats_per_day, 0),
    )


def _lease(value: Any, fields: Fields) -> LeaseConfig:
    if not isinstance(value, dict):
        raise fields.fail("lease", "expected a mapping with name, namespace and durationSeconds")
    fields.check_names(value, LEASE_FIELDS, "lease")
    return LeaseConfig(
        name=fields.optional_dns_name(value, "name", "lease"),
        namespace=fields.optional_dns_name(value, "namespace", "lease"),
        duration_seconds=fields.whole(value, "durationSeconds", "lease", 60, minimum=10),
    )


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else str(problem)
