"""The broker's core without Ray: answers, refusals, backpressure, deadlines, job streams,
recovery from disk, Raft messages batched per destination broker, bounded tick catch-up."""

import random
from dataclasses import dataclass, field

import pytest

from raybee.actors import broker_core, hosting
from raybee.actors.broker_core import (
    EXHAUSTED,
    NOT_LEADER,
    OK,
    STREAM_IDLE_MS_MAX,
    TICK_CATCH_UP_MAX,
    UNKNOWN,
    BrokerCore,
    Hosted,
)
from raybee.partitions.engine.job_streams import JobStream
from raybee.partitions.protocol import (
    JobIntent,
    ProcessInstanceCreationIntent,
    RecordType,
    ValueType,
)
from raybee.partitions.testing import (
    FakeClock,
    create,
    create_instance,
    deploy,
    job_command,
    one_task_process,
)

TICK_MS = 10
STREAM_ID = 77


class Sent:
    def __init__(self):
        self.messages: list[tuple[int, list]] = []
        self.commands: list[tuple[int, int, list, int]] = []

    def send_messages(self, broker, messages):
        self.messages.append((broker, list(messages)))

    def send_commands(self, broker, partition, records, hops):
        self.commands.append((broker, partition, list(records), hops))


def make_core(root, clock, sent, broker_id=1):
    return BrokerCore(
        broker_id, root, clock, random.Random(5), TICK_MS, sent.send_messages, sent.send_commands
    )


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sent():
    return Sent()


def lead(core, clock, partition=1):
    """Tick until the partition's (single-voter) replica has elected itself."""
    core.restart_clock()
    for _ in range(200):
        clock.advance(TICK_MS)
        core.run_once()
        if core.replicas[partition].replica.role == "leader":
            for _ in range(5):  # its first entry committed
                core.run_once()
            return
    raise AssertionError("the replica did not elect itself")


@pytest.fixture
def core(tmp_path, clock, sent):
    core = make_core(tmp_path / "broker-1", clock, sent)
    core.set_routes({101: 1}, {})
    core.host(1, 101, 1, voters={101: 1})
    lead(core, clock)
    yield core
    core.close()


_ids = iter(range(1, 1_000_000))


def submit(core, partition, commands, timeout_ms=5_000):
    outcomes = [None] * len(commands)
    stamped = [c.stamped(request_stream_id=9, request_id=next(_ids)) for c in commands]

    def resolver(i):
        def resolve(outcome):
            assert outcomes[i] is None, f"command {i} answered twice"
            outcomes[i] = outcome

        return resolve

    core.submit(partition, stamped, [resolver(i) for i in range(len(stamped))], timeout_ms)
    return outcomes


def run_until_answered(core, outcomes, clock, rounds=50, *more):
    lists = (outcomes, *more)
    for _ in range(rounds):
        if all(o is not None for outcome_list in lists for o in outcome_list):
            return outcomes
        core.run_once()
        clock.advance(1)
    raise AssertionError(f"not answered after {rounds} rounds: {lists}")


def test_commands_are_answered_once_with_their_records(core, clock):
    outcomes = run_until_answered(
        core, submit(core, 1, [deploy(("p.bpmn", one_task_process("p", "t")))]), clock
    )
    assert outcomes[0].kind == OK and outcomes[0].record.record_type == RecordType.EVENT
    outcomes = run_until_answered(core, submit(core, 1, [create_instance("p"), create()]), clock)
    assert [o.record.value_type for o in outcomes] == [
        ValueType.PROCESS_INSTANCE_CREATION,
        ValueType.JOB,
    ]
    assert outcomes[0].record.intent == ProcessInstanceCreationIntent.CREATED


def test_a_partition_not_hosted_here_is_refused_with_the_leader_hint(core, clock):
    core.set_routes({101: 1, 202: 2}, {2: 2})
    outcomes = submit(core, 2, [create()])
    assert outcomes[0].kind == NOT_LEADER and outcomes[0].leader_broker == 2
    assert "holds no replica of partition 2" in outcomes[0].reason


def test_backpressure_refuses_with_a_reason_and_lets_completions_through(core, clock):
    limiter = core.limiters[1]
    limiter.limit = limiter.limit_min = limiter.limit_max = 2
    first = submit(core, 1, [create(), create(), create()])  # two fit, the third does not
    assert first[2].kind == EXHAUSTED and first[:2] == [None, None]
    refused = submit(core, 1, [create(), job_command(JobIntent.COMPLETE, 123)])
    assert refused[0].kind == EXHAUSTED and "limit is 2" in refused[0].reason
    assert refused[1] is None  # exempt: admitted, and answered (a rejection: no such job)
    run_until_answered(core, first, clock, 50, refused)
    assert refused[1].kind == OK and refused[1].record.record_type == RecordType.COMMAND_REJECTION
    assert core.stats.exhausted == 2 and limiter.in_flight == 0


def test_a_command_past_its_deadline_is_an_unknown_outcome_naming_the_leader(core, clock):
    replica = core.replicas[1].replica
    replica.has_ready = lambda: False  # the partition never answers
    outcomes = submit(core, 1, [create()], timeout_ms=100)
    for _ in range(3):
        clock.advance(broker_core.HOUSEKEEPING_INTERVAL_MS)
        core.run_once()
    assert outcomes[0].kind == UNKNOWN and outcomes[0].leader_broker == 1
    assert core.stats.expired == 1 and not core.pending


def test_a_retry_while_the_first_copy_is_in_flight_is_answered_with_it(core, clock):
    command = create().stamped(request_stream_id=9, request_id=424242)
    answers = []
    core.submit(1, [command], [answers.append])
    core.submit(1, [command], [answers.append])
    for _ in range(5):
        core.run_once()
    assert len(answers) == 2 and answers[0] == answers[1] and answers[0].kind == OK
    assert core.limiters[1].in_flight == 0


def open_stream(core, capacity=4):
    stream = JobStream(STREAM_ID, "t", "w", 60_000)
    assert core.open_stream(1, stream, capacity).kind == OK


def test_pushed_jobs_wait_in_the_stream_buffer_and_overflow_is_handed_back(core, clock):
    open_stream(core, capacity=2)
    run_until_answered(core, submit(core, 1, [create("t") for _ in range(3)]), clock)
    for _ in range(5):
        core.run_once()
    assert core.stats.jobs_pushed == 2 and core.stats.jobs_yielded == 1
    jobs, still_open = core.take_jobs(STREAM_ID, 10)
    assert still_open and len(jobs) == 2 and all(j.job.type == "t" for j in jobs)
    # The yielded job is activatable again: activation finds exactly that one.
    from raybee.partitions.testing import activate

    (batch,) = run_until_answered(core, submit(core, 1, [activate("t", max_jobs=10)]), clock)
    assert len(batch.record.value.job_keys) == 1


def test_a_stream_nobody_polls_is_closed_and_its_jobs_handed_back(core, clock):
    open_stream(core)
    run_until_answered(core, submit(core, 1, [create("t")]), clock)
    for _ in range(3):
        core.run_once()
    assert core.stats.jobs_pushed == 1
    clock.advance(STREAM_IDLE_MS_MAX + broker_core.HOUSEKEEPING_INTERVAL_MS + 1)
    core.run_once()
    assert core.take_jobs(STREAM_ID, 10) == ([], False)
    assert core.stats.jobs_yielded == 1


def test_a_restarted_broker_recovers_its_replicas_from_disk(tmp_path, clock, sent):
    root = tmp_path / "broker-1"
    core = make_core(root, clock, sent)
    core.set_routes({101: 1}, {})
    core.host(1, 101, 1, voters={101: 1})
    lead(core, clock)
    (created,) = run_until_answered(core, submit(core, 1, [create("t")]), clock)
    digest = core.replicas[1].replica.digest()
    core.close()
    again = make_core(root, clock, sent)
    assert again.recover() == [1]
    assert again.routes == {101: 1}
    lead(again, clock)
    assert again.replicas[1].replica.digest() == digest
    (done,) = run_until_answered(
        again, submit(again, 1, [job_command(JobIntent.COMPLETE, created.record.key)]), clock
    )
    assert done.record.intent == JobIntent.COMPLETED
    again.close()


@dataclass
class ChattyReplica:
    """A replica that says one message to each of three peers per Ready."""

    replica_id: int
    readies: int = 2
    messages_sent: list = field(default_factory=list)
    role: str = "follower"
    leader_id: int | None = None
    term: int = 1
    ticks: int = 0

    def has_ready(self):
        return self.readies > 0

    def ready(self):
        self.readies -= 1
        messages = [Msg(to, self.readies) for to in (201, 202, 301)]
        return _Ready(messages)

    def advance(self, ready):
        self.messages_sent.extend(ready.messages)

    def tick(self):
        self.ticks += 1

    def status(self):
        return {}

    def close(self):
        pass


@dataclass(frozen=True, eq=False)
class Msg:
    to: int
    ready: int


@dataclass
class _Ready:
    messages: list
    responses: list = field(default_factory=list)
    unknown: list = field(default_factory=list)
    partition_commands: list = field(default_factory=list)
    job_pushes: list = field(default_factory=list)


def test_raft_messages_leave_after_advance_in_one_batch_per_destination_broker(core, sent):
    chatty = ChattyReplica(999)
    core.replicas[5] = Hosted(5, 999, 5, chatty)
    sends_before_advance = []

    def send_messages(broker, messages):
        sends_before_advance.extend(
            m for m in messages if not any(m is a for a in chatty.messages_sent)
        )
        sent.send_messages(broker, messages)

    core.send_messages = send_messages
    core.set_routes({101: 1, 201: 2, 202: 2, 301: 3}, {})
    broker_core.READIES_PER_REPLICA_PER_ITERATION_MAX, saved = (
        2,
        broker_core.READIES_PER_REPLICA_PER_ITERATION_MAX,
    )
    try:
        core.run_once()
    finally:
        broker_core.READIES_PER_REPLICA_PER_ITERATION_MAX = saved
    del core.replicas[5]
    by_broker = {broker: messages for broker, messages in sent.messages}
    assert len(sent.messages) == 2, sent.messages  # one call per destination broker
    assert sorted(m.to for m in by_broker[2]) == [201, 201, 202, 202]
    assert [m.to for m in by_broker[3]] == [301, 301]
    assert len(chatty.messages_sent) == 6
    assert sends_before_advance == []  # persisted (advance) before any peer hears of it


def test_ticks_follow_the_clock_and_a_long_pause_is_not_replayed_as_a_burst(core, clock):
    chatty = ChattyReplica(999, readies=0)
    core.replicas[5] = Hosted(5, 999, 5, chatty)
    core.restart_clock()
    clock.advance(3 * TICK_MS)
    core.run_once()
    assert chatty.ticks == 3
    clock.advance(1_000 * TICK_MS)
    core.run_once()
    assert chatty.ticks == 3 + TICK_CATCH_UP_MAX
    assert core.stats.ticks_skipped == 1_000 - TICK_CATCH_UP_MAX
    del core.replicas[5]


def test_commands_for_other_partitions_go_to_their_leader_or_a_member_at_most_twice(core, sent):
    records = [create()]
    core.set_routes({101: 1, 202: 2, 303: 3}, {}, {101: 1, 202: 2, 303: 3})
    core.accept_partition_commands(2, records, hops=0)  # no leader known: a member knows
    core.set_routes({101: 1, 202: 2, 303: 3}, {2: 3}, {101: 1, 202: 2, 303: 3})
    core.accept_partition_commands(2, records, hops=1)  # the supervisor's hint
    core.accept_partition_commands(2, records, hops=broker_core.PARTITION_COMMAND_HOPS_MAX)
    assert [(b, p, hops) for b, p, _, hops in sent.commands] == [(2, 2, 1), (3, 2, 2)]
    assert core.stats.partition_commands_sent == 2
    assert core.stats.partition_commands_dropped == 1


def test_replica_settings_reach_the_hosted_replicas_and_bad_ones_are_refused_by_name(
    tmp_path, clock, sent
):
    settings = {"snapshot_interval_positions": 1 << 40, "snapshot_interval_ms": 1 << 40}
    core = BrokerCore(
        1,
        tmp_path,
        clock,
        random.Random(5),
        TICK_MS,
        sent.send_messages,
        sent.send_commands,
        settings,
    )
    assert core.replica_config.snapshot_interval_positions == 1 << 40
    assert core.replica_config.snapshot_interval_ms == 1 << 40
    core.close()
    with pytest.raises(ValueError, match=r"unknown replica setting\(s\) \['tick_ms'\]"):
        hosting.replica_config(TICK_MS, {"tick_ms": 1})
    with pytest.raises(ValueError, match="snapshot_interval_positions must be a positive int"):
        hosting.replica_config(TICK_MS, {"snapshot_interval_positions": 0})
    assert hosting.replica_config(TICK_MS).snapshot_interval_positions == (
        hosting.SNAPSHOT_INTERVAL_POSITIONS
    )
