"""Random CRs (any JSON spec, odd names, annotations) and random release states never break the planner's rules."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.assess import Inventory
from reconcile.desired import desired_from_resource
from reconcile.model import Action, ReleaseStatus
from reconcile.plan import plan
from reconcile.settings import Watch
from tests.unit.factories import CHART, observed

WATCH = Watch(group="anywhere.io", version="v1", kind="Memcached", chart="/c", override_values={"forced": 1})
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)
names = st.sampled_from(["a", "b", "Bad_Name", "x" * 60, "c.d"])
resources = st.builds(
    lambda name, spec, keep, uid: {
        "metadata": {"name": name, "namespace": "ns", "uid": uid, "annotations": {"helmcr.io/keep": keep}},
        "spec": spec,
    },
    names,
    json_values,
    st.sampled_from(["true", "false", "maybe"]),
    st.sampled_from(["u1", "u2"]),
)
releases = st.builds(
    lambda name, status, uid, digest: observed(name, "ns", status=status, uid=uid, digest=digest),
    names,
    st.sampled_from(list(ReleaseStatus)),
    st.sampled_from(["u1", "u2", "u3"]),
    st.sampled_from(["d1", "d2"]),
)


@settings(max_examples=300)
@given(st.lists(resources, max_size=5), st.lists(releases, max_size=5), st.booleans())
def test_random_specs_and_states_keep_every_invariant(
    raw: list[dict[str, Any]], observed_releases: list[Any], complete: bool
) -> None:
    desired = [desired_from_resource(resource, WATCH, CHART) for resource in raw]
    owned = tuple({release.key: release for release in observed_releases}.values())
    result = plan(Inventory(desired=tuple(desired), owned=owned, complete=complete))
    changing = [step.key for step in result.changes]
    assert len(changing) == len(set(changing)), "at most one changing step per release"
    for step in result.steps:
        assert step.reason
        if step.desired and step.desired.invalid:
            assert step.action is Action.BLOCKED
        if step.action is Action.UNINSTALL:
            assert complete and step.desired is None and step.observed and not step.observed.kept
        if step.observed and step.observed.status.is_pending:
            assert step.action not in (Action.INSTALL, Action.UPGRADE, Action.UNINSTALL)
    for wanted in desired:
        if not wanted.invalid:
            assert wanted.values["forced"] == 1, "overrides always win"
            assert len(wanted.digest) == 40
