"""How long a CR waits for its release when the CronJob does the work: ``python -m bench.cronjob_bench``.

A real control plane and node (devenv), the image built from cronjob/Dockerfile, the kind scaffolded and applied
with ``kubectl apply -k`` on an every-minute schedule. For each CR it prints the time from its creation to its
release deployed, split into the wait for the schedule's tick, the Job's pod getting to run, and helmcr's run in the
pod. A figure to read with its machine, not a test: nothing here asserts a duration.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import tempfile
import time
from pathlib import Path

from kubernetes import client

from devenv import image
from devenv.controlplane import ControlPlane
from devenv.helmcli import isolated_helm
from devenv.node import Node
from tests.integration.cronjob_support import deploy, digest_key
from tests.integration.node_fixtures import E2E_CHARTS

NAMESPACE = "bench"


def release_deployed_at(core: client.CoreV1Api, name: str) -> datetime.datetime | None:
    """When helm wrote the release's deployed record (revision 1): the moment the release exists for users."""
    selector = f"owner=helm,name={name},status=deployed"
    records = core.list_namespaced_secret(NAMESPACE, label_selector=selector).items
    stamps = [r.metadata.creation_timestamp for r in records if r.metadata and r.metadata.creation_timestamp]
    return min(stamps) if stamps else None


def scheduled_job_for(batch: client.BatchV1Api, after: datetime.datetime) -> client.V1Job | None:
    for job in batch.list_namespaced_job(NAMESPACE).items:
        created = job.metadata.creation_timestamp if job.metadata else None
        if created and created >= after.replace(microsecond=0):
            return job
    return None


def pod_started_at(core: client.CoreV1Api, job: str) -> datetime.datetime | None:
    pods = core.list_namespaced_pod(NAMESPACE, label_selector=f"job-name={job}").items
    statuses = [s for p in pods if p.status for s in p.status.container_statuses or []]
    states = [s.state.running or s.state.terminated for s in statuses if s.state]
    starts = [state.started_at for state in states if state and state.started_at]
    return min(starts) if starts else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crs", type=int, default=3, help="CRs created one after another (default 3)")
    parser.add_argument("--helm", type=int, choices=(3, 4), default=4)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.processor() or '?'}, Python {platform.python_version()}")
    started = time.monotonic()
    archive = image.ensure_chart_image(image.ensure_image(args.helm), E2E_CHARTS)
    print(f"image {archive.reference}: {time.monotonic() - started:.1f} s (0 when cached)")
    with ControlPlane() as plane, Node(plane) as node, tempfile.TemporaryDirectory() as work:
        print(f"control plane {plane.startup_seconds:.1f} s, node Ready {node.startup_seconds:.1f} s after it")
        imported = time.monotonic()
        node.import_image(archive.path)
        print(f"image imported into the node: {time.monotonic() - imported:.1f} s")
        api = plane.admin_client()
        core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
        while not core.list_namespaced_service_account(NAMESPACE).items:
            time.sleep(0.1)
        helm = isolated_helm(4, plane.kubeconfig, Path(work) / "helm")
        chart = E2E_CHARTS["greeting"]
        flags = ("--image", archive.reference, "--schedule", "* * * * *")
        deployment = deploy(helm, plane.kubeconfig, api, NAMESPACE, Path(work) / "deploy", chart, *flags)
        digest_key(plane.kubeconfig, NAMESPACE)
        deployment.apply()
        print("cr   total  tick-wait  pod-start  run-in-pod")
        for number in range(args.crs):
            name = f"cr-{number}"
            created = datetime.datetime.now(datetime.UTC)
            deployment.create(name, {"message": name})
            while (deployed := release_deployed_at(core, name)) is None:
                time.sleep(0.2)
            job = scheduled_job_for(batch, created)
            job_created = job.metadata.creation_timestamp if job and job.metadata else None
            pod_start = pod_started_at(core, str(job.metadata.name)) if job and job.metadata else None
            if job_created is None or pod_start is None:
                print(f"{name}: deployed after {(deployed - created).total_seconds():.1f} s (Job not found)")
                continue
            print(
                f"{name} {(deployed - created).total_seconds():6.1f} {(job_created - created).total_seconds():9.1f}"
                f" {(pod_start - job_created).total_seconds():10.1f} {(deployed - pod_start).total_seconds():11.1f}"
            )
            while batch.list_namespaced_job(NAMESPACE).items and any(
                j.status and j.status.active for j in batch.list_namespaced_job(NAMESPACE).items
            ):
                time.sleep(0.5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
