"""What helmcr takes from one CR: a spec nested deeper or larger than any chart's values are is that CR's
problem (blocked, with the reason), never the run's: everything after this check may recurse over the values.

The check itself walks iteratively, so a spec nested 1,000 levels deep (the API server accepts that) costs a
loop, not a RecursionError.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

MAX_DEPTH = 64  # a chart's values.yaml rarely nests past 10
MAX_NODES = 200_000  # a YAML alias bomb expands to billions: stop counting long before
MAX_BYTES = 1536 * 1024  # etcd's limit for one object: no CR in a cluster is larger, and a CR file may not be


def spec_problem(spec: Any, what: str = "spec") -> str:
    """Why ``spec`` is too deep or too large for helmcr, or ""."""
    depth, nodes = _shape(spec)
    if depth > MAX_DEPTH:
        return f"{what} is nested more than {MAX_DEPTH} levels deep (or refers to itself); no chart's values are"
    if nodes > MAX_NODES:
        return f"{what} has more than {MAX_NODES:,} values (a YAML alias bomb?); no chart's values have"
    size = len(json.dumps(spec, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_BYTES:
        return f"spec is {size:,} bytes as JSON, more than the {MAX_BYTES:,} a Kubernetes object may have"
    return ""


def template_action(spec: Any) -> str:
    """The path of the first string value that holds a Go template action, or ""."""
    pending: list[tuple[Any, str]] = [(spec, "")]
    while pending:
        node, path = pending.pop()
        if isinstance(node, dict):
            pending.extend((child, f"{path}.{key}" if path else str(key)) for key, child in node.items())
        elif isinstance(node, list):
            pending.extend((child, f"{path}[{index}]") for index, child in enumerate(node))
        elif isinstance(node, str) and "{{" in node:
            return path
    return ""


def _shape(value: Any) -> tuple[int, int]:
    """Depth and number of nodes, counted until either is past its limit (a self-referring document never ends)."""
    deepest = nodes = 0
    pending = [(value, 1)]
    while pending:
        node, level = pending.pop()
        nodes += 1
        if nodes > MAX_NODES:
            return deepest, nodes
        if not isinstance(node, dict | list):
            continue
        children: Iterable[Any] = node.values() if isinstance(node, dict) else node
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest, nodes
        pending.extend((child, level + 1) for child in children)
    return deepest, nodes
