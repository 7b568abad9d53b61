"""No false drift on real charts: releases of third-party charts (the archived helm/charts ones), installed by helm 3
and helm 4 and touched by nobody, are in sync for the drift pass too; whatever the API server defaulted or
normalised in their StatefulSets, Services, Secrets and ConfigMaps is not called drift."""

from __future__ import annotations

import pytest

from tests.integration.support import SHARED_CHARTS, Helmcr, Resources, cache_watch


@pytest.mark.parametrize("chart", ["memcached", "redis", "postgresql", "mariadb"])
def test_an_untouched_release_of_a_real_chart_has_no_drift(
    chart: str, helmcr: Helmcr, caches: Resources, namespace: str
) -> None:
    watch = cache_watch(chart=str(SHARED_CHARTS / chart), disableHooks=True, drift={"mode": "detect"})
    helmcr.configure([watch])
    caches.create("real", {})
    installed = helmcr.sync("-n", namespace, "-o", "json")
    assert installed.exit_code == 0, installed.stdout + installed.stderr
    again = helmcr.sync("-n", namespace, "-o", "json")
    outcome = again.outcome("real")
    assert (outcome["state"], again.helm_processes) == ("in-sync", 0), outcome["reason"]
    drifted = next(c for c in caches.get("real")["status"]["conditions"] if c["type"] == "Drifted")
    assert (drifted["status"], drifted["reason"]) == ("False", "InSync"), drifted["message"]
