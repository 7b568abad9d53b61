"""What a chart's templates say about its values: which paths they read, and which they pass through whole.

values.yaml shows an example of each value, not its whole shape: ``resources: {limits: {memory: 128Mi}}`` is
rendered with ``toYaml``, so any Kubernetes resources block is fine, while ``replicaCount: 1`` is an integer and
nothing else. A value the templates pass through (``toYaml``, ``toJson``, ``tpl``, ``range``, a ``with`` block
rendering ``.``) becomes an open node in the CRD; a value they read that values.yaml leaves out (``nameOverride``)
becomes a property that takes anything, instead of being pruned by the API server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

ValuePath = tuple[str, ...]

_PATH = r"\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)"
REFERENCE = re.compile(_PATH)
PASS_THROUGH = (
    re.compile(r"\b(?:toYaml|toJson|toPrettyJson|toRawJson|tpl)\s+\(?\s*" + _PATH),
    re.compile(_PATH + r"\s*\|\s*(?:toYaml|toJson|toPrettyJson|toRawJson)\b"),
    re.compile(r"\brange\s+(?:\$\w+\s*(?:,\s*\$\w+\s*)?:=\s*)?" + _PATH),
    re.compile(r"\"value\"\s+" + _PATH),  # the common library's (include "common.tplvalues.render" (dict "value" …))
)
WITH_BLOCK = re.compile(r"\{\{-?\s*with\s+" + _PATH + r"\s*-?\}\}(.*?)\{\{-?\s*end\b", re.S)
COMMENT = re.compile(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", re.S)  # {{/* a comment may show .Values.path.to.x */}}
DOT_RENDERED = re.compile(
    r"\b(?:toYaml|toJson|toPrettyJson|toRawJson)\s+\.\s*[|)}]|\{\{-?\s*\.\s*\|\s*to(?:Yaml|Json)\b"
)


@dataclass(frozen=True)
class Hints:
    referenced: frozenset[ValuePath] = frozenset()
    passed_through: frozenset[ValuePath] = frozenset()

    def children(self, path: ValuePath) -> set[str]:
        """Keys under ``path`` the templates read."""
        depth = len(path)
        return {ref[depth] for ref in self.referenced if len(ref) > depth and ref[:depth] == path}

    def is_open(self, path: ValuePath) -> bool:
        return path in self.passed_through


def template_hints(templates: Iterable[str], subcharts: Iterable[str] = ()) -> Hints:
    """Scan the chart's own template sources. Values under ``global`` and under a subchart's key belong to templates
    this chart does not own, so they are open; a subchart's key is a valid value even when values.yaml omits it."""
    owned_by_others = {(name,) for name in subcharts}
    referenced: set[ValuePath] = set(owned_by_others)
    passed: set[ValuePath] = {("global",), *owned_by_others}
    for source in templates:
        text = COMMENT.sub("", source)
        referenced.update(_split(match) for match in REFERENCE.findall(text))
        for pattern in PASS_THROUGH:
            passed.update(_split(match) for match in pattern.findall(text))
        for path, body in WITH_BLOCK.findall(text):
            if DOT_RENDERED.search(body):
                passed.add(_split(path))
    return Hints(frozenset(referenced), frozenset(passed))


def _split(dotted: str) -> ValuePath:
    return tuple(dotted.strip(".").split("."))
