"""The run lease on the fake API server: taken, refused, waited for, taken over, raced for, renewed, lost, released."""

from __future__ import annotations

import datetime
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from reconcile.clock import MICRO_TIME_FORMAT, parse_time
from reconcile.errors import ExitCode, LeaseHeldError
from reconcile.lease import LeaseSettings, RunLease, lease_name
from tests.unit.fakes import LEASES, FakeApiServer, FakeKube

NAMESPACE = "helmcr"
NAME = "helmcr-test"


@pytest.fixture
def server() -> FakeApiServer:
    return FakeApiServer()


@pytest.fixture
def kube(server: FakeApiServer) -> FakeKube:
    return FakeKube(server)


def settings(duration_seconds: int = 60, wait_seconds: float = 0.0) -> LeaseSettings:
    return LeaseSettings(NAME, NAMESPACE, duration_seconds=duration_seconds, wait_seconds=wait_seconds)


def micro(seconds_ago: float = 0.0) -> str:
    """A Lease MicroTime, ``seconds_ago`` before now."""
    moment = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds_ago)
    return moment.strftime(MICRO_TIME_FORMAT)


def seed(
    server: FakeApiServer, holder: str, renewed_ago: float = 0.0, duration: int = 60, transitions: int = 0
) -> dict[str, Any]:
    """A Lease as another run left it."""
    return server.create(
        LEASES,
        NAMESPACE,
        {
            "metadata": {"name": NAME, "namespace": NAMESPACE},
            "spec": {
                "holderIdentity": holder,
                "leaseDurationSeconds": duration,
                "acquireTime": micro(renewed_ago),
                "renewTime": micro(renewed_ago),
                "leaseTransitions": transitions,
            },
        },
    )


def stored(server: FakeApiServer) -> dict[str, Any]:
    return server.get(LEASES, NAMESPACE, NAME)


def spec(server: FakeApiServer) -> dict[str, Any]:
    value: dict[str, Any] = stored(server)["spec"]
    return value


def writes(server: FakeApiServer) -> int:
    return server.count("POST", "leases") + server.count("PUT", "leases")


def hand_over(server: FakeApiServer, holder: str) -> None:
    """Another client writes the lease (a new resourceVersion), as a racing run or an operator would."""
    current = stored(server)
    server.replace(LEASES, NAMESPACE, NAME, {**current, "spec": {**current["spec"], "holderIdentity": holder}})


# --- acquire and release ---------------------------------------------------------------------------------------


def test_acquiring_creates_the_lease_with_holder_duration_and_labels(server: FakeApiServer, kube: FakeKube) -> None:
    lease = RunLease(kube, settings(duration_seconds=45))
    with lease.held() as held:
        assert held is lease
        lease_object = stored(server)
        assert lease_object["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "helmcr"}
        assert lease_object["spec"]["holderIdentity"] == lease.holder
        assert lease_object["spec"]["leaseDurationSeconds"] == 45
        assert lease_object["spec"]["leaseTransitions"] == 0
        assert lease_object["spec"]["acquireTime"] == lease_object["spec"]["renewTime"]
        assert abs(parse_time(lease_object["spec"]["renewTime"]) - time.time()) < 5
        assert (server.count("POST", "leases"), server.count("PUT", "leases")) == (1, 0)
    assert not lease.lost.is_set()


def test_release_at_the_end_clears_the_holder_and_keeps_the_rest(server: FakeApiServer, kube: FakeKube) -> None:
    lease = RunLease(kube, settings())
    with lease.held():
        during = spec(server)
    after = spec(server)
    assert after["holderIdentity"] == ""
    assert {k: v for k, v in after.items() if k != "holderIdentity"} == {
        k: v for k, v in during.items() if k != "holderIdentity"
    }
    assert server.count("PUT", "leases") == 1


def test_the_lease_is_released_when_the_run_raises(server: FakeApiServer, kube: FakeKube) -> None:
    with pytest.raises(RuntimeError, match="helm exploded"), RunLease(kube, settings()).held():
        raise RuntimeError("helm exploded")
    assert spec(server)["holderIdentity"] == ""


def test_a_released_lease_is_taken_at_once_by_the_next_run(server: FakeApiServer, kube: FakeKube) -> None:
    first, second = RunLease(kube, settings()), RunLease(FakeKube(server), settings())
    assert first.holder != second.holder, "two runs of one process still have distinct identities"
    with first.held():
        pass
    with second.held():
        assert spec(server)["holderIdentity"] == second.holder
    assert len(server.objects(LEASES)) == 1


# --- held by another run ---------------------------------------------------------------------------------------


def test_a_fresh_lease_held_by_another_run_is_refused_and_nothing_is_written(
    server: FakeApiServer, kube: FakeKube
) -> None:
    before = seed(server, "other-host/42/abcd", renewed_ago=5)
    with pytest.raises(LeaseHeldError) as refused, RunLease(kube, settings()).held():
        raise AssertionError("the body must not run while another run holds the lease")
    message = str(refused.value)
    assert "other-host/42/abcd" in message and f"{NAMESPACE}/{NAME}" in message and "--wait-for-lock" in message
    assert refused.value.exit_code == ExitCode.LEASE_HELD
    assert writes(server) == 0
    assert stored(server) == before


def test_a_lease_held_by_another_run_of_this_process_is_refused(server: FakeApiServer, kube: FakeKube) -> None:
    first, second = RunLease(kube, settings()), RunLease(FakeKube(server), settings())
    with first.held(), pytest.raises(LeaseHeldError, match=re.escape(first.holder)), second.held():
        raise AssertionError("unreachable")
    assert spec(server)["holderIdentity"] == ""


def test_a_lease_is_fresh_for_its_own_duration_not_the_runs(server: FakeApiServer, kube: FakeKube) -> None:
    """The holder wrote how long its lease lasts; a run configured with a shorter duration must honour it."""
    seed(server, "slow-run", renewed_ago=120, duration=3600)
    with pytest.raises(LeaseHeldError, match="slow-run"), RunLease(kube, settings(duration_seconds=10)).held():
        pass
    assert spec(server)["holderIdentity"] == "slow-run"


def test_waiting_acquires_once_the_holder_releases_meanwhile(server: FakeApiServer, kube: FakeKube) -> None:
    seed(server, "other-run", renewed_ago=1)
    release = threading.Timer(0.2, hand_over, args=(server, ""))
    lease = RunLease(kube, settings(wait_seconds=0.6))
    started = time.monotonic()
    release.start()
    try:
        with lease.held():
            waited = time.monotonic() - started
            assert spec(server)["holderIdentity"] == lease.holder
    finally:
        release.cancel()
        release.join()
    assert 0.2 <= waited < 1.5
    assert spec(server)["leaseTransitions"] == 0, "a released lease is acquired, not taken over"


def test_waiting_gives_up_at_the_deadline_when_the_holder_keeps_it(server: FakeApiServer, kube: FakeKube) -> None:
    seed(server, "other-run", renewed_ago=1)
    started = time.monotonic()
    with pytest.raises(LeaseHeldError, match="other-run"), RunLease(kube, settings(wait_seconds=0.3)).held():
        pass
    assert 0.3 <= time.monotonic() - started < 1.5
    assert server.count("GET", "leases") >= 2, "it looked again before giving up"
    assert writes(server) == 0


# --- expiry and races ------------------------------------------------------------------------------------------


class Watch:
    """A run's clock that moves only when the run pauses: a term of watching costs no real time. ``each_pause``
    runs at every pause, as another client acting meanwhile."""

    def __init__(self, each_pause: Callable[[], None] = lambda: None) -> None:
        self.now = 0.0
        self.each_pause = each_pause

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.each_pause()


def watched(kube: FakeKube, watch: Watch, **kwargs: Any) -> RunLease:
    return RunLease(kube, settings(**kwargs), clock=watch.clock, sleep=watch.sleep)


def test_an_expired_lease_is_taken_over_after_a_term_of_silence_and_counts_a_transition(
    server: FakeApiServer, kube: FakeKube
) -> None:
    seed(server, "crashed-run", renewed_ago=90, duration=60, transitions=2)
    watch = Watch()
    lease = watched(kube, watch, duration_seconds=30)
    with lease.held():
        taken = spec(server)
    assert taken["holderIdentity"] == lease.holder
    assert taken["leaseTransitions"] == 3
    assert taken["leaseDurationSeconds"] == 30
    assert parse_time(taken["acquireTime"]) > time.time() - 5
    assert spec(server)["holderIdentity"] == ""
    assert watch.now >= 60, "the holder's own term (60 s) was watched before taking over"


def test_a_live_holder_with_a_skewed_clock_keeps_its_lease(server: FakeApiServer, kube: FakeKube) -> None:
    """Its renewTime looks five minutes old here, but it keeps renewing: it is alive, whatever the clocks say."""
    seed(server, "skewed-run", renewed_ago=300, duration=10)

    def renew() -> None:
        current = stored(server)
        server.replace(LEASES, NAMESPACE, NAME, {**current, "spec": {**current["spec"], "renewTime": micro(300)}})

    watch = Watch(each_pause=renew)
    with pytest.raises(LeaseHeldError, match="skewed-run"), watched(kube, watch).held():
        raise AssertionError("a live holder's lease was taken")
    assert spec(server)["holderIdentity"] == "skewed-run"


def test_a_lease_edited_away_mid_run_stops_the_next_helm_operation(server: FakeApiServer, kube: FakeKube) -> None:
    watch = Watch()
    lease = watched(kube, watch)
    with lease.held():
        assert lease.confirm()
        hand_over(server, "operator")
        watch.now += 2  # past the moment it was last known to be ours
        assert not lease.confirm() and lease.lost.is_set()


def test_a_409_on_create_means_another_run_created_it_first(server: FakeApiServer, kube: FakeKube) -> None:
    server.fail_next("POST", "leases", 409)
    with pytest.raises(LeaseHeldError, match="created by another run"), RunLease(kube, settings()).held():
        raise AssertionError("not acquired")
    assert server.count("POST", "leases") == 1
    assert server.objects(LEASES) == []


def test_a_409_on_taking_over_means_another_run_took_it_first(server: FakeApiServer, kube: FakeKube) -> None:
    seed(server, "crashed-run", renewed_ago=90, duration=60, transitions=1)
    server.fail_next("PUT", "leases", 409)

    def racer_renews() -> None:  # from the refused takeover on, the run that won it holds it and renews it
        if server.count("PUT", "leases"):
            current = stored(server)
            renewed = {**current["spec"], "holderIdentity": "racer", "renewTime": micro()}
            server.replace(LEASES, NAMESPACE, NAME, {**current, "spec": renewed})

    with pytest.raises(LeaseHeldError, match="racer"), watched(kube, Watch(each_pause=racer_renews)).held():
        raise AssertionError("not acquired")
    assert server.count("PUT", "leases") == 1, "one refused takeover; the winner's live lease is never taken"
    assert spec(server)["holderIdentity"] == "racer"


# --- renewal ---------------------------------------------------------------------------------------------------


def test_a_held_lease_is_renewed_in_the_background(server: FakeApiServer, kube: FakeKube) -> None:
    """duration 3s: renewed every max(1, 3/3) = 1s."""
    lease = RunLease(kube, settings(duration_seconds=3))
    with lease.held():
        first = spec(server)["renewTime"]
        deadline = time.monotonic() + 1.5
        while spec(server)["renewTime"] == first and time.monotonic() < deadline:
            time.sleep(0.05)
        renewed = spec(server)
    assert renewed["renewTime"] > first
    assert renewed["holderIdentity"] == lease.holder and renewed["acquireTime"] == first
    assert not lease.lost.is_set()


def test_a_failed_renewal_sets_lost_and_release_leaves_the_new_holder_alone(
    server: FakeApiServer, kube: FakeKube
) -> None:
    lease = RunLease(kube, settings(duration_seconds=3))
    with lease.held():
        hand_over(server, "usurper")  # our resourceVersion is stale now: the next renewal gets a 409
        assert lease.lost.wait(1.5), "the renewal after 1s must notice it lost the lease"
    assert spec(server)["holderIdentity"] == "usurper"
    assert server.count("PUT", "leases") == 1, "one refused renewal, then no renewal and no release"


# --- naming ----------------------------------------------------------------------------------------------------


def test_lease_name_is_stable_order_independent_and_per_set_of_kinds() -> None:
    kinds = ["Memcached.anywhere.io", "Redis.anywhere.io"]
    name = lease_name(kinds)
    assert name == lease_name(list(reversed(kinds))) == lease_name(list(kinds))
    assert name != lease_name(kinds[:1]) and name != lease_name([*kinds, "Postgres.anywhere.io"])
    assert name.startswith("helmcr-") and len(name) == len("helmcr-") + 12
    assert name == name.lower() and name.replace("-", "").isalnum(), "a valid object name"
