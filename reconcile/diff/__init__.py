"""The diff engine behind the CI preview (``helmcr diff``, ``helmcr sync --once --dry-run``): pure functions only.

The pipeline renders both sides with helm and hands the results here; nothing in this package does I/O, so every
rule is unit-tested and the preview cannot change anything. The API:

- :func:`release_diff` — one release: its values leaf by leaf and its manifest object by object, redacted.
  An install has nothing deployed (every object is added and shown whole), an uninstall nothing desired.
- :func:`sensitive_paths` — the path patterns a chart's values schema marks secret (``writeOnly: true`` or
  ``format: password``), to pass to :func:`release_diff`; union the old and the new chart's when they differ.
- :func:`render_text` (a unified diff, ANSI colours on request), :func:`render_markdown` (a PR comment under
  GitHub's size limit) and :func:`to_json_document` (the schema is ``docs/schemas/diff.schema.json``).
- :func:`diff_values` and :func:`diff_manifests`, the two halves of :func:`release_diff`, for callers that need
  only one.

Redaction happens here, before any renderer sees a result: the values at sensitive paths or under keys matching
``sensitive_key`` (by default :data:`reconcile.redact.SENSITIVE_KEY`) are not shown; their text is masked by a
numbered token, ``(secret 1)``, wherever another value, a manifest or a note repeats it; a Secret's ``data`` and
``stringData`` show only which keys changed and their sizes. ``show_secrets=True`` turns all of that off.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from reconcile.diff.manifests import diff_manifests
from reconcile.diff.mask import Masker
from reconcile.diff.model import ManifestDiff, ObjectChange, ReleaseDiff, ValueChange
from reconcile.diff.render import render_markdown, render_text, to_json_document
from reconcile.diff.values import diff_values, secret_values, sensitive_paths
from reconcile.model import Action, ReleaseKey
from reconcile.redact import SENSITIVE_KEY

__all__ = [
    "ManifestDiff",
    "ObjectChange",
    "ReleaseDiff",
    "ValueChange",
    "diff_manifests",
    "diff_values",
    "release_diff",
    "render_markdown",
    "render_text",
    "sensitive_paths",
    "to_json_document",
]


def release_diff(
    key: ReleaseKey,
    action: Action,
    *,
    deployed_values: Mapping[str, Any] | None = None,
    desired_values: Mapping[str, Any] | None = None,
    deployed_manifest: str = "",
    desired_manifest: str = "",
    sensitive_paths: Collection[str] = frozenset(),
    sensitive_key: re.Pattern[str] | None = SENSITIVE_KEY,
    context: int = 3,
    show_secrets: bool = False,
    notes: Sequence[str] = (),
) -> ReleaseDiff:
    """What ``action`` would change in the release ``key``; ``notes`` (the caller's) come first and are masked too.

    Objects without a namespace are placed in ``key.namespace``, as helm places them.
    """
    secrets = (
        []
        if show_secrets
        else secret_values(
            deployed_values, desired_values, sensitive_paths=sensitive_paths, sensitive_key=sensitive_key
        )
    )
    values = diff_values(
        deployed_values,
        desired_values,
        sensitive_paths=sensitive_paths,
        sensitive_key=sensitive_key,
        show_secrets=show_secrets,
    )
    manifests = diff_manifests(
        deployed_manifest,
        desired_manifest,
        namespace=key.namespace,
        context=context,
        show_secrets=show_secrets,
        secrets=secrets,
    )
    return ReleaseDiff(
        key=key,
        action=action,
        values=values,
        objects=manifests.objects,
        notes=tuple(Masker(secrets).text(note) for note in (*notes, *manifests.notes)),
    )
