"""The config's ``rollout`` field: how a change to a whole kind reaches its releases (reconcile.rollout).

```yaml
rollout:
  canary: 1                  # a count or a percentage of the kind's releases; 0 or left out: no canary wave
  canarySelector: {matchLabels: {ring: canary}}   # these CRs are the canary (first, whatever canary says)
  wave: 25%                  # releases per run after the canary; required to turn rollouts on
  failureBudget: 1           # failed (or not ready after healthTimeout) releases tolerated before it halts
  healthTimeout: 10m         # with health: true, how long a release may take to become ready
  paused: false              # true: no release starts the new chart or overrides
  resume: 3f9a2c1d0b7e       # a halted rollout's digest (its halt message names it): its failures no longer halt it
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconcile.config_fields import Fields, parse_portion
from reconcile.desired import digest_body
from reconcile.settings import Portion, Rollout

ROLLOUT_FIELDS = frozenset({"canary", "canarySelector", "wave", "failureBudget", "healthTimeout", "paused", "resume"})
MIN_RESUME = 8  # characters of a digest: fewer could name another rollout's


def rollout(entry: Mapping[str, Any], where: str, fields: Fields) -> Rollout:
    settings = fields.mapping(entry, "rollout", where)
    if not settings:
        return Rollout()
    where = f"{where}.rollout"
    fields.check_names(settings, ROLLOUT_FIELDS, where)

    def portion(name: str) -> Portion:
        return parse_portion(settings.get(name, 0), lambda problem: fields.fail(f"{where}.{name}", problem))

    wave = portion("wave")
    paused = fields.flag(settings, "paused", where, False)
    if not wave.given and not paused:
        raise fields.fail(f"{where}.wave", "a rollout needs a wave size: a count such as 5 or a percentage such as 25%")
    given = fields.text(settings, "resume", where)
    resume = digest_body(given)  # a whole keyed digest names its hash too
    if given and len(resume) < MIN_RESUME:
        raise fields.fail(f"{where}.resume", f"give at least {MIN_RESUME} characters of the digest its halt names")
    selector = settings.get("canarySelector")
    return Rollout(
        canary=portion("canary"),
        canary_selector=fields.selector(selector, f"{where}.canarySelector") if selector is not None else None,
        wave=wave,
        failure_budget=portion("failureBudget"),
        health_timeout_seconds=fields.seconds(settings, "healthTimeout", where, "10m"),
        paused=paused,
        resume=resume,
    )
