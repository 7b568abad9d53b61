"""Builders with keyword overrides, so each test states only what it is about."""

from __future__ import annotations

from typing import Any

from reconcile.model import ChartRef, Desired, Observed, ReleaseKey, ReleaseStatus, ResourceRef

CHART = ChartRef(source="/charts/memcached", identity="sha256:abc", name="memcached", version="0.1.0")


def owner(name: str = "cache", namespace: str = "team-a", uid: str = "", kind: str = "Memcached") -> ResourceRef:
    return ResourceRef(group="anywhere.io", kind=kind, namespace=namespace, name=name, uid=uid or f"uid-{name}")


def desired(
    name: str = "cache",
    namespace: str = "team-a",
    *,
    uid: str = "",
    digest: str = "d1",
    release: str = "",
    invalid: str = "",
    values: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    generation: int = 1,
) -> Desired:
    return Desired(
        owner=owner(name, namespace, uid),
        key=ReleaseKey(namespace, release or name),
        chart=CHART,
        values=values if values is not None else {"replicaCount": 1},
        digest="" if invalid else digest,
        generation=generation,
        status=status or {},
        invalid=invalid,
    )


def observed(
    name: str = "cache",
    namespace: str = "team-a",
    *,
    uid: str = "",
    digest: str = "d1",
    status: ReleaseStatus = ReleaseStatus.DEPLOYED,
    revision: int = 1,
    managed: bool = True,
    owner_name: str = "",
    kind: str = "Memcached",
) -> Observed:
    return Observed(
        key=ReleaseKey(namespace, name),
        revision=revision,
        status=status,
        owner=owner(owner_name or name, namespace, uid, kind=kind) if managed else None,
        digest=digest if managed else "",
    )
