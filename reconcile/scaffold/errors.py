"""The two ways scaffold refuses, each with the exit code the CLI documents."""

from __future__ import annotations

from reconcile.errors import ExitCode, HelmcrError


class ScaffoldInputError(HelmcrError):
    """A flag, the chart, or a values file is unusable: nothing was written."""

    exit_code = ExitCode.CONFIG_ERROR


class OverwriteRefused(HelmcrError):
    """Some files were edited by hand (or were never helmcr's): nothing was written, so no edit is lost."""

    exit_code = ExitCode.NOT_CONVERGED
