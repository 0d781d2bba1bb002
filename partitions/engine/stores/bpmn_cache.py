"""What the engine keeps decoded of BPMN state: one batch's layer over the committed layer, as
the job cache does (see job_cache.py).

- `processes`: process definition key -> ExecutableProcess (parsed model, compiled FEEL), and
  `latest`: bpmn process id -> key of the latest version;
- `instances`: element instance key -> ElementInstance entry or None (gone);
- `variables`: scope key -> ScopeVariables or None (no variables).

Element instance entries and variable documents change many times within one command (an
automatic element is activated, completed and removed at once), so their writes are held in
the batch's layer and written to the transaction once, at `flush` (the end of the batch): an
element instance that lives and dies within a batch never reaches RocksDB. Everything that
reads them goes through the stores, which read this cache first.

A batch's layer is merged into the committed layer only after its transaction commits, so an
aborted batch leaves nothing behind.
"""

import itertools

ABSENT = object()
ENTRIES_CACHED_MAX = 100_000


class BpmnCache:
    __slots__ = (
        "processes",
        "latest",
        "instances",
        "variables",
        "dirty_instances",
        "dirty_variables",
        "new_instances",
        "children",
        "_committed",
    )

    def __init__(self, committed: "BpmnCache | None" = None):
        self.processes: dict = {}
        self.latest: dict = {}
        self.instances: dict = {}
        self.variables: dict = {}
        # Keys written in this batch and not flushed to the transaction yet.
        self.dirty_instances: set[int] = set()
        self.dirty_variables: set[int] = set()
        # Instances created in this batch (a removal of one writes nothing), and the changes of
        # the children index: (scope key, child key) -> present.
        self.new_instances: set[int] = set()
        self.children: dict[tuple[int, int], bool] = {}
        self._committed = committed

    def lookup(self, table: str, key):
        """The cached value (None included), or ABSENT when neither layer knows it."""
        value = getattr(self, table).get(key, ABSENT)
        if value is ABSENT and self._committed is not None:
            value = getattr(self._committed, table).get(key, ABSENT)
        return value

    def commit(self) -> None:
        """The batch committed: what it knows is committed state now."""
        committed = self._committed
        assert committed is not None, "commit() is for a batch's cache"
        assert not (self.dirty_instances or self.dirty_variables or self.children), "flush first"
        for table in ("processes", "latest", "instances", "variables"):
            mine, theirs = getattr(self, table), getattr(committed, table)
            theirs.update(mine)
            if len(theirs) > ENTRIES_CACHED_MAX:
                for key in list(itertools.islice(theirs, len(theirs) - ENTRIES_CACHED_MAX // 2)):
                    del theirs[key]
