"""The journal's tests catch known bugs: each mutant below plants one classic mistake in
journal/ - a flush marker written before the fdatasync, a CRC not checked, a torn tail not
cut off, damage to flushed entries cut away as if it were a torn tail, a roll that does not
seal the old segment, a truncation that leaves the flush hint claiming what is gone - and the
tests named beside it must fail (tests/mutation_check.py runs them in a fresh interpreter).
The tests are named one by one: the torn-tail test at every byte alone takes ~10 s here.

A mutant the tests let through is a hole in the tests, not in the code: add the test."""

import sys

import pytest

check_tools = sys.modules["raybee_tests_mutation_check"]  # loaded by tests/conftest.py

JOURNAL = "raybee.journal.journal:Journal."
SEGMENT = "raybee.journal._segment:"
CRASH = "tests/journal/test_journal_crash.py::"
API = "tests/journal/test_journal_api.py::"


check = check_tools.check

CHECKS = (
    check(
        "flush_marker_before_fdatasync",
        "the flush marker is written before the fdatasync: after a power loss it can "
        "'prove' entries flushed whose pages were lost",
        (CRASH + "test_power_loss_inside_a_flush_always_reopens",),
        (
            JOURNAL + "_sync_active",
            '            self._fault("flush.before_sync")\n',
            "            if last > self._flushed_index and marker and self._segments:\n"
            "                self._write(self._segments[-1], self._marker_message(last))\n"
            '            self._fault("flush.before_sync")\n',
        ),
        (
            JOURNAL + "_sync_active",
            "                if marker and self._segments:\n"
            "                    self._write(self._segments[-1], self._marker_message(last))\n",
            "                if marker and self._segments:\n",
        ),
    ),
    check(
        "crc_not_checked",
        "a message's CRC32C is never compared: recovery and reads take damaged bytes",
        (
            CRASH + "test_bit_flip_in_a_flushed_entry_is_detected",
            CRASH + "test_damage_found_by_a_read_raises",
        ),
        (
            SEGMENT + "decode_message",
            'if b"%08x" % _ipc.message_crc32c(buf, msg) != pairs[-1][1]:',
            "if False:",
        ),
    ),
    check(
        "read_ignores_damage",
        "a read that finds a damaged message skips it instead of raising",
        (CRASH + "test_damage_found_by_a_read_raises",),
        (
            SEGMENT + "SegmentReader.iter_from",
            "                except _ipc.MessageDamaged as e:\n"
            "                    raise CorruptedJournalError(seg.path, offset, str(e)) from None\n"
            '                if kind == "entry":',
            "                except _ipc.MessageDamaged:\n"
            '                    kind = "damaged"\n'
            '                if kind == "entry":',
        ),
    ),
    check(
        "torn_tail_not_truncated",
        "recovery reports a torn tail but leaves its bytes in the file (appends go after them)",
        (
            CRASH + "test_damaged_unflushed_tail_is_truncated_and_reported",
            CRASH + "test_unflushed_tail_lost_as_zeros_is_truncated",
        ),
        (JOURNAL + "_scan_segments", "                self._truncate_file(path, cut)\n", ""),
    ),
    check(
        "flushed_damage_cut_as_torn_tail",
        "damage to flushed entries is cut off as a torn tail instead of refused: flushed "
        "entries silently lost",
        (
            CRASH + "test_bit_flip_in_a_flushed_entry_is_detected",
            CRASH + "test_cutting_flushed_entries_is_corruption",
        ),
        (
            JOURNAL + "_scan_segments",
            "                if bad <= vouched:",
            "                if False:",
        ),
    ),
    check(
        "roll_without_sealing",
        "a roll starts the next segment without making the old one durable first",
        (
            CRASH + "test_power_loss_after_rolls_without_flush_keeps_what_was_flushed",
            CRASH + "test_crash_between_the_steps_of_a_roll",
        ),
        (JOURNAL + "_roll", "                self._sync_active(marker=False, seal=True)\n", ""),
    ),
    check(
        "truncation_keeps_the_flush_hint",
        "truncate_after leaves the flush hint claiming entries that are gone",
        (API + "test_truncate_after", CRASH + "test_crash_inside_truncate_compact_reset"),
        (
            JOURNAL + "truncate_after",
            "            if self._hint_index > index:\n"
            "                self._write_hint(index, durable=True)\n",
            "",
        ),
    ),
)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_the_tests_catch(check):
    check_tools.expect_caught(check, __file__)
