"""Reading a chart (a directory or a packaged ``.tgz``): its identity, values, values schema and template sources.

Only the chart's own files count: a subchart's templates read the subchart's values, which sit under its key in
the parent's values, so those keys are reported as belonging to subcharts rather than scanned.
"""

from __future__ import annotations

import datetime
import json
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from reconcile.scaffold.errors import ScaffoldInputError

TEMPLATE_SUFFIXES = (".yaml", ".yml", ".tpl", ".txt", ".json")


@dataclass(frozen=True)
class Chart:
    path: Path
    name: str
    version: str
    values: dict[str, Any]
    schema: dict[str, Any] | None
    templates: tuple[str, ...]
    subcharts: tuple[str, ...]


def load_chart(path: Path) -> Chart:
    files = _read_archive(path) if path.is_file() else _read_directory(path)
    metadata = _yaml_mapping(files, "Chart.yaml", path)
    if not metadata.get("name"):
        raise ScaffoldInputError(f"{path}: Chart.yaml has no chart name")
    schema_text = files.get("values.schema.json")
    return Chart(
        path=path,
        name=str(metadata["name"]),
        version=str(metadata.get("version", "")),
        values=jsonable(_yaml_mapping(files, "values.yaml", path, required=False)),
        schema=_json_schema(schema_text, path) if schema_text is not None else None,
        templates=tuple(
            text.decode(errors="replace")
            for name, text in sorted(files.items())
            if name.startswith("templates/") and name.endswith(TEMPLATE_SUFFIXES)
        ),
        subcharts=_subcharts(metadata, files, path),
    )


def load_values_file(path: Path) -> dict[str, Any]:
    """A ``--values`` file, read as helm would take it: a mapping (an empty file is no values)."""
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ScaffoldInputError(f"{path}: cannot read the values file: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise ScaffoldInputError(f"{path}: not valid YAML: {error}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ScaffoldInputError(f"{path}: a values file must hold a mapping")
    values: dict[str, Any] = jsonable(document)
    return values


def jsonable(value: Any) -> Any:
    """YAML → what helm sees after its YAML-to-JSON step: dates are strings, keys are strings."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return value


def _read_directory(path: Path) -> dict[str, bytes]:
    if not path.is_dir():
        raise ScaffoldInputError(f"chart {path} not found (a chart directory or a packaged .tgz)")
    if not (path / "Chart.yaml").is_file():
        raise ScaffoldInputError(f"{path} is not a chart directory: it has no Chart.yaml")
    files: dict[str, bytes] = {}
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path).as_posix()
        if file.is_file() and not relative.startswith("charts/"):
            files[relative] = file.read_bytes()
    files.update({f"charts/{d.name}/": b"" for d in sorted((path / "charts").glob("*")) if d.is_dir()})
    return files


def _read_archive(path: Path) -> dict[str, bytes]:
    """A packaged chart holds one top directory (the chart's name); paths are taken relative to it."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(path) as archive:
            for member in archive.getmembers():
                parts = PurePosixPath(member.name).parts
                relative = "/".join(parts[1:])
                if not member.isfile() or len(parts) < 2:
                    continue
                if relative.startswith("charts/"):
                    if len(parts) > 3:  # <chart>/charts/<subchart>/…: a vendored subchart
                        files[f"charts/{parts[2]}/"] = b""
                    continue
                handle = archive.extractfile(member)
                if handle is not None:
                    files[relative] = handle.read()
    except (tarfile.TarError, OSError) as error:
        raise ScaffoldInputError(f"{path} is not a readable chart archive: {error}") from None
    if "Chart.yaml" not in files:
        raise ScaffoldInputError(f"{path} is not a packaged chart: no top-level Chart.yaml")
    return files


def _yaml_mapping(files: Mapping[str, bytes], name: str, chart: Path, required: bool = True) -> dict[str, Any]:
    if name not in files:
        if required:
            raise ScaffoldInputError(f"{chart}: {name} is missing")
        return {}
    try:
        document = yaml.safe_load(files[name])
    except yaml.YAMLError as error:
        raise ScaffoldInputError(f"{chart}: {name} is not valid YAML: {error}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ScaffoldInputError(f"{chart}: {name} must hold a mapping")
    return document


def _json_schema(text: bytes, chart: Path) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ScaffoldInputError(f"{chart}: values.schema.json is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise ScaffoldInputError(f"{chart}: values.schema.json must hold a JSON object")
    return document


def _subcharts(metadata: Mapping[str, Any], files: Mapping[str, bytes], chart: Path) -> tuple[str, ...]:
    """The value keys of dependencies: alias or name from Chart.yaml (v2) or requirements.yaml (v1), and vendored
    chart directories."""
    declared = list(metadata.get("dependencies") or [])
    declared += list(_yaml_mapping(files, "requirements.yaml", chart, required=False).get("dependencies") or [])
    names = {str(d.get("alias") or d.get("name")) for d in declared if isinstance(d, dict) and d.get("name")}
    names.update(name.split("/")[1] for name in files if name.startswith("charts/") and name.endswith("/"))
    return tuple(sorted(names))
