"""Shards: ``count`` runs (an Indexed Job's pods) split one fleet by a hash every run computes alike, so none
needs to know the others: a CR is shard ``i``'s when its UID hashes to ``i``.

By the UID, not the name: a CR deleted and created again may move to another shard, but no two shards ever claim
one CR. A shard still lists every CR, so a release whose CR exists is never an orphan to any shard, whatever the
count; a deleted CR's release is uninstalled by the one shard its owner UID (a release label) hashes to.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    """One of ``count`` runs that split a fleet: it takes the CRs whose identity (the UID) hashes to ``index``."""

    index: int = 0
    count: int = 1

    @property
    def split(self) -> bool:
        return self.count > 1

    def owns(self, identity: str) -> bool:
        return not self.split or shard_of(identity, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_identity(uid: str, namespace: str, name: str) -> str:
    """What a CR is sharded by: its UID; a CR from a file has none, so its namespace and name."""
    return uid or f"{namespace}/{name}"


def shard_of(identity: str, count: int) -> int:
    return int.from_bytes(hashlib.sha256(identity.encode()).digest()[:8], "big") % count
