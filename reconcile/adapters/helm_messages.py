"""helm's failures in words: helm has no error codes, so its stderr is shortened to one line and categorised by
what it says (the same sentences in Helm 3 and 4)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from reconcile.errors import HelmConflict, HelmError, HelmReleaseLocked, HelmRenderError, HelmTimeout
from reconcile.redact import redact

MESSAGE_LIMIT = 600


def short_message(stderr: str, secrets: Sequence[str] = ()) -> str:
    """helm's error in one readable line: from its last ``Error:`` line on (schema errors list one problem a line),
    secrets masked, length bounded; the warnings before it are noise."""
    stderr = redact(stderr, secrets)  # before lines are joined: a multi-line secret spans them
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    starts = [index for index, line in enumerate(lines) if line.startswith("Error:")]
    panics = [line for line in lines if line.startswith("panic:")]
    if starts:
        text = " ".join(lines[starts[-1] :]).removeprefix("Error:").strip()
    elif panics:  # a Go stack trace: the panic line says what went wrong, its last lines only where
        text = f"helm crashed: {panics[0]}"
    else:
        text = " ".join(lines[-3:]) or "helm failed"
    text = redact(text, secrets)
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


HELM_ERROR_PATTERNS: tuple[tuple[type[HelmError], re.Pattern[str]], ...] = (
    (HelmReleaseLocked, re.compile(r"another operation \(install/upgrade/rollback\) is in progress")),
    (HelmTimeout, re.compile(r"timed out waiting|context deadline exceeded|timed out after")),
    (
        HelmConflict,
        re.compile(
            r"conflict occurred while applying|Apply failed with \d+ conflicts?|the object has been modified|"
            r"exists and cannot be imported into the current release|cannot re-use a name"
        ),
    ),
    (
        HelmRenderError,
        re.compile(
            r"parse error|execution error at|template: |YAML parse error|error converting YAML|"
            r"unable to build kubernetes objects|values don't meet the specifications of the schema|"
            r"chart requires kubeVersion|function \S+ not defined|failed to render"
        ),
    ),
)


def helm_error(message: str, returncode: int) -> HelmError:
    """The category of a helm failure, from its message: helm has no error codes, only its words, and these
    are the same in Helm 3 and 4."""
    for error_type, pattern in HELM_ERROR_PATTERNS:
        if pattern.search(message):
            return error_type(message, returncode)
    return HelmError(message, returncode)
