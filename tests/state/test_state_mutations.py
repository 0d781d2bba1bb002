"""The state layer's tests catch known bugs: each mutant below plants one classic mistake in
state/ - a transaction that commits when its block raised, or only part of its writes, a
deletion its own reads do not see, a scan that shows what the transaction deleted, int keys
without the sign flip, a RocksDB batch that drops deletions, a backwards scan off by one -
and the tests named beside it must fail
(tests/mutation_check.py runs them in a fresh interpreter). The conformance suite runs on
both stores; each mutant names the tests of one of them that exercise it.

A mutant the tests let through is a hole in the tests, not in the code: add the test."""

import sys

import pytest

check_tools = sys.modules["raybee_tests_mutation_check"]  # loaded by tests/conftest.py

STORE = "raybee.state.store:"
ROCKSDB = "raybee.state.rocksdb_store:RocksDBStore."
MEMORY_SUITE = "tests/state/test_memory_store.py::TestMemoryStore::"
ROCKSDB_SUITE = "tests/state/test_rocksdb_store.py::TestRocksDBStore::"


check = check_tools.check

CHECKS = (
    check(
        "failed_transaction_commits",
        "a transaction whose block raised still commits its writes",
        (MEMORY_SUITE + "test_transaction_that_raises_changes_nothing",),
        (
            STORE + "Store.transaction",
            "            yield transaction\n"
            "            self._check_open()\n"
            "            if transaction._changes:\n"
            "                self._write(transaction._changes)\n"
            "                self._commits += 1\n"
            "        finally:\n",
            "            yield transaction\n"
            "        finally:\n"
            "            if transaction._changes and not self._closed:\n"
            "                self._write(transaction._changes)\n"
            "                self._commits += 1\n",
        ),
    ),
    check(
        "transaction_commits_half_its_writes",
        "a transaction commits the writes of its first column family only",
        (MEMORY_SUITE + "test_one_transaction_spans_families",),
        (
            STORE + "Store.transaction",
            "self._write(transaction._changes)",
            "self._write(dict(list(transaction._changes.items())[:1]))",
        ),
    ),
    check(
        "deletion_not_seen_by_its_own_reads",
        "inside a transaction, a key it deleted still reads its committed value",
        (MEMORY_SUITE + "test_reads_inside_transaction_see_its_writes",),
        (
            STORE + "_Reader.get",
            "                raw = changes[encoded]\n"
            "                return default if raw is None else family.value.decode(raw)\n",
            "                raw = changes[encoded]\n"
            "                if raw is not None:\n"
            "                    return family.value.decode(raw)\n",
        ),
    ),
    check(
        "scan_shows_deleted_keys",
        "a scan merged with the open transaction shows the committed value of a key the "
        "transaction deleted",
        (MEMORY_SUITE + "test_scans_merge_the_open_transaction",),
        (
            "raybee.state._merge:merge_overlay",
            "        if head is not None and head[0] == key:\n"
            "            if head[1] is not None:\n"
            "                yield head  # type: ignore[misc]\n",
            "        if head is not None and head[0] == key:\n"
            "            yield head if head[1] is not None else (key, value)  # type: ignore[misc]\n",
        ),
    ),
    check(
        "int_keys_without_sign_flip",
        "int keys stored as two's complement: negative keys sort after the positive ones",
        ("tests/state/test_codecs.py",),
        (
            "raybee.state.codecs:IntKey.encode",
            '(key + _sign_flip).to_bytes(constants.int_key_bytes, "big")',
            'key.to_bytes(constants.int_key_bytes, "big", signed=True)',
        ),
        (
            "raybee.state.codecs:IntKey.decode",
            'int.from_bytes(data, "big") - _sign_flip',
            'int.from_bytes(data, "big", signed=True)',
        ),
    ),
    check(
        "rocksdb_batch_drops_deletions",
        "RocksDB's write batch carries the puts of a transaction but not its deletions",
        (ROCKSDB_SUITE + "test_delete_and_delete_absent",),
        (
            ROCKSDB + "_write",
            "                    batch.delete(key, handle)\n",
            "                    pass\n",
        ),
    ),
    check(
        "rocksdb_reverse_scan_drops_its_low_end",
        "a backwards RocksDB scan stops at its low bound instead of after it (off by one)",
        (ROCKSDB_SUITE + "test_reverse_scans_and_last",),
        (ROCKSDB + "_scan", "            if key < low:\n", "            if key <= low:\n"),
    ),
)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_the_tests_catch(check):
    check_tools.expect_caught(check, __file__)
