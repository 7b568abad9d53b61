"""Kubernetes documents as scaffold writes them: the common metadata, and YAML that reads well and means one thing.

The YAML is deterministic (keys in the order built, no timestamps), so re-running scaffold reproduces files byte
for byte. Short lists of scalars are written inline (``verbs: [get, list]``). Strings that a YAML 1.1 parser (as
used by kubectl and helm) would read as booleans, such as ``y`` or ``n``, are quoted: PyYAML, a YAML 1.1 parser
too, does not treat those two as booleans and would write them bare.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

FLOW_LIST_WIDTH = 60
YAML_11_BOOLEANS = frozenset({"y", "Y", "n", "N"})


def manifest(
    api_version: str, kind: str, name: str, namespace: str | None, labels: Mapping[str, str]
) -> dict[str, Any]:
    """apiVersion, kind and metadata; no namespace for cluster-scoped objects (or ones a kustomization places)."""
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}


def dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


def dump_all(documents: Iterable[Any]) -> str:
    return "---\n".join(dump(document) for document in documents)


class _Dumper(yaml.SafeDumper):
    """Indents list items under their key, as kubectl and most Kubernetes docs do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_list(dumper: yaml.SafeDumper, items: list[Any]) -> yaml.Node:
    scalars = all(isinstance(item, str | int | float | bool) for item in items)
    short = scalars and sum(len(str(item)) + 2 for item in items) <= FLOW_LIST_WIDTH
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=bool(items) and short)


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    if text in YAML_11_BOOLEANS:
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="'")
    if "\n" in text:
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")
    return dumper.represent_str(text)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(str, _represent_str)
