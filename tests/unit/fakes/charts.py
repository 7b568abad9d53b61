"""What fake helm's ``pull`` and ``repo update`` fetch from: charts published to registries and repositories.

A published chart is pulled as a real archive (``<name>-<version>.tgz`` of a chart directory, its Chart.yaml at the
version asked for), so helmcr reads it as it reads any packaged chart. The errors are worded as helm 3.22 and 4.3
word them (measured against a real registry and repository: see reconcile/adapters/helm_pull.py).
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

EXAMPLE_CHART = Path(__file__).resolve().parents[3] / "examples" / "memcached" / "chart"


class PullRefused(Exception):
    """helm exits 1 with ``Error: <message>``; ``stdout`` is what it printed before (``repo update``'s cause)."""

    def __init__(self, message: str, stdout: str = "") -> None:
        super().__init__(message)
        self.stdout = stdout


@dataclass
class ChartSources:
    """(repository URL, or "" for OCI; chart reference; version) → the chart directory it was published from."""

    published: dict[tuple[str, str, str], Path] = field(default_factory=dict)

    def publish(self, source: str, version: str, repo: str = "", chart: Path = EXAMPLE_CHART) -> None:
        """``source`` is an ``oci://`` reference, or a chart's name in the repository at ``repo``."""
        self.published[(repo.rstrip("/"), source, version)] = chart

    def pull(self, repo: str, source: str, version: str, destination: Path) -> Path:
        chart = self.published.get((repo.rstrip("/"), source, version))
        name = source.rstrip("/").rsplit("/", 1)[-1]
        if chart is None:
            if not repo:
                raise PullRefused(f'failed to perform "FetchReference" on source: {source[6:]}:{version}: not found')
            raise PullRefused(f'chart "{name}" version "{version}" not found in {repo} repository')
        if not destination.is_dir():
            raise PullRefused(f"failed to untar: stat {destination}: no such file or directory")
        archive = destination / f"{name}-{version}.tgz"
        archive.write_bytes(_package(chart, name, version))
        return archive

    def index(self, repo: str) -> dict[str, list[str]]:
        """A repository's index as ``repo update`` caches it: chart name → versions."""
        charts: dict[str, list[str]] = {}
        for (where, source, version), _ in sorted(self.published.items()):
            if where and where == repo.rstrip("/"):
                charts.setdefault(source, []).append(version)
        return charts


def _package(chart: Path, name: str, version: str) -> bytes:
    """What ``helm package`` writes: every file under one top directory named after the chart."""
    metadata = yaml.safe_load((chart / "Chart.yaml").read_text()) | {"name": name, "version": version}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(p for p in chart.rglob("*") if p.is_file()):
            data = yaml.safe_dump(metadata).encode() if path.name == "Chart.yaml" else path.read_bytes()
            member = tarfile.TarInfo(f"{name}/{path.relative_to(chart).as_posix()}")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()
