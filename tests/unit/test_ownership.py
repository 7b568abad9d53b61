"""Owner references on a release's objects, on the fakes: a controller writing an object meanwhile is no failure."""

from __future__ import annotations

from reconcile.adapters.kube import SECRETS
from reconcile.adapters.ownership import CONFLICT_ATTEMPTS, claim
from tests.unit.factories import owner
from tests.unit.world import NAMESPACE, World

RELEASE = {"namespace": NAMESPACE, "manifest": "apiVersion: v1\nkind: Secret\nmetadata: {name: settings}\n"}


def served(api_version: str, kind: str) -> tuple[bool, str]:
    return True, "secrets"


def claimed(conflicts: int) -> tuple[list[str], list[dict[str, str]], int]:
    world = World()
    world.server.create(SECRETS, NAMESPACE, {"metadata": {"name": "settings"}, "data": {"a": "MQ=="}})
    world.server.fail_next("PATCH", "secrets", 409, times=conflicts)  # as a StatefulSet's controller causes
    cr = owner(namespace=NAMESPACE)
    problems = claim(world.kube, served, cr, "anywhere.io/v1alpha1", RELEASE, "")
    references = world.server.get(SECRETS, NAMESPACE, "settings")["metadata"].get("ownerReferences", [])
    return problems, references, world.server.count("PATCH", "secrets")


def test_a_conflicting_write_is_read_again_and_retried() -> None:
    problems, references, patches = claimed(conflicts=2)
    assert problems == [] and [r["uid"] for r in references] == ["uid-cache"]
    assert patches == 3


def test_conflicts_that_go_on_are_reported_not_retried_forever() -> None:
    problems, references, patches = claimed(conflicts=CONFLICT_ATTEMPTS)
    assert references == [] and patches == CONFLICT_ATTEMPTS
    assert len(problems) == 1 and "Secret settings" in problems[0] and "conflict" in problems[0]
