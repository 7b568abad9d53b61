"""A run's remote charts: each (repository or registry, chart, version) pulled once, when the first install, upgrade
or dry run needs it, and every helm of the run given that archive.

Given a reference, helm fetches the chart itself, in every process: a run installing 100 releases of one chart would
pull it 200 times (each install is checked on a dry run first), and could install two contents of one re-pushed
version. Pulling lazily keeps a run that changes nothing at no helm process. A failed pull is remembered for the run
as well: every release that needs the chart fails with its one message and nothing else is tried for them, so a
refused password costs one refused login, not one per release, and no release of it is touched.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconcile.adapters import helm_pull
from reconcile.adapters.helm import Helm
from reconcile.charts import pulled_chart
from reconcile.errors import ChartPullError, HelmcrError
from reconcile.model import ChartRef, ReleaseKey
from reconcile.settings import HelmOptions


@dataclass
class _Pull:
    """One chart's pull: the first caller pulls while holding ``lock``, the others wait for what it got."""

    number: int  # its directory's name in the run's scratch directory
    lock: threading.Lock = field(default_factory=threading.Lock)
    chart: ChartRef | None = None
    failure: str = ""


class RemoteCharts:
    """Turns a remote chart into the archive pulled for this run; a local chart passes through unchanged. The
    scratch directory is made by the first pull (a run of local charts touches no disk) and removed by
    :meth:`close`."""

    def __init__(self, helm: Helm) -> None:
        self.helm = helm
        self._lock = threading.Lock()
        self._pulls: dict[str, _Pull] = {}
        self._scratch: Path | None = None

    def local(self, chart: ChartRef) -> ChartRef:
        """The chart as helm should be given it; raises :class:`ChartPullError` when it could not be pulled."""
        if not chart.pinned:
            return chart
        with self._lock:
            pull = self._pulls.get(chart.identity)
            if pull is None:
                pull = self._pulls[chart.identity] = _Pull(len(self._pulls))
        with pull.lock:
            if pull.chart is None and not pull.failure:
                try:
                    archive = helm_pull.pull(self.helm, chart, self._directory(pull))
                    pull.chart = pulled_chart(chart, archive)
                except HelmcrError as error:
                    pull.failure = f"{describe(chart)} could not be pulled: {error}"
                except OSError as error:  # a full or unwritable TMPDIR
                    pull.failure = f"{describe(chart)} could not be pulled: {error.strerror or error}"
        if pull.chart is None:
            raise ChartPullError(pull.failure)
        return pull.chart

    def close(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def _directory(self, pull: _Pull) -> Path:
        with self._lock:
            if self._scratch is None:
                self._scratch = Path(tempfile.mkdtemp(prefix="helmcr-charts-"))  # 0700, the run's own
        return self._scratch / str(pull.number)

    def render(
        self,
        key: ReleaseKey,
        chart: ChartRef,
        values: Mapping[str, Any],
        options: HelmOptions,
        offline: bool,
        secrets: Sequence[str] = (),
    ) -> str:
        """:meth:`Helm.render` of the chart as pulled: what a preview renders through."""
        return self.helm.render(key, self.local(chart), values, options, offline, secrets)


def describe(chart: ChartRef) -> str:
    """A remote chart as its config names it: ``chart memcached 1.2.3 from https://…`` or the ``oci://`` one."""
    where = f" from {chart.repo_url}" if chart.repo_url else ""
    return f"chart {chart.source} {chart.version}{where}"


@contextmanager
def remote_charts(helm: Helm) -> Iterator[RemoteCharts]:
    """For one run: the archives are removed when it ends, however it ends."""
    charts = RemoteCharts(helm)
    try:
        yield charts
    finally:
        charts.close()
