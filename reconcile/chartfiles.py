"""The one reader of a chart on disk (a directory or a packaged ``.tgz``): its files, Chart.yaml, and the identity
that goes into the digest.

A directory's identity hashes every file's path and content (subcharts included), so editing a template upgrades
every release of the chart on the next run; a packaged chart's is the hash of the archive. ``files`` holds the
chart's own files only: a subchart's templates read the subchart's values, so subcharts are named, not read.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from reconcile.errors import ChartError

# helm's own limits (3.17+, 4): it refuses a chart larger than this decompressed, or a file within it larger than
# that; checked before reading anything, so a huge archive costs a stat, not a run's time.
MAX_CHART_BYTES = 100 * 1024 * 1024
MAX_FILE_BYTES = 5 * 1024 * 1024

TPL_CALL = re.compile(rb"\btpl\s+[.$(\"]|\|\s*tpl\b")


@dataclass(frozen=True)
class ChartFiles:
    path: Path
    identity: str
    metadata: Mapping[str, Any]  # Chart.yaml
    files: Mapping[str, bytes]  # the chart's own files by path relative to its root, charts/ left out
    vendored: tuple[str, ...] = ()  # subchart directories under charts/
    tpl: bool = True  # some template of it or of a subchart calls tpl: values it is given may run as templates

    @property
    def name(self) -> str:
        return str(self.metadata["name"])

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", ""))

    def yaml_mapping(self, name: str) -> dict[str, Any]:
        """A YAML file of the chart that must hold a mapping; a missing or empty one is an empty mapping."""
        return yaml_mapping(self.files[name], f"{self.path}: {name}") if name in self.files else {}

    def json_object(self, name: str) -> dict[str, Any] | None:
        if name not in self.files:
            return None
        try:
            document = json.loads(self.files[name])
        except ValueError as error:
            raise ChartError(f"{self.path}: {name} is not valid JSON: {error}") from None
        if not isinstance(document, dict):
            raise ChartError(f"{self.path}: {name} must hold a JSON object")
        return document


def yaml_mapping(text: bytes | str, where: str) -> dict[str, Any]:
    """A YAML document that must hold a mapping (as values files and Chart.yaml do); empty is an empty mapping."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ChartError(f"{where} is not valid YAML: {error}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ChartError(f"{where} must hold a mapping")
    return document


def read_chart(path: Path, given: str = "") -> ChartFiles:
    """``given`` is how the user wrote the path, for the message when there is nothing there."""
    if path.is_file():
        _check_size(path, path.stat().st_size, MAX_CHART_BYTES)
        return _from_archive(path)
    if not path.is_dir():
        raise ChartError(f"chart {given or str(path)!r} not found (looked for {path}; a chart directory or a .tgz)")
    if not (path / "Chart.yaml").is_file():
        raise ChartError(f"{path} is not a chart directory (it has no Chart.yaml)")
    every = sorted(p for p in path.rglob("*") if p.is_file())
    _check_size(path, sum(file.stat().st_size for file in every), MAX_CHART_BYTES)
    contents = {file: _read(file) for file in every}
    files = {
        relative: data
        for file, data in contents.items()
        if not (relative := file.relative_to(path).as_posix()).startswith("charts/")
    }
    vendored = tuple(sorted(d.name for d in (path / "charts").glob("*") if d.is_dir()))
    tpl = any(_calls_tpl(data) for data in contents.values())
    return _chart(path, _hash(path, contents), files, vendored, tpl)


def _from_archive(path: Path) -> ChartFiles:
    """A packaged chart holds one top directory (the chart's name); paths are taken relative to it."""
    files: dict[str, bytes] = {}
    vendored: set[str] = set()
    tpl = False
    try:
        with tarfile.open(path) as archive:
            members = archive.getmembers()
            _check_size(path, sum(member.size for member in members), MAX_CHART_BYTES)
            for member in members:
                _check_size(path / member.name, member.size, MAX_FILE_BYTES)
                parts = PurePosixPath(member.name).parts
                handle = archive.extractfile(member) if member.isfile() and len(parts) >= 2 else None
                if handle is None:
                    continue
                data = handle.read()
                tpl = tpl or _calls_tpl(data)
                relative = "/".join(parts[1:])
                if relative.startswith("charts/"):
                    if len(parts) > 3:  # <chart>/charts/<subchart>/…: a vendored subchart
                        vendored.add(parts[2])
                    continue
                files[relative] = data
    except (tarfile.TarError, OSError) as error:
        raise ChartError(f"{path} is not a readable chart archive: {error}") from None
    if "Chart.yaml" not in files:
        raise ChartError(f"{path} is not a packaged chart (no top-level Chart.yaml)")
    return _chart(path, _hash(path.parent, {path: _read(path)}), files, tuple(sorted(vendored)), tpl)


def _chart(path: Path, identity: str, files: dict[str, bytes], vendored: tuple[str, ...], tpl: bool) -> ChartFiles:
    chart = ChartFiles(path, identity, {}, files, vendored, tpl)
    metadata = chart.yaml_mapping("Chart.yaml")
    if not metadata.get("name"):
        raise ChartError(f"{path}: Chart.yaml has no chart name")
    return ChartFiles(path, identity, metadata, files, vendored, tpl)


def _calls_tpl(data: bytes) -> bool:
    """Whether a file calls tpl; a packaged subchart is looked into. Erring towards yes only makes helmcr stricter."""
    if data[:2] == b"\x1f\x8b":
        try:
            with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                members = [archive.extractfile(m) for m in archive.getmembers() if m.isfile()]
                return any(_calls_tpl(handle.read()) for handle in members if handle is not None)
        except (tarfile.TarError, OSError):
            return True
    return TPL_CALL.search(data) is not None


def _hash(root: Path, contents: Mapping[Path, bytes]) -> str:
    """Hash names and contents (in path order), so a renamed or moved template counts as a change too."""
    digest = hashlib.sha256()
    for file, data in contents.items():
        digest.update(str(file.relative_to(root)).encode() + b"\0")
        digest.update(data + b"\0")
    return "sha256:" + digest.hexdigest()


def _check_size(path: Path, size: int, limit: int) -> None:
    if size > limit:
        raise ChartError(f"{path} is {size:,} bytes, more than helm accepts in a chart ({limit:,})")


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as error:
        raise ChartError(f"cannot read chart file {error.filename}: {error.strerror}") from None
