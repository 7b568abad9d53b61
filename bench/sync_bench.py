"""Benchmark of ``helmcr sync --once`` on a real control plane: a no-op run over N CRs, then k of N changed.

With ``--drift detect,correct`` the releases' objects exist too (each release's StatefulSet and Service, applied
server-side under helm's field manager name, as Helm 4 applies them), and the no-op is timed again with drift and
health on: the cost of reading the live objects, which must find no drift in objects nobody touched.

Not a test: it prints figures (see docs/benchmarks.md for results and the machine they ran on). N releases are
created directly as release records in Helm's storage layout (Secret ``sh.helm.release.v1.<name>.v1``, type
``helm.sh/release.v1``, gzipped JSON payload, labels owner/name/status/version plus helmcr's labels), cloned from
one release that the real helm installed, so that helm can later upgrade them like any other release.

    python -m bench.sync_bench --crs 1000 --changed 1,10,100 --concurrency 8
    python -m bench.sync_bench --crs 1000 --changed "" --drift detect,correct
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml
from kubernetes import client

from devenv.controlplane import ControlPlane
from devenv.crds import establish_crd, free_form_crd
from devenv.helmcli import isolated_helm
from reconcile.charts import resolve_chart
from reconcile.desired import desired_from_resource
from reconcile.labels import ownership_labels
from reconcile.settings import Watch
from tests.integration.support import kubectl

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "examples" / "memcached" / "chart"
GROUP, VERSION, KIND, PLURAL = "bench.helmcr.io", "v1alpha1", "Memcached", "memcacheds"
NAMESPACE = "bench"
TEMPLATE_RELEASE = "tmplrelzz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--crs", type=int, default=1000)
    parser.add_argument("--changed", default="1,10,100", help="comma-separated k values")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5, help="no-op runs to time")
    parser.add_argument("--helm", type=int, default=4, choices=(3, 4))
    parser.add_argument("--drift", default="", help="comma-separated drift modes to time the no-op with too")
    parser.add_argument("--shards", type=int, default=0, help="time the no-op again as this many --shard runs")
    parser.add_argument("--page-size", type=int, default=1000, help="the config's pageSize")
    parser.add_argument("--profile", default="", help="write a cProfile of one more no-op run to this file")
    parser.add_argument("--compare", default="", help="a checkout of another helmcr commit: time its no-op too")
    args = parser.parse_args()
    drift_modes = [mode for mode in args.drift.split(",") if mode]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {_memory()}, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
    with ControlPlane() as plane, tempfile.TemporaryDirectory(prefix="helmcr-bench-") as scratch:
        bench = Bench(plane, Path(scratch), args.helm, args.concurrency, args.page_size)
        seconds = bench.populate(args.crs, live_objects=bool(drift_modes))
        print(f"setup: {args.crs} CRs and {args.crs} release records created in {seconds:.1f} s")
        bench.no_op(args.repeat, args.crs)
        if args.profile:
            bench.profile = args.profile
            bench.no_op(1, args.crs, f"profiled into {args.profile}")
            bench.profile = ""
        if args.compare:
            bench.source = Path(args.compare)
            bench.no_op(args.repeat, args.crs, f"helmcr of {args.compare}")
            bench.source = REPO
        if args.shards:
            bench.sharded(args.repeat, args.crs, args.shards)
        for mode in drift_modes:
            bench.configure(drift={"mode": mode}, health=True)
            bench.no_op(args.repeat, args.crs, f"drift {mode}, health on")
        bench.configure()
        for k in (int(x) for x in args.changed.split(",") if x):
            bench.changed(k)


@dataclass(frozen=True)
class Run:
    report: dict[str, Any]
    wall: float
    rss_kb: int
    cpu: float  # helmcr's user + system seconds (with the helm processes it waited for)
    server_cpu: float  # the API server's during the run


class Bench:
    def __init__(self, plane: ControlPlane, scratch: Path, helm_major: int, concurrency: int, page_size: int) -> None:
        self.plane = plane
        self.page_size = page_size
        self.scratch = scratch
        self.api = plane.admin_client()
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.helm = isolated_helm(
            helm_major, plane.kubeconfig, scratch / "helm-home", extra_path=plane.bin_path(helm_major)
        )
        self.concurrency = concurrency
        self.calls = scratch / "helm-calls.log"
        self.wrapper = scratch / "helm"
        self.wrapper.write_text(f'#!/bin/sh\necho "$1" >> "{self.calls}"\nexec "{self.helm.binary}" "$@"\n')
        self.wrapper.chmod(0o755)
        self.config = scratch / "helmcr.yaml"
        self.configure()
        self.watch = Watch(group=GROUP, version=VERSION, kind=KIND, chart=str(CHART))
        self.generation = 0
        self.source = REPO  # whose reconcile package runs
        self.profile = ""  # a file: the run is profiled into it

    def configure(self, **watch: Any) -> None:
        entry = {"group": GROUP, "version": VERSION, "kind": KIND, "chart": str(CHART), **watch}
        self.config.write_text(
            yaml.safe_dump({"watches": [entry], "pageSize": self.page_size})
        )  # helmcr defaults, not a watches.yaml's

    def populate(self, count: int, live_objects: bool) -> float:
        started = time.monotonic()
        spec = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        establish_crd(self.api, free_form_crd(GROUP, VERSION, KIND, PLURAL, spec))
        self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
        values = self.scratch / "values.yaml"
        values.write_text("replicaCount: 1\n")
        self.helm.run("install", TEMPLATE_RELEASE, str(CHART), "-n", NAMESPACE, "-f", str(values))
        template = self.core.read_namespaced_secret(f"sh.helm.release.v1.{TEMPLATE_RELEASE}.v1", NAMESPACE)
        payload = json.loads(gzip.decompress(base64.b64decode(base64.b64decode((template.data or {})["release"]))))
        self.helm.run("uninstall", TEMPLATE_RELEASE, "-n", NAMESPACE)
        chart = resolve_chart(self.watch, REPO)
        with ThreadPoolExecutor(8) as pool:
            resources = list(pool.map(lambda i: self._create_cr(f"cache-{i:05d}"), range(count)))
            list(pool.map(lambda r: self._create_release(r, payload, chart), resources))
        if live_objects:
            self._apply_objects(str(payload["manifest"]), [r["metadata"]["name"] for r in resources])
        return time.monotonic() - started

    def _apply_objects(self, manifest: str, names: list[str]) -> None:
        """Each release's objects, applied server-side as manager ``helm`` in chunks (one kubectl per chunk)."""
        for start in range(0, len(names), 200):
            text = "\n---\n".join(manifest.replace(TEMPLATE_RELEASE, name) for name in names[start : start + 200])
            applied = kubectl(
                self.plane.kubeconfig, "apply", "-n", NAMESPACE, "--server-side", "--field-manager=helm", "-f", "-",
                stdin=text,
            )  # fmt: skip
            if applied.returncode != 0:
                raise SystemExit(f"kubectl apply failed: {applied.stderr[-2000:]}")

    def no_op(self, repeat: int, count: int, what: str = "drift and health off", *extra: str) -> None:
        runs = [self._sync(*extra) for _ in range(repeat)]
        report = runs[-1].report
        walls = [run.wall for run in runs]
        skipped = report["summary"]["inSync"]
        if not extra:
            assert skipped == count, f"expected {count} in sync, got {report['summary']}"
        print(
            f"no-op over {count} CRs, {what}: wall from process start median {statistics.median(walls):.2f} s "
            f"(min {min(walls):.2f}, max {max(walls):.2f}, {repeat} runs); API requests "
            f"{report['stats']['apiRequests']}; helm processes {self._helm_processes_last}; "
            f"peak RSS {max(run.rss_kb for run in runs) / 1024:.0f} MB; in-process pass "
            f"{report['stats']['seconds']:.2f} s; helmcr CPU {statistics.median(run.cpu for run in runs):.2f} s; "
            f"API server CPU {statistics.median(run.server_cpu for run in runs):.2f} s"
        )

    def sharded(self, repeat: int, count: int, shards: int) -> None:
        """The same no-op split over ``shards`` runs, one after the other (as an Indexed Job's pods would run them
        side by side on as many cores)."""
        for index in range(shards):
            self.no_op(repeat, count, f"shard {index}/{shards}", "--shard", f"{index}/{shards}")

    def changed(self, k: int) -> None:
        self.generation += 1
        names = [f"cache-{i:05d}" for i in range(k)]
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda n: self.custom.patch_namespaced_custom_object(
                        GROUP, VERSION, NAMESPACE, PLURAL, n, {"spec": {"replicaCount": 1 + self.generation}}
                    ),
                    names,
                )
            )
        run = self._sync()
        report, wall, rss = run.report, run.wall, run.rss_kb
        upgraded = report["summary"]["upgraded"]
        assert upgraded == k, f"expected {k} upgrades, got {report['summary']} {report['errors']}"
        print(
            f"{k} of N changed: wall {wall:.2f} s, {k / wall:.1f} releases/s at concurrency {self.concurrency}, "
            f"helm processes {self._helm_processes_last}, peak RSS {rss / 1024:.0f} MB"
        )

    def _sync(self, *extra: str) -> Run:
        before = self._helm_lines()
        command = [
            "/usr/bin/time",
            "-f",
            "%M %U %S",
            sys.executable,
            *(["-m", "cProfile", "-o", self.profile] if self.profile else []),
            "-m",
            "reconcile.cli",
            "sync",
            "--once",
            "-c",
            str(self.config),
            "--kubeconfig",
            str(self.plane.kubeconfig),
            "--helm-binary",
            str(self.wrapper),
            "--concurrency",
            str(self.concurrency),
            "-n",
            NAMESPACE,
            "-o",
            "json",
            *extra,
        ]
        server_before = self._server_cpu()
        started = time.monotonic()
        env = {**self.helm.env, "PYTHONPATH": str(self.source)}
        process = subprocess.run(command, capture_output=True, text=True, env=env, cwd=self.source, check=False)
        wall = time.monotonic() - started
        server_cpu = self._server_cpu() - server_before
        if process.returncode != 0:
            raise SystemExit(f"helmcr failed ({process.returncode}): {process.stderr[-2000:]}")
        self._helm_processes_last = self._helm_lines() - before
        rss, user, system = process.stderr.strip().splitlines()[-1].split()
        return Run(json.loads(process.stdout), wall, int(rss), float(user) + float(system), server_cpu)

    def _server_cpu(self) -> float:
        """kube-apiserver's user + system CPU seconds so far, from /proc."""
        fields = Path(f"/proc/{self.plane.pids['kube-apiserver']}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _helm_lines(self) -> int:
        return len(self.calls.read_text().splitlines()) if self.calls.exists() else 0

    _helm_processes_last = 0

    def _create_cr(self, name: str) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": KIND,
            "metadata": {"name": name},
            "spec": {"replicaCount": 1},
        }
        created = self.custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)
        return cast(dict[str, Any], created)

    def _create_release(self, resource: dict[str, Any], template: dict[str, Any], chart: Any) -> None:
        desired = desired_from_resource(resource, self.watch, chart)
        name = desired.key.name
        text = json.dumps(template).replace(TEMPLATE_RELEASE, name)
        release = json.loads(text)
        labels = ownership_labels(desired.owner, desired.digest)
        release["labels"] = labels
        encoded = base64.b64encode(gzip.compress(json.dumps(release).encode())).decode()
        self.core.create_namespaced_secret(
            NAMESPACE,
            {  # type: ignore[arg-type]  # the client accepts a plain dict, as the API does
                "metadata": {
                    "name": f"sh.helm.release.v1.{name}.v1",
                    "labels": {**labels, "owner": "helm", "name": name, "status": "deployed", "version": "1"},
                },
                "type": "helm.sh/release.v1",
                "data": {"release": base64.b64encode(encoded.encode()).decode()},
            },
        )


def _memory() -> str:
    with open("/proc/meminfo") as handle:
        kilobytes = int(handle.readline().split()[1])
    return f"{kilobytes / 1024 / 1024:.0f} GiB RAM"


if __name__ == "__main__":
    main()
