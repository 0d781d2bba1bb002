"""A deployed process as the executor uses it: the parsed model, its deployment metadata, its
FEEL expressions compiled once, and what the executor derives from the graph once (which
gateways join, which elements can still reach an inclusive join).

One `ExecutableProcess` per process definition key, kept for the life of the partition by the
process store's cache: a model is parsed once per partition, never per command, and each FEEL
expression of it is compiled the first time it is evaluated and kept.
"""

from raybee.partitions.engine.bpmn import (
    BpmnElementType,
    Expression,
    FlowNode,
    ProcessDefinitionModel,
    SequenceFlow,
    parse_bpmn,
)
from raybee.partitions.engine.feel import FeelExpression, parse
from raybee.partitions.protocol import ProcessRecordValue

_SELF_CATCHING = frozenset({BpmnElementType.INTERMEDIATE_CATCH_EVENT, BpmnElementType.RECEIVE_TASK})
JOIN_TYPES = frozenset({BpmnElementType.PARALLEL_GATEWAY, BpmnElementType.INCLUSIVE_GATEWAY})
PARSED_RESOURCES_CACHED_MAX = 64
# Parsing is a pure function of the resource: (checksum, name) -> models, shared by the
# partitions of one process (a resource holding several processes is parsed once for all).
_parsed: dict[tuple[bytes, str], list[ProcessDefinitionModel]] = {}


def parse_resource(resource: bytes, resource_name: str, checksum: bytes):
    """The models of a resource (cached by checksum and name); raises BpmnValidationError."""
    slot = (checksum, resource_name)
    models = _parsed.get(slot)
    if models is None:
        models = parse_bpmn(resource, resource_name)
        if len(_parsed) >= PARSED_RESOURCES_CACHED_MAX:
            del _parsed[next(iter(_parsed))]
        _parsed[slot] = models
    return models


class ExecutableProcess:
    __slots__ = (
        "key",
        "bpmn_process_id",
        "version",
        "resource_name",
        "tenant_id",
        "model",
        "_feel",
        "_outgoing",
        "_joins",
        "_reach",
        "_catches",
    )

    def __init__(self, record: ProcessRecordValue, model: ProcessDefinitionModel):
        assert model.bpmn_process_id == record.bpmn_process_id, (model, record)
        self.key = record.process_definition_key
        self.bpmn_process_id = record.bpmn_process_id
        self.version = record.version
        self.resource_name = record.resource_name
        self.tenant_id = record.tenant_id
        self.model = model
        self._feel: dict[Expression, FeelExpression] = {}
        self._outgoing: dict[str, tuple[SequenceFlow, ...]] = {}
        # Gateways that join: parallel or inclusive with more than one incoming flow.
        self._joins = frozenset(
            node.id
            for node in model.flow_nodes()
            if node.element_type in JOIN_TYPES and len(node.incoming) > 1
        )
        self._reach: dict[str, frozenset[str]] = {}
        self._catches: dict[tuple[str, bool], tuple[FlowNode, ...]] = {}

    @classmethod
    def load(cls, record: ProcessRecordValue) -> "ExecutableProcess":
        """From a stored process: parse its resource (cached) and take its process."""
        models = parse_resource(record.resource, record.resource_name, record.checksum)
        for model in models:
            if model.bpmn_process_id == record.bpmn_process_id:
                return cls(record, model)
        raise AssertionError(
            f"the resource '{record.resource_name}' of process {record.process_definition_key} "
            f"holds no process '{record.bpmn_process_id}'"
        )

    # ------------------------------------------------------------------ the graph
    def node(self, element_id: str) -> FlowNode:
        return self.model.flow_node(element_id)

    def flow(self, flow_id: str) -> SequenceFlow:
        return self.model.sequence_flow(flow_id)

    def outgoing(self, element_id: str) -> tuple[SequenceFlow, ...]:
        flows = self._outgoing.get(element_id)
        if flows is None:
            flows = self._outgoing[element_id] = self.model.outgoing_flows(element_id)
        return flows

    def is_join(self, element_id: str) -> bool:
        return element_id in self._joins

    def can_reach(self, gateway_id: str) -> frozenset[str]:
        """The ids of the flow nodes in the gateway's scope from which a token can still
        arrive at it (the gateway itself not included unless it lies on a loop). A boundary
        event that can reach it makes the activity it is attached to count too."""
        reach = self._reach.get(gateway_id)
        if reach is None:
            reach = self._reach[gateway_id] = self._backwards_from(gateway_id)
        return reach

    def _backwards_from(self, gateway_id: str) -> frozenset[str]:
        seen: set[str] = set()
        todo = [gateway_id]
        while todo:
            node = self.node(todo.pop())
            for flow_id in node.incoming:
                source = self.flow(flow_id).source_id
                if source not in seen:
                    seen.add(source)
                    todo.append(source)
            if node.attached_to_id is not None and node.attached_to_id not in seen:
                seen.add(node.attached_to_id)
                todo.append(node.attached_to_id)
        return frozenset(seen)

    def catch_events(self, element_id: str, body: bool) -> tuple[FlowNode, ...]:
        """The message and timer catch events an instance of the element waits for while it
        is active (see bpmn_behaviors/events.py); `body`: the instance is a multi-instance
        body (which holds the boundary events; its inner instances hold the rest)."""
        slot = (element_id, body)
        catches = self._catches.get(slot)
        if catches is None:
            catches = self._catches[slot] = self._find_catch_events(self.node(element_id), body)
        return catches

    def _find_catch_events(self, node: FlowNode, body: bool) -> tuple[FlowNode, ...]:
        kind = node.element_type
        found: list[FlowNode] = []
        if not body and kind in _SELF_CATCHING:
            found.append(node)
        if node.multi_instance is None or body:
            found += (self.node(e) for e in node.boundary_event_ids)
        if kind is BpmnElementType.EVENT_BASED_GATEWAY:
            found += (self.node(e) for e in node.event_ids)
        if node.scope is not None and not body:
            found += (self.node(e) for e in node.scope.event_sub_process_start_event_ids)
        return tuple(n for n in found if n.message is not None or n.timer is not None)

    # ------------------------------------------------------------------ FEEL
    def feel(self, expression: Expression) -> FeelExpression:
        """The compiled expression (compiled on first use; deployment checked it compiles)."""
        compiled = self._feel.get(expression)
        if compiled is None:
            compiled = self._feel[expression] = parse(expression.feel)
        return compiled

    def __repr__(self) -> str:
        return f"ExecutableProcess({self.bpmn_process_id!r} v{self.version}, key {self.key})"
