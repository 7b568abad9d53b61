from __future__ import annotations

import datetime
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.diff import ReleaseDiff, ValueChange, release_diff, render_markdown, render_text, to_json_document
from reconcile.diff.render import COMMENT_LIMIT, MARKER
from reconcile.model import Action, ReleaseKey
from tests.unit.diff_samples import sample_diffs

GOLDEN = Path(__file__).parent / "golden"
SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "schemas" / "diff.schema.json").read_text())
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _json(diffs: Sequence[ReleaseDiff]) -> str:
    return json.dumps(to_json_document(diffs), indent=2, ensure_ascii=False) + "\n"


RENDERINGS: dict[str, Callable[[Sequence[ReleaseDiff]], str]] = {
    "diff.txt": render_text,
    "diff.md": render_markdown,
    "diff.json": _json,
}


@pytest.mark.parametrize("name", sorted(RENDERINGS))
def test_renderings_match_the_golden_files(name: str) -> None:
    """The golden files are reviewed by people; HELMCR_UPDATE_GOLDEN=1 rewrites them after an intended change."""
    rendered = RENDERINGS[name](sample_diffs())
    golden = GOLDEN / name
    if os.environ.get("HELMCR_UPDATE_GOLDEN") == "1":
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8"), f"rerun with HELMCR_UPDATE_GOLDEN=1 and review {golden}"


def _diff(name: str = "web", action: Action = Action.UPGRADE, **changes: Any) -> ReleaseDiff:
    return release_diff(ReleaseKey("ns", name), action, **changes)


def _values(value: Any) -> ReleaseDiff:
    return _diff(deployed_values={"old": value}, desired_values={"new": value})


def test_colour_is_only_added_when_asked_and_changes_nothing_else() -> None:
    plain = render_text(sample_diffs())
    coloured = render_text(sample_diffs(), color=True)

    assert not ANSI.search(plain)
    assert "\x1b[32m+apiVersion: apps/v1\x1b[0m" in coloured
    assert "\x1b[31m-  password: (16 bytes)\x1b[0m" in coloured
    assert ANSI.sub("", coloured) == plain


def test_text_shows_notes_and_says_when_there_is_nothing_to_change() -> None:
    diff = _diff(notes=["chart not rendered"], desired_manifest="kind: [")

    assert render_text([]) == "no changes\n"
    assert render_text([diff]).splitlines()[:3] == [
        "upgrade ns/web: no changes",
        "note: chart not rendered",
        "note: desired manifest, document at line 1 is not valid YAML (expected the node content, but found"
        " '<stream end>' at line 1); it is left out of the diff",
    ]


def test_markdown_without_releases_says_so() -> None:
    assert render_markdown([], title="Preview") == f"{MARKER}\n### Preview\n\nNo changes.\n"


def test_markdown_escapes_what_would_break_a_table_or_the_page() -> None:
    value = "a|b `c` <details></details> *d* _e_ $x$ [f](g) \\ @team"

    rendered = render_markdown([_values(value)])

    assert (
        '<code>"a\\|b \\`c\\` &lt;details&gt;&lt;/details&gt; \\*d\\* \\_e\\_ \\$x\\$ \\[f\\](g) \\\\\\\\ @team"</code>'
        in rendered
    )
    assert rendered.count("<details>") == rendered.count("</details>") == 1


def test_markdown_table_cells_stay_on_one_line() -> None:
    rendered = render_markdown([_diff(notes=["one\ntwo"])])

    assert "- note: one two" in rendered.splitlines()


def test_the_fence_is_longer_than_any_backticks_in_the_diff() -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: readme}\ndata: {README.md: '````sh\\nls\\n````'}\n"

    rendered = render_markdown([_diff(action=Action.INSTALL, desired_manifest=manifest)])

    assert "`````diff" in rendered.splitlines()
    assert rendered.splitlines().count("`````") == 1


def test_markdown_summary_table_counts_each_release() -> None:
    rendered = render_markdown(sample_diffs())

    assert "| <code>backend/api</code> | upgrade | 3 changed | 2 changed |" in rendered
    assert "| <code>ns/web</code> | upgrade | — | — |" in render_markdown([_diff()])


def _large(count: int, size: int) -> list[ReleaseDiff]:
    manifest = "".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}}}\ndata: {{k: {'x' * 60}}}\n"
        for i in range(size)
    )
    values = {f"key{i}": "v" * 40 for i in range(size)}
    return [
        _diff(f"r{n}", Action.INSTALL, desired_values=values, desired_manifest=manifest, notes=["n|o`te"])
        for n in range(count)
    ]


def _well_formed(rendered: str) -> None:
    lines = rendered.splitlines()
    assert rendered.count("<details>") == rendered.count("</details>")
    assert len([line for line in lines if re.fullmatch("`{3,}(diff)?", line)]) % 2 == 0


def test_a_large_comment_is_cut_under_githubs_limit_with_a_note() -> None:
    diffs = _large(count=5, size=100)

    rendered = render_markdown(diffs)

    assert len(rendered) <= COMMENT_LIMIT
    _well_formed(rendered)
    assert rendered.endswith("of 5 releases are shown in full. Run `helmcr diff` for the whole diff.\n")
    assert "| <code>ns/r4</code> | install | 100 added | 100 added |" in rendered  # the summary is whole
    assert len(render_markdown(diffs[:1])) < COMMENT_LIMIT and "Truncated" not in render_markdown(diffs[:1])


@settings(max_examples=60, deadline=None)
@given(limit=st.integers(min_value=450, max_value=12_000), count=st.integers(min_value=1, max_value=3))
def test_a_cut_comment_always_fits_and_closes_what_it_opened(limit: int, count: int) -> None:
    diffs = _large(count, size=20)

    rendered = render_markdown(diffs, limit=limit)

    assert len(rendered) <= limit
    _well_formed(rendered)
    assert "Truncated" in rendered or rendered == render_markdown(diffs, limit=10**9)


def test_the_json_form_matches_its_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    samples = [
        sample_diffs(),
        [],
        [_diff(action=Action.SKIP)],
        [_diff(desired_values={"when": datetime.date(2024, 1, 2), "empty": [], "map": {}, "n": None, "f": 1.5})],
    ]
    for diffs in samples:
        jsonschema.validate(json.loads(json.dumps(to_json_document(diffs))), SCHEMA)


def test_the_json_form_holds_values_as_json_and_redacted_ones_as_null() -> None:
    (release,) = to_json_document([_diff(desired_values={"when": datetime.date(2024, 1, 2), "token": "abcdef"})])[
        "releases"
    ]

    assert release["values"] == [
        {"path": "token", "change": "added", "old": None, "new": None, "redacted": True},
        {"path": "when", "change": "added", "old": None, "new": "2024-01-02", "redacted": False},
    ]
    assert release["summary"] == {
        "values": {"added": 2, "changed": 0, "removed": 0},
        "objects": {"added": 0, "changed": 0, "removed": 0},
    }


def test_the_schema_refuses_a_redacted_change_that_carries_a_value() -> None:
    document = to_json_document([ReleaseDiff(ReleaseKey("ns", "a"), Action.UPGRADE, (), ())])
    document["releases"][0]["values"] = [{"path": "p", "change": "added", "old": None, "new": "x", "redacted": True}]

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, SCHEMA)


def test_a_value_change_is_shown_the_same_way_in_every_form() -> None:
    diff = ReleaseDiff(ReleaseKey("ns", "a"), Action.UPGRADE, (ValueChange("x", "changed", "1", 1),), ())

    assert '  ~ x: "1" → 1' in render_text([diff])
    assert '| <code>x</code> | changed | <code>"1"</code> | <code>1</code> |' in render_markdown([diff])
    assert to_json_document([diff])["releases"][0]["values"][0]["old"] == "1"
