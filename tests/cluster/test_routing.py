"""The router without Ray: fake broker and supervisor handles answer its calls at once, so its
retry rules are tested on their own - an unknown outcome is retried with the SAME request id
(the partition answers a repeat with its first answer), NOT_LEADER follows the leader it
names, and a deadline passed after an unknown outcome is UnknownOutcomeError (it may have
been applied), not UnavailableError (it was not)."""

import asyncio
import concurrent.futures

import pytest

from raybee.actors import errors
from raybee.actors.broker_core import EXHAUSTED, NOT_LEADER, OK, UNKNOWN, Outcome
from raybee.actors.routing import CALLS_IN_FLIGHT_PER_PARTITION_MAX, Router
from raybee.actors.transport import decode, encode
from raybee.partitions.testing import create

STREAM_ID = 5


class Call:
    """`handle.method.remote(...)`: the answer is ready at once."""

    def __init__(self, answer):
        self.calls: list[tuple] = []
        self.answer = answer

    def remote(self, *args):
        self.calls.append(args)
        future = concurrent.futures.Future()
        future.set_result(self.answer(*args))
        return type("Ref", (), {"future": lambda _self: future})()


class FakeBroker:
    """Answers each submitted command with the next outcome of its script (the last one
    repeats) and records the commands it was sent."""

    def __init__(self, *outcomes: Outcome):
        self.script = list(outcomes)
        self.commands = []
        self.submit = Call(self._submit)

    def _submit(self, partition, encoded, timeout_ms):
        commands = decode(encoded)
        self.commands.extend(commands)
        outcome = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return encode([outcome] * len(commands))


class FakeSupervisor:
    def __init__(self, brokers: dict[int, FakeBroker], leader: int):
        self.topology = Call(lambda: topology(brokers, leader))


def topology(brokers, leader):
    return {
        "partition_count": 1,
        "brokers": {b: {"handle": h, "state": "alive"} for b, h in brokers.items()},
        "partitions": {
            1: {"leader_broker": leader, "members": {10 + b: {"broker": b} for b in brokers}}
        },
    }


def send(brokers, leader, timeout_ms=2_000):
    router = Router(FakeSupervisor(brokers, leader), STREAM_ID)
    return asyncio.run(router.send(1, create(), timeout_ms))


def ids(broker):
    return [(c.request_stream_id, c.request_id) for c in broker.commands]


def test_an_unknown_outcome_is_retried_with_the_same_request_id():
    answer = create(job_type="answer")
    broker = FakeBroker(Outcome(UNKNOWN, leader_broker=1), Outcome(OK, record=answer))
    assert send({1: broker}, leader=1) == answer
    assert len(broker.commands) == 2
    (first, again) = ids(broker)
    assert first == again and first[0] == STREAM_ID


def test_not_leader_follows_the_leader_it_names_with_the_same_request_id():
    answer = create(job_type="answered")
    old = FakeBroker(Outcome(NOT_LEADER, leader_broker=2))
    new = FakeBroker(Outcome(OK, record=answer))
    assert send({1: old, 2: new}, leader=1) == answer
    assert ids(old) == ids(new) and len(ids(new)) == 1


def test_an_unknown_outcome_until_the_deadline_may_have_been_applied():
    broker = FakeBroker(Outcome(UNKNOWN, leader_broker=1))
    with pytest.raises(errors.UnknownOutcomeError):
        send({1: broker}, leader=1, timeout_ms=200)
    assert len(set(ids(broker))) == 1 and len(broker.commands) > 1


def test_backpressure_is_raised_with_the_brokers_reason_and_not_retried():
    broker = FakeBroker(Outcome(EXHAUSTED, reason="partition 1: 9 commands are in flight"))
    with pytest.raises(errors.ResourceExhaustedError, match="9 commands are in flight"):
        send({1: broker}, leader=1)
    assert len(broker.commands) == 1


class HeldBroker:
    """Answers a call only when the test releases it; records each call's commands."""

    def __init__(self):
        self.calls: list[tuple[list, concurrent.futures.Future]] = []
        self.submit = self

    def remote(self, partition, encoded, timeout_ms):
        future = concurrent.futures.Future()
        self.calls.append((decode(encoded), future))
        return type("Ref", (), {"future": lambda _self: future})()

    def release(self, call: int) -> None:
        commands, future = self.calls[call]
        future.set_result(encode([Outcome(OK, record=c) for c in commands]))


def test_commands_sent_while_a_call_is_in_flight_ride_the_next_call_together():
    broker = HeldBroker()

    async def scenario():
        router = Router(FakeSupervisor({1: broker}, 1), STREAM_ID)
        await router.refresh()
        sends = [asyncio.ensure_future(router.send(1, create())) for _ in range(5)]
        while len(broker.calls) < CALLS_IN_FLIGHT_PER_PARTITION_MAX:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.05)  # nothing more leaves while the calls are held
        assert len(broker.calls) == CALLS_IN_FLIGHT_PER_PARTITION_MAX
        broker.release(0)
        while len(broker.calls) < CALLS_IN_FLIGHT_PER_PARTITION_MAX + 1:
            await asyncio.sleep(0.001)
        for call in range(1, len(broker.calls)):
            broker.release(call)
        answers = await asyncio.wait_for(asyncio.gather(*sends), 5)
        return answers, [len(commands) for commands, _ in broker.calls]

    answers, sizes = asyncio.run(scenario())
    assert len(answers) == 5
    held = CALLS_IN_FLIGHT_PER_PARTITION_MAX
    assert sizes == [1] * held + [5 - held]  # the rest waited, then left in one call
