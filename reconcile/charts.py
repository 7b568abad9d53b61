"""Resolve a watch's chart to what helm is given and to an identity for the digest, without running helm.

A local chart's identity is a hash of its files, so editing a template upgrades every release of the chart on the
next run; a remote chart must name an exact version, whose reference is its identity. Either way a run where
nothing changed starts no helm process (operator-sdk renders every CR on every pass to find out).
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
from pathlib import Path
from typing import Any

import yaml

from reconcile.config import Watch
from reconcile.errors import ChartError
from reconcile.model import ChartRef

EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$")


def resolve_chart(watch: Watch, base_dir: Path) -> ChartRef:
    if watch.repo or watch.chart.startswith("oci://"):
        return _remote_chart(watch)
    return _local_chart(watch, base_dir)


def _remote_chart(watch: Watch) -> ChartRef:
    if not EXACT_VERSION.match(watch.chart_version):
        raise ChartError(
            f"{watch}: chart {watch.chart!r} from {watch.repo or 'an OCI registry'} needs an exact chartVersion "
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


def _local_chart(watch: Watch, base_dir: Path) -> ChartRef:
    path = Path(watch.chart).expanduser()
    if not path.is_absolute():
        path = (base_dir / path).resolve()
    if path.is_file():
        name, version = _packaged_metadata(path)
        return ChartRef(source=str(path), identity=_hash_files(path.parent, [path]), name=name, version=version)
    if not path.is_dir():
        raise ChartError(f"{watch}: chart {watch.chart!r} not found (looked for {path})")
    if not (path / "Chart.yaml").is_file():
        raise ChartError(f"{watch}: {path} is not a chart directory (it has no Chart.yaml)")
    files = sorted(p for p in path.rglob("*") if p.is_file())
    name, version = _metadata(path / "Chart.yaml", (path / "Chart.yaml").read_bytes())
    return ChartRef(source=str(path), identity=_hash_files(path, files), name=name, version=version)


def _hash_files(root: Path, files: list[Path]) -> str:
    """Hash names and contents, so a renamed or moved template counts as a change too."""
    digest = hashlib.sha256()
    try:
        for file in files:
            digest.update(str(file.relative_to(root)).encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    except OSError as error:
        raise ChartError(f"cannot read chart file {error.filename}: {error.strerror}") from None
    return "sha256:" + digest.hexdigest()


def _packaged_metadata(path: Path) -> tuple[str, str]:
    """Name and version from a packaged chart's top-level Chart.yaml (status shows them without running helm)."""
    try:
        text = _packaged_file(path, "Chart.yaml")
    except (tarfile.TarError, OSError) as error:
        raise ChartError(f"{path} is not a readable chart archive: {error}") from None
    if not text:
        raise ChartError(f"{path} is not a packaged chart (no top-level Chart.yaml)")
    return _metadata(path, text)


def _metadata(path: Path, text: bytes) -> tuple[str, str]:
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ChartError(f"{path}: Chart.yaml is not valid YAML: {error}") from None
    if not isinstance(document, dict) or not document.get("name"):
        raise ChartError(f"{path}: Chart.yaml has no chart name")
    return str(document["name"]), str(document.get("version", ""))


def chart_schema(chart: ChartRef) -> dict[str, Any] | None:
    """The chart's values.schema.json, for the preview to know which values are secret; remote charts are not
    fetched for it (their values are still masked by key name)."""
    if chart.is_remote:
        return None
    path = Path(chart.source)
    try:
        if path.is_dir():
            text = (path / "values.schema.json").read_bytes() if (path / "values.schema.json").is_file() else b""
        else:
            text = _packaged_file(path, "values.schema.json")
        document = json.loads(text) if text else None
    except (OSError, ValueError, tarfile.TarError):
        return None
    return document if isinstance(document, dict) else None


def _packaged_file(path: Path, name: str) -> bytes:
    with tarfile.open(path) as archive:
        member = next((m for m in archive.getmembers() if m.name.count("/") == 1 and m.name.endswith("/" + name)), None)
        handle = archive.extractfile(member) if member else None
        return handle.read() if handle else b""
