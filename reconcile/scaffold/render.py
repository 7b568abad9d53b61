"""What the chart renders: the objects helm will create with the given values, and what values could add.

RBAC for exactly the kinds a chart renders can only come from rendering it (templates choose kinds behind
conditionals). ``helm template`` runs offline with the values by file; the chart is rendered a second time with
every ``enabled``/``create`` switch that is off turned on, so scaffold can say which kinds values beyond the
defaults would need (those are reported, not granted).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconcile.adapters.helm import Helm
from reconcile.desired import merge_values
from reconcile.errors import HelmError
from reconcile.manifests import documents
from reconcile.scaffold.errors import ScaffoldInputError
from reconcile.scaffold.hints import ValuePath

RELEASE = "helmcr-scaffold"
# Rendered into every ``{{ .Release.Namespace }}``: an object in any other namespace was put there by the chart.
RELEASE_NAMESPACE = "helmcr-release-namespace"
SWITCH_NAMES = frozenset({"enabled", "create"})
UNFIXABLE_BY_VALUES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"library charts are not installable"),
        "a library chart installs nothing: scaffold a chart that depends on it",
    ),
    (
        re.compile(r"missing in charts/ directory|found in (Chart|requirements)\.yaml, but missing"),
        "run helm dependency build on the chart first",
    ),
    (re.compile(r"chart requires kubeVersion"), "pass --kube-version with your cluster's version"),
    (
        re.compile(r"helm crashed|invalid chart apiVersion"),
        "this helm cannot read the chart: try the other helm major version (--helm-binary)",
    ),
)


@dataclass(frozen=True)
class RenderedObject:
    api_version: str
    kind: str
    name: str
    namespace: str  # "" when the chart leaves it to helm (the release namespace)
    source: str
    hook: bool = False
    rules: tuple[Mapping[str, Any], ...] = ()  # a Role's or ClusterRole's, which whoever creates it must hold
    role_ref: Mapping[str, Any] = field(default_factory=dict)

    @property
    def template(self) -> str:
        """The template's path inside its chart (``# Source:`` starts with the chart's name)."""
        return self.source.split("/", 1)[-1]


@dataclass(frozen=True)
class Rendering:
    objects: tuple[RenderedObject, ...]
    optional: tuple[RenderedObject, ...] = ()  # rendered with the switches below turned on
    switches: tuple[str, ...] = ()
    failed_switches: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderSettings:
    hooks: bool = True
    kube_version: str = ""  # the cluster's, for charts whose kubeVersion or templates check it ("" = helm's own)


def render_chart(
    helm: Helm,
    chart: Path,
    chart_values: Mapping[str, Any],
    layers: Sequence[Mapping[str, Any]],
    settings: RenderSettings,
) -> Rendering:
    """Render with the chart's defaults plus ``layers`` (``--values`` files), then with every switch turned on."""
    try:
        objects = _template(helm, chart, layers, settings)
    except HelmError as error:
        raise ScaffoldInputError(
            f"{chart} does not render with {'the given values' if layers else 'its defaults'}: {error} "
            f"({render_hint(str(error))})"
        ) from None
    merged = dict(chart_values)
    for layer in layers:
        merged = merge_values(merged, layer)
    switched = list(switches(merged))
    if not switched:
        return Rendering(tuple(objects))
    try:
        optional = _template(helm, chart, [*layers, turned_on(switched)], settings)
        failed: list[ValuePath] = []
    except HelmError:  # some switch needs more values: try them one at a time
        optional, failed = [], []
        for path in switched:
            try:
                optional += _template(helm, chart, [*layers, turned_on([path])], settings)
            except HelmError:
                failed.append(path)
    return Rendering(
        objects=tuple(objects),
        optional=tuple(optional),
        switches=tuple(".".join(path) for path in switched if path not in failed),
        failed_switches=tuple(".".join(path) for path in failed),
    )


def switches(values: Mapping[str, Any], path: ValuePath = ()) -> Iterator[ValuePath]:
    """Every ``enabled: false`` / ``create: false``: the usual way a chart keeps optional parts off."""
    for key, value in values.items():
        if isinstance(value, Mapping):
            yield from switches(value, (*path, key))
        elif key in SWITCH_NAMES and value is False:
            yield (*path, key)


def turned_on(paths: Sequence[ValuePath]) -> dict[str, Any]:
    overlay: dict[str, Any] = {}
    for path in paths:
        node = overlay
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = True
    return overlay


def parse_manifests(text: str) -> list[RenderedObject]:
    """``helm template`` output → objects, each with the template it came from (helm's ``# Source:`` line)."""
    objects = []
    for document in documents(text):
        if document.error is not None:
            raise ScaffoldInputError(f"helm template printed a document that is not YAML (line {document.line})")
        for body in document.objects:
            if isinstance(body, dict) and body.get("kind"):
                objects.append(_rendered_object(body, document.source.strip()))
    return objects


def _rendered_object(document: Mapping[str, Any], source: str) -> RenderedObject:
    metadata = document.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    namespace = str(metadata.get("namespace") or "")
    return RenderedObject(
        api_version=str(document.get("apiVersion", "")),
        kind=str(document["kind"]),
        name=str(metadata.get("name", "")),
        namespace="" if namespace == RELEASE_NAMESPACE else namespace,
        source=source,
        hook="helm.sh/hook" in annotations,
        rules=tuple(rule for rule in document.get("rules") or () if isinstance(rule, dict)),
        role_ref=document.get("roleRef") or {},
    )


def render_hint(message: str) -> str:
    """What to do about a chart that does not render: values fix a template's error, not these."""
    for pattern, hint in UNFIXABLE_BY_VALUES:
        if pattern.search(message):
            return hint
    return "pass --values FILE with what it needs"


def _template(
    helm: Helm, chart: Path, layers: Sequence[Mapping[str, Any]], settings: RenderSettings
) -> list[RenderedObject]:
    text = helm.template(RELEASE, str(chart), RELEASE_NAMESPACE, layers, settings.hooks, settings.kube_version)
    return parse_manifests(text)
