"""The Ray layer's fast tests (no Ray cluster: placement, backpressure, transport, the broker's
core, the router over fake handles) catch known bugs: each mutant below plants one classic mistake in actors/ and the tests
named beside it must fail (tests/mutation_check.py runs them in a fresh interpreter).
Placement's pure functions are the supervisor's decisions (initial placement, where a
replacement goes, whom leadership goes to).

A mutant the tests let through is a hole in the tests, not in the code: add the test."""

import sys

import pytest

from raybee.actors.placement import preferred_leader
from raybee.partitions.simulation.mutations import planted

check_tools = sys.modules["raybee_tests_mutation_check"]  # loaded by tests/conftest.py

PLACEMENT = "raybee.actors.placement:"
BACKPRESSURE = "raybee.actors.backpressure:"
TRANSPORT = "raybee.actors.transport:PeerTransport."
CORE = "raybee.actors.broker_core:BrokerCore."
ROUTER = "raybee.actors.routing:Router."
PLACEMENT_TESTS = ("tests/cluster/test_placement.py",)
BACKPRESSURE_TESTS = ("tests/cluster/test_backpressure.py",)
TRANSPORT_TESTS = ("tests/cluster/test_transport.py",)
# The broker core's tests each start a replica on disk (~0.3 s here): name the ones at stake.
CORE_TESTS = "tests/cluster/test_broker_core.py::"
ROUTING_TESTS = ("tests/cluster/test_routing.py",)


check = check_tools.check

CHECKS = (
    check(
        "two_replicas_on_one_broker",
        "initial placement wraps round the brokers one too early: two replicas of a "
        "partition land on one broker",
        PLACEMENT_TESTS,
        (
            PLACEMENT + "initial_placement",
            "brokers[(partition - 1 + i) % len(brokers)]",
            "brokers[(partition - 1 + i) % max(len(brokers) - 1, 1)]",
        ),
    ),
    check(
        "leaders_not_spread",
        "every partition gets the same replica order: one broker is everyone's preferred leader",
        PLACEMENT_TESTS,
        (
            PLACEMENT + "initial_placement",
            "brokers[(partition - 1 + i) % len(brokers)]",
            "brokers[i % len(brokers)]",
        ),
    ),
    check(
        "replacement_beside_its_own_partition",
        "a replacement replica may go to a broker that already holds that partition",
        PLACEMENT_TESTS,
        (
            PLACEMENT + "replacement_host",
            "if partition_id not in hosted.get(b, set())]",
            "]",
        ),
    ),
    check(
        "leadership_to_an_unhealthy_replica",
        "rebalancing hands leadership to the highest priority whether or not it is healthy",
        PLACEMENT_TESTS,
        (
            PLACEMENT + "preferred_leader",
            'if info.get("voter") and info.get("healthy", True)',
            'if info.get("voter")',
        ),
    ),
    check(
        "backpressure_never_decreases",
        "slow answers never shrink the AIMD limit",
        BACKPRESSURE_TESTS,
        (
            BACKPRESSURE + "AimdLimiter.answered",
            "self.limit = max(self.limit_min, self.limit * self.decrease_ratio)",
            "self.limit = max(self.limit_min, self.limit)",
        ),
    ),
    check(
        "completions_not_exempt",
        "the broker counts job completions against the limit: under pressure it refuses the "
        "commands that would drain the load",
        (CORE_TESTS + "test_backpressure_refuses_with_a_reason_and_lets_completions_through",),
        (
            CORE + "submit",
            "counted = [not is_exempt(c) and not _awaits_result(c) for c in commands]",
            "counted = [not _awaits_result(c) for c in commands]",
        ),
    ),
    check(
        "peer_backlog_unbounded_by_one",
        "the bound on calls in flight to a slow peer is off by one",
        TRANSPORT_TESTS,
        (
            TRANSPORT + "_call",
            "if self._in_flight.get(broker, 0) >= CALLS_IN_FLIGHT_PER_PEER_MAX:",
            "if self._in_flight.get(broker, 0) > CALLS_IN_FLIGHT_PER_PEER_MAX:",
        ),
    ),
    check(
        "slow_peer_waited_for",
        "the sender waits (with a timeout) for each call to a peer to finish: a slow peer "
        "stalls the broker's loop",
        TRANSPORT_TESTS,
        (
            TRANSPORT + "_call",
            "        future = asyncio.wrap_future(ref.future())\n",
            "        ref.future().result(timeout=0.2)\n"
            "        future = asyncio.wrap_future(ref.future())\n",
        ),
    ),
    check(
        "retry_executed_again",
        "a retry of a command still in flight is submitted again instead of waiting for the "
        "first copy's answer",
        (CORE_TESTS + "test_a_retry_while_the_first_copy_is_in_flight_is_answered_with_it",),
        (CORE + "submit", "pending = self.pending.get(key)", "pending = None"),
    ),
    check(
        "expired_command_said_not_to_have_happened",
        "a command past its deadline is answered NOT_LEADER (nothing happened) instead of "
        "UNKNOWN (it may have)",
        (CORE_TESTS + "test_a_command_past_its_deadline_is_an_unknown_outcome_naming_the_leader",),
        (
            CORE + "_housekeeping",
            "                Outcome(\n                    UNKNOWN,",
            "                Outcome(\n                    NOT_LEADER,",
        ),
    ),
    check(
        "overflowing_jobs_dropped",
        "jobs pushed to a full stream buffer are dropped instead of handed back: they wait "
        "out their timeout",
        (CORE_TESTS + "test_pushed_jobs_wait_in_the_stream_buffer_and_overflow_is_handed_back",),
        (CORE + "_push", "                handed_back.append(push.job_key)\n", ""),
    ),
    check(
        "ticks_replayed_after_a_pause",
        "after a long pause every missed tick runs at once (a burst of elections)",
        (CORE_TESTS + "test_ticks_follow_the_clock_and_a_long_pause_is_not_replayed_as_a_burst",),
        (CORE + "run_once", "ticks = min(due, TICK_CATCH_UP_MAX)", "ticks = due"),
    ),
    check(
        "retry_with_a_new_request_id",
        "the router retries an unknown outcome under a new request id: the partition "
        "applies the command again instead of answering with its first answer",
        ROUTING_TESTS,
        (
            ROUTER + "send",
            '                self.stats["retries_unknown"] += 1\n'
            "                unknown = True\n"
            "                if outcome.leader_broker != broker:",
            '                self.stats["retries_unknown"] += 1\n'
            "                unknown = True\n"
            "                command = command.stamped(request_id=self.next_request_id())\n"
            "                if outcome.leader_broker != broker:",
        ),
    ),
    check(
        "unknown_outcome_said_unavailable",
        "a deadline passed after an unknown outcome raises UnavailableError (nothing "
        "happened) instead of UnknownOutcomeError (it may have)",
        ROUTING_TESTS,
        (ROUTER + "send", "        if unknown:\n", "        if False:\n"),
    ),
)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_the_fast_tests_catch(check):
    check_tools.expect_caught(check, __file__)


def test_planting_reaches_a_function_imported_by_name_before_it():
    """This module took `preferred_leader` by name (as the supervisor does) before the
    mutant was planted: planting rebinds that name too, and puts it back."""
    members = {1: {"voter": True, "priority": 2, "healthy": False}, 2: {"voter": True}}
    (check,) = [c for c in CHECKS if c.name == "leadership_to_an_unhealthy_replica"]
    original = preferred_leader
    assert preferred_leader(members) == 2
    with planted(check.mutant):
        assert globals()["preferred_leader"] is not original
        assert globals()["preferred_leader"](members) == 1
    assert globals()["preferred_leader"] is original
