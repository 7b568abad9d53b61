"""Benchmark of the changed path: N new CRs converged by ``helmcr sync --once``, against the floor of driving helm,
a plain loop of ``helm upgrade --install`` over N releases at the same concurrency, on the same control plane.

Not a test: it prints figures (docs/benchmarks.md records them with the machine). For each phase: wall time,
releases per second, CPU seconds per release (helmcr and every helm process it waited for, from the kernel's
accounting of children), and where the API server's time went, from its audit log: requests and server-side
seconds per category (discovery, OpenAPI, release records, the chart's objects, dry runs, CR status and Events),
per release. ``helm version`` is timed alone for the cost of starting helm.

    python -m bench.install_bench --crs 200 --concurrency 4 --helm 4
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from devenv.controlplane import ControlPlane
from devenv.crds import establish_crd, free_form_crd
from devenv.helmcli import Helm, isolated_helm

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "examples" / "memcached" / "chart"
GROUP, VERSION, KIND, PLURAL = "bench.helmcr.io", "v1alpha1", "Memcached", "memcacheds"
NAMESPACE = "bench"
SPEC = {"replicaCount": 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--crs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--helm", type=int, default=4, choices=(3, 4))
    parser.add_argument("--config", default="", help="extra watch fields as YAML, e.g. '{allowClusterScoped: true}'")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with ControlPlane() as plane, tempfile.TemporaryDirectory(prefix="helmcr-install-bench-") as scratch:
        helm = isolated_helm(
            args.helm, plane.kubeconfig, Path(scratch) / "helm-home", extra_path=plane.bin_path(args.helm)
        )
        print(
            f"helm {helm.run('version', '--short').stdout.strip()}, {args.crs} releases, concurrency {args.concurrency}"
        )
        api = plane.admin_client()
        establish_crd(
            api,
            free_form_crd(
                GROUP, VERSION, KIND, PLURAL, {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
            ),
        )
        client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
        print(f"helm version alone (process start): median {_helm_start(helm):.3f} s of 5")
        audit = Audit(plane.audit_log)
        extra = yaml.safe_load(args.config) if args.config else {}
        for phase in (_helmcr(plane, helm, api, Path(scratch), args, extra), _loop(helm, Path(scratch), args)):
            measured = measure(phase.run, audit)
            measured.report(phase.name, args.crs)


@dataclass
class Phase:
    name: str
    run: Callable[[], None]


def _helmcr(plane: ControlPlane, helm: Helm, api: client.ApiClient, scratch: Path, args: Any, extra: Any) -> Phase:
    custom = client.CustomObjectsApi(api)
    config = scratch / "helmcr.yaml"
    entry = {"group": GROUP, "version": VERSION, "kind": KIND, "chart": str(CHART), **extra}
    config.write_text(yaml.safe_dump({"watches": [entry]}))  # helmcr's defaults, not a watches.yaml's
    body = lambda name: {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "metadata": {"name": name}, "spec": SPEC}  # noqa: E731
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda i: custom.create_namespaced_custom_object(
                    GROUP, VERSION, NAMESPACE, PLURAL, body(f"cr-{i:05d}")
                ),
                range(args.crs),
            )
        )
    command: list[str] = [
        str(Path(sys.executable).parent / "helmcr"), "sync", "--once", "-c", str(config),
        "--kubeconfig", str(plane.kubeconfig), "--helm-binary", str(helm.binary),
        "--concurrency", str(args.concurrency), "-n", NAMESPACE, "-o", "json",
    ]  # fmt: skip

    def run() -> None:
        done = subprocess.run(command, capture_output=True, text=True, env=helm.env, check=False)
        report = json.loads(done.stdout or "{}")
        installed = (report.get("summary") or {}).get("installed")
        if installed != args.crs:
            raise SystemExit(f"helmcr installed {installed} of {args.crs}: {done.stderr[-2000:]}")

    return Phase("helmcr sync --once", run)


def _loop(helm: Helm, scratch: Path, args: Any) -> Phase:
    values = scratch / "values.yaml"
    values.write_text(yaml.safe_dump(SPEC))

    def install(index: int) -> None:
        helm.run("upgrade", "--install", f"loop-{index:05d}", str(CHART), "-n", NAMESPACE, "-f", str(values))

    def run() -> None:
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(install, range(args.crs)))

    return Phase("plain helm upgrade --install loop", run)


def _helm_start(helm: Helm) -> float:
    times = []
    for _ in range(5):
        started = time.monotonic()
        helm.run("version", "--short")
        times.append(time.monotonic() - started)
    return statistics.median(times)


@dataclass
class Measured:
    wall: float
    cpu: float
    requests: dict[str, list[float]] = field(default_factory=dict)

    def report(self, name: str, count: int) -> None:
        print(
            f"{name}: {self.wall:.1f} s wall, {count / self.wall:.1f} releases/s, "
            f"{self.cpu / count:.3f} CPU-s per release (helmcr and helm, client side)"
        )
        for category, latencies in sorted(self.requests.items(), key=lambda item: -sum(item[1])):
            print(
                f"    {category:<34} {len(latencies) / count:6.1f} requests, "
                f"{sum(latencies) / count * 1000:7.1f} ms server time per release"
            )


def measure(run: Callable[[], None], audit: Audit) -> Measured:
    offset = audit.size()
    before = _children_cpu()
    started = time.monotonic()
    run()
    wall = time.monotonic() - started
    cpu = _children_cpu() - before
    return Measured(wall, cpu, audit.categories(offset))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Audit:
    """The API server's audit log (metadata level): who asked what, and how long the server took."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def categories(self, offset: int) -> dict[str, list[float]]:
        found: dict[str, list[float]] = defaultdict(list)
        for event in self._events(offset):
            agent = str(event.get("userAgent") or "")
            who = "helmcr" if agent.startswith("helmcr/") else "helm" if agent.lower().startswith("helm/") else ""
            if who and event.get("stage") == "ResponseComplete":
                found[f"{who}: {_category(event)}"].append(_latency(event))
        return dict(found)

    def _events(self, offset: int) -> Iterator[dict[str, Any]]:
        with self.path.open() as log:
            log.seek(offset)
            for line in log:
                if line.strip():
                    yield json.loads(line)


def _category(event: dict[str, Any]) -> str:
    uri = str(event.get("requestURI") or "")
    verb = str(event.get("verb") or "")
    ref = event.get("objectRef") or {}
    if uri.startswith("/openapi"):
        return "OpenAPI"
    if not ref:
        return "discovery"
    dry = "dryRun=All" in uri
    what = {"secrets": "release records", "events": "Events", PLURAL: "CRs"}.get(ref.get("resource", ""), "objects")
    if ref.get("subresource") == "status":
        what = "CR status"
    return f"{what} {verb}{' (dry run)' if dry else ''}"


def _latency(event: dict[str, Any]) -> float:
    received = datetime.fromisoformat(str(event["requestReceivedTimestamp"]).replace("Z", "+00:00"))
    done = datetime.fromisoformat(str(event["stageTimestamp"]).replace("Z", "+00:00"))
    return (done - received).total_seconds()


if __name__ == "__main__":
    main()
