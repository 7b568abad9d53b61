"""Typed readers for the fields of a YAML mapping, each failing with one sentence that names the file and field.

The config parser (:mod:`reconcile.config`) says which fields a document has; this module knows how each kind of
field is read and what its mistakes look like: wrong types, unknown names (with a suggestion), bad DNS names,
durations, label selectors, and ``$VAR`` references in override values.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reconcile.clock import GO_DURATION, parse_duration
from reconcile.errors import ConfigError
from reconcile.settings import Expression, Portion, Selector

ENV_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
KIND_OF_GROUP = re.compile(r"[A-Z][A-Za-z0-9]*(\.[a-z0-9]([a-z0-9.-]*[a-z0-9])?)?")  # Kind, or Kind.group
DNS_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


class Fields:
    """Reads fields of one file, carrying its path (for every message) and the environment (for ``$VAR``)."""

    def __init__(self, path: Path, environ: Mapping[str, str]) -> None:
        self.path = path
        self.environ = environ
        self.warnings: list[str] = []
        self.watches_yaml = False  # an operator-sdk watches.yaml: its conventions apply (reconcile.setpaths)

    def fail(self, where: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {where}: {problem}")

    def check_names(self, mapping: Mapping[str, Any], known: frozenset[str], where: str) -> None:
        for name in mapping:
            if name not in known:
                hint = difflib.get_close_matches(str(name), sorted(known), n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else f"; known fields: {', '.join(sorted(known))}"
                raise self.fail(where, f"unknown field {name!r}{suggestion}")

    def required(self, mapping: Mapping[str, Any], name: str, where: str) -> str:
        if mapping.get(name) in (None, ""):
            raise self.fail(where, f"missing required field {name!r}")
        return self.text(mapping, name, where)

    def text(self, mapping: Mapping[str, Any], name: str, where: str) -> str:
        value = mapping.get(name, "")
        if value is None:
            return ""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise self.fail(f"{where}.{name}", f"expected a string, got {type_name(value)}")
        return str(value)

    def source(self, mapping: Mapping[str, Any], name: str, where: str) -> str:
        """Where a chart comes from (a path, or a repository or registry URL). Credentials in a URL would reach
        helm's command line and every message that names the chart: they belong in helm's own configs."""
        value = self.required(mapping, name, where) if name == "chart" else self.text(mapping, name, where)
        if "://" in value and "@" in urlsplit(value).netloc:
            raise self.fail(
                f"{where}.{name}",
                "holds credentials (user:password@ in the URL; not repeated here): put them in helm's registry "
                "config (HELM_REGISTRY_CONFIG) or repository config (HELM_REPOSITORY_CONFIG), see docs/deploy.md",
            )
        return value

    def mapping(self, mapping: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
        value = mapping.get(name) or {}
        if not isinstance(value, dict):
            raise self.fail(f"{where}.{name}", f"expected a mapping of values, got {type_name(value)}")
        return value

    def choice(
        self, mapping: Mapping[str, Any], name: str, where: str, choices: tuple[str, ...], default: str = ""
    ) -> str:
        """One of ``choices``; the default is the first unless given."""
        value = mapping.get(name, default or choices[0])
        if value not in choices:
            raise self.fail(f"{where}.{name}", f"expected one of {', '.join(choices)}, got {value!r}")
        return str(value)

    def whole(self, mapping: Mapping[str, Any], name: str, where: str, default: int, minimum: int) -> int:
        value = mapping.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise self.fail(f"{where}.{name}", f"expected a whole number ≥ {minimum}, got {value!r}")
        return value

    def flag(self, mapping: Mapping[str, Any], name: str, where: str, default: bool) -> bool:
        value = mapping.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(f"{where}.{name}", f"expected true or false, got {value!r}")
        return value

    def seconds(self, mapping: Mapping[str, Any], name: str, where: str, default: str) -> float:
        """A duration: a Go-style string ("90s", "5m", "1h30m") or a positive number of seconds."""
        value = mapping.get(name, default)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return float(value)
        if not isinstance(value, str) or not value or not GO_DURATION.fullmatch(value):
            raise self.fail(f"{where}.{name}", f"expected a duration such as 300s or 5m, got {value!r}")
        return parse_duration(value)

    def dns_name(self, value: str, where: str) -> str:
        if not DNS_NAME.fullmatch(value) or len(value) > 253:
            raise self.fail(where, f"{value!r} is not a valid DNS name (lower-case letters, digits, '-' and '.')")
        return value

    def optional_dns_name(self, mapping: Mapping[str, Any], name: str, where: str) -> str:
        value = self.text(mapping, name, where)
        return self.dns_name(value, f"{where}.{name}") if value else ""

    def kinds(self, mapping: Mapping[str, Any], name: str, where: str) -> tuple[str, ...]:
        value = mapping.get(name) or []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(f"{where}.{name}", "expected a list of kinds such as ConfigMap or Deployment.apps")
        for item in value:
            if not KIND_OF_GROUP.fullmatch(item):
                raise self.fail(
                    f"{where}.{name}", f"{item!r} is not a kind (Kind, or Kind.group such as Deployment.apps)"
                )
        return tuple(value)

    def namespaces(self, mapping: Mapping[str, Any], where: str) -> tuple[str, ...]:
        value = mapping.get("namespaces") or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(f"{where}.namespaces", f"expected a list of namespace names, got {type_name(value)}")
        return tuple(sorted({self.dns_name(str(item), f"{where}.namespaces") for item in value}))

    def selector(self, value: Any, where: str) -> Selector:
        if value in (None, "", {}):
            return Selector()
        if isinstance(value, str):
            return Selector(match_labels=self._equality_terms(value, where))
        if not isinstance(value, dict):
            raise self.fail(
                where, f"expected a label selector (matchLabels / matchExpressions), got {type_name(value)}"
            )
        self.check_names(value, frozenset({"matchLabels", "matchExpressions"}), where)
        labels = value.get("matchLabels") or {}
        if not isinstance(labels, dict):
            raise self.fail(f"{where}.matchLabels", "expected a mapping of label names to values")
        terms = value.get("matchExpressions") or []
        if not isinstance(terms, list):
            raise self.fail(f"{where}.matchExpressions", f"expected a list of expressions, got {type_name(terms)}")
        return Selector(
            match_labels={str(k): str(v) for k, v in labels.items()},
            expressions=tuple(
                self._expression(term, f"{where}.matchExpressions[{index}]") for index, term in enumerate(terms)
            ),
        )

    def _expression(self, value: Any, where: str) -> Expression:
        if not isinstance(value, dict) or "key" not in value or "operator" not in value:
            raise self.fail(where, "expected a mapping with key, operator and values")
        operator = value["operator"]
        if operator not in OPERATORS:
            raise self.fail(f"{where}.operator", f"{operator!r} is not one of {', '.join(OPERATORS)}")
        values = tuple(str(v) for v in value.get("values") or [])
        if operator in ("In", "NotIn") and not values:
            raise self.fail(f"{where}.values", f"operator {operator} needs at least one value")
        return str(value["key"]), operator, values

    def _equality_terms(self, text: str, where: str) -> dict[str, str]:
        labels: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or value.startswith("="):
                raise self.fail(where, f"{part!r}: only key=value terms are accepted in a string selector")
            labels[key.strip()] = value.strip()
        return labels

    def expanded(self, value: Any, where: str) -> Any:
        """Expand $VAR and ${VAR} in strings like operator-sdk does, but refuse unset variables instead of ''."""
        if isinstance(value, dict):
            return {str(k): self.expanded(v, f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.expanded(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, str):
            return ENV_REFERENCE.sub(lambda match: self._variable(match, where), value)
        return value

    def _variable(self, match: re.Match[str], where: str) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(2)
        if name not in self.environ:
            raise self.fail(where, f"environment variable {name} is not set (write $$ for a literal $)")
        return self.environ[name]


def type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", bool: "a boolean", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def parse_portion(value: Any, fail: Callable[[str], ConfigError]) -> Portion:
    """``20`` or ``"10%"``; used for the config's maxUninstalls and for --max-uninstalls."""
    text = str(value).strip()
    try:
        if text.endswith("%"):
            percent = float(text[:-1])
            if not 0 <= percent <= 100:
                raise ValueError
            return Portion(percent=percent)
        count = int(text)
        if count < 0:
            raise ValueError
        return Portion(count=count)
    except ValueError:
        raise fail(f"expected a count such as 20 or a percentage such as 10%, got {value!r}") from None
