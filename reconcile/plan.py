"""The planner: assess each pair, decide its action by the table, then let the run's policies transform the plan.

    Inventory ─► assess (state + reason) ─► decide (RULES: state → action) ─► policies (ordered) ─► Plan

Everything here is pure, so the preview (``--dry-run``) and the real run share every decision, and the rules can
be tested exhaustively. See docs/planner.md for the table and the invariants the tests hold it to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from reconcile.assess import Inventory, assess
from reconcile.decide import decide
from reconcile.model import Plan, Step
from reconcile.settings import Watch


@dataclass(frozen=True)
class KindPlan:
    """One kind's decided steps, and how many releases it owns in this run's shard (what a percentage uninstall
    budget counts)."""

    watch: Watch
    plan: Plan
    owned: int


Policy = Callable[[Sequence[KindPlan]], list[KindPlan]]
"""A pure transformation of the whole run's plan, applied in order after deciding (see reconcile.policies)."""


def plan(inventory: Inventory) -> Plan:
    return Plan(steps=tuple(decide(assessment) for assessment in assess(inventory)))


def plan_kind(watch: Watch, inventory: Inventory) -> KindPlan:
    return KindPlan(watch, plan(inventory), inventory.shard_owned)


def with_policies(plans: Sequence[KindPlan], policies: Sequence[Policy]) -> list[KindPlan]:
    result = list(plans)
    for policy in policies:
        result = policy(result)
    return result


def per_step(rule: Callable[[Step], Step]) -> Policy:
    """A policy that looks at one step at a time."""

    def apply(plans: Sequence[KindPlan]) -> list[KindPlan]:
        return [replace(kind, plan=Plan(tuple(map(rule, kind.plan.steps)))) for kind in plans]

    return apply
