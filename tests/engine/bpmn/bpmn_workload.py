"""A seeded random BPMN workload and the checks of what it leaves behind (loaded by conftest.py
and handed to tests as the `bpmn_workload` fixture).

`BpmnWorkload` drives one LocalPartition: it deploys processes with gateways (exclusive,
parallel, inclusive), an embedded sub-process, call activities, parallel and sequential
multi-instance, mappings that fail, a terminate end event; then, step by step, creates instances
(some awaiting their result), activates, completes, fails and throws errors on jobs, resolves
incidents (after fixing what failed, or not), cancels instances, sets variables, deploys new
versions and duplicates, lets jobs time out, and writes commands that must be refused.

`check_bpmn_workload` runs it and checks, each under its own name:
- "answers": every command answered exactly once;
- "errors": no command failed in processing (a PROCESSING_ERROR rejection);
- "log": `BpmnLogChecker` folds the log into its own model of element instances, joins and
  variables, written from the BPMN rules (not from the appliers), and checks every step: an
  element is activated only in a live activated scope, a parallel join only once every incoming
  flow has a token, a scope completes or terminates with no child left, variables are written
  on live scopes, a job is activated with the variables its element sees, a duplicate
  deployment is a duplicate and a changed one a new version, a resolved element incident runs
  its step again, output mappings land in the flow scope, each awaiting request is answered
  once with the instance's variables; at the end the model equals the store;
- "state": the store is consistent with itself (`bpmn_state_problems`);
- "follower in step": a follower replaying as the leader goes holds the same bytes every
  FOLLOWER_CHECK_STEPS steps;
- "replay from scratch" / "replay from snapshot": replaying only the events (from nothing, and
  from a snapshot taken half way) gives the same bytes.
"""

import random
from collections import Counter
from dataclasses import dataclass, field

from raybee.partitions.checks import check_answers
from raybee.partitions.engine import ENGINE_FAMILIES
from raybee.partitions.engine.bpmn import BpmnElementType, parse_bpmn
from raybee.partitions.engine.families import (
    AWAITING_RESULTS,
    ELEMENT_CHILDREN,
    ELEMENT_INCIDENTS,
    ELEMENT_INSTANCES,
    INCIDENTS,
    JOBS,
    PROCESSES,
    VARIABLES,
)
from raybee.partitions.local import LocalPartition
from raybee.partitions.log_stream import MemoryLogStream
from raybee.partitions.protocol import (
    NO_KEY,
    DeploymentIntent,
    IncidentIntent,
    JobBatchIntent,
    JobIntent,
    ProcessInstanceCreationIntent,
    ProcessInstanceIntent,
    ProcessIntent,
    RejectionType,
    ValueType,
    VariableIntent,
)
from raybee.partitions.stream_processor import StreamProcessor
from raybee.partitions.testing import (
    FakeClock,
    activate,
    bpmn_process,
    cancel_instance,
    create_instance,
    deploy,
    job_command,
    resolve,
    set_variables,
)
from raybee.state import MemoryStore

JOB_TYPES = ("a", "b", "c", "d", "e")
MISSING_KEY = (1 << 51) + 999_999_999
JOB_TIMEOUT_MS = 30_000
FOLLOWER_CHECK_STEPS = 25
PI = ValueType.PROCESS_INSTANCE


def _task(element_id, job_type, inputs=(), outputs=(), loop=""):
    io = "".join(f'<zeebe:input source="{s}" target="{t}"/>' for s, t in inputs)
    io += "".join(f'<zeebe:output source="{s}" target="{t}"/>' for s, t in outputs)
    io = f"<zeebe:ioMapping>{io}</zeebe:ioMapping>" if io else ""
    return (
        f'<bpmn:serviceTask id="{element_id}"><bpmn:extensionElements>'
        f'<zeebe:taskDefinition type="{job_type}"/>{io}</bpmn:extensionElements>{loop}'
        f"</bpmn:serviceTask>"
    )


def _flow(source, target, condition=None, flow_id=None):
    flow_id = flow_id or f"{source}-{target}"
    body = f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression>" if condition else ""
    return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">{body}</bpmn:sequenceFlow>'


def _chain(*ids):
    return "".join(_flow(a, b) for a, b in zip(ids, ids[1:], strict=False))


def _loop(collection, element, sequential, extra=""):
    return (
        f'<bpmn:multiInstanceLoopCharacteristics isSequential="{str(sequential).lower()}">'
        f'<bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="{collection}" '
        f'inputElement="{element}" {extra}/></bpmn:extensionElements>'
        "<bpmn:completionCondition>=numberOfCompletedInstances &gt;= limit</bpmn:completionCondition>"
        "</bpmn:multiInstanceLoopCharacteristics>"
    )


def processes(revision: int = 0) -> dict[str, str]:
    """The workload's processes; `revision` changes each resource (a new version)."""
    note = f"<bpmn:documentation>revision {revision}</bpmn:documentation>" if revision else ""
    sub = (
        '<bpmn:subProcess id="sub"><bpmn:startEvent id="s2"/>'
        + _task("d", "d", inputs=[("=x", "local_x")])
        + '<bpmn:endEvent id="e2"/>'
        + _chain("s2", "d", "e2")
        + "</bpmn:subProcess>"
    )
    gateways = (
        note
        + '<bpmn:startEvent id="start"/><bpmn:exclusiveGateway id="route" default="to-small"/>'
        + _task("big", "a", outputs=[("=res", "bigres")])
        + _task("small", "b")
        + '<bpmn:exclusiveGateway id="m1"/><bpmn:parallelGateway id="fork"/>'
        + _task("c", "c")
        + sub
        + '<bpmn:parallelGateway id="join"/><bpmn:inclusiveGateway id="incl" default="to-g"/>'
        + _task("e", "a")
        + _task("f", "b")
        + '<bpmn:manualTask id="g"/><bpmn:inclusiveGateway id="ijoin"/><bpmn:endEvent id="end"/>'
        + _flow("start", "incl")
        + _flow("route", "big", "=x &gt; 5")
        + _flow("route", "small", flow_id="to-small")
        + _chain("big", "m1")
        + _chain("small", "m1", "fork")
        + _chain("fork", "c", "join")
        + _chain("fork", "sub", "join")
        + _chain("join", "end")
        + _flow("incl", "e", "=y &gt; 1")
        + _flow("incl", "f", "=y &gt; 2")
        + _flow("incl", "g", flow_id="to-g")
        + _chain("e", "ijoin")
        + _chain("f", "ijoin")
        + _chain("g", "ijoin", "route")
    )
    multi = (
        note
        + '<bpmn:startEvent id="start"/>'
        + _task(
            "each",
            "c",
            loop=_loop(
                "=items", "item", False, 'outputCollection="results" outputElement="=item * 2"'
            ),
        )
        + '<bpmn:subProcess id="seq"><bpmn:startEvent id="s3"/>'
        + _task("inner", "d")
        + _chain("s3", "inner")
        + _loop("=items", "it", True)
        + '</bpmn:subProcess><bpmn:endEvent id="end"/>'
        + _chain("start", "each", "seq", "end")
    )
    caller = (
        note
        + '<bpmn:startEvent id="start"/><bpmn:callActivity id="call"><bpmn:extensionElements>'
        + '<zeebe:calledElement processId="callee"/></bpmn:extensionElements></bpmn:callActivity>'
        + _task("after", "a")
        + '<bpmn:endEvent id="end"/>'
        + _chain("start", "call", "after", "end")
    )
    callee = (
        note
        + '<bpmn:startEvent id="start"/>'
        + _task("child", "b")
        + '<bpmn:scriptTask id="script"><bpmn:extensionElements>'
        + '<zeebe:script expression="=n + 1" resultVariable="m"/></bpmn:extensionElements>'
        + '</bpmn:scriptTask><bpmn:endEvent id="end"/>'
        + _chain("start", "child", "script", "end")
    )
    mapping = (
        note
        + '<bpmn:startEvent id="start"/>'
        + _task(
            "io",
            "e",
            inputs=[("=assert(x, x != null)", "checked")],
            outputs=[("=out + 1", "mapped")],
        )
        + '<bpmn:endEvent id="end"/>'
        + _chain("start", "io", "end")
    )
    terminate = (
        note
        + '<bpmn:startEvent id="start"/><bpmn:parallelGateway id="fork"/>'
        + _task("t1", "e")
        + '<bpmn:manualTask id="quick"/>'
        + '<bpmn:endEvent id="stop"><bpmn:terminateEventDefinition/></bpmn:endEvent>'
        + _chain("start", "fork", "t1")
        + _chain("fork", "quick", "stop")
    )
    parallel = (
        note
        + '<bpmn:startEvent id="start"/><bpmn:parallelGateway id="fork"/>'
        + _task("p1", "a")
        + _task("p2", "b")
        + '<bpmn:manualTask id="p3"/><bpmn:parallelGateway id="join"/><bpmn:endEvent id="end"/>'
        + _chain("start", "fork", "p1", "join", "end")
        + _chain("fork", "p2", "join")
        + _chain("fork", "p3", "join")
    )
    split = (
        note
        + '<bpmn:startEvent id="start"/><bpmn:parallelGateway id="fork"/>'
        + _task("left", "a")
        + _task("right", "c")
        + '<bpmn:endEvent id="end1"/><bpmn:endEvent id="end2"/>'
        + _chain("start", "fork", "left", "end1")
        + _chain("fork", "right", "end2")
    )
    bodies = {
        "split": split,
        "parallel": parallel,
        "gateways": gateways,
        "multi": multi,
        "caller": caller,
        "callee": callee,
        "mapping": mapping,
        "terminate": terminate,
    }
    return {pid: bpmn_process(pid, body) for pid, body in bodies.items()}


class BpmnWorkload:
    def __init__(self, partition: LocalPartition, clock: FakeClock, rng: random.Random):
        self.partition = partition
        self.clock = clock
        self.rng = rng
        self.counts: Counter = Counter()
        self.responses: list = []
        self.revision = 0
        self.held: dict[int, object] = {}  # activated job key -> job
        self.incidents: dict[int, object] = {}  # open incident key -> value
        self.roots: set[int] = set()  # live root process instances
        self.elements: dict[int, str] = {}  # live element instance key -> element id
        self._read_from = 1

    def _write(self, *commands) -> None:
        self.partition.write_commands(list(commands))
        self.responses += self.partition.process()
        self._learn()

    def deploy_all(self) -> None:
        self.deployed = processes(self.revision)
        self._write(*(deploy((f"{pid}.bpmn", xml)) for pid, xml in self.deployed.items()))

    def run(self, steps: int, on_step=None) -> None:
        self.deploy_all()
        for step in range(steps):
            if on_step is not None:
                on_step(step)
            self.step()

    def step(self) -> str:
        rng = self.rng
        actions = [
            ("create", 12), ("create_awaiting", 3), ("activate", 8), ("complete", 12),
            ("work", 15),
            ("fail", 6), ("throw", 3), ("retry_job", 5), ("resolve_element", 6),
            ("resolve_unfixed", 2), ("cancel", 5), ("set_variables", 5), ("deploy", 2),
            ("tick", 3), ("invalid", 2),
        ]  # fmt: skip
        action = rng.choices([a for a, _ in actions], [w for _, w in actions])[0]
        getattr(self, "_" + action)()
        self.counts[action] += 1
        return action

    # ------------------------------------------------------------------ actions
    def _variables(self) -> dict:
        rng = self.rng
        variables = {
            "x": rng.randint(0, 10),
            "items": [rng.randint(1, 9) for _ in range(rng.choice([0, 2, 3, 3]))],
        }
        if rng.random() < 0.9:
            variables["y"] = rng.choice([0, 2, 3, 3])
        if rng.random() < 0.5:
            variables["limit"] = rng.randint(1, 3)
        if rng.random() < 0.3:
            del variables["x"]  # the mapping process fails on a missing x
        return variables

    def _create(self, awaiting: bool = False) -> None:
        process_id = self.rng.choice(
            ["gateways", "parallel", "multi", "multi", "caller", "mapping", "mapping"]
            + ["terminate", "split"]
        )
        self._write(create_instance(process_id, self._variables(), await_result=awaiting))

    def _create_awaiting(self) -> None:
        self._create(awaiting=True)

    def _activate(self) -> None:
        job_type = self.rng.choice(JOB_TYPES)
        self._write(activate(job_type, max_jobs=self.rng.randint(1, 5), timeout_ms=JOB_TIMEOUT_MS))

    def _held_job(self):
        if not self.held:
            return None
        return self.rng.choice(sorted(self.held))

    def _complete(self) -> None:
        key = self._held_job()
        if key is None:
            return self._activate()
        rng = self.rng
        variables = {
            "res": rng.randint(0, 99),
            "out": rng.choice([1, 2, None]),
            "n": rng.randint(0, 5),
        }
        self._write(job_command(JobIntent.COMPLETE, key, variables=variables))

    def _work(self) -> None:
        """A worker: activate up to 10 jobs of a type and complete them all."""
        job_type = self.rng.choice(JOB_TYPES)
        self._write(activate(job_type, max_jobs=10, timeout_ms=JOB_TIMEOUT_MS))
        keys = [k for k, job in sorted(self.held.items()) if job.type == job_type]
        if keys:
            variables = {"res": 1, "out": self.rng.choice([1, None]), "n": 2}
            self._write(*(job_command(JobIntent.COMPLETE, k, variables=variables) for k in keys))

    def _fail(self) -> None:
        key = self._held_job()
        if key is None:
            return self._activate()
        retries = self.rng.choice([0, 0, 1, 2])
        variables = {"why": self.rng.randint(0, 3)} if self.rng.random() < 0.5 else {}
        self._write(job_command(JobIntent.FAIL, key, retries=retries, variables=variables))

    def _throw(self) -> None:
        key = self._held_job()
        if key is not None:
            self._write(job_command(JobIntent.THROW_ERROR, key, error_code="E1"))

    def _retry_job(self) -> None:
        job_incidents = [(k, v) for k, v in sorted(self.incidents.items()) if v.job_key != NO_KEY]
        if job_incidents:
            key, incident = self.rng.choice(job_incidents)
            self._write(
                job_command(JobIntent.UPDATE_RETRIES, incident.job_key, retries=2), resolve(key)
            )

    def _element_incident(self):
        element = [(k, v) for k, v in sorted(self.incidents.items()) if v.job_key == NO_KEY]
        return self.rng.choice(element) if element else (None, None)

    def _resolve_element(self) -> None:
        key, incident = self._element_incident()
        if key is None:
            return
        fix = {"x": self.rng.randint(0, 10), "items": [1, 2], "y": 1}
        self._write(set_variables(incident.process_instance_key, fix), resolve(key))

    def _resolve_unfixed(self) -> None:
        key, _ = self._element_incident()
        if key is not None:
            self._write(resolve(key))

    def _cancel(self) -> None:
        if self.roots:
            self._write(cancel_instance(self.rng.choice(sorted(self.roots))))

    def _set_variables(self) -> None:
        if self.elements:
            scope = self.rng.choice(sorted(self.elements))
            variables = {self.rng.choice(["x", "y", "res", "z"]): self.rng.randint(0, 9)}
            self._write(set_variables(scope, variables, local=self.rng.random() < 0.3))

    def _deploy(self) -> None:
        process_id = self.rng.choice(sorted(self.deployed))
        if self.rng.random() < 0.5:
            xml = self.deployed[process_id]  # the same resource again: a duplicate
        else:
            self.revision += 1  # a changed resource: a new version
            xml = processes(self.revision)[process_id]
        self.deployed[process_id] = xml
        self._write(deploy((f"{process_id}.bpmn", xml)))

    def _tick(self) -> None:
        self.clock.advance(self.rng.choice([1_000, JOB_TIMEOUT_MS + 1]))
        due = self.partition.processor.due_commands()
        if due:
            self.partition.log.append(due)
        self.responses += self.partition.process()
        self._learn()

    def _invalid(self) -> None:
        self._write(
            self.rng.choice(
                [
                    cancel_instance(MISSING_KEY),
                    job_command(JobIntent.COMPLETE, MISSING_KEY),
                    create_instance("no-such-process"),
                    set_variables(MISSING_KEY, {"a": 1}),
                    resolve(MISSING_KEY),
                ]
            )
        )

    # ------------------------------------------------------------------ learning
    def _learn(self) -> None:
        for record in self.partition.log.read_from(self._read_from):
            self._read_from = record.position + 1
            if not record.is_event:
                continue
            vt, intent, key = record.value_type, record.intent, record.key
            if vt == ValueType.JOB_BATCH and intent == JobBatchIntent.ACTIVATED:
                for job_key, job in zip(record.value.job_keys, record.value.jobs, strict=True):
                    self.held[job_key] = job
            elif vt == ValueType.JOB and intent in (
                JobIntent.COMPLETED, JobIntent.CANCELED, JobIntent.FAILED, JobIntent.TIMED_OUT,
                JobIntent.ERROR_THROWN, JobIntent.YIELDED,
            ):  # fmt: skip
                self.held.pop(key, None)
            elif vt == ValueType.INCIDENT:
                if intent == IncidentIntent.CREATED:
                    self.incidents[key] = record.value
                else:
                    self.incidents.pop(key, None)
            elif vt == PI and intent == ProcessInstanceIntent.ELEMENT_ACTIVATING:
                self.elements[key] = record.value.element_id
                value = record.value
                if (
                    value.bpmn_element_type == "PROCESS"
                    and value.parent_process_instance_key == NO_KEY
                ):
                    self.roots.add(key)
            elif vt == PI and intent in (
                ProcessInstanceIntent.ELEMENT_COMPLETED,
                ProcessInstanceIntent.ELEMENT_TERMINATED,
            ):
                self.elements.pop(key, None)
                self.roots.discard(key)


# ---------------------------------------------------------------------- the log checker
@dataclass
class Instance:
    element_id: str
    element_type: str
    scope: int
    definition: int
    state: str
    children: set = field(default_factory=set)


class BpmnLogChecker:
    """An independent model of BPMN state folded from the log; see the module docstring."""

    def __init__(self, responses):
        self.problems: list[str] = []
        self.models: dict[int, object] = {}  # definition key -> parsed model
        self.latest: dict[
            str, tuple[int, int, str, bytes]
        ] = {}  # id -> (key, version, name, bytes)
        self.instances: dict[int, Instance] = {}
        self.joins: dict[tuple[int, str], Counter] = {}
        self.variables: dict[int, dict] = {}
        self.results: dict[int, dict] = {}  # process instance key -> variables at completion
        self.terminated_roots: set[int] = set()
        self.jobs_of: dict[int, int] = {}  # element instance key -> its open job
        self.responses = responses

    def problem(self, record, text: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(f"position {record.position}: {text}")

    def feed(self, records: list) -> "BpmnLogChecker":
        by_source: dict[int, list] = {}
        for record in records:
            by_source.setdefault(record.source_record_position, []).append(record)
        for record in records:
            if record.is_command:
                if record.value_type == ValueType.INCIDENT and record.source_record_position < 0:
                    self._check_resolve(record, by_source.get(record.position, []))
                continue
            if record.is_event:
                self._event(record)
        return self

    # ------------------------------------------------------------------ events
    def _event(self, record) -> None:
        vt, intent = record.value_type, record.intent
        if vt == ValueType.PROCESS and intent == ProcessIntent.CREATED:
            value = record.value
            (model,) = [
                m
                for m in parse_bpmn(value.resource, value.resource_name)
                if m.bpmn_process_id == value.bpmn_process_id
            ]
            self.models[record.key] = model
        elif vt == ValueType.DEPLOYMENT and intent == DeploymentIntent.CREATED:
            self._deployment(record)
        elif vt == PI:
            self._element(record)
        elif vt == ValueType.VARIABLE:
            self._variable(record)
        elif vt == ValueType.JOB and intent == JobIntent.CREATED:
            element = record.value.element_instance_key
            if element != NO_KEY and element not in self.instances:
                self.problem(
                    record, f"job {record.key} created for element {element}, which is gone"
                )
            self.jobs_of[element] = record.key
        elif vt == ValueType.JOB and intent in (JobIntent.COMPLETED, JobIntent.CANCELED):
            self.jobs_of.pop(record.value.element_instance_key, None)
        elif vt == ValueType.JOB_BATCH and intent == JobBatchIntent.ACTIVATED:
            for job in record.value.jobs:
                element = job.element_instance_key
                if element != NO_KEY and not record.value.fetch_variables:
                    expected = self.visible(element)
                    if job.variables != expected:
                        self.problem(
                            record,
                            f"job of element {element} activated with {job.variables}, it sees {expected}",
                        )

    def _deployment(self, record) -> None:
        resources = {r.resource_name: r.resource for r in record.value.resources}
        for meta in record.value.processes_metadata:
            resource = resources[meta.resource_name]
            latest = self.latest.get(meta.bpmn_process_id)
            same = latest is not None and latest[2:] == (meta.resource_name, resource)
            if same and not (meta.duplicate and meta.process_definition_key == latest[0]):
                self.problem(
                    record,
                    f"an identical resource of '{meta.bpmn_process_id}' made version {meta.version}",
                )
            if not same:
                expected = 1 if latest is None else latest[1] + 1
                if meta.duplicate or meta.version != expected:
                    self.problem(
                        record,
                        f"a changed '{meta.bpmn_process_id}' got version {meta.version}, duplicate={meta.duplicate}",
                    )
                self.latest[meta.bpmn_process_id] = (
                    meta.process_definition_key,
                    meta.version,
                    meta.resource_name,
                    resource,
                )

    def _element(self, record) -> None:
        intent, key, value = record.intent, record.key, record.value
        I = ProcessInstanceIntent  # noqa: E741,N806
        if intent == I.ELEMENT_ACTIVATING:
            scope = value.flow_scope_key
            if scope != NO_KEY:
                parent = self.instances.get(scope)
                if parent is None or parent.state != "ACTIVATED":
                    self.problem(
                        record,
                        f"'{value.element_id}' activated in scope {scope}, which is {parent and parent.state}",
                    )
                else:
                    parent.children.add(key)
            self.instances[key] = Instance(
                value.element_id,
                value.bpmn_element_type,
                scope,
                value.process_definition_key,
                "ACTIVATING",
            )
            if value.bpmn_element_type in ("PARALLEL_GATEWAY", "INCLUSIVE_GATEWAY"):
                self._join_fired(record, scope, value)
        elif intent == I.SEQUENCE_FLOW_TAKEN:
            model = self.models[value.process_definition_key]
            target = model.flow_node(model.sequence_flow(value.element_id).target_id)
            if (
                target.element_type
                in (BpmnElementType.PARALLEL_GATEWAY, BpmnElementType.INCLUSIVE_GATEWAY)
                and len(target.incoming) > 1
            ):
                self.joins.setdefault((value.flow_scope_key, target.id), Counter())[
                    value.element_id
                ] += 1
        else:
            instance = self.instances.get(key)
            if instance is None:
                return self.problem(record, f"{intent.name} of element {key}, which is not active")
            allowed = {
                I.ELEMENT_ACTIVATED: ("ACTIVATING",), I.ELEMENT_COMPLETING: ("ACTIVATED",),
                I.ELEMENT_COMPLETED: ("COMPLETING",), I.ELEMENT_TERMINATED: ("TERMINATING",),
                I.ELEMENT_TERMINATING: ("ACTIVATING", "ACTIVATED", "COMPLETING"),
            }[intent]  # fmt: skip
            if instance.state not in allowed:
                self.problem(
                    record, f"{intent.name} of '{instance.element_id}' in state {instance.state}"
                )
            if intent in (I.ELEMENT_COMPLETED, I.ELEMENT_TERMINATED):
                self._ended(record, key, instance)
            else:
                instance.state = intent.name.removeprefix("ELEMENT_")

    def _join_fired(self, record, scope, value) -> None:
        model = self.models[value.process_definition_key]
        node = model.flow_node(value.element_id)
        if len(node.incoming) < 2:
            return
        taken = self.joins.setdefault((scope, node.id), Counter())
        if node.element_type == BpmnElementType.PARALLEL_GATEWAY:
            missing = [f for f in node.incoming if taken[f] < 1]
            if missing:
                self.problem(record, f"parallel join '{node.id}' fired without tokens on {missing}")
        else:
            if not any(taken.values()):
                self.problem(record, f"inclusive join '{node.id}' fired with no token")
            reach = _can_reach(model, node.id)
            arriving = [
                i.element_id
                for k, i in self.instances.items()
                if i.scope == scope and i.element_id in reach
            ]
            arriving += [
                g
                for (sc, g), c in self.joins.items()
                if sc == scope and g != node.id and g in reach and any(c.values())
            ]
            if arriving:
                self.problem(
                    record, f"inclusive join '{node.id}' fired while {arriving} could still arrive"
                )
        for flow in list(taken):
            if taken[flow] > 0:
                taken[flow] -= 1

    def _ended(self, record, key, instance) -> None:
        live = [c for c in instance.children if c in self.instances]
        if live:
            self.problem(record, f"'{instance.element_id}' ended with active children {live}")
        if key in self.jobs_of:
            self.problem(
                record, f"'{instance.element_id}' ended with its job {self.jobs_of[key]} open"
            )
        if instance.element_id == "io" and record.intent == ProcessInstanceIntent.ELEMENT_COMPLETED:
            out = self.visible(key).get("out")
            expected = out + 1 if type(out) is int else None
            root = self._root(key)
            if self.variables.get(root, {}).get("mapped", "absent") != expected:
                self.problem(
                    record,
                    f"output mapping of 'io' left mapped={self.variables.get(root, {}).get('mapped', 'absent')} on the process, expected {expected}",
                )
        if instance.element_type == "PROCESS":
            if record.intent == ProcessInstanceIntent.ELEMENT_COMPLETED:
                self.results[key] = dict(self.variables.get(key, {}))
            else:
                self.terminated_roots.add(key)
        del self.instances[key]
        self.variables.pop(key, None)
        parent = self.instances.get(instance.scope)
        if parent is not None:
            parent.children.discard(key)
        for join_key in [j for j in self.joins if j[0] == key]:
            del self.joins[join_key]

    def _root(self, key) -> int:
        while self.instances[key].scope != NO_KEY:
            key = self.instances[key].scope
        return key

    def visible(self, key) -> dict:
        merged: dict = {}
        while key != NO_KEY and key in self.instances:
            for name, value in self.variables.get(key, {}).items():
                merged.setdefault(name, value)
            key = self.instances[key].scope
        return merged

    def _variable(self, record) -> None:
        value = record.value
        if value.scope_key not in self.instances:
            return self.problem(
                record,
                f"variable '{value.name}' written on scope {value.scope_key}, which is not active",
            )
        scope = self.variables.setdefault(value.scope_key, {})
        exists = value.name in scope
        if exists != (record.intent == VariableIntent.UPDATED):
            self.problem(
                record,
                f"{record.intent.name} of '{value.name}' on scope {value.scope_key}, which {'has' if exists else 'lacks'} it",
            )
        scope[value.name] = value.value

    def _check_resolve(self, command, answers) -> None:
        resolved = [
            r
            for r in answers
            if r.value_type == ValueType.INCIDENT and r.intent == IncidentIntent.RESOLVED
        ]
        if not resolved or resolved[0].value.job_key != NO_KEY:
            return
        element = resolved[0].value.element_instance_key
        moved = any(
            (
                r.value_type == PI
                and r.key == element
                and r.intent != ProcessInstanceIntent.SEQUENCE_FLOW_TAKEN
            )
            or (
                r.value_type == ValueType.INCIDENT
                and r.intent == IncidentIntent.CREATED
                and r.value.element_instance_key == element
            )
            or (r.value_type == PI and r.value.flow_scope_key == element)
            for r in answers
        )
        if not moved:
            self.problem(
                command, f"resolving the incident of element {element} did not run its step again"
            )

    # ------------------------------------------------------------------ the end
    def finish(self, records, view) -> list[str]:
        self._check_awaiting(records)
        stored = {k: (e.value.element_id, e.state.value) for k, e in view.items(ELEMENT_INSTANCES)}
        modelled = {k: (i.element_id, i.state) for k, i in self.instances.items()}
        if stored != modelled:
            diff = sorted(set(stored.items()) ^ set(modelled.items()))[:5]
            self.problems.append(f"element instances differ from the log's: {diff}")
        stored_vars = {k: dict(d.values) for k, d in view.items(VARIABLES)}
        modelled_vars = {k: v for k, v in self.variables.items() if v}
        if stored_vars != modelled_vars:
            diff = [
                k
                for k in stored_vars.keys() | modelled_vars.keys()
                if stored_vars.get(k) != modelled_vars.get(k)
            ]
            self.problems.append(
                f"variables differ from the log's in scopes {sorted(diff)[:5]}: e.g. {stored_vars.get(diff[0])} vs {modelled_vars.get(diff[0])}"
            )
        return self.problems

    def _check_awaiting(self, records) -> None:
        awaiting = {}
        for record in records:
            if (
                record.value_type == ValueType.PROCESS_INSTANCE_CREATION
                and record.is_event
                and record.value.awaiting_result
            ):
                awaiting[record.value.process_instance_key] = record
        answers = Counter()
        for response in self.responses:
            record = response.record
            if record.value_type == ValueType.PROCESS_INSTANCE_RESULT:
                answers[record.key] += 1
                expected = self.results.get(record.key)
                if record.value.variables != expected:
                    self.problems.append(
                        f"result of {record.key}: {record.value.variables}, expected {expected}"
                    )
            elif (
                record.value_type == ValueType.PROCESS_INSTANCE_CREATION
                and record.intent == ProcessInstanceCreationIntent.CREATE_WITH_AWAITING_RESULT
                and record.is_rejection
            ):
                answers[record.key] += 1
        for key, _created in awaiting.items():
            ended = key in self.results or key in self.terminated_roots
            if answers[key] != (1 if ended else 0):
                self.problems.append(
                    f"process instance {key} awaiting its result was answered {answers[key]} times (ended: {ended})"
                )


def _can_reach(model, target: str) -> set[str]:
    """Flow nodes from which `target` can be reached (boundary events count for their
    activity)."""
    seen, todo = set(), [target]
    while todo:
        node = model.flow_node(todo.pop())
        sources = [model.sequence_flow(f).source_id for f in node.incoming]
        if node.attached_to_id:
            sources.append(node.attached_to_id)
        for source in sources:
            if source not in seen:
                seen.add(source)
                todo.append(source)
    return seen


def bpmn_state_problems(view) -> list[str]:
    """Ways the stored BPMN state disagrees with itself."""
    problems = []
    entries = dict(view.items(ELEMENT_INSTANCES))
    children: dict[int, set] = {}
    for key, entry in entries.items():
        scope = entry.value.flow_scope_key
        if entry.state.value == "TERMINATING":
            problems.append(f"element {key} rests in TERMINATING")
        if scope != NO_KEY:
            if scope not in entries:
                problems.append(
                    f"element {key} ('{entry.value.element_id}') has no flow scope {scope}"
                )
            children.setdefault(scope, set()).add(key)
        if view.get(PROCESSES, entry.value.process_definition_key) is None:
            problems.append(f"element {key} of an undeployed process")
        if entry.called_key != NO_KEY and entry.state.value == "ACTIVATED":
            child = entries.get(entry.called_key)
            if child is None or child.value.parent_element_instance_key != key:
                problems.append(f"call activity {key} has no child {entry.called_key}")
    indexed: dict[int, set] = {}
    for (scope, child), _ in view.items(ELEMENT_CHILDREN):
        indexed.setdefault(scope, set()).add(child)
    if indexed != children:
        problems.append("the children index disagrees with the element instances")
    for key, entry in entries.items():
        if entry.children != len(children.get(key, ())):
            problems.append(
                f"element {key} counts {entry.children} children, has {len(children.get(key, ()))}"
            )
    for scope, _ in view.items(VARIABLES):
        if scope not in entries:
            problems.append(f"variables of scope {scope}, which is not an element instance")
    for job_key, (_, job) in view.items(JOBS):
        element = job.element_instance_key
        if element != NO_KEY and (element not in entries or entries[element].job_key != job_key):
            problems.append(f"job {job_key} of element {element}, which is gone or has another job")
    for element, incident_key in view.items(ELEMENT_INCIDENTS):
        if element not in entries or view.get(INCIDENTS, incident_key) is None:
            problems.append(f"incident {incident_key} of element {element}, one of which is gone")
    for key, _ in view.items(AWAITING_RESULTS):
        if key not in entries:
            problems.append(f"a request awaits the result of {key}, which is gone")
    return problems


@dataclass
class BpmnWorkloadCheck:
    seed: int
    counts: dict = field(default_factory=dict)
    intents: Counter = field(default_factory=Counter)
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [name for name, found in self.problems.items() if found]

    def summary(self) -> str:
        lines = [f"seed={self.seed}: failed checks {self.failed}"]
        for name in self.failed:
            lines += [f"  {name}: {p}" for p in self.problems[name][:3]]
        return "\n".join(lines)


def check_bpmn_workload(seed: int, steps: int, checkpoint_dir) -> BpmnWorkloadCheck:
    report = BpmnWorkloadCheck(seed)
    clock = FakeClock()
    log = MemoryLogStream()
    leader = LocalPartition(MemoryStore(ENGINE_FAMILIES), log, 1, clock)
    snapshot = {}
    follower = StreamProcessor(MemoryStore(ENGINE_FAMILIES), log, 1, FakeClock())
    report.problems["follower in step"] = in_step = []

    def between_steps(step):
        if step == steps // 2:
            snapshot["store"] = leader.store.checkpoint(checkpoint_dir)
        if step % FOLLOWER_CHECK_STEPS == 0 and not in_step:
            # Replicas agree byte for byte at every point, not only at the end.
            follower.replay()
            if follower.store.digest() != leader.store.digest():
                in_step.append(f"before step {step}: {_differences(leader.store, follower.store)}")

    try:
        workload = BpmnWorkload(leader, clock, random.Random(seed))
        try:
            workload.run(steps, between_steps)
        except Exception as error:  # a planted bug may break the workload itself
            report.problems["workload"] = [f"the workload raised {error!r}"]
            return report
        report.counts = dict(workload.counts)
        records = list(log.read_from(1))
        report.intents = Counter((r.value_type.name, r.intent.name) for r in records if r.is_event)
        report.problems["answers"] = check_answers(records).problems
        report.problems["errors"] = [
            f"position {r.position}: {r.value_type.name} {r.intent.name} failed: "
            f"{r.rejection_reason[:300]}"
            for r in records
            if r.is_rejection and r.rejection_type == RejectionType.PROCESSING_ERROR
        ]
        view = leader.store.view()
        try:
            report.problems["log"] = (
                BpmnLogChecker(workload.responses).feed(records).finish(records, view)
            )
        except Exception as error:
            report.problems["log"] = [f"the log checker raised {error!r}"]
        report.problems["state"] = bpmn_state_problems(view)
        report.problems["replay from scratch"] = _replay(leader, MemoryStore(ENGINE_FAMILIES), log)
        report.problems["replay from snapshot"] = _replay(
            leader, MemoryStore.open_checkpoint(snapshot["store"], ENGINE_FAMILIES), log
        )
    finally:
        leader.close()
        follower.store.close()
    return report


def _replay(leader, store, log) -> list[str]:
    try:
        StreamProcessor(store, log, 1, FakeClock()).replay()
        if store.digest() != leader.store.digest():
            return [f"replayed state differs: {_differences(leader.store, store)}"]
        return []
    except Exception as error:
        return [f"replay raised {error!r}"]
    finally:
        store.close()


def _differences(expected_store, actual_store, limit: int = 3) -> list[str]:
    expected = {(f, k): v for f, k, v in expected_store.dump()}
    actual = {(f, k): v for f, k, v in actual_store.dump()}
    differing = sorted(
        k for k in expected.keys() | actual.keys() if expected.get(k) != actual.get(k)
    )
    return [f"{family} {key.hex()}" for family, key in differing[:limit]]
