"""Commands the stream processor once lost, each reproduced on the real journal and RocksDB:
every committed command is answered exactly once - across restarts between batches, follow-up
commands, appends that do not fit or fail, state commits that fail after the append, and
recovery from an older snapshot after compaction."""

import errno
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from raybee.partitions.checks import assert_every_command_answered_once, check_answers
from raybee.partitions.engine import ENGINE_FAMILIES
from raybee.partitions.local import LocalPartition
from raybee.partitions.log_stream import JournalLogStream
from raybee.partitions.protocol import (
    JobBatchIntent,
    JobIntent,
    JobRecordValue,
    RecordType,
    RejectionType,
    ValueType,
    VariableDocumentIntent,
)
from raybee.partitions.snapshots import SnapshotDirector, SnapshotStore
from raybee.partitions.stream_processor import (
    LogGapError,
    ProcessingHaltedError,
    StreamProcessor,
)
from raybee.partitions.testing import FakeClock, activate, create
from raybee.state import RocksDBStore

SEGMENT_BYTES_MIN = 16 * 1024


class Node:
    """A partition on disk that can be stopped and reopened like a restarted process."""

    def __init__(self, root, clock=None, segment_bytes=None, **options):
        self.root = root
        self.clock = clock or FakeClock()
        self.segment_bytes = segment_bytes
        self.options = options
        self.partition = None
        self.start()

    def start(self, state_dir="state"):
        journal_options = {}
        if self.segment_bytes:
            journal_options["segment_size_bytes_max"] = self.segment_bytes
        log = JournalLogStream.open(self.root / "log", **journal_options)
        store = RocksDBStore(self.root / state_dir, ENGINE_FAMILIES)
        self.partition = LocalPartition(store, log, 1, self.clock, **self.options)
        return self.partition

    def restart(self):
        self.partition.close()
        return self.start()

    def records(self):
        return list(self.partition.log.read_from(1))


def created_jobs(records):
    return [r for r in records if r.value_type == ValueType.JOB and r.intent == JobIntent.CREATED]


# ---------------------------------------------------------------- A: restart between batches
def test_commands_behind_a_processed_batch_survive_a_restart(tmp_path):
    node = Node(tmp_path, commands_per_batch_max=2)
    node.partition.write_commands([create(f"t{i}") for i in range(5)])
    first = node.partition.processor.process_batch()
    assert len(first.responses) == 2
    partition = node.restart()
    responses = partition.process()
    assert sorted(r.request_id for r in responses) == [2, 3, 4], "commands 3-5 answered"
    report = assert_every_command_answered_once(node.records())
    assert report.commands == 5
    # and new traffic after that is answered too
    assert partition.execute(create("later")).intent == JobIntent.CREATED
    node.partition.close()


def test_one_large_append_is_processed_whole_across_a_restart(tmp_path):
    node = Node(tmp_path)  # the default batch limit (200)
    node.partition.write_commands([create("bulk") for _ in range(250)])
    node.partition.processor.process_batch()
    node.restart().process()
    assert len(created_jobs(node.records())) == 250
    assert assert_every_command_answered_once(node.records()).commands == 250
    node.partition.close()


KILLED_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from raybee.partitions.engine import ENGINE_FAMILIES
    from raybee.partitions.local import LocalPartition
    from raybee.partitions.log_stream import JournalLogStream
    from raybee.partitions.testing import FakeClock, create
    from raybee.state import RocksDBStore

    root = Path(sys.argv[1])
    partition = LocalPartition(
        RocksDBStore(root / "state", ENGINE_FAMILIES),
        JournalLogStream.open(root / "log"), 1, FakeClock(),
    )
    partition.write_commands([create("bulk") for _ in range(250)])
    result = partition.processor.process_batch()
    print(len(result.responses), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_sigkill_after_one_batch_loses_no_command(tmp_path):
    child = subprocess.run(
        [sys.executable, "-c", KILLED_CHILD, str(tmp_path)], capture_output=True, text=True
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout.strip() == "200", "the child processed one batch before it was killed"
    node = Node(tmp_path)  # RocksDB runs without its WAL: the state is rebuilt from the log
    node.partition.process()
    assert len(created_jobs(node.records())) == 250
    assert_every_command_answered_once(node.records())
    node.partition.close()


# ---------------------------------------------------------------- B: follow-up commands
UPDATE_SLOT = (int(ValueType.VARIABLE_DOCUMENT), int(VariableDocumentIntent.UPDATE))
UPDATED_SLOT = (*UPDATE_SLOT[:1], int(VariableDocumentIntent.UPDATED), 1)


class AsksForAJob:
    """A test processor: answers, and asks for a job by a follow-up command."""

    def process(self, command, ctx):
        ctx.respond(ctx.append_event(ctx.next_key(), VariableDocumentIntent.UPDATED, command.value))
        ctx.append_command(-1, JobIntent.CREATE, JobRecordValue(type="follow", retries=1))


def with_follow_ups(monkeypatch):
    """Register the test processor and a no-op applier for its event, for every processor
    built while the test runs (restarts included)."""
    from raybee.partitions.engine import appliers, processors

    monkeypatch.setitem(processors.PROCESSORS, UPDATE_SLOT, AsksForAJob)
    monkeypatch.setitem(appliers.APPLIERS, UPDATED_SLOT, lambda state, record: None)


def document_update():
    from raybee.partitions.protocol import Record, VariableDocumentRecordValue

    return Record(
        ValueType.VARIABLE_DOCUMENT, VariableDocumentIntent.UPDATE, VariableDocumentRecordValue()
    )


def test_follow_ups_do_not_hide_unread_commands(tmp_path, monkeypatch):
    with_follow_ups(monkeypatch)
    node = Node(tmp_path, commands_per_batch_max=2)
    node.partition.write_commands([document_update() for _ in range(5)])
    responses = node.partition.process()
    assert sorted(r.request_id for r in responses) == [0, 1, 2, 3, 4]
    records = node.records()
    assert len(created_jobs(records)) == 5, "each follow-up processed once"
    report = assert_every_command_answered_once(records)
    assert report.follow_ups == 5
    node.partition.close()


def test_replay_after_follow_ups_continues_where_processing_stopped(tmp_path, monkeypatch):
    with_follow_ups(monkeypatch)
    node = Node(tmp_path, commands_per_batch_max=2)
    node.partition.write_commands([document_update() for _ in range(5)])
    node.partition.processor.process_batch()  # commands 1-2 and their follow-ups
    processed = node.partition.processor.last_processed_position
    assert processed == 2, "follow-ups do not move the processed position"
    node.partition.store.close()
    node.partition.log.close()
    # Lose the state: replay alone must find the same position and state.
    partition = node.start(state_dir="state-rebuilt")
    assert partition.processor.last_processed_position == processed
    partition.process()
    assert len(created_jobs(node.records())) == 5
    assert_every_command_answered_once(node.records())
    partition.close()


def test_restart_from_a_snapshot_does_not_apply_follow_up_events_twice(tmp_path, monkeypatch):
    with_follow_ups(monkeypatch)
    node = Node(tmp_path)
    node.partition.write_commands([document_update() for _ in range(3)])
    node.partition.process()
    snapshot = SnapshotStore(tmp_path / "snapshots").take(
        node.partition.store, node.partition.processor.last_processed_position, 0
    )
    digest = node.partition.store.digest()
    log = node.partition.log
    store = RocksDBStore.open_checkpoint(
        snapshot.state_path, tmp_path / "restored", ENGINE_FAMILIES
    )
    processor = StreamProcessor(store, log, 1, FakeClock())
    # The follow-ups' events lie above the snapshot position but belong to commands below it.
    assert processor.replay() == 0
    assert store.digest() == digest
    store.close()
    node.partition.close()


# ---------------------------------------------------------------- C: appends that fail
def big_job(size_bytes):
    return create("big", variables={"blob": "x" * size_bytes})


def test_a_batch_too_large_for_one_entry_is_split(tmp_path):
    node = Node(tmp_path, segment_bytes=SEGMENT_BYTES_MIN)
    node.partition.write_commands([big_job(3000)])
    node.partition.write_commands([big_job(3000)])
    node.partition.write_commands([big_job(3000)])
    node.partition.write_commands([big_job(3000)])
    responses = node.partition.process()
    assert [r.record.intent for r in responses] == [JobIntent.CREATED] * 4
    assert_every_command_answered_once(node.records())
    node.partition.close()


def test_a_command_whose_records_do_not_fit_is_rejected(tmp_path):
    node = Node(tmp_path, segment_bytes=SEGMENT_BYTES_MIN)
    for _ in range(6):
        node.partition.write_commands([big_job(2500)])
    node.partition.process()
    # One activation of all six jobs would carry six copies of their variables: too large.
    answer = node.partition.execute(activate("big", 10))
    assert answer.record_type == RecordType.COMMAND_REJECTION
    assert answer.rejection_type == RejectionType.EXCEEDED_BATCH_RECORD_SIZE
    assert "do not fit one log entry" in answer.rejection_reason
    # and the partition goes on: a smaller activation works
    answer = node.partition.execute(activate("big", 1))
    assert answer.intent == JobBatchIntent.ACTIVATED and len(answer.value.jobs) == 1
    assert_every_command_answered_once(node.records())
    node.partition.close()


def test_an_append_failing_with_enospc_halts_and_a_restart_answers_the_commands(
    tmp_path, monkeypatch
):
    node = Node(tmp_path)
    node.partition.write_commands([create("disk") for _ in range(3)])
    real_writev = os.writev
    failures = []

    def enospc_once(fd, parts):
        if not failures:
            failures.append(fd)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_writev(fd, parts)

    monkeypatch.setattr(os, "writev", enospc_once)
    with pytest.raises(ProcessingHaltedError, match="No space left"):
        node.partition.process()
    assert failures, "the fault was injected"
    with pytest.raises(ProcessingHaltedError):
        node.partition.process()  # stays halted until rebuilt
    monkeypatch.setattr(os, "writev", real_writev)
    partition = node.restart()
    responses = partition.process()
    assert sorted(r.request_id for r in responses) == [0, 1, 2]
    assert_every_command_answered_once(node.records())
    node.partition.close()


# ---------------------------------------------------------------- D: commit after append fails
def test_a_state_commit_failing_after_the_append_halts_and_replay_repairs(tmp_path, monkeypatch):
    node = Node(tmp_path)
    node.partition.write_commands([create("commit") for _ in range(3)])
    store = node.partition.store
    real_write = store._write
    failures = []

    def fail_once(changes):
        if not failures:
            failures.append(len(changes))
            raise OSError(errno.EIO, "Input/output error")
        return real_write(changes)

    monkeypatch.setattr(store, "_write", fail_once)
    with pytest.raises(ProcessingHaltedError, match="after reaching the log"):
        node.partition.process()
    assert failures, "the fault was injected"
    assert len(created_jobs(node.records())) == 3, "the events reached the log"
    with pytest.raises(ProcessingHaltedError):
        node.partition.processor.process_batch()
    monkeypatch.setattr(store, "_write", real_write)
    partition = node.restart()
    assert partition.process() == [], "the batch is not processed a second time"
    node.partition.write_commands([create("after")])
    assert len(partition.process()) == 1
    records = node.records()
    assert len(created_jobs(records)) == 4
    assert_every_command_answered_once(records)
    node.partition.close()


# ---------------------------------------------------------------- E: snapshots and compaction
def test_compaction_keeps_the_log_the_oldest_snapshot_needs(tmp_path):
    node = Node(tmp_path, segment_bytes=SEGMENT_BYTES_MIN)
    clock = node.clock
    snapshots = SnapshotStore(tmp_path / "snapshots", kept=2)
    director = SnapshotDirector(snapshots, clock)
    partition = node.partition
    for round_ in range(3):
        for _ in range(4):
            partition.write_commands([create(f"r{round_}", variables={"pad": "y" * 200})] * 10)
        partition.process()
        director.snapshot_now(partition.store, partition.processor.last_processed_position)
    kept = snapshots.snapshots()
    assert len(kept) == 2
    floor = director.compaction_position(exporter_positions=[])
    assert floor == kept[-1].position, "compaction stops at the OLDEST snapshot kept"
    partition.log.compact_before(floor)
    assert partition.log.first_position > 1, "something was compacted"
    # The newest snapshot is damaged: recovery falls back to the older one, and it still works.
    newest, older = kept
    digest = partition.store.digest()
    damaged = next((newest.path / "state").glob("*.sst"))
    damaged.unlink()  # a new inode: checkpoint files are hard links shared with the live store
    damaged.write_bytes(b"damaged")
    assert snapshots.latest_valid() == older
    store = RocksDBStore.open_checkpoint(older.state_path, tmp_path / "from-older", ENGINE_FAMILIES)
    StreamProcessor(store, partition.log, 1, clock).replay()
    assert store.digest() == digest
    store.close()
    node.partition.close()


def test_replay_refuses_a_gap_between_snapshot_and_log(tmp_path):
    node = Node(tmp_path, segment_bytes=SEGMENT_BYTES_MIN)
    partition = node.partition
    snapshots = SnapshotStore(tmp_path / "snapshots", kept=2)
    for _ in range(4):
        partition.write_commands([create("a", variables={"pad": "y" * 200})] * 10)
    partition.process()
    old = snapshots.take(partition.store, partition.processor.last_processed_position, 0)
    for _ in range(8):
        partition.write_commands([create("b", variables={"pad": "y" * 200})] * 10)
    partition.process()
    newest = partition.processor.last_processed_position
    first_kept = partition.log.compact_before(newest)  # as the old code did: up to the newest
    assert first_kept > old.position + 1
    store = RocksDBStore.open_checkpoint(old.state_path, tmp_path / "from-old", ENGINE_FAMILIES)
    with pytest.raises(LogGapError, match=rf"log starts at {first_kept}"):
        StreamProcessor(store, partition.log, 1, node.clock)
    store.close()
    node.partition.close()


def test_check_answers_sees_lost_and_doubled_commands():
    """The checker itself: it must notice both failures it exists for."""
    from raybee.partitions.protocol import Record

    def command(position):
        return Record(ValueType.JOB, JobIntent.CREATE, JobRecordValue(), position=position)

    def answer(position, source):
        return Record(
            ValueType.JOB,
            JobIntent.CREATED,
            JobRecordValue(),
            RecordType.EVENT,
            position=position,
            source_record_position=source,
        )

    good = [command(1), command(2), answer(3, 1), answer(4, 1), answer(5, 2)]
    assert not check_answers(good).problems
    lost = [command(1), command(2), answer(3, 1)]
    assert check_answers(lost).unanswered == [2]
    twice = [command(1), answer(2, 1), command(3), answer(4, 3), answer(5, 1)]
    assert check_answers(twice).answered_twice == [1]
