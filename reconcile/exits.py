"""Exit codes: what a run's summary means for the process that started it (a CronJob, a CI step, a person).

0  converged: every release matches its CR, or the only changes left are queued (a rollout's later waves, a
   namespace's budget: the plan, not a problem) (a preview: the plan was made; with --detailed-exitcode, nothing
   would change)
1  not converged: some release failed, is blocked, was not started, waits out a failure's backoff or a halted
   rollout; a chart could not be read or rendered; a status could not be written
2  a preview with --detailed-exitcode: changes are pending
3  invalid config or flags: nothing was done
4  the API server could not be reached, or refused to list a kind: nothing of that kind was changed
5  another run holds the run lease: nothing was changed
130 stopped by SIGTERM/SIGINT (running helm operations were let finish)
"""

from __future__ import annotations

from reconcile.errors import ExitCode
from reconcile.model import Action, Result, RunSummary
from reconcile.preview import Preview


def exit_code(summary: RunSummary) -> ExitCode:
    if any(error.cluster for error in summary.kind_errors):
        return ExitCode.CLUSTER_ERROR
    not_started = any(o.result is Result.NOT_STARTED and o.step.action is not Action.SKIP for o in summary.outcomes)
    waiting = any(o.step.action is Action.WAIT for o in summary.outcomes)  # its release is still failed
    if summary.kind_errors or summary.failed or summary.status_errors or not_started or waiting:
        return ExitCode.NOT_CONVERGED
    return ExitCode.CONVERGED


def preview_exit_code(summary: RunSummary, result: Preview, detailed: bool) -> ExitCode:
    """terraform's and helm-diff's convention with --detailed-exitcode: 0 nothing to do, 2 changes, 1 error."""
    if any(error.cluster for error in summary.kind_errors):
        return ExitCode.CLUSTER_ERROR
    blocked = any(o.result is Result.BLOCKED for o in summary.outcomes)
    if summary.kind_errors or result.problems or blocked:
        return ExitCode.NOT_CONVERGED
    if detailed and result.diffs:
        return ExitCode.CHANGES_PENDING
    return ExitCode.CONVERGED
