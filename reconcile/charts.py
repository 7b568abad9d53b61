"""Resolve a watch's chart to what helm is given and to an identity for the digest, without running helm.

A local chart's identity comes from its files (:mod:`reconcile.chartfiles`); a remote chart must name an exact
version, whose reference is its identity. Either way a run where nothing changed starts no helm process
(operator-sdk renders every CR on every pass to find out).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from reconcile.chartfiles import ChartFiles, read_chart
from reconcile.diff.values import sensitive_paths
from reconcile.errors import ChartError
from reconcile.manifests import as_mapping, documents
from reconcile.model import ChartRef
from reconcile.settings import Watch

EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$")


def resolve_chart(watch: Watch, base_dir: Path) -> ChartRef:
    if watch.repo or watch.chart.startswith("oci://"):
        return _remote_chart(watch)
    path = Path(watch.chart).expanduser()
    if not path.is_absolute():
        path = (base_dir / path).resolve()
    chart = read_chart(path, given=watch.chart)
    return ChartRef(
        source=str(path),
        identity=chart.identity,
        name=chart.name,
        version=chart.version,
        secret_paths=sensitive_paths(_schema(chart)),
        tpl=chart.tpl,
        crd_kinds=_crd_kinds(chart),
    )


def _crd_kinds(chart: ChartFiles) -> dict[tuple[str, str], bool]:
    """What the chart's crds/ files declare, read from the chart itself (never from a render, which values could
    forge): the object check needs to place those kinds before helm has installed them. A file that cannot be
    read declares nothing; helm refuses it when it installs the chart."""
    declared: dict[tuple[str, str], bool] = {}
    crd_files = (data for name, data in sorted(chart.files.items()) if name.startswith("crds/"))
    for document in (d for data in crd_files for d in documents(data.decode(errors="replace"))):
        for crd in document.objects:
            spec = as_mapping(as_mapping(crd).get("spec"))
            kind = as_mapping(spec.get("names")).get("kind")
            versions = spec.get("versions")
            for version in versions if isinstance(kind, str) and isinstance(versions, list) else []:
                served_as = as_mapping(version).get("name")
                if isinstance(served_as, str):
                    declared[(f"{spec.get('group')}/{served_as}", str(kind))] = spec.get("scope") != "Cluster"
    return declared


def _remote_chart(watch: Watch) -> ChartRef:
    if not EXACT_VERSION.match(watch.chart_version):
        raise ChartError(
            f"chart {watch.chart!r} from {watch.repo or 'an OCI registry'} needs an exact chartVersion "
            f"(got {watch.chart_version or 'none'}): a moving version would upgrade releases behind your back"
        )
    identity = "|".join((watch.repo or "oci", watch.chart, watch.chart_version))
    return ChartRef(
        source=watch.chart,
        identity=identity,
        name=watch.chart.rstrip("/").rsplit("/", 1)[-1],
        version=watch.chart_version,
        repo_url=watch.repo,
        pinned=True,
    )


def pulled_chart(remote: ChartRef, archive: Path) -> ChartRef:
    """A remote chart as the archive it was pulled to, which is what helm is given from then on. Its identity stays
    the reference's, so pulling changes no digest; what only the files tell (values its schema marks secret, the
    kinds its crds/ declare) is read from the archive, as for a local chart."""
    chart = read_chart(archive)
    return replace(
        remote,
        source=str(archive),
        repo_url="",
        pinned=False,
        secret_paths=sensitive_paths(_schema(chart)),
        crd_kinds=_crd_kinds(chart),
    )


def _schema(chart: ChartFiles) -> dict[str, Any] | None:
    """The chart's values.schema.json, so that what it marks secret is masked everywhere; an unreadable schema is
    helm's to refuse, and masks nothing more than key names do."""
    try:
        return chart.json_object("values.schema.json")
    except ChartError:
        return None
