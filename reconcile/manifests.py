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
MERGE_TAG = "tag:yaml.org,2002:merge"
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Tags both parsers read the same way; any other (set, binary, omap, pairs, a local !tag) they do not.
PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "merge")
)


@dataclass(frozen=True)
class Document:
    """One document of the stream: the objects in it (a ``List``'s items each), or why it could not be read."""

    line: int  # its first line, 1-based
    source: str  # the template it came from ("" when helm did not say)
    objects: tuple[Any, ...] = ()
    error: Exception | None = None  # why it could not be read (never its text: it may hold a secret)


def documents(text: str) -> Iterator[Document]:
    """Empty documents and documents of comments only have no objects: helm renders them for disabled templates.

    A document this parser might read otherwise than helm's (Go's yaml.v2) is unreadable, not guessed at: what
    helmcr checks or diffs must be what helm applies."""
    for line, chunk in _chunks(text):
        found = SOURCE.search(chunk)
        source = found[1] if found else ""
        try:
            _refuse_ambiguity(chunk)
            objects = tuple(item for document in yaml.safe_load_all(chunk) for item in _expand(document))
        except (yaml.YAMLError, ValueError, TypeError, RecursionError, Ambiguous) as error:
            yield Document(line, source, error=error)
            continue
        yield Document(line, source, objects)


def describe_unreadable(error: Exception, first_line: int) -> str:
    """What is wrong and where, but not PyYAML's snippet of the offending line: that line may hold a secret."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        return f"{error.problem or error.context or 'malformed'} at line {first_line + error.problem_mark.line}"
    if isinstance(error, Ambiguous):
        return f"{error} (document at line {first_line})"
    return f"{type(error).__name__} (document at line {first_line})"


class Ambiguous(Exception):
    """YAML that Go's parser, which helm uses, reads differently: a merge key (Go lets the merged mapping win), a
    tag such as ``!!set`` or ``!!binary`` (Go ignores or decodes it), a byte-order mark inside the text."""


def as_mapping(value: Any) -> Mapping[str, Any]:
    """A field of a parsed document that should be a mapping, or an empty one: manifests and charts are read
    defensively, one ``.get`` at a time."""
    return value if isinstance(value, Mapping) else {}


def release_manifest(release: Mapping[str, Any], with_hooks: bool = True) -> str:
    """A release's objects as one stream: helm keeps hooks apart from the manifest, but they are objects too
    (unless ``--no-hooks``: helm still renders and records them, and never applies them)."""
    listed = release.get("hooks") if with_hooks else None
    hooks = [str(hook.get("manifest") or "") for hook in listed or [] if isinstance(hook, Mapping)]
    return "\n---\n".join([str(release.get("manifest") or ""), *hooks])


def _expand(document: Any) -> list[Any]:
    """The objects of one document: none when empty, each item of a list, at any depth. Like Kubernetes' own
    decoder, any object with an ``items`` list counts as a list, whatever its kind says (a ``ConfigMap`` with
    ``items`` is a list of whatever those are), so nothing hides inside one."""
    if document is None:
        return []
    items = document.get("items") if isinstance(document, Mapping) else None
    if not isinstance(items, list):
        return [document]
    return [obj for item in items for obj in _expand(item)]


def _refuse_ambiguity(chunk: str) -> None:
    """Read as events first (linear, nothing expanded), then as nodes: no alias (a cycle or a bomb), no tag
    beyond the plain ones, no merge key, no byte-order mark at a line's start (Go skips it there, PyYAML not)."""
    if any(line.startswith("\ufeff") for line in chunk.splitlines()):
        raise Ambiguous("a byte-order mark at the start of a line, which helm skips")
    if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(chunk, Loader=yaml.SafeLoader)):
        raise Ambiguous("an alias (*), which helm's output never needs")
    for root in yaml.compose_all(chunk, Loader=yaml.SafeLoader):
        pending = [root] if root is not None else []
        while pending:
            node = pending.pop()
            if node.tag not in PLAIN_TAGS:
                raise Ambiguous(f"the tag {node.tag!r}, which helm reads otherwise")
            if isinstance(node, yaml.MappingNode):
                if any(key.tag == MERGE_TAG for key, _ in node.value):
                    raise Ambiguous("a merge key (<<), which helm applies differently")
                pending += [child for pair in node.value for child in pair]
            elif isinstance(node, yaml.SequenceNode):
                pending += node.value


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    """Each document's text between separator lines, with the number of its first line (1-based); lines are
    counted as the text is walked, once."""
    start, line = 0, 1
    for separator in SEPARATOR.finditer(text):
        yield line, text[start : separator.start()]
        line += text.count("\n", start, separator.end())
        start = separator.end()
    yield line, text[start:]


def written_objects(manifest: str) -> list[Mapping[str, Any]] | None:
    """The objects of a manifest helm already applied, read with libyaml's parser: 25 times faster than
    :func:`documents`, whose care guards what helm is about to apply; this is for comparing with and pointing at
    what exists. None: the manifest does not parse."""
    try:
        loaded = list(yaml.load_all(manifest, Loader=FAST_LOADER))
    except yaml.YAMLError:
        return None
    return [item for item in loaded if isinstance(item, Mapping) and item.get("kind")]
