"""Element instances: one entry per instance (state, record value, counters; see
bpmn_entries.py), the children of each flow scope, and the process instances awaiting their
result. Entries are written to the transaction once per batch (`flush`; see bpmn_cache.py);
the children index is written at once, so scans of it see the batch's own changes through the
transaction."""

from collections.abc import Iterator

from raybee.partitions.protocol import NO_KEY

from ..bpmn_entries import ElementInstance
from ..families import AWAITING_RESULTS, ELEMENT_CHILDREN, ELEMENT_INSTANCES, EMPTY
from .bpmn_cache import ABSENT, BpmnCache


class AwaitingResult:
    """A CREATE_WITH_AWAITING_RESULT request to answer when its process instance completes."""

    __slots__ = ("request_stream_id", "request_id", "fetch_variables")

    def __init__(self, request_stream_id: int, request_id: int, fetch_variables: list[str]):
        self.request_stream_id = request_stream_id
        self.request_id = request_id
        self.fetch_variables = fetch_variables


class ElementInstanceStore:
    def __init__(self, reader, writer, cache: BpmnCache):
        self._reader = reader
        self._writer = writer
        self._cache = cache

    # ------------------------------------------------------------------ reads
    def get(self, key: int) -> ElementInstance | None:
        cache = self._cache
        entry = cache.instances.get(key, ABSENT)
        if entry is ABSENT:
            entry = cache.lookup("instances", key)
            if entry is ABSENT:
                entry = self._reader.get(ELEMENT_INSTANCES, key)
            cache.instances[key] = entry
        return entry

    def children(self, scope_key: int) -> list[int]:
        """Keys of the active child instances of a flow scope, oldest first."""
        stored = {child for (_, child), _ in self._reader.prefix(ELEMENT_CHILDREN, (scope_key,))}
        for (scope, child), present in self._cache.children.items():
            if scope == scope_key:
                if present:
                    stored.add(child)
                else:
                    stored.discard(child)
        return sorted(stored)

    def scope_chain(self, key: int) -> Iterator[tuple[int, ElementInstance]]:
        """(key, entry) of the instance and each of its flow scopes up to its process
        instance."""
        while key != NO_KEY:
            entry = self.get(key)
            assert entry is not None, f"element instance {key} of a scope chain is gone"
            yield key, entry
            key = entry.value.flow_scope_key

    def awaiting_result(self, process_instance_key: int) -> AwaitingResult | None:
        raw = self._reader.get(AWAITING_RESULTS, process_instance_key)
        return None if raw is None else AwaitingResult(*raw)

    # ------------------------------------------------------------------ writes (appliers)
    def create(self, key: int, entry: ElementInstance) -> None:
        """A new instance (its key was just issued: nothing is stored under it)."""
        assert type(entry) is ElementInstance, entry
        assert self._writer is not None, "only appliers write element instances"
        cache = self._cache
        assert cache.instances.get(key) is None, f"element instance {key} created twice"
        cache.instances[key] = entry
        cache.dirty_instances.add(key)
        cache.new_instances.add(key)
        scope_key = entry.value.flow_scope_key
        if scope_key != NO_KEY:
            cache.children[(scope_key, key)] = True

    def put(self, key: int, entry: ElementInstance) -> None:
        assert type(entry) is ElementInstance, entry
        assert self._writer is not None, "only appliers write element instances"
        self._cache.instances[key] = entry
        self._cache.dirty_instances.add(key)

    def remove(self, key: int) -> None:
        entry = self.get(key)
        assert entry is not None, f"element instance {key} does not exist"
        assert self._writer is not None, "only appliers write element instances"
        cache = self._cache
        cache.instances[key] = None
        scope_key = entry.value.flow_scope_key
        if key in cache.new_instances:
            # Born and gone within the batch: nothing of it reaches the transaction.
            cache.new_instances.discard(key)
            cache.dirty_instances.discard(key)
            if scope_key != NO_KEY:
                del cache.children[(scope_key, key)]
        else:
            cache.dirty_instances.add(key)
            if scope_key != NO_KEY:
                cache.children[(scope_key, key)] = False

    def await_result(self, process_instance_key: int, awaiting: AwaitingResult) -> None:
        self._writer.put(
            AWAITING_RESULTS,
            process_instance_key,
            [awaiting.request_stream_id, awaiting.request_id, list(awaiting.fetch_variables)],
        )

    def forget_awaiting(self, process_instance_key: int) -> None:
        self._writer.delete(AWAITING_RESULTS, process_instance_key)

    def flush(self) -> None:
        """Write the entries this batch changed (the end of the transaction)."""
        cache = self._cache
        for key in cache.dirty_instances:
            entry = cache.instances[key]
            if entry is None:
                self._writer.delete(ELEMENT_INSTANCES, key)
            else:
                self._writer.put(ELEMENT_INSTANCES, key, entry)
        for (scope_key, key), present in cache.children.items():
            if present:
                self._writer.put(ELEMENT_CHILDREN, (scope_key, key), EMPTY)
            else:
                self._writer.delete(ELEMENT_CHILDREN, (scope_key, key))
        cache.dirty_instances.clear()
        cache.new_instances.clear()
        cache.children.clear()
