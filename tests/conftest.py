"""Test-suite wide settings: marking integration tests, and refusing to let them skip.

Integration tests are those under ``tests/integration``; they get the ``integration`` marker here, so
``pytest -m "not integration"`` runs the fast unit tests alone without anyone having to remember the decorator.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

INTEGRATION_DIR = Path(__file__).resolve().parent / "integration"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(INTEGRATION_DIR):
            item.add_marker(pytest.mark.integration)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Turn a skipped integration test into a failure.

    A skip would hide a missing binary or a broken control plane behind a green run; the integration tests are the
    proof that helmcr works against a real cluster, so they run or fail.
    """
    report = yield
    if report.skipped and item.get_closest_marker("integration") and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"integration tests must not skip, but this one did: {report.longrepr}"
    return report
