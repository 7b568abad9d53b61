"""Render release diffs for a terminal (text), a pull request (Markdown) and machines (a JSON-ready dict).

Pure functions from already redacted results to strings: no decision is taken here, so the three forms always
agree. Releases keep the caller's order (the plan's); values and objects come sorted from the diff functions.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from typing import Any

from reconcile.diff.model import Change, ObjectChange, ReleaseDiff, ValueChange, count_changes

API_VERSION = "helmcr.io/v1alpha1"
COMMENT_LIMIT = 65_536  # GitHub refuses a longer issue or pull-request comment
MARKER = "<!-- helmcr-diff -->"  # lets a CI job find its previous comment and replace it
REDACTED = "(redacted)"

_SIGN: dict[Change, str] = {"added": "+", "removed": "-", "changed": "~"}
_ANSI = {"bold": "\x1b[1m", "red": "\x1b[31m", "green": "\x1b[32m", "yellow": "\x1b[33m", "cyan": "\x1b[36m"}
_ANSI_RESET = "\x1b[0m"
_VALUE_COLOR: dict[Change, str] = {"added": "green", "removed": "red", "changed": "yellow"}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~$])")
_SUMMARY_HEADER = ["| Release | Action | Values | Objects |", "| --- | --- | --- | --- |"]
_NOTE_ROOM = 400  # kept free for the truncation note, whose length varies only with the counts in it


def _format_value(value: Any) -> str:
    """A value as JSON, so that "1" and 1, or "" and null, never look alike."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _summary(diff: ReleaseDiff) -> str:
    parts = [
        f"{what}: {counts}"
        for what, counts in (("values", _counted(diff.values)), ("objects", _counted(diff.objects)))
        if counts
    ]
    return "; ".join(parts) or "no changes"


def _counted(changes: Sequence[ValueChange | ObjectChange]) -> str:
    return ", ".join(f"{count} {change}" for change, count in count_changes(changes).items() if count)


def _value_text(change: ValueChange) -> str:
    if change.redacted:
        return REDACTED
    if change.change == "changed":
        return f"{_format_value(change.old)} → {_format_value(change.new)}"
    return _format_value(change.new if change.change == "added" else change.old)


def _object_lines(change: ObjectChange) -> list[str]:
    """An object's diff as it appears in both text and Markdown: helm's own source comment, then the hunks."""
    return ([f"# Source: {change.source}"] if change.source else []) + change.diff.splitlines()


def render_text(diffs: Sequence[ReleaseDiff], *, color: bool = False) -> str:
    """A plain unified diff per release after a line of counts; ANSI colours only when ``color`` (a terminal)."""

    def paint(style: str, line: str) -> str:
        return f"{_ANSI[style]}{line}{_ANSI_RESET}" if color and style else line

    lines: list[str] = []
    for diff in diffs:
        lines.append(paint("bold", f"{diff.action} {diff.key}: {_summary(diff)}"))
        lines += [paint("yellow", f"note: {note}") for note in diff.notes]
        if diff.values:
            lines.append("values:")
        for change in diff.values:
            line = f"  {_SIGN[change.change]} {change.path}: {_value_text(change)}"
            lines.append(paint(_VALUE_COLOR[change.change], line))
        for obj in diff.objects:
            lines += [paint(_diff_style(line), line) for line in _object_lines(obj)]
        lines.append("")
    return "\n".join(lines) if diffs else "no changes\n"


def _diff_style(line: str) -> str:
    if line.startswith(("---", "+++")):
        return "bold"
    if line.startswith("@@"):
        return "cyan"
    return {"+": "green", "-": "red"}.get(line[:1], "")


def to_json_document(diffs: Sequence[ReleaseDiff]) -> dict[str, Any]:
    """The JSON form; its schema is docs/schemas/diff.schema.json, and changing it means a new apiVersion."""
    return {"apiVersion": API_VERSION, "kind": "DiffReport", "releases": [_release_record(d) for d in diffs]}


def _release_record(diff: ReleaseDiff) -> dict[str, Any]:
    return {
        "release": {"namespace": diff.key.namespace, "name": diff.key.name},
        "action": str(diff.action),
        "summary": {"values": count_changes(diff.values), "objects": count_changes(diff.objects)},
        "values": [
            {
                "path": c.path,
                "change": c.change,
                "old": _jsonable(c.old),
                "new": _jsonable(c.new),
                "redacted": c.redacted,
            }
            for c in diff.values
        ],
        "objects": [
            {
                "apiVersion": c.api_version,
                "kind": c.kind,
                "namespace": c.namespace,
                "name": c.name,
                "change": c.change,
                "source": c.source,
                "diff": c.diff,
            }
            for c in diff.objects
        ],
        "notes": list(diff.notes),
    }


def _jsonable(value: Any) -> Any:
    """A leaf as JSON has it: values read from YAML may hold dates, which JSON only knows as strings."""
    return json.loads(_format_value(value))


class _Page:
    """The lines of a comment, refused from the first one that would not fit.

    A line may come with its closer (a code fence, ``</details>``): room for it is taken at once, so whatever is
    opened can always be closed and the Markdown stays well formed however early the page fills up.
    """

    def __init__(self, limit: int) -> None:
        self.lines: list[str] = []
        self.closers: list[str] = []
        self.room = limit - _NOTE_ROOM
        self.full = False

    def add(self, line: str, closer: str | None = None) -> bool:
        cost = len(line) + 1 + (len(closer) + 1 if closer is not None else 0)
        if self.full or cost > self.room:
            self.full = True
            return False
        self.lines.append(line)
        self.room -= cost
        if closer is not None:
            self.closers.append(closer)
        return True

    def close(self) -> None:
        self.lines.append(self.closers.pop())


def render_markdown(diffs: Sequence[ReleaseDiff], *, title: str = "helmcr diff", limit: int = COMMENT_LIMIT) -> str:
    """A pull-request comment: a summary table, then one collapsed section per release; at most ``limit`` long.

    ``title`` is Markdown. What does not fit is cut at a line, after closing what was open, and a note says so.
    """
    page = _Page(limit)
    for line in (MARKER, f"### {title}", "", *(_SUMMARY_HEADER if diffs else ["No changes."])):
        page.add(line)
    for diff in diffs:
        cells = (_code(str(diff.key)), str(diff.action), _counted(diff.values) or "—", _counted(diff.objects) or "—")
        page.add(f"| {' | '.join(cells)} |")
    complete = 0
    for diff in diffs:
        if not _section(page, diff):
            break
        complete += 1
    if page.full:
        page.lines.append(
            f"\n> **Truncated** to fit a comment's {limit:,} characters: {complete} of {len(diffs)} releases are"
            " shown in full. Run `helmcr diff` for the whole diff."
        )
    return "\n".join(page.lines) + "\n"


def _section(page: _Page, diff: ReleaseDiff) -> bool:
    """One release in a ``<details>`` block, each part after a blank line; False when it had to be cut."""
    summary = f"<b>{diff.action}</b> <code>{html.escape(str(diff.key))}</code>: {html.escape(_summary(diff))}"
    if not (page.add("") and page.add(f"<details><summary>{summary}</summary>", closer="\n</details>")):
        return False
    notes = [f"- note: {_escape(note)}" for note in diff.notes]
    complete = all(page.add(line) for line in _block(notes) + _block(_values_table(diff.values)))
    if complete and diff.objects:
        complete = _fenced(page, [line for change in diff.objects for line in _object_lines(change)])
    page.close()
    return complete


def _block(lines: list[str]) -> list[str]:
    return ["", *lines] if lines else []


def _values_table(changes: Sequence[ValueChange]) -> list[str]:
    if not changes:
        return []
    rows = ["| Value | Change | Deployed | Desired |", "| --- | --- | --- | --- |"]
    for change in changes:
        old = _value_cell(change, change.old, absent=change.change == "added")
        new = _value_cell(change, change.new, absent=change.change == "removed")
        rows.append(f"| {_code(change.path)} | {change.change} | {old} | {new} |")
    return rows


def _value_cell(change: ValueChange, value: Any, *, absent: bool) -> str:
    if absent:
        return ""
    return REDACTED if change.redacted else _code(_format_value(value))


def _fenced(page: _Page, lines: list[str]) -> bool:
    """A ```diff block, its fence longer than any run of backticks inside (a ConfigMap may hold Markdown)."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    if not (page.add("") and page.add(f"{fence}diff", closer=fence)):
        return False
    complete = all(page.add(line) for line in lines)
    page.close()
    return complete


def _code(text: str) -> str:
    """Inline code that survives a table: ``<code>`` rather than backticks, which cannot be escaped inside."""
    return f"<code>{_escape(text)}</code>"


def _escape(text: str) -> str:
    """Text as Markdown shows it literally: no HTML, no emphasis, no math, no cell breaks, no new lines."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False)).replace("\n", " ")
