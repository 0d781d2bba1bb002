"""A seeded random workload of BPMN events on a LocalCluster, and the checks of what it leaves.

`EventWorkload` drives PARTITIONS partitions over a faulty network (drops, duplicates, delays,
from the seed): it deploys processes with receive tasks and timer boundary events, message,
error and timer-cycle boundary events, an event-based gateway, event sub-processes (message,
timer, error), a message start event and an error boundary on a sub-process; then, step by
step, creates instances on random partitions with correlation keys from a small pool (so that
several instances of one process wait for one key), publishes messages (to the partition of
their key; some without time-to-live, some with message ids used twice), completes jobs,
throws errors (matching and not), cancels instances, advances the clock and runs due work
(timers, expiries, resends), and deploys new versions of the message start process. At the
end the network heals and time passes until every send is acknowledged.

`check_event_workload` runs it and checks, each under its own name:
- "answers" / "errors": on every partition, every command answered exactly once; no command
  failed in processing;
- "log": `EventLogChecker` folds the logs of all partitions into its own model, written from
  the BPMN and message rules (not from the appliers), and checks every step: a message is
  correlated at most once per element instance and at most once per process (bpmn process
  id), at its publication or later only within its time-to-live; a timer fires only for a
  waiting element and no element ends with a timer or an open subscription; a
  non-interrupting boundary event leaves its activity running, an interrupting one ends it; an
  error is caught only by a catch event of its code (or a catch-all);
- "settled": at the end nothing is pending between partitions, every partition holds every
  deployed process, and what waits (subscriptions on both sides, timers, message start keys)
  belongs to an element or instance still active;
- "state": each partition's store is consistent with itself (bpmn_workload.bpmn_state_problems);
- "replay from scratch" / "replay from snapshot": replaying only the events of each partition
  (from nothing, and from a snapshot of each taken half way) gives its bytes.
"""

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from raybee.partitions.checks import check_answers
from raybee.partitions.engine import ENGINE_FAMILIES
from raybee.partitions.engine.bpmn import BpmnElementType, parse_bpmn
from raybee.partitions.engine.distribution import RESEND_INTERVAL_MS
from raybee.partitions.engine.families import (
    ELEMENT_INSTANCES,
    MESSAGE_START_KEYS,
    MESSAGE_SUBSCRIPTIONS,
    PENDING_SENDS,
    PROCESS_SUBSCRIPTIONS,
    PROCESSES,
    TIMERS,
)
from raybee.partitions.local_cluster import Faults, LocalCluster
from raybee.partitions.protocol import (
    NO_KEY,
    JobBatchIntent,
    JobIntent,
    MessageIntent,
    MessageStartEventSubscriptionIntent,
    MessageSubscriptionIntent,
    ProcessInstanceIntent,
    ProcessMessageSubscriptionIntent,
    RejectionType,
    TimerIntent,
    ValueType,
    partition_of_key,
)
from raybee.partitions.stream_processor import StreamProcessor
from raybee.partitions.testing import (
    FakeClock,
    activate,
    bpmn_error,
    bpmn_message,
    bpmn_process,
    cancel_instance,
    create_instance,
    deploy,
    error_definition,
    job_command,
    message_definition,
    publish,
    timer_definition,
)
from raybee.state import MemoryStore

PARTITIONS = 3
KEYS = ("k0", "k1", "k2", "k3")
JOB_TYPES = ("work", "main", "inner", "started", "after")
ERROR_CODES = ("E1", "E2", "E3")
SECOND_MS = 1000
PI = ValueType.PROCESS_INSTANCE
I = ProcessInstanceIntent  # noqa: E741
FAULTS = Faults(drop=0.1, duplicate=0.1, delay=0.2)


def _task(element_id, job_type):
    return (
        f'<bpmn:serviceTask id="{element_id}"><bpmn:extensionElements>'
        f'<zeebe:taskDefinition type="{job_type}"/></bpmn:extensionElements></bpmn:serviceTask>'
    )


def _flow(source, target):
    return f'<bpmn:sequenceFlow id="{source}-{target}" sourceRef="{source}" targetRef="{target}"/>'


def _chain(*ids):
    return "".join(_flow(a, b) for a, b in zip(ids, ids[1:], strict=False))


def _boundary(event_id, attached_to, definition, interrupting=True):
    return (
        f'<bpmn:boundaryEvent id="{event_id}" attachedToRef="{attached_to}" '
        f'cancelActivity="{str(interrupting).lower()}">{definition}</bpmn:boundaryEvent>'
    )


def _catch(event_id, definition):
    return (
        f'<bpmn:intermediateCatchEvent id="{event_id}">{definition}</bpmn:intermediateCatchEvent>'
    )


def _end(event_id):
    return f'<bpmn:endEvent id="{event_id}"/>'


def _esp(sub_id, definition, interrupting, job_type=None):
    inner = _task(f"{sub_id}-task", job_type) if job_type else ""
    flows = (
        _chain(f"{sub_id}-start", f"{sub_id}-task", f"{sub_id}-end")
        if job_type
        else _chain(f"{sub_id}-start", f"{sub_id}-end")
    )
    return (
        f'<bpmn:subProcess id="{sub_id}" triggeredByEvent="true">'
        f'<bpmn:startEvent id="{sub_id}-start" isInterrupting="{str(interrupting).lower()}">'
        f"{definition}</bpmn:startEvent>{inner}{_end(sub_id + '-end')}{flows}</bpmn:subProcess>"
    )


def processes(revision: int = 0) -> dict[str, str]:
    catcher = (
        '<bpmn:startEvent id="start"/><bpmn:receiveTask id="wait" messageRef="msg-go"/>'
        + _boundary("timeout", "wait", timer_definition("timeDuration", "PT30S"))
        + _end("end")
        + _end("timed-out")
        + _chain("start", "wait", "end")
        + _flow("timeout", "timed-out")
    )
    notified = (
        '<bpmn:startEvent id="start"/>'
        + _task("work", "work")
        + _boundary("note", "work", message_definition("msg-note"), interrupting=False)
        + _boundary("fail", "work", error_definition("error-E1"))
        + _boundary("tick", "work", timer_definition("timeCycle", "R2/PT20S"), interrupting=False)
        + _end("end")
        + _end("noted")
        + _end("failed")
        + _end("ticked")
        + _chain("start", "work", "end")
        + _flow("note", "noted")
        + _flow("fail", "failed")
        + _flow("tick", "ticked")
    )
    racer = (
        '<bpmn:startEvent id="start"/><bpmn:eventBasedGateway id="which"/>'
        + _catch("paid", message_definition("msg-pay"))
        + _catch("late", timer_definition("timeDuration", "PT40S"))
        + _end("end-paid")
        + _end("end-late")
        + _chain("start", "which")
        + _chain("which", "paid", "end-paid")
        + _chain("which", "late", "end-late")
    )
    hosted = (
        '<bpmn:startEvent id="start"/>'
        + _task("main", "main")
        + _end("end")
        + _chain("start", "main", "end")
        + _esp("pinged", message_definition("msg-ping"), interrupting=False)
        + _esp("expired", timer_definition("timeDuration", "PT60S"), interrupting=True)
        + _esp("broken", error_definition("error-E2"), interrupting=True)
    )
    nested = (
        '<bpmn:startEvent id="start"/>'
        + '<bpmn:subProcess id="sub"><bpmn:startEvent id="s2"/>'
        + _task("inner", "inner")
        + _end("e2")
        + _chain("s2", "inner", "e2")
        + "</bpmn:subProcess>"
        + _boundary("caught", "sub", error_definition(None))
        + _task("after", "after")
        + _end("end")
        + _end("handled")
        + _chain("start", "sub", "after", "end")
        + _flow("caught", "handled")
    )
    # Created only after its message's deadline passed, before due work removed the message.
    latecomer = (
        '<bpmn:startEvent id="start"/><bpmn:receiveTask id="then" messageRef="msg-go"/>'
        + _end("end")
        + _chain("start", "then", "end")
    )
    note = f"<bpmn:documentation>revision {revision}</bpmn:documentation>"
    starter = (
        note
        + f'<bpmn:startEvent id="start">{message_definition("msg-begin")}</bpmn:startEvent>'
        + _task("started", "started")
        + _end("end")
        + _chain("start", "started", "end")
    )
    errors = "".join(bpmn_error(f"error-{code}", code) for code in ERROR_CODES)

    def message(name):
        return bpmn_message(f"msg-{name}", name, "=key")

    bodies = {
        "catcher": (catcher, message("go")),
        "notified": (notified, message("note") + errors),
        "racer": (racer, message("pay")),
        "hosted": (hosted, message("ping") + errors),
        "nested": (nested, ""),
        "latecomer": (latecomer, message("go")),
        "starter": (starter, bpmn_message("msg-begin", "begin", None)),
    }
    return {pid: bpmn_process(pid, body, extra) for pid, (body, extra) in bodies.items()}


INSTANCE_PROCESSES = ("catcher", "notified", "racer", "hosted", "nested")
# Processes that wait for a message right away (several instances of one wait together).
WAITING_PROCESSES = {"catcher": "go", "racer": "pay", "notified": "note", "hosted": "ping"}
MESSAGE_NAMES = ("go", "note", "pay", "ping", "begin")


class EventWorkload:
    def __init__(self, cluster: LocalCluster, clock: FakeClock, rng: random.Random):
        self.cluster = cluster
        self.clock = clock
        self.rng = rng
        self.counts: Counter = Counter()
        self.revision = 0
        self.late = 0
        self.held: dict[int, tuple[int, str]] = {}  # job key -> (partition, job type)
        self.roots: dict[int, int] = {}  # live root process instance key -> partition
        self._read_from = {p: 1 for p in cluster.partitions}

    def run(self, steps: int, on_step=None) -> None:
        deployments = [deploy((f"{pid}.bpmn", xml)) for pid, xml in processes().items()]
        before = len(self.cluster.responses[1])
        self._write(1, *deployments)
        answers = [r.record for r in self.cluster.responses[1][before:]]
        assert all(a.is_event for a in answers), [a.rejection_reason for a in answers]
        self.settle()
        for step in range(steps):
            if on_step is not None:
                on_step(step)
            self.step()
        self.cluster.network.faults = Faults()  # the network heals; every send gets through
        self.settle()

    def settle(self, rounds: int = 6) -> None:
        for _ in range(rounds):
            self.clock.advance(RESEND_INTERVAL_MS)
            self.cluster.tick()
            self._learn()

    def step(self) -> str:
        actions = [
            ("create", 12), ("crowd", 4), ("late", 3), ("publish", 16), ("work", 14), ("throw", 8),
            ("cancel", 4), ("tick", 8), ("deploy", 1),
        ]  # fmt: skip
        action = self.rng.choices([a for a, _ in actions], [w for _, w in actions])[0]
        getattr(self, "_" + action)()
        self.counts[action] += 1
        return action

    def _write(self, partition_id: int, *commands) -> None:
        self.cluster.write(partition_id, *commands)
        self.cluster.run()
        self._learn()

    # ------------------------------------------------------------------ actions
    def _create(self) -> None:
        rng = self.rng
        process_id = rng.choice(INSTANCE_PROCESSES)
        partition_id = rng.randint(1, PARTITIONS)
        self._write(partition_id, create_instance(process_id, {"key": rng.choice(KEYS)}))

    def _crowd(self) -> None:
        """Several instances of one process wait for the same message; then it comes."""
        rng = self.rng
        process_id, name = rng.choice(sorted(WAITING_PROCESSES.items()))
        key = rng.choice(KEYS)
        for _ in range(rng.randint(2, 3)):
            self._write(rng.randint(1, PARTITIONS), create_instance(process_id, {"key": key}))
        self._write(
            self.cluster.partition_of_correlation_key(key),
            publish(name, key, {"n": rng.randint(0, 9)}, rng.choice([0, 10 * SECOND_MS])),
        )

    def _late(self) -> None:
        """A subscription opens after its message's time-to-live is over, but before due work
        removed the message (the clock moved; no tick yet)."""
        self.late += 1
        key = f"late-{self.late}"  # nobody else waits for it
        self._write(
            self.cluster.partition_of_correlation_key(key),
            publish("go", key, {"n": 0}, 10 * SECOND_MS),
        )
        self.clock.advance(10 * SECOND_MS)
        self._write(self.rng.randint(1, PARTITIONS), create_instance("latecomer", {"key": key}))

    def _publish(self) -> None:
        rng = self.rng
        key = rng.choice(KEYS)
        name = rng.choice(MESSAGE_NAMES)
        ttl = rng.choice([0, 10 * SECOND_MS, 60 * SECOND_MS])
        message_id = rng.choice(["", "", "", "id-1", "id-2"])
        self._write(
            self.cluster.partition_of_correlation_key(key),
            publish(name, key, {"n": rng.randint(0, 9)}, ttl, message_id),
        )

    def _work(self) -> None:
        job_type = self.rng.choice(JOB_TYPES)
        partition_id = self.rng.randint(1, PARTITIONS)
        self._write(partition_id, activate(job_type, max_jobs=5, timeout_ms=600_000))
        keys = [k for k, (p, t) in sorted(self.held.items()) if p == partition_id and t == job_type]
        if keys:
            self._write(partition_id, *(job_command(JobIntent.COMPLETE, k) for k in keys))

    def _throw(self) -> None:
        """A worker of one job type throws an error (of a code its catch events may not
        catch) on a job it took from whichever partition had one."""
        job_type = self.rng.choice(("work", "main", "inner"))
        for partition_id in self.cluster.partitions:
            self._write(partition_id, activate(job_type, max_jobs=1, timeout_ms=600_000))
            keys = [
                k for k, (p, t) in sorted(self.held.items()) if (p, t) == (partition_id, job_type)
            ]
            if keys:
                code = self.rng.choice(ERROR_CODES)
                error = job_command(
                    JobIntent.THROW_ERROR, keys[0], error_code=code, variables={"e": code}
                )
                self._write(partition_id, error)
                return

    def _cancel(self) -> None:
        if self.roots:
            key = self.rng.choice(sorted(self.roots))
            self._write(self.roots[key], cancel_instance(key))

    def _tick(self) -> None:
        self.clock.advance(self.rng.choice([5, 15, 25]) * SECOND_MS)
        self.cluster.tick()
        self._learn()

    def _deploy(self) -> None:
        self.revision += 1
        self._write(1, deploy(("starter.bpmn", processes(self.revision)["starter"])))

    # ------------------------------------------------------------------ learning
    def _learn(self) -> None:
        for partition_id, partition in self.cluster.partitions.items():
            for record in partition.log.read_from(self._read_from[partition_id]):
                self._read_from[partition_id] = record.position + 1
                if not record.is_event:
                    continue
                vt, intent, key = record.value_type, record.intent, record.key
                if vt == ValueType.JOB_BATCH and intent == JobBatchIntent.ACTIVATED:
                    for job_key, job in zip(record.value.job_keys, record.value.jobs, strict=True):
                        self.held[job_key] = (partition_id, job.type)
                elif vt == ValueType.JOB and intent != JobIntent.CREATED:
                    self.held.pop(key, None)
                elif vt == PI and record.value.bpmn_element_type == "PROCESS":
                    if intent == I.ELEMENT_ACTIVATING:
                        self.roots[key] = partition_id
                    elif intent in (I.ELEMENT_COMPLETED, I.ELEMENT_TERMINATED):
                        self.roots.pop(key, None)


# ---------------------------------------------------------------------- the log checker
@dataclass
class Element:
    element_id: str
    element_type: str
    scope: int
    definition: int
    root: int  # the command that activated it


class EventLogChecker:
    """An independent model of events, messages and timers folded from every partition's log;
    see the module docstring."""

    def __init__(self):
        self.problems: list[str] = []
        self.models: dict[int, object] = {}  # definition key -> parsed model
        self.elements: dict[int, Element] = {}  # live element instances, all partitions
        self.info: dict[int, Element] = {}  # every element instance seen
        self.deadlines: dict[int, int] = {}  # message key -> deadline ms
        self.published_at: dict[int, int] = {}  # message key -> root of its PUBLISH
        self.correlations: Counter = Counter()  # (element key, message key)
        self.per_process: Counter = Counter()  # (message key, bpmn process id)
        self.timers: dict[int, int] = {}  # live timer key -> owner
        self.subscriptions: dict[tuple[int, str], str] = {}  # open PMS -> state
        self.thrown: dict[tuple[int, int], str] = {}  # (partition, root) -> error code thrown
        self.terminated: dict[tuple[int, int], set] = defaultdict(set)  # (partition, root) -> keys

    def problem(self, partition_id, record, text: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(f"partition {partition_id} position {record.position}: {text}")

    def feed(self, logs: dict[int, list]) -> "EventLogChecker":
        # Models first: every partition may create instances of any deployed process.
        for records in logs.values():
            for record in records:
                created = record.is_event and record.value_type == ValueType.PROCESS
                if not created or record.key in self.models:
                    continue
                value = record.value
                (model,) = [
                    m
                    for m in parse_bpmn(value.resource, value.resource_name)
                    if m.bpmn_process_id == value.bpmn_process_id
                ]
                self.models[record.key] = model
        for partition_id, records in logs.items():
            roots: dict[int, int] = {}
            for record in records:
                source = record.source_record_position
                if record.is_command:
                    if source >= 0:
                        roots[record.position] = roots.get(source, source)
                    continue
                root = roots.get(source, source)
                if record.is_event:
                    self._event(partition_id, root, record)
        return self

    def _event(self, partition_id, root, record) -> None:
        vt, intent, value = record.value_type, record.intent, record.value
        if vt == PI:
            self._element(partition_id, root, record)
        elif vt == ValueType.MESSAGE and intent == MessageIntent.PUBLISHED:
            self.deadlines[record.key] = value.deadline_ms
            self.published_at[record.key] = (partition_id, root)
        elif (
            vt == ValueType.MESSAGE_SUBSCRIPTION and intent == MessageSubscriptionIntent.CORRELATING
        ):
            self._offered(partition_id, root, record, value.message_key)
        elif vt == ValueType.MESSAGE_START_EVENT_SUBSCRIPTION:
            if intent == MessageStartEventSubscriptionIntent.CORRELATED:
                self._offered(partition_id, root, record, value.message_key)
                self._correlated_to_process(
                    partition_id, record, value.message_key, value.bpmn_process_id
                )
        elif vt == ValueType.PROCESS_MESSAGE_SUBSCRIPTION:
            self._process_subscription(partition_id, record)
        elif vt == ValueType.TIMER:
            self._timer(partition_id, record)
        elif vt == ValueType.JOB and intent == JobIntent.ERROR_THROWN:
            self.thrown[(partition_id, root)] = value.error_code

    def _offered(self, partition_id, root, record, message_key) -> None:
        deadline = self.deadlines.get(message_key)
        at_publication = self.published_at.get(message_key) == (partition_id, root)
        if deadline is not None and not at_publication and record.timestamp_ms >= deadline:
            self.problem(
                partition_id,
                record,
                f"message {message_key} offered at {record.timestamp_ms}, after its deadline {deadline}",
            )

    def _correlated_to_process(self, partition_id, record, message_key, process_id) -> None:
        self.per_process[(message_key, process_id)] += 1
        if self.per_process[(message_key, process_id)] > 1:
            self.problem(
                partition_id,
                record,
                f"message {message_key} correlated twice to process '{process_id}'",
            )

    def _process_subscription(self, partition_id, record) -> None:
        intent, value = record.intent, record.value
        slot = (value.element_instance_key, value.message_name)
        P = ProcessMessageSubscriptionIntent  # noqa: N806
        if intent == P.CREATING:
            self.subscriptions[slot] = "OPEN"
        elif intent == P.DELETING:
            self.subscriptions[slot] = "CLOSING"
        elif intent == P.DELETED:
            self.subscriptions.pop(slot, None)
        elif intent == P.CORRELATED:
            pair = (value.element_instance_key, value.message_key)
            self.correlations[pair] += 1
            if self.correlations[pair] > 1:
                self.problem(
                    partition_id,
                    record,
                    f"message {value.message_key} correlated twice to element {value.element_instance_key}",
                )
            self._correlated_to_process(
                partition_id, record, value.message_key, value.bpmn_process_id
            )
            element = self.elements.get(value.element_instance_key)
            if element is None:
                self.problem(
                    partition_id,
                    record,
                    f"message correlated to ended element {value.element_instance_key}",
                )
            if value.interrupting:
                self.subscriptions.pop(slot, None)

    def _timer(self, partition_id, record) -> None:
        intent, value = record.intent, record.value
        if intent == TimerIntent.CREATED:
            if value.element_instance_key != NO_KEY:
                self.timers[record.key] = value.element_instance_key
        elif intent == TimerIntent.TRIGGERED:
            owner = self.timers.pop(record.key, None)
            if owner is not None and owner not in self.elements:
                self.problem(
                    partition_id, record, f"timer {record.key} fired for ended element {owner}"
                )
        elif intent == TimerIntent.CANCELED:
            self.timers.pop(record.key, None)

    def _element(self, partition_id, root, record) -> None:
        intent, key, value = record.intent, record.key, record.value
        if intent == I.ELEMENT_ACTIVATING:
            element = Element(
                value.element_id, value.bpmn_element_type, value.flow_scope_key,
                value.process_definition_key, root,
            )  # fmt: skip
            self.elements[key] = self.info[key] = element
            if value.bpmn_element_type == "BOUNDARY_EVENT":
                self._boundary(partition_id, root, record, element)
            elif value.bpmn_element_type == "EVENT_SUB_PROCESS":
                self._event_sub_process(partition_id, root, record, element)
        elif intent == I.ELEMENT_TERMINATING:
            self.terminated[(partition_id, root)].add(key)
        elif intent in (I.ELEMENT_COMPLETED, I.ELEMENT_TERMINATED):
            owned = [t for t, owner in self.timers.items() if owner == key]
            if owned:
                self.problem(
                    partition_id, record, f"element {key} ended with its timers {owned} running"
                )
            waiting = [
                s for s, state in self.subscriptions.items() if s[0] == key and state == "OPEN"
            ]
            if waiting:
                self.problem(
                    partition_id, record, f"element {key} ended with open subscriptions {waiting}"
                )
            self.elements.pop(key, None)

    def _boundary(self, partition_id, root, record, element) -> None:
        model = self.models[element.definition]
        node = model.flow_node(element.element_id)
        interrupted = [
            k
            for k in self.terminated[(partition_id, root)]
            if self.info[k].element_id == node.attached_to_id
            and self.info[k].scope == element.scope
        ]
        if node.interrupting and not interrupted:
            self.problem(
                partition_id, record, f"interrupting boundary '{node.id}' left its activity running"
            )
        if not node.interrupting and interrupted:
            self.problem(
                partition_id, record, f"non-interrupting boundary '{node.id}' ended its activity"
            )
        if node.error is not None:
            self._error_caught(partition_id, root, record, node)

    def _event_sub_process(self, partition_id, root, record, element) -> None:
        model = self.models[element.definition]
        start = model.flow_node(model.flow_node(element.element_id).scope.start_event_id)
        if start.error is not None:
            self._error_caught(partition_id, root, record, start)

    def _error_caught(self, partition_id, root, record, catch) -> None:
        thrown = self.thrown.get((partition_id, root))
        code = catch.error.error_code
        if thrown is None:
            return  # an error end event threw it (the workload's processes have none)
        if code is not None and code.static_value != thrown:
            self.problem(
                partition_id,
                record,
                f"'{catch.id}' (code {code.static_value}) caught error {thrown}",
            )


def settled_problems(cluster) -> list[str]:
    problems = []
    views = {p: part.store.view() for p, part in cluster.partitions.items()}
    alive = set()
    for view in views.values():
        alive |= {k for k, _ in view.items(ELEMENT_INSTANCES)}
    processes_of = {p: sorted(k for k, _ in view.items(PROCESSES)) for p, view in views.items()}
    if len({tuple(keys) for keys in processes_of.values()}) != 1:
        problems.append(f"partitions hold different processes: {processes_of}")
    for p, view in views.items():
        pending = list(view.items(PENDING_SENDS))
        if pending:
            problems.append(f"partition {p}: {len(pending)} sends never acknowledged")
        for (element, name), raw in view.items(PROCESS_SUBSCRIPTIONS):
            if element not in alive and raw[1] != "CLOSING":
                problems.append(f"partition {p}: subscription of ended element {element} ({name})")
        for (element, name), _ in view.items(MESSAGE_SUBSCRIPTIONS):
            if element not in alive:
                problems.append(
                    f"partition {p}: registered subscription of ended element {element} ({name}, "
                    f"partition {partition_of_key(element)})"
                )
        for key, timer in view.items(TIMERS):
            if timer.element_instance_key != NO_KEY and timer.element_instance_key not in alive:
                problems.append(
                    f"partition {p}: timer {key} of ended element {timer.element_instance_key}"
                )
        for instance, held in view.items(MESSAGE_START_KEYS):
            if instance not in alive:
                problems.append(
                    f"partition {p}: start key {held} held by ended instance {instance}"
                )
    return problems


@dataclass
class EventWorkloadCheck:
    seed: int
    counts: dict = field(default_factory=dict)
    intents: Counter = field(default_factory=Counter)
    faults: object = None
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [name for name, found in self.problems.items() if found]

    def summary(self) -> str:
        lines = [f"seed={self.seed}: failed checks {self.failed}; faults {self.faults}"]
        for name in self.failed:
            lines += [f"  {name}: {p}" for p in self.problems[name][:3]]
        return "\n".join(lines)


def check_event_workload(
    seed: int, steps: int, checkpoint_dir, state_problems
) -> EventWorkloadCheck:
    """`state_problems(view)`: bpmn_workload.bpmn_state_problems (modules here are loaded by
    path, not as a package)."""
    report = EventWorkloadCheck(seed)
    clock = FakeClock()
    cluster = LocalCluster(PARTITIONS, clock, faults=FAULTS, seed=seed)
    snapshots = {}

    def between_steps(step):
        if step == steps // 2:
            checkpoint_dir.mkdir(parents=True, exist_ok=True)
            for p, partition in cluster.partitions.items():
                snapshots[p] = partition.store.checkpoint(checkpoint_dir / f"partition-{p}")

    try:
        workload = EventWorkload(cluster, clock, random.Random(seed))
        try:
            workload.run(steps, between_steps)
        except Exception as error:  # a planted bug may break the workload itself
            report.problems["workload"] = [f"the workload raised {error!r}"]
            return report
        report.counts = dict(workload.counts)
        report.faults = cluster.network.stats
        logs = {p: list(part.log.read_from(1)) for p, part in cluster.partitions.items()}
        for records in logs.values():
            report.intents.update((r.value_type.name, r.intent.name) for r in records if r.is_event)
        report.problems["answers"] = [
            f"partition {p}: {problem}"
            for p, records in logs.items()
            for problem in check_answers(records).problems
        ]
        report.problems["errors"] = [
            f"partition {p} position {r.position}: {r.value_type.name} {r.intent.name}: "
            f"{r.rejection_reason[:300]}"
            for p, records in logs.items()
            for r in records
            if r.is_rejection and r.rejection_type == RejectionType.PROCESSING_ERROR
        ]
        try:
            report.problems["log"] = EventLogChecker().feed(logs).problems
        except Exception as error:
            report.problems["log"] = [f"the log checker raised {error!r}"]
        report.problems["settled"] = settled_problems(cluster)
        report.problems["state"] = [
            f"partition {p}: {problem}"
            for p, part in cluster.partitions.items()
            for problem in state_problems(part.store.view())
        ]
        scratch, snapshot = [], []
        for p, partition in cluster.partitions.items():
            scratch += _replay(p, partition, MemoryStore(ENGINE_FAMILIES))
            snapshot += _replay(
                p, partition, MemoryStore.open_checkpoint(snapshots[p], ENGINE_FAMILIES)
            )
        report.problems["replay from scratch"] = scratch
        report.problems["replay from snapshot"] = snapshot
    finally:
        cluster.close()
    return report


def _replay(partition_id, partition, store) -> list[str]:
    try:
        StreamProcessor(store, partition.log, partition_id, FakeClock()).replay()
        if store.digest() != partition.store.digest():
            return [f"partition {partition_id}: replayed state differs"]
        return []
    except Exception as error:
        return [f"partition {partition_id}: replay raised {error!r}"]
    finally:
        store.close()


ELEMENT_TYPES_EXERCISED = (
    BpmnElementType.BOUNDARY_EVENT.value,
    BpmnElementType.EVENT_SUB_PROCESS.value,
    BpmnElementType.EVENT_BASED_GATEWAY.value,
    BpmnElementType.RECEIVE_TASK.value,
)
