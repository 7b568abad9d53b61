"""Custom resources read from files, as in a git checkout: the desired state of a pull-request preview.

``--from-file`` takes files or directories (searched recursively for .yaml, .yml and .json); multi-document files
and ``kind: List`` are expanded; documents of kinds helmcr does not watch are ignored. A CR without a namespace
gets the one given with ``--namespace`` (when exactly one) or ``default``, as ``kubectl apply`` would.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from reconcile.errors import ConfigError
from reconcile.limits import spec_problem
from reconcile.settings import Watch

SUFFIXES = {".yaml", ".yml", ".json"}


def load_resources(paths: Sequence[Path], watch: Watch, default_namespace: str) -> list[dict[str, Any]]:
    """The CRs of ``watch``'s kind in ``paths``, each with a namespace; a CR named twice is an error."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for file, document in _documents(paths):
        if not _is_of(document, watch):
            continue
        metadata = document.setdefault("metadata", {})
        if not isinstance(metadata, dict) or not metadata.get("name"):
            raise ConfigError(f"{file}: a {watch.kind} without metadata.name")
        _check_metadata(file, watch, metadata)
        metadata.setdefault("namespace", default_namespace)
        identity = (str(metadata["namespace"]), str(metadata["name"]))
        if identity in found:
            raise ConfigError(f"{file}: {watch.kind} {identity[0]}/{identity[1]} is defined more than once")
        found[identity] = document
    return [found[identity] for identity in sorted(found)]


def _check_metadata(file: Path, watch: Watch, metadata: dict[str, Any]) -> None:
    """What the API server would refuse in a CR's metadata, refused here too: a file is not checked by anyone else."""
    where = f"{file}: {watch.kind} {metadata.get('name')!s}"
    for field in ("name", "namespace", "uid"):
        if field in metadata and not isinstance(metadata[field], str):
            raise ConfigError(f"{where}: metadata.{field} must be a string")
    for field in ("labels", "annotations"):
        value = metadata.get(field)
        if value is not None and not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
            raise ConfigError(f"{where}: metadata.{field} must be a mapping of strings")
    generation = metadata.get("generation")
    if generation is not None and (not isinstance(generation, int) or isinstance(generation, bool)):
        raise ConfigError(f"{where}: metadata.generation must be a whole number")


def _is_of(document: Any, watch: Watch) -> bool:
    return (
        isinstance(document, dict)
        and document.get("apiVersion") == f"{watch.group}/{watch.version}"
        and document.get("kind") == watch.kind
    )


def _documents(paths: Sequence[Path]) -> Iterator[tuple[Path, Any]]:
    for file in _files(paths):
        for document in _read(file):
            if isinstance(document, dict) and document.get("kind") == "List":
                items = document.get("items") or []
                if not isinstance(items, list):
                    raise ConfigError(f"{file}: a List whose items are not a list")
                for item in items:
                    yield file, item
            else:
                yield file, document


def _read(file: Path) -> list[Any]:
    """The documents of one file; anything that is not YAML text of a sane size and shape is one message."""
    try:
        documents = list(yaml.safe_load_all(file.read_text(encoding="utf-8")))
    except UnicodeDecodeError as error:
        raise ConfigError(f"{file}: not a text file (not UTF-8 at byte {error.start})") from None
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{file}: cannot read CRs: {error}") from None
    except RecursionError:
        raise ConfigError(f"{file}: nested too deeply to hold CRs") from None
    if problem := spec_problem(documents, "the file"):
        raise ConfigError(f"{file}: {problem}")
    return documents


def _files(paths: Sequence[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
        elif path.is_file():
            yield path
        else:
            raise ConfigError(f"--from-file {path}: no such file or directory")
