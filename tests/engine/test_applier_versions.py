"""Events carry the applier version they were written for; replay applies each with that
version, so a changed applier (a new version) never changes how an old log replays."""

from raybee.partitions.engine import ENGINE_FAMILIES
from raybee.partitions.log_stream import MemoryLogStream
from raybee.partitions.protocol import JobIntent, ValueType
from raybee.partitions.stream_processor import StreamProcessor
from raybee.partitions.testing import FakeClock, create
from raybee.state import MemoryStore


def test_new_events_get_the_newest_applier_version_and_old_ones_keep_theirs(partition):
    old = partition.processor.appliers.latest_version(ValueType.JOB, JobIntent.CREATED)
    new = old + 1
    first = partition.execute(create("v1"))
    assert first.record_version == old
    seen = []

    def created_new(state, record):
        seen.append(record.key)
        state.jobs.create(record.key, record.value)

    partition.processor.appliers.add(ValueType.JOB, JobIntent.CREATED, new, created_new)
    second = partition.execute(create("v2"))
    assert second.record_version == new
    assert seen == [second.key], "processing applied the new version"
    # Replay in a fresh store: the old event through its version, the new one through the new.
    log = MemoryLogStream()
    log.append(list(partition.log.read_from(1)))
    replayer = StreamProcessor(MemoryStore(ENGINE_FAMILIES), log, 1, FakeClock())
    replayer.appliers.add(ValueType.JOB, JobIntent.CREATED, new, created_new)
    seen.clear()
    replayer.replay()
    assert seen == [second.key]
    assert replayer.store.digest() == partition.store.digest()
