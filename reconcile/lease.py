"""One run at a time: a coordination.k8s.io Lease, held and renewed while a run changes releases.

A CronJob run and a CI run (or two CronJob runs when one overran) must never drive helm against the same releases
at once. The lease is taken only when a run has something to change, so a run where nothing changed still makes no
write at all; after taking it the run observes again, since another run may have acted meanwhile.

One lease per config, wherever it runs: its namespace is the config's ``lease.namespace`` (scaffold sets it), else
``default``, never the kubeconfig's or the pod's, so an admin's run and the CronJob's exclude each other.

Expiry never depends on clocks agreeing (as client-go's leader election judges it): a holder is dead only when its
lease went unchanged for a whole lease duration *as this run watched it*. A lease that looks expired by the
holder's own renewTime is watched for that long before it is taken over; a live holder, however skewed its clock,
renews within a third of it. Before each helm operation the run checks that it still holds the lease.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from reconcile.adapters.kube import Kube, ResourceType
from reconcile.clock import now_micro, parse_time
from reconcile.errors import KubeConflict, KubeError, KubeForbidden, KubeNotFound, KubeTransient, LeaseHeldError

log = logging.getLogger(__name__)

LEASES = ResourceType("coordination.k8s.io", "v1", "leases")
DEFAULT_NAMESPACE = "default"
CONFIRM_EVERY = 1.0  # seconds: how stale the knowledge "we still hold it" may be when a helm operation starts


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


@dataclass(frozen=True)
class _Attempt:
    acquired: bool
    holder: str = ""  # who holds it, for the message
    suspect: bool = False  # it looks expired by its holder's clock: watch it for a term before believing that
    term: int = 0  # the lease's duration, seconds


class RunLease:
    """Acquire, renew in the background, release; ``lost`` tells the run to start nothing new."""

    def __init__(
        self,
        kube: Kube,
        settings: LeaseSettings,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.holder = f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"
        self.lost = threading.Event()
        self._clock = clock
        self._sleep = sleep
        self._stop = threading.Event()
        self._current: dict[str, Any] = {}
        self._seen: tuple[str, str] = ("", "")  # (holder, resourceVersion) of the lease as this run last saw it
        self._seen_since = 0.0
        self._renewed_at = 0.0
        self._confirmed_at = 0.0

    @contextmanager
    def held(self) -> Iterator[RunLease]:
        try:
            self._acquire_or_wait()
        except KubeForbidden as error:
            raise KubeForbidden(
                f"the run lease {self.settings.namespace}/{self.settings.name}: {error}; set lease.namespace in the "
                "config to a namespace where helmcr may write Leases"
            ) from None
        renewer = threading.Thread(target=self._renew_until_stopped, name="helmcr-lease", daemon=True)
        renewer.start()
        try:
            yield self
        finally:
            self._stop.set()
            renewer.join()
            self._release()

    def confirm(self) -> bool:
        """Whether this run still holds the lease, asked of the API server unless it was known a moment ago: a
        lease taken or edited away mid-run stops the next helm operation, not one a renewal period later."""
        if self.lost.is_set():
            return False
        if self._clock() - max(self._confirmed_at, self._renewed_at) < CONFIRM_EVERY:
            return True
        try:
            current = self.kube.get(LEASES, self.settings.namespace, self.settings.name)
        except KubeError as error:
            log.warning("could not confirm the run lease %s: %s", self.settings.name, error)
            return False
        if (current.get("spec") or {}).get("holderIdentity") != self.holder:
            log.error("the run lease %s is no longer this run's; starting nothing new", self.settings.name)
            self.lost.set()
            return False
        self._confirmed_at = self._clock()
        return True

    def _acquire_or_wait(self) -> None:
        deadline = self._clock() + self.settings.wait_seconds
        watching = False
        while True:
            attempt = self._try_acquire()
            if attempt.acquired:
                self._renewed_at = self._clock()
                return
            if attempt.suspect and not watching:  # give the holder one whole term to show it is alive
                watching = True
                deadline = max(deadline, self._seen_since + attempt.term + 1)
            if self._clock() >= deadline:
                raise LeaseHeldError(
                    f"another helmcr run holds the lease {self.settings.namespace}/{self.settings.name} "
                    f"({attempt.holder}); try again later or pass --wait-for-lock SECONDS"
                )
            self._sleep(min(1.0, max(0.05, deadline - self._clock())))

    def _try_acquire(self) -> _Attempt:
        try:
            current = self.kube.get(LEASES, self.settings.namespace, self.settings.name)
        except KubeNotFound:
            return self._create()
        spec = current.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        if holder and not self._silent_for_a_term(holder, current, spec):
            renewed = f"held by {holder}, renewed {spec.get('renewTime', 'never')}"
            return _Attempt(False, renewed, suspect=self._looks_expired(spec), term=self._term(spec))
        if holder:
            log.warning("taking over lease %s from %s, which stopped renewing it", self.settings.name, holder)
        transitions = int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)
        return self._write({**current, "spec": self._spec(transitions)}, "taken by another run at the same moment")

    def _silent_for_a_term(self, holder: str, current: dict[str, Any], spec: dict[str, Any]) -> bool:
        """True once the lease stayed exactly as first seen for its whole duration, by this run's own clock."""
        seen = (holder, str((current.get("metadata") or {}).get("resourceVersion") or ""))
        if seen != self._seen:
            self._seen, self._seen_since = seen, self._clock()
            return False
        return self._clock() - self._seen_since >= self._term(spec)

    def _looks_expired(self, spec: dict[str, Any]) -> bool:
        """By the holder's renewTime and this machine's clock: a hint to watch it, never a reason to take it."""
        renewed = parse_time(str(spec.get("renewTime") or spec.get("acquireTime") or ""))
        return abs(time.time() - renewed) > self._term(spec)

    def _term(self, spec: dict[str, Any]) -> int:
        return int(spec.get("leaseDurationSeconds") or self.settings.duration_seconds)

    def _create(self) -> _Attempt:
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
            return _Attempt(False, "created by another run at the same moment")
        return _Attempt(True)

    def _write(self, body: dict[str, Any], lost_race: str) -> _Attempt:
        """A replace with the resourceVersion read: of two runs racing for a lease, exactly one wins."""
        try:
            self._current = self.kube.replace(LEASES, self.settings.namespace, self.settings.name, body)
        except KubeConflict:
            return _Attempt(False, lost_race)
        return _Attempt(True)

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
        """Renew every third of the term; a passing failure is retried until two thirds of it are gone (others
        may take it after a whole term), a conflict means it was taken."""
        interval = max(1.0, self.settings.duration_seconds / 3)
        while not self._stop.wait(interval):
            spec = {**(self._current.get("spec") or {}), "renewTime": now_micro()}
            try:
                if not self._write({**self._current, "spec": spec}, "taken").acquired:
                    raise KubeConflict("the lease was taken by another run")
                self._renewed_at = self._clock()
            except KubeTransient as error:
                if self._clock() - self._renewed_at < self.settings.duration_seconds * 2 / 3:
                    log.warning("could not renew the run lease %s (will retry): %s", self.settings.name, error)
                    continue
                self._lose(error)
                return
            except KubeError as error:
                self._lose(error)
                return

    def _lose(self, error: KubeError) -> None:
        log.error("lost the run lease %s: %s; starting nothing new", self.settings.name, error)
        self.lost.set()

    def _release(self) -> None:
        """Clear the holder so the next run need not wait for expiry; failing here only delays it."""
        if self.lost.is_set() or not self._current:
            return
        spec = {**(self._current.get("spec") or {}), "holderIdentity": ""}
        try:
            self._write({**self._current, "spec": spec}, "taken")
        except KubeError as error:
            log.warning("could not release the run lease %s (it will expire): %s", self.settings.name, error)
