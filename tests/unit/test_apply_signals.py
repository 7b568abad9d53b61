"""A signal the kernel hands to a worker thread still reaches its handler while the worker's step runs."""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import Any, cast

from reconcile.apply import Executor, apply_plan
from reconcile.model import Action, Outcome, Plan, ReleaseKey, State, Step


def test_a_signal_delivered_to_a_worker_is_handled_before_its_step_ends() -> None:
    handled = threading.Event()
    seen_in_step: list[bool] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        handled.set()

    def step_that_is_signalled(outcome: Outcome) -> None:
        time.sleep(0.5)  # the main thread is waiting for the step by now
        signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)  # as the kernel may pick any thread
        seen_in_step.append(handled.wait(timeout=5))  # the step is still running: the main thread must handle it

    previous: Any = signal.signal(signal.SIGUSR1, handler)
    try:
        plan = Plan((Step(ReleaseKey("team-a", "cache"), Action.SKIP, State.IN_SYNC, "in sync"),))
        apply_plan(plan, cast(Executor, None), 1, step_that_is_signalled)  # a skip never touches the executor
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert seen_in_step == [True]
