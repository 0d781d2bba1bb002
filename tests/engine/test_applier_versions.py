"""Events carry the applier version they were written for; replay applies each with that
version, so a changed applier (a new version) never changes how an old log replays."""

from raybee.partitions.engine import ENGINE_FAMILIES
from raybee.partitions.log_stream import MemoryLogStream
from raybee.partitions.protocol import JobIntent, ValueType
from raybee.partitions.stream_processor import StreamProcessor
from raybee.partitions.testing import FakeClock, create
from raybee.state import MemoryStore


def test_new_events_get_the_newest_applier_version_and_old_ones_keep_theirs(partition):
    first = partition.execute(create("v1"))
    assert first.record_version == 1
    seen = []

    def created_v2(state, record):
        seen.append(record.key)
        state.jobs.create(record.key, record.value)

    partition.processor.appliers.add(ValueType.JOB, JobIntent.CREATED, 2, created_v2)
    second = partition.execute(create("v2"))
    assert second.record_version == 2
    assert seen == [second.key], "processing applied the new version"
    # Replay in a fresh store: the old event through version 1, the new one through version 2.
    log = MemoryLogStream()
    log.append(list(partition.log.read_from(1)))
    replayer = StreamProcessor(MemoryStore(ENGINE_FAMILIES), log, 1, FakeClock())
    replayer.appliers.add(ValueType.JOB, JobIntent.CREATED, 2, created_v2)
    seen.clear()
    replayer.replay()
    assert seen == [second.key]
    assert replayer.store.digest() == partition.store.digest()
