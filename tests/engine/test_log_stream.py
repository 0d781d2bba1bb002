"""The journal-backed log stream: positions, filtered reads (cached tail and journal alike),
reopen, compaction."""

import pytest

from raybee.partitions.log_stream import RECENT_APPENDS_CACHED, JournalLogStream, MemoryLogStream
from raybee.partitions.protocol import JobIntent, JobRecordValue, Record, RecordType, ValueType


def records(count, record_type=RecordType.EVENT):
    intent = JobIntent.CREATED if record_type == RecordType.EVENT else JobIntent.COMPLETE
    return [
        Record(ValueType.JOB, intent, JobRecordValue(retries=i), record_type) for i in range(count)
    ]


@pytest.mark.parametrize("kind", ["journal", "memory"])
def test_reads_return_what_was_appended_in_order(tmp_path, kind):
    log = JournalLogStream.open(tmp_path / "log") if kind == "journal" else MemoryLogStream()
    written = []
    appends = RECENT_APPENDS_CACHED * 2  # past the decoded tail cache, into the journal
    for i in range(appends):
        written += log.append(records(3, RecordType.COMMAND if i % 2 else RecordType.EVENT))
    assert [r.position for r in written] == list(range(1, 3 * appends + 1))
    for start in (1, 7, 3 * appends - 5, 3 * appends + 1):
        assert list(log.read_from(start)) == written[start - 1 :]
        assert list(log.read_from(start, skip_commands=True)) == [
            r for r in written[start - 1 :] if not r.is_command
        ]
        assert list(log.read_from(start, commands_only=True)) == [
            r for r in written[start - 1 :] if r.is_command
        ]
    log.close()


def test_positions_survive_a_reopen(tmp_path):
    log = JournalLogStream.open(tmp_path / "log")
    first = log.append(records(5))
    log.close()
    again = JournalLogStream.open(tmp_path / "log")
    assert again.last_position == 5
    assert list(again.read_from(1)) == first
    assert [r.position for r in again.append(records(2))] == [6, 7]
    again.close()


def test_an_append_with_wrong_positions_is_refused_and_writes_nothing(tmp_path):
    log = JournalLogStream.open(tmp_path / "log")
    log.append(records(2))
    bad = [r._replace(position=9) for r in records(1)]
    with pytest.raises(ValueError, match="has position 9, but the log's next position is 3"):
        log.append(bad)
    assert log.last_position == 2 and log.journal.last_index == 1
    log.close()
