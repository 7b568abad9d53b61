"""The project's own errors: each carries the one sentence a user needs to act, naming the object and the cause.

The adapters raise them already sorted by what the caller can do about it (not found, conflict, forbidden, worth
retrying; for helm: did not render, release locked, timed out, conflict), so the rest of helmcr catches them by
type and never compares HTTP statuses or parses helm's stderr. The CLI turns them into a message and an exit code;
nothing catches them broadly, so a bug still shows a traceback instead of hiding behind a friendly sentence.
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
    category: str = "error"  # a stable name for reports (``errorKind`` in -o json)


class ConfigError(HelmcrError):
    """The config file is unreadable or invalid; raised before any cluster call."""

    exit_code = ExitCode.CONFIG_ERROR
    category = "config"


class KubeError(HelmcrError):
    """The API server refused a request helmcr cannot do without, for a reason no retry changes."""

    exit_code = ExitCode.CLUSTER_ERROR
    category = "kube"
    retryable = False


class KubeNotFound(KubeError):
    """404: the object, or the resource type itself, does not exist."""

    category = "not-found"


class KubeConflict(KubeError):
    """409: someone wrote the object since it was read (or created it first); re-read before deciding again."""

    category = "conflict"


class KubeForbidden(KubeError):
    """401/403: these credentials may not do this; RBAC or the kubeconfig must change, not the timing."""

    category = "forbidden"


class KubeTransient(KubeError):
    """The API server could not be reached, timed out, or was overloaded (429, 5xx): the same request may work
    on the next run."""

    category = "unreachable"
    retryable = True


class HelmError(HelmcrError):
    """A helm process failed; the message is helm's own stderr, shortened and redacted."""

    category = "helm-failed"

    def __init__(self, message: str, returncode: int = 1) -> None:
        super().__init__(message)
        self.returncode = returncode


class HelmRenderError(HelmError):
    """The chart did not render with these values (template, schema or YAML error): only new values or a new chart
    help."""

    category = "render-failed"


class HelmReleaseLocked(HelmError):
    """helm found another operation in progress on the release."""

    category = "release-locked"


class HelmTimeout(HelmError):
    """helm ran out of its --timeout (waiting for resources, hooks, or the API server)."""

    category = "timed-out"


class HelmConflict(HelmError):
    """The API server refused an object helm applied: another field manager owns a field, or the object was
    modified meanwhile, or it belongs to another release."""

    category = "conflict"


class HelmInterrupted(HelmError):
    """helm was stopped by a signal before it finished."""

    category = "interrupted"


class ObjectsRefused(HelmcrError):
    """The chart, with the CR's values, renders objects the kind's rules do not allow; helm applied nothing."""

    category = "refused"


class DigestKeyMissing(HelmcrError):
    """A kind's releases were deployed with a digest key this run does not have: nothing of it can be judged."""

    category = "digest-key"


class ChartError(HelmcrError):
    """A chart cannot be found or read; only the CRs of that kind are affected."""

    category = "chart"


class ChartPullError(ChartError):
    """A remote chart could not be pulled (credentials refused, version missing, registry unreachable): only the
    releases that need it this run fail, and nothing of them is touched."""

    category = "pull-failed"


class LeaseHeldError(HelmcrError):
    """Another run holds the run lease; this run changed nothing."""

    exit_code = ExitCode.LEASE_HELD
    category = "lease-held"
