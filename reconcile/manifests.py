"""The one reader of helm's manifests: a YAML stream of documents split by ``---`` lines, each after a
``# Source:`` comment naming its template; and the manifest of a release, its hooks included.

Each document is parsed on its own, so one malformed template costs its caller a note, not the whole stream.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

SEPARATOR = re.compile(r"^---[ \t\r]*(?:\n|\Z)", re.MULTILINE)  # other "--- ..." lines are left to the YAML parser
SOURCE = re.compile(r"^# Source: (.+?)[ \t\r]*$", re.MULTILINE)


@dataclass(frozen=True)
class Document:
    """One document of the stream: the objects in it (a ``List``'s items each), or why it could not be read."""

    line: int  # its first line, 1-based
    source: str  # the template it came from ("" when helm did not say)
    objects: tuple[Any, ...] = ()
    error: yaml.YAMLError | None = None


def documents(text: str) -> Iterator[Document]:
    """Empty documents and documents of comments only have no objects: helm renders them for disabled templates."""
    for line, chunk in _chunks(text):
        found = SOURCE.search(chunk)
        source = found[1] if found else ""
        try:
            loaded = list(yaml.safe_load_all(chunk))
        except yaml.YAMLError as error:
            yield Document(line, source, error=error)
            continue
        yield Document(line, source, tuple(item for document in loaded for item in _expand(document)))


def release_manifest(release: Mapping[str, Any], with_hooks: bool = True) -> str:
    """A release's objects as one stream: helm keeps hooks apart from the manifest, but they are objects too
    (unless ``--no-hooks``: helm still renders and records them, and never applies them)."""
    listed = release.get("hooks") if with_hooks else None
    hooks = [str(hook.get("manifest") or "") for hook in listed or [] if isinstance(hook, Mapping)]
    return "\n---\n".join([str(release.get("manifest") or ""), *hooks])


def _expand(document: Any) -> list[Any]:
    """The objects of one document: none when empty, each item of a ``v1/List`` (a Secret hides in one too)."""
    if document is None:
        return []
    items = document.get("items") if isinstance(document, Mapping) and document.get("kind") == "List" else None
    return items if isinstance(items, list) else [document]


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    """Each document's text between separator lines, with the number of its first line (1-based)."""
    start = 0
    for separator in SEPARATOR.finditer(text):
        yield text.count("\n", 0, start) + 1, text[start : separator.start()]
        start = separator.end()
    yield text.count("\n", 0, start) + 1, text[start:]
