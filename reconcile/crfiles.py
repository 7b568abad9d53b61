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
        metadata.setdefault("namespace", default_namespace)
        identity = (str(metadata["namespace"]), str(metadata["name"]))
        if identity in found:
            raise ConfigError(f"{file}: {watch.kind} {identity[0]}/{identity[1]} is defined more than once")
        found[identity] = document
    return [found[identity] for identity in sorted(found)]


def _is_of(document: Any, watch: Watch) -> bool:
    return (
        isinstance(document, dict)
        and document.get("apiVersion") == f"{watch.group}/{watch.version}"
        and document.get("kind") == watch.kind
    )


def _documents(paths: Sequence[Path]) -> Iterator[tuple[Path, Any]]:
    for file in _files(paths):
        try:
            documents = list(yaml.safe_load_all(file.read_text()))
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f"{file}: cannot read CRs: {error}") from None
        for document in documents:
            if isinstance(document, dict) and document.get("kind") == "List":
                for item in document.get("items") or []:
                    yield file, item
            else:
                yield file, document


def _files(paths: Sequence[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
        elif path.is_file():
            yield path
        else:
            raise ConfigError(f"--from-file {path}: no such file or directory")
