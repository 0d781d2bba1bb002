"""The executor: how one command moves process instances on.

A processor that starts, continues or stops element instances makes an `Executor` over its
context, calls `activate` / `complete` / `terminate` / ..., then `drain()`. Every step writes
the element's lifecycle events (ELEMENT_ACTIVATING -> ELEMENT_ACTIVATED -> ELEMENT_COMPLETING
-> ELEMENT_COMPLETED, or ELEMENT_TERMINATING -> ELEMENT_TERMINATED, and SEQUENCE_FLOW_TAKEN),
whose appliers change state at once, so every later step reads what the earlier ones did.

Inline, not follow-up commands
------------------------------
Elements run within the command that reached them: automatic elements (events, gateways,
manual and script tasks) go from ACTIVATING to COMPLETED at once, and the element after a
taken flow is activated within the same command, until every path stops at a wait state (a
task's job, a call activity's child, a scope whose children run) or an end. Steps queue in a
FIFO, in the order Zeebe's follow-up commands would run; nothing recurses. So a one-task
instance is written in 26 records, and the batch bound on follow-up commands (which counts
every command of a batch of up to 200) is not spent by element steps at all. A process that
loops without a wait state is stopped by `ELEMENT_ACTIVATIONS_PER_COMMAND_MAX`: the command
fails (`ElementLoopError`), the batch runs again without it, and the command is rejected with
PROCESSING_ERROR - nothing of it stays.

Joins
-----
A flow taken towards a parallel or inclusive gateway with several incoming flows is counted in
its flow scope's entry (per gateway, per flow). A parallel join is activated once every incoming
flow has a count; its activation consumes one of each. An inclusive join (the simplification
raybee makes) is activated when none of the tokens still alive in its flow scope can reach it:
no active child element instance and no other waiting inclusive join of the scope lies on a
path to it. That is checked when the command's queue is empty (a token queued for activation
is not an element instance yet), for every scope where a flow reached an inclusive join or a
child ended. Tokens are counted per flow scope, so a token inside an embedded sub-process counts
as the sub-process.

Scopes
------
A flow scope (process, sub-process) completes when it has no active child, no activation queued
in this command and no token waiting at a join. A token waiting at a parallel join that can
never fire keeps its scope open, as in Zeebe.
"""

import datetime as dt
from collections import deque

from raybee.partitions.engine.bpmn import BpmnElementType, BpmnEventType, FlowNode
from raybee.partitions.protocol import (
    NO_KEY,
    ProcessInstanceIntent,
    ProcessInstanceRecordValue,
)

from ..bpmn_entries import ElementInstance, ElementState, replaced
from .call_activity import process_completed, process_terminated
from .elements import behaviour_of
from .events import close as close_triggers
from .events import open_triggers
from .events import prepare as prepare_triggers
from .executable import ExecutableProcess
from .expressions import StepFailed
from .incidents import raise_incident
from .multi_instance import activate_body, collect_output_element, inner_completed
from .start_events import message_start_of, start_next
from .termination import CLOSERS
from .variables import evaluate_mappings, propagate, set_local

ELEMENT_ACTIVATIONS_PER_COMMAND_MAX = 10_000
BODY = BpmnElementType.MULTI_INSTANCE_BODY.value
PROCESS = BpmnElementType.PROCESS.value
SEQUENCE_FLOW = BpmnElementType.SEQUENCE_FLOW.value
UNSPECIFIED = BpmnEventType.UNSPECIFIED.value

ACTIVATING = ProcessInstanceIntent.ELEMENT_ACTIVATING
ACTIVATED = ProcessInstanceIntent.ELEMENT_ACTIVATED
COMPLETING = ProcessInstanceIntent.ELEMENT_COMPLETING
COMPLETED = ProcessInstanceIntent.ELEMENT_COMPLETED
TERMINATING = ProcessInstanceIntent.ELEMENT_TERMINATING
TERMINATED = ProcessInstanceIntent.ELEMENT_TERMINATED
FLOW_TAKEN = ProcessInstanceIntent.SEQUENCE_FLOW_TAKEN


class ElementLoopError(RuntimeError):
    """A command activated more elements than a command may: a loop without a wait state."""


class Executor:
    def __init__(self, ctx):
        self.ctx = ctx
        self.state = ctx.state
        self.instances = ctx.state.element_instances
        self._queue: deque = deque()
        # Activations queued per flow scope: tokens that are not element instances yet.
        self._pending: dict[int, int] = {}
        # Join activations queued: (scope key, gateway id).
        self._joins_queued: set[tuple[int, str]] = set()
        # Scopes whose inclusive joins are checked when the queue runs dry.
        self._inclusive_scopes: set[int] = set()
        self._activations = 0
        self._now: dt.datetime | None = None
        # What instances being activated will wait for (events.prepare), opened at ACTIVATED.
        self._prepared: dict[int, list] = {}
        # Variables of a message, timer or error for a catch event about to be activated, by
        # (flow scope key, element id); taken by the catch event's behaviour (events.py).
        self.triggers: dict[tuple[int, str], dict] = {}
        # Process instances that begin at a message or timer start event: key -> its id.
        self.start_events: dict[int, str] = {}
        # Scopes an interrupting event sub-process took over in this command: tokens queued
        # for them are dropped.
        self.interrupted: set[int] = set()

    # ------------------------------------------------------------------ running
    def later(self, step, *args) -> None:
        self._queue.append((step, args))

    def drain(self) -> None:
        """Run queued steps until none is left and no inclusive join can fire."""
        queue = self._queue
        while True:
            while queue:
                step, args = queue.popleft()
                step(*args)
            if not self._fire_inclusive_joins():
                return

    # ------------------------------------------------------------------ reading
    @property
    def now(self) -> dt.datetime:
        """The command's time, for FEEL's now() and today()."""
        if self._now is None:
            self._now = dt.datetime.fromtimestamp(self.ctx.now_ms / 1000, dt.UTC)
        return self._now

    def process_of(self, entry: ElementInstance) -> ExecutableProcess:
        process = self.state.processes.get(entry.value.process_definition_key)
        assert process is not None, f"the process of {entry.value} is not deployed"
        return process

    def variables_of(self, key: int) -> dict:
        """The variables element instance `key` sees."""
        return self.state.variables.visible(k for k, _ in self.instances.scope_chain(key))

    def _entry(self, key: int) -> ElementInstance:
        entry = self.instances.get(key)
        assert entry is not None, f"element instance {key} does not exist"
        return entry

    # ------------------------------------------------------------------ lifecycle events
    def _transition(self, key: int, intent, entry: ElementInstance | None = None):
        entry = entry or self._entry(key)
        return self.ctx.append_event(key, intent, entry.value)

    def activated(self, key: int) -> ElementInstance:
        self._transition(key, ACTIVATED)
        prepared = self._prepared.pop(key, None)
        if prepared:
            open_triggers(self, key, prepared)
        return self.instances.get(key)

    def incident(self, key: int, failure: StepFailed) -> None:
        raise_incident(self, key, failure.error_type, failure.message)

    # ------------------------------------------------------------------ activation
    def activate(
        self,
        process: ExecutableProcess,
        scope_key: int,
        scope_value: ProcessInstanceRecordValue,
        node: FlowNode,
        local_variables: dict | None = None,
        inner: bool = False,
    ) -> int:
        """Activate `node` in flow scope `scope_key` now (a multi-instance element: its body,
        unless `inner`); its key."""
        self._activations += 1
        if self._activations > ELEMENT_ACTIVATIONS_PER_COMMAND_MAX:
            raise ElementLoopError(
                f"Expected the command to reach a wait state within "
                f"{ELEMENT_ACTIVATIONS_PER_COMMAND_MAX} element activations, but process "
                f"'{process.bpmn_process_id}' kept activating elements (last '{node.id}'): a "
                f"loop without a wait state?"
            )
        body = node.multi_instance is not None and not inner
        value = replaced(
            scope_value,
            element_id=node.id,
            flow_scope_key=scope_key,
            bpmn_element_type=BODY if body else node.element_type.value,
            bpmn_event_type=UNSPECIFIED if body else node.event_type.value,
        )
        key = self.ctx.next_key()
        self.ctx.append_event(key, ACTIVATING, value)
        if local_variables:
            set_local(self, key, local_variables)
        self.continue_activation(key)
        return key

    def count_pending(self, scope_key: int, delta: int) -> None:
        """A token of the scope is queued (+1) or taken from the queue (-1)."""
        self._pending[scope_key] = self._pending.get(scope_key, 0) + delta
        assert self._pending[scope_key] >= 0, scope_key

    def pending(self, scope_key: int) -> int:
        return self._pending.get(scope_key, 0)

    def activate_later(self, scope_key: int, element_id: str) -> None:
        """Queue the activation of an element of a flow scope (a token on its way)."""
        self.count_pending(scope_key, 1)
        self.later(self._activate_queued, scope_key, element_id)

    def _activate_queued(self, scope_key: int, element_id: str) -> None:
        self.count_pending(scope_key, -1)
        scope = self.instances.get(scope_key)
        if scope is None or scope.state != ElementState.ACTIVATED or scope_key in self.interrupted:
            return  # the scope ended meanwhile (a terminate end event), or was interrupted
        process = self.process_of(scope)
        self.activate(process, scope_key, scope.value, process.node(element_id))

    def continue_activation(self, key: int) -> None:
        """Activation from ELEMENT_ACTIVATING on: input mappings, then the element's behaviour.
        A failed step leaves an incident (resolving it runs this again)."""
        entry = self._entry(key)
        process = self.process_of(entry)
        node = process.node(entry.value.element_id)
        try:
            if entry.value.bpmn_element_type == BODY:
                self._prepare(key, node, process, True)
                activate_body(self, key, node, process)
                return
            if node.io_mapping.inputs:
                inputs = evaluate_mappings(self, process, node.io_mapping.inputs, key, "input")
                set_local(self, key, inputs)
            self._prepare(key, node, process, False)
            behaviour_of(node).activate(self, key, node, process)
        except StepFailed as failure:
            self.incident(key, failure)

    def _prepare(self, key: int, node, process, body: bool) -> None:
        """Evaluate the messages and timers the instance will wait for (before ACTIVATED, so
        a failure leaves it ACTIVATING with an incident)."""
        if process.catch_events(node.id, body):
            prepared = prepare_triggers(self, key, node, process, body)
            if prepared:
                self._prepared[key] = prepared

    def retry_activated(self, key: int) -> None:
        """Retry the step of an ACTIVATED element that failed (a multi-instance body's
        completion condition)."""
        entry = self._entry(key)
        if entry.value.bpmn_element_type == BODY:
            inner_completed(self, key)

    # ------------------------------------------------------------------ completion
    def complete(self, key: int, variables: dict | None = None, flows=None) -> None:
        """Complete an ACTIVATED element. `variables` (a job's, a child process's, a script's
        result) become local variables when the element has output mappings, else propagate
        from it; `flows` are the outgoing flows to take (default: all)."""
        entry = self._entry(key)
        assert entry.state == ElementState.ACTIVATED, (key, entry.state)
        self._transition(key, COMPLETING, entry)
        process = self.process_of(entry)
        if process.catch_events(entry.value.element_id, entry.value.bpmn_element_type == BODY):
            close_triggers(self, key, entry)
        if variables:
            if process.node(entry.value.element_id).io_mapping.outputs:
                set_local(self, key, variables)
            else:
                propagate(self, key, variables)
        self.continue_completion(key, flows)

    def continue_completion(self, key: int, flows=None) -> None:
        """Completion from ELEMENT_COMPLETING on: output mappings (or a body's output
        collection), a multi-instance inner instance's output element, ELEMENT_COMPLETED, then
        what follows. A failed step leaves an incident (resolving it runs this again)."""
        entry = self._entry(key)
        value = entry.value
        process = self.process_of(entry)
        node = process.node(value.element_id)
        scope_key = value.flow_scope_key
        scope = self.instances.get(scope_key) if scope_key != NO_KEY else None
        inner = scope is not None and scope.value.bpmn_element_type == BODY
        try:
            if value.bpmn_element_type == BODY:
                collection = node.multi_instance.output_collection
                if collection is not None:
                    local = self.state.variables.local(key)
                    propagate(self, scope_key, {collection: local.get(collection)})
            elif node.io_mapping.outputs:
                self.map_outputs(key, scope_key, process, node)
            if inner and node.multi_instance.output_element is not None:
                collect_output_element(self, key, scope_key, node, process)
        except StepFailed as failure:
            self.incident(key, failure)
            return
        if value.bpmn_element_type == PROCESS:
            # Read before ELEMENT_COMPLETED, whose applier removes them.
            result = dict(self.state.variables.local(key))
            awaiting = self.instances.awaiting_result(key)
            started_by = message_start_of(self, key, entry)
            self._transition(key, COMPLETED, entry)
            process_completed(self, key, entry, result, awaiting)
            if started_by is not None:
                self.later(start_next, self, *started_by)
            return
        self._transition(key, COMPLETED, entry)
        if inner:
            inner_completed(self, scope_key)
            return
        self._note_scope_changed(scope_key)
        if value.bpmn_element_type != BODY:
            behaviour = behaviour_of(node)
            if behaviour.after_completed(self, key, entry, node, process):
                return
        outgoing = process.outgoing(node.id) if flows is None else flows
        if outgoing:
            for flow in outgoing:
                self.take_flow(process, scope_key, value, flow)
        else:
            self.check_scope_later(scope_key)

    def map_outputs(self, key: int, scope_key: int, process, node) -> None:
        """Output mappings: evaluated in the element's view, propagated from its flow scope."""
        outputs = evaluate_mappings(self, process, node.io_mapping.outputs, key, "output")
        propagate(self, scope_key, outputs)

    # ------------------------------------------------------------------ flows and joins
    def take_flow(self, process, scope_key: int, source_value, flow) -> None:
        self.ctx.append_event(
            self.ctx.next_key(),
            FLOW_TAKEN,
            replaced(
                source_value,
                element_id=flow.id,
                bpmn_element_type=SEQUENCE_FLOW,
                bpmn_event_type=UNSPECIFIED,
            ),
        )
        target = flow.target_id
        if not process.is_join(target):
            self.activate_later(scope_key, target)
        elif process.node(target).element_type == BpmnElementType.PARALLEL_GATEWAY:
            self._fire_parallel_join(scope_key, target)
        else:
            self._inclusive_scopes.add(scope_key)

    def _fire_parallel_join(self, scope_key: int, gateway_id: str) -> None:
        scope = self.instances.get(scope_key)
        if scope is None or (scope_key, gateway_id) in self._joins_queued:
            return
        process = self.process_of(scope)
        taken = scope.joins.get(gateway_id, {})
        if all(taken.get(flow, 0) > 0 for flow in process.node(gateway_id).incoming):
            self._queue_join(scope_key, gateway_id)

    def _queue_join(self, scope_key: int, gateway_id: str) -> None:
        self._joins_queued.add((scope_key, gateway_id))
        self.count_pending(scope_key, 1)
        self.later(self._activate_join, scope_key, gateway_id)

    def _activate_join(self, scope_key: int, gateway_id: str) -> None:
        self._joins_queued.discard((scope_key, gateway_id))
        self._activate_queued(scope_key, gateway_id)  # its ACTIVATING consumes the tokens
        scope = self.instances.get(scope_key)
        if scope is not None and scope.state == ElementState.ACTIVATED:
            process = self.process_of(scope)
            if process.node(gateway_id).element_type == BpmnElementType.PARALLEL_GATEWAY:
                self._fire_parallel_join(scope_key, gateway_id)  # a second round waiting?
            else:
                self._inclusive_scopes.add(scope_key)

    def _note_scope_changed(self, scope_key: int) -> None:
        """A token of the scope ended or moved: its inclusive joins may fire now."""
        if scope_key != NO_KEY:
            scope = self.instances.get(scope_key)
            if scope is not None and scope.joins:
                self._inclusive_scopes.add(scope_key)

    def _fire_inclusive_joins(self) -> bool:
        fired = False
        scopes, self._inclusive_scopes = self._inclusive_scopes, set()
        for scope_key in sorted(scopes):
            scope = self.instances.get(scope_key)
            if scope is None or scope.state != ElementState.ACTIVATED:
                continue
            process = self.process_of(scope)
            for gateway_id, taken in scope.joins.items():
                node = process.node(gateway_id)
                if node.element_type != BpmnElementType.INCLUSIVE_GATEWAY:
                    continue
                if not any(taken.values()) or (scope_key, gateway_id) in self._joins_queued:
                    continue
                if not self._can_still_arrive(process, scope_key, scope, gateway_id):
                    self._queue_join(scope_key, gateway_id)
                    fired = True
        return fired

    def _can_still_arrive(self, process, scope_key: int, scope, gateway_id: str) -> bool:
        reach = process.can_reach(gateway_id)
        if self.pending(scope_key):
            return True
        for other, taken in scope.joins.items():
            if other != gateway_id and other in reach and any(taken.values()):
                return True
        for child in self.instances.children(scope_key):
            if self._entry(child).value.element_id in reach:
                return True
        return False

    # ------------------------------------------------------------------ scopes
    def check_scope_later(self, scope_key: int) -> None:
        if scope_key != NO_KEY:
            self.later(self._check_scope, scope_key)

    def _check_scope(self, scope_key: int) -> None:
        scope = self.instances.get(scope_key)
        if scope is None or scope.state != ElementState.ACTIVATED:
            return
        if scope.children or self.pending(scope_key) or scope.waiting_at_joins():
            return
        if scope.value.bpmn_element_type == BODY:
            return  # a body completes by its inner instances (multi_instance.py)
        self.complete(scope_key)

    # ------------------------------------------------------------------ termination
    def terminate(self, key: int):
        """Terminate an element instance and everything below it (children, a call
        activity's child process): TERMINATING, the registered closers (its job, its incident,
        ...), the children, TERMINATED. Returns the TERMINATING record of `key`."""
        first = None
        stack = [(key, False)]
        while stack:
            current, children_done = stack.pop()
            entry = self.instances.get(current)
            if entry is None:
                continue
            if children_done:
                if entry.value.bpmn_element_type == PROCESS:
                    awaiting = self.instances.awaiting_result(current)
                    started_by = message_start_of(self, current, entry)
                    self._transition(current, TERMINATED, entry)
                    process_terminated(self, current, entry, awaiting)
                    if started_by is not None:
                        self.later(start_next, self, *started_by)
                else:
                    self._transition(current, TERMINATED, entry)
                    self._note_scope_changed(entry.value.flow_scope_key)
                continue
            if entry.state != ElementState.TERMINATING:
                record = self._transition(current, TERMINATING, entry)
                first = first or record
                entry = self._entry(current)
                for closer in CLOSERS:
                    closer(self, current, entry)
            stack.append((current, True))
            below = self.instances.children(current)
            if entry.called_key != NO_KEY:
                below.append(entry.called_key)
            for child in reversed(below):
                stack.append((child, False))
        return first
