"""One run at a time: a coordination.k8s.io Lease, held and renewed while a run changes releases.

A CronJob run and a CI run (or two CronJob runs when one overran) must never drive helm against the same releases
at once. The lease is taken only when a run has something to change, so a run where nothing changed still makes no
write at all; after taking it the run observes again, since another run may have acted meanwhile. A lease whose
holder stopped renewing (killed, OOM, node lost) is taken over once it expires.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from reconcile.adapters.kube import Kube, ResourceType
from reconcile.clock import now_micro, parse_time
from reconcile.errors import KubeConflict, KubeError, KubeNotFound, LeaseHeldError

log = logging.getLogger(__name__)

LEASES = ResourceType("coordination.k8s.io", "v1", "leases")
SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


@dataclass(frozen=True)
class LeaseSettings:
    name: str
    namespace: str
    duration_seconds: int = 60
    wait_seconds: float = 0.0  # --wait-for-lock: how long to wait for a held lease; 0 fails at once


def lease_name(kinds: list[str]) -> str:
    """Per set of kinds: runs of the same config exclude each other, runs over unrelated kinds do not."""
    digest = hashlib.sha256("\n".join(sorted(kinds)).encode()).hexdigest()[:12]
    return f"helmcr-{digest}"


def default_namespace(context_namespace: str) -> str:
    """In a pod, its own namespace (where its RBAC allows the Lease); else the kubeconfig's, else default."""
    try:
        with open(SERVICE_ACCOUNT_NAMESPACE) as handle:
            return handle.read().strip() or "default"
    except OSError:
        return context_namespace or "default"


class RunLease:
    """Acquire, renew in the background, release; ``lost`` tells the run to start nothing new."""

    def __init__(self, kube: Kube, settings: LeaseSettings) -> None:
        self.kube = kube
        self.settings = settings
        self.holder = f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._current: dict[str, Any] = {}

    @contextmanager
    def held(self) -> Iterator[RunLease]:
        self._acquire_or_wait()
        renewer = threading.Thread(target=self._renew_until_stopped, name="helmcr-lease", daemon=True)
        renewer.start()
        try:
            yield self
        finally:
            self._stop.set()
            renewer.join()
            self._release()

    def _acquire_or_wait(self) -> None:
        deadline = time.monotonic() + self.settings.wait_seconds
        while True:
            held_by = self._try_acquire()
            if held_by is None:
                return
            if time.monotonic() >= deadline:
                raise LeaseHeldError(
                    f"another helmcr run holds the lease {self.settings.namespace}/{self.settings.name} "
                    f"({held_by}); try again later or pass --wait-for-lock SECONDS"
                )
            time.sleep(min(2.0, max(0.1, deadline - time.monotonic())))

    def _try_acquire(self) -> str | None:
        """None when acquired; otherwise who holds it, for the message."""
        try:
            current = self.kube.get(LEASES, self.settings.namespace, self.settings.name)
        except KubeNotFound:
            return self._create()
        spec = current.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        if holder and not _expired(spec, self.settings.duration_seconds):
            return f"held by {holder}, renewed {spec.get('renewTime', 'never')}"
        transitions = int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)
        if holder:
            log.warning("taking over lease %s from %s, which stopped renewing it", self.settings.name, holder)
        return self._write({**current, "spec": self._spec(transitions)})

    def _create(self) -> str | None:
        body = {
            "metadata": {
                "name": self.settings.name,
                "namespace": self.settings.namespace,
                "labels": {"app.kubernetes.io/managed-by": "helmcr"},
            },
            "spec": self._spec(0),
        }
        try:
            self._current = self.kube.create(LEASES, self.settings.namespace, body)
        except KubeConflict:
            return "created by another run at the same moment"
        return None

    def _write(self, body: dict[str, Any]) -> str | None:
        """A replace with the resourceVersion read: of two runs racing for an expired lease, exactly one wins."""
        try:
            self._current = self.kube.replace(LEASES, self.settings.namespace, self.settings.name, body)
        except KubeConflict:
            return "taken by another run at the same moment"
        return None

    def _spec(self, transitions: int) -> dict[str, Any]:
        moment = now_micro()
        return {
            "holderIdentity": self.holder,
            "leaseDurationSeconds": self.settings.duration_seconds,
            "acquireTime": moment,
            "renewTime": moment,
            "leaseTransitions": transitions,
        }

    def _renew_until_stopped(self) -> None:
        interval = max(1.0, self.settings.duration_seconds / 3)
        while not self._stop.wait(interval):
            spec = dict(self._current.get("spec") or {})
            spec["renewTime"] = now_micro()
            try:
                if self._write({**self._current, "spec": spec}) is not None:
                    raise KubeError("the lease was taken by another run")
            except KubeError as error:
                log.error("lost the run lease %s: %s; starting nothing new", self.settings.name, error)
                self.lost.set()
                return

    def _release(self) -> None:
        """Clear the holder so the next run need not wait for expiry; failing here only delays it."""
        if self.lost.is_set() or not self._current:
            return
        spec = dict(self._current.get("spec") or {})
        spec["holderIdentity"] = ""
        try:
            self._write({**self._current, "spec": spec})
        except KubeError as error:
            log.warning("could not release the run lease %s (it will expire): %s", self.settings.name, error)


def _expired(spec: dict[str, Any], default_duration: int) -> bool:
    renewed = parse_time(str(spec.get("renewTime") or spec.get("acquireTime") or ""))
    duration = int(spec.get("leaseDurationSeconds") or default_duration)
    return time.time() > renewed + duration
