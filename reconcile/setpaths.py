"""``overrideValues`` keys as ``helm --set`` paths, the way operator-sdk's Helm operator reads them.

operator-sdk hands each ``key: value`` of a watch's ``overrideValues`` to helm's ``strvals`` as ``key=value``: the key
is a path (``memcached.verbosity`` sets ``verbosity`` inside ``memcached``, ``args[1]`` an item of a list, ``\\.`` a
literal dot), and a string value is typed as ``--set`` types it (``true``, ``false``, ``null``, whole numbers without
a leading zero; ``{a,b}`` is a list). A plain string holding a comma would be split by ``--set`` into another
assignment; it is refused here rather than guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

PART = re.compile(r"((?:[^.\[\\]|\\.)+)((?:\[\d+\])*)")
INDEX = re.compile(r"\[(\d+)\]")
WHOLE_NUMBER = re.compile(r"-?(0|[1-9]\d*)")
Fail = Callable[[str, str], Exception]


def nested(overrides: Mapping[str, Any], typed: bool, fail: Fail) -> dict[str, Any]:
    """``overrides`` with every key read as a path; string values typed as ``--set`` types them when ``typed``
    (a watches.yaml's values are all strings; a helmcr config's YAML already typed them)."""
    result: dict[str, Any] = {}
    for key, value in overrides.items():
        _set(result, _path(str(key), fail), _typed(value, str(key), fail) if typed else value)
    return result


def _path(key: str, fail: Fail) -> list[str | int]:
    path: list[str | int] = []
    position = 0
    while position < len(key):
        match = PART.match(key, position)
        if match is None:
            raise fail(key, "is not a --set path (name.name[index], with \\. for a literal dot)")
        path.append(match[1].replace("\\.", ".").replace("\\[", "[").replace("\\\\", "\\"))
        path += [int(index) for index in INDEX.findall(match[2])]
        position = match.end()
        if position < len(key):
            if key[position] != ".":
                raise fail(key, "is not a --set path (name.name[index], with \\. for a literal dot)")
            position += 1
    if not path:
        raise fail(key, "is an empty --set path")
    return path


def _set(node: Any, path: list[str | int], value: Any) -> None:
    """Into ``node`` at ``path``, creating maps and lists on the way, as strvals does."""
    *parents, last = path
    for step, following in zip(parents, path[1:], strict=True):
        empty: Any = [] if isinstance(following, int) else {}
        node = _slot(node, step, empty)
    _assign(node, last, value)


def _slot(node: Any, step: str | int, empty: Any) -> Any:
    current = node[step] if isinstance(step, str) and step in node else None
    if isinstance(step, int):
        current = node[step] if step < len(node) else None
    if not isinstance(current, type(empty)):
        current = empty
        _assign(node, step, current)
    return current


def _assign(node: Any, step: str | int, value: Any) -> None:
    if isinstance(step, int):
        node.extend([None] * (step + 1 - len(node)))
    node[step] = value


def _typed(value: Any, key: str, fail: Fail) -> Any:
    if not isinstance(value, str):
        return value
    if value.startswith("{") and value.endswith("}"):
        return [_scalar(item) for item in value[1:-1].split(",")] if value[1:-1] else []
    if "," in value:
        raise fail(key, "holds a comma, which --set would read as a second assignment (write {a,b} for a list)")
    return _scalar(value)


def _scalar(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if WHOLE_NUMBER.fullmatch(text):
        return int(text)
    return text
