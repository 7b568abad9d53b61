"""The project's own errors: each carries the one sentence a user needs to act, naming the object and the cause.

The CLI turns them into a message and an exit code; nothing else catches them broadly, so a bug still shows a
traceback instead of hiding behind a friendly sentence.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Every exit code of the command line, in one place (the README and each command's --help list them)."""

    CONVERGED = 0
    NOT_CONVERGED = 1
    CHANGES_PENDING = 2
    CONFIG_ERROR = 3
    CLUSTER_ERROR = 4
    LEASE_HELD = 5
    INTERRUPTED = 130


class HelmcrError(Exception):
    """Base of every error helmcr reports to a user instead of a traceback."""

    exit_code: int = ExitCode.NOT_CONVERGED


class ConfigError(HelmcrError):
    """The config file is unreadable or invalid; raised before any cluster call."""

    exit_code = ExitCode.CONFIG_ERROR


class KubeError(HelmcrError):
    """The API server could not be reached or refused a request helmcr cannot do without."""

    exit_code = ExitCode.CLUSTER_ERROR

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class HelmError(HelmcrError):
    """A helm process failed; the message is helm's own stderr, shortened and redacted."""

    def __init__(self, message: str, returncode: int = 1) -> None:
        super().__init__(message)
        self.returncode = returncode


class ChartError(HelmcrError):
    """A chart cannot be found or read; only the CRs of that kind are affected."""


class LeaseHeldError(HelmcrError):
    """Another run holds the run lease; this run changed nothing."""

    exit_code = ExitCode.LEASE_HELD
