"""The config's fields for reading live objects: ``drift`` (mode, ignore rules, trusted field managers) and ``health``.

```yaml
drift:
  mode: correct                 # off (the default; correct for a watches.yaml) | detect | correct
  ignoreManagers: [kube-controller-manager]   # the default: an autoscaler's replicas are not drift
  ignore:
  - paths: [/spec/replicas]     # JSON pointers into the object
    target: {kind: StatefulSet, name: cache-memcached}   # optional: every object when left out
health: true                    # false by default; true for a watches.yaml
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconcile.config_fields import Fields
from reconcile.settings import DriftMode, IgnoreRule, LiveChecks

DRIFT_FIELDS = frozenset({"mode", "ignore", "ignoreManagers"})
IGNORE_FIELDS = frozenset({"paths", "target"})
TARGET_FIELDS = frozenset({"kind", "name"})


def live_checks(entry: Mapping[str, Any], where: str, fields: Fields) -> LiveChecks:
    drift = fields.mapping(entry, "drift", where)
    if drift.get("mode") is False:  # YAML 1.1 reads a bare off as false
        drift = {**drift, "mode": "off"}
    fields.check_names(drift, DRIFT_FIELDS, f"{where}.drift")
    # operator-sdk puts its releases' objects back on every reconcile and reports their health: a watches.yaml, taken
    # as it is, gets the same
    by_default = DriftMode.CORRECT if fields.watches_yaml else DriftMode.OFF
    mode = fields.choice(drift, "mode", f"{where}.drift", tuple(DriftMode), by_default)
    rules = drift.get("ignore") or []
    if not isinstance(rules, list):
        raise fields.fail(f"{where}.drift.ignore", "expected a list of {paths: [/json/pointer], target: {kind, name}}")
    managers = drift.get("ignoreManagers", list(LiveChecks.ignore_managers))
    if not isinstance(managers, list) or not all(isinstance(m, str) and m for m in managers):
        raise fields.fail(f"{where}.drift.ignoreManagers", "expected a list of field manager names")
    return LiveChecks(
        drift=DriftMode(mode),
        ignore=tuple(_ignore_rule(rule, f"{where}.drift.ignore[{i}]", fields) for i, rule in enumerate(rules)),
        ignore_managers=tuple(managers),
        health=fields.flag(entry, "health", where, fields.watches_yaml),
    )


def _ignore_rule(rule: Any, where: str, fields: Fields) -> IgnoreRule:
    if not isinstance(rule, dict):
        raise fields.fail(where, "expected a mapping with paths (JSON pointers) and an optional target")
    fields.check_names(rule, IGNORE_FIELDS, where)
    paths = rule.get("paths")
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p.startswith("/") for p in paths):
        raise fields.fail(f"{where}.paths", "expected a list of JSON pointers such as /spec/replicas")
    target = fields.mapping(rule, "target", where)
    fields.check_names(target, TARGET_FIELDS, f"{where}.target")
    return IgnoreRule(
        paths=tuple(paths),
        kind=fields.text(target, "kind", f"{where}.target"),
        name=fields.text(target, "name", f"{where}.target"),
    )
