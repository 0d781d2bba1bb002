"""The peer transport without Ray: fire-and-forget calls bounded in flight per peer, and a fault
plan (drop, delay, cut off) that counts what it did. Seeded: the seed is printed."""

import asyncio
import concurrent.futures
import random

import pytest

from raybee.actors.transport import (
    CALLS_IN_FLIGHT_PER_PEER_MAX,
    FaultPlan,
    PeerTransport,
    decode,
)


class FakeRef:
    def __init__(self, future):
        self._future = future

    def future(self):
        return self._future


class FakePeer:
    """An actor handle whose calls finish only when the test says so."""

    def __init__(self, finish_at_once: bool = False):
        self.calls: list[tuple[int, list, concurrent.futures.Future]] = []
        self.deliver = self
        self.finish_at_once = finish_at_once

    def remote(self, from_broker, messages, sent_ns=0):
        messages = decode(messages)  # the transport pickles each batch into one buffer
        future = concurrent.futures.Future()
        if self.finish_at_once:
            future.set_result(None)
        self.calls.append((from_broker, messages, future))
        return FakeRef(future)

    def finish_all(self, error=None):
        for _, _, future in self.calls:
            if not future.done():
                future.set_exception(error) if error else future.set_result(None)


def run(coro):
    return asyncio.new_event_loop().run_until_complete(coro)


def test_a_slow_peer_costs_a_bounded_number_of_calls_never_a_wait():
    peer = FakePeer()
    transport = PeerTransport(1, lambda broker: peer, random.Random(0))

    async def scenario():
        for i in range(CALLS_IN_FLIGHT_PER_PEER_MAX + 10):
            transport.send(2, [i])  # returns at once although nothing completes
        assert transport.in_flight(2) == CALLS_IN_FLIGHT_PER_PEER_MAX
        assert transport.stats.batches_dropped_backlog == 10
        peer.finish_all()
        await asyncio.sleep(0.01)
        assert transport.in_flight(2) == 0
        transport.send(2, ["after"])
        assert transport.in_flight(2) == 1
        peer.finish_all(RuntimeError("peer died"))
        await asyncio.sleep(0.01)
        assert transport.stats.batches_failed == 1 and transport.in_flight(2) == 0

    run(scenario())
    assert len(peer.calls) == CALLS_IN_FLIGHT_PER_PEER_MAX + 1


def test_unknown_peers_are_counted_not_waited_for():
    transport = PeerTransport(1, lambda broker: None, random.Random(0))

    async def scenario():
        transport.send(9, ["x"])

    run(scenario())
    assert transport.stats.batches_dropped_no_peer == 1


@pytest.mark.parametrize("seed", [random.randrange(1 << 30)])
def test_the_fault_plan_drops_delays_and_cuts_off_and_counts_each(seed):
    print(f"seed {seed}")
    peer = FakePeer(finish_at_once=True)
    transport = PeerTransport(1, lambda broker: peer, random.Random(seed))
    transport.plan = FaultPlan(drop_rate=0.3, delay_rate=0.3, delay_ms_max=5, cut_off={3})
    sent = 200

    async def scenario():
        for i in range(sent):
            transport.send(2, [i])
            transport.send(3, [i])
            await asyncio.sleep(0)  # completions come back between sends
        await asyncio.sleep(0.05)  # the delayed batches go out

    run(scenario())
    faults = transport.stats.faults
    assert faults["cut_off"] == sent  # nothing reaches the other side of the partition
    assert all(sender == 1 for sender, _, _ in peer.calls)
    delivered = len(peer.calls)
    backlog = transport.stats.batches_dropped_backlog
    assert faults["dropped"] + delivered + backlog == sent
    assert 20 < faults["dropped"] < 100 and 10 < faults["delayed"] < 100, faults
    # Delays reorder: some batch arrives after a later one.
    order = [messages[0] for _, messages, _ in peer.calls]
    assert order != sorted(order), "no delayed batch was overtaken"


def test_fault_plans_refuse_nonsense():
    with pytest.raises(ValueError, match="0..1"):
        FaultPlan(drop_rate=1.5)
    assert FaultPlan.from_dict({"cut_off": [2, "3"]}).cut_off == frozenset({2, 3})
