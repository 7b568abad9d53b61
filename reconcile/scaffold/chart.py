"""What scaffold needs of a chart (read by :mod:`reconcile.chartfiles`): values, values schema, template sources.

Only the chart's own files count: a subchart's templates read the subchart's values, which sit under its key in
the parent's values, so those keys are reported as belonging to subcharts rather than scanned.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconcile.chartfiles import ChartFiles, read_chart, yaml_mapping
from reconcile.errors import ChartError
from reconcile.scaffold.errors import ScaffoldInputError

TEMPLATE_SUFFIXES = (".yaml", ".yml", ".tpl", ".txt", ".json")
# A document's own kind starts its line (a roleRef's or a subject's is indented); not a block scalar's indicator
TOP_LEVEL_KIND = re.compile(r"^kind:[ \t]*([^\s#|>][^\r\n#]*?)[ \t\r]*(?:#.*)?$", re.MULTILINE)
TEMPLATE_COMMENT = re.compile(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", re.DOTALL)


@dataclass(frozen=True)
class Chart:
    path: Path
    name: str
    version: str
    values: dict[str, Any]
    schema: dict[str, Any] | None
    templates: tuple[str, ...]
    subcharts: tuple[str, ...]
    tpl: bool = False  # it (or a subchart) passes values to tpl
    template_kinds: tuple[tuple[str, str], ...] = ()  # (template, kind as its text writes it) of its own templates


def load_chart(path: Path) -> Chart:
    try:
        files = read_chart(path)
        return Chart(
            path=path,
            name=files.name,
            version=files.version,
            values=jsonable(files.yaml_mapping("values.yaml")),
            schema=files.json_object("values.schema.json"),
            templates=tuple(
                text.decode(errors="replace")
                for name, text in sorted(files.files.items())
                if name.startswith("templates/") and name.endswith(TEMPLATE_SUFFIXES)
            ),
            subcharts=_subcharts(files),
            tpl=files.tpl,
            template_kinds=_template_kinds(files),
        )
    except ChartError as error:
        raise ScaffoldInputError(str(error)) from None


def load_values_file(path: Path) -> dict[str, Any]:
    """A ``--values`` file, read as helm would take it: a mapping (an empty file is no values)."""
    try:
        values: dict[str, Any] = jsonable(yaml_mapping(path.read_bytes(), f"{path}: the values file"))
    except OSError as error:
        raise ScaffoldInputError(f"{path}: cannot read the values file: {error.strerror or error}") from None
    except ChartError as error:
        raise ScaffoldInputError(str(error)) from None
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


def _template_kinds(files: ChartFiles) -> tuple[tuple[str, str], ...]:
    """What each template's documents say at their top level after ``kind:``, as written: a kind behind a
    condition that no render reached is still named here, and one written as ``{{ … }}`` is chosen by values."""
    found = {
        (name, match.group(1).strip("\"'"))
        for name, text in files.files.items()
        if name.startswith("templates/") and name.endswith((".yaml", ".yml"))
        for match in TOP_LEVEL_KIND.finditer(TEMPLATE_COMMENT.sub("", text.decode(errors="replace")))
    }
    return tuple(sorted((name, kind) for name, kind in found if kind != "List"))  # a List's items are what renders


def _subcharts(files: ChartFiles) -> tuple[str, ...]:
    """The value keys of dependencies: alias or name from Chart.yaml (v2) or requirements.yaml (v1), and vendored
    chart directories."""
    declared = list(files.metadata.get("dependencies") or [])
    declared += list(files.yaml_mapping("requirements.yaml").get("dependencies") or [])
    names = {str(d.get("alias") or d.get("name")) for d in declared if isinstance(d, dict) and d.get("name")}
    return tuple(sorted(names | set(files.vendored)))
