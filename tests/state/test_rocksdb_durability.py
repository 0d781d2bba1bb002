"""What only the RocksDB store has: files, the WAL being off, hard-linked checkpoints, crashes."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from raybee.state import (
    BYTES_VALUE,
    INT_KEY,
    INT_VALUE,
    STR_KEY,
    CheckpointError,
    ColumnFamily,
    RocksDBStore,
    SchemaError,
    StateError,
)

A = ColumnFamily("a", INT_KEY, INT_VALUE)
B = ColumnFamily("b", INT_KEY, BYTES_VALUE)


def test_writes_bypass_the_rocksdb_wal(tmp_path: Path) -> None:
    store = RocksDBStore(tmp_path / "db", [A, B])
    for start in range(0, 5000, 100):
        with store.transaction() as txn:
            for key in range(start, start + 100):
                txn.put(A, key, key)
                txn.put(B, key, bytes(50))
    wal_files = list((tmp_path / "db").glob("*.log"))
    assert wal_files, "RocksDB keeps an (empty) WAL file even when every write skips it"
    assert sum(f.stat().st_size for f in wal_files) == 0
    assert store.view().count(A) == 5000
    store.close()


def test_clean_close_and_reopen_keeps_state(tmp_path: Path) -> None:
    store = RocksDBStore(tmp_path / "db", [A])
    with store.transaction() as txn:
        txn.put(A, 1, 10)
    digest = store.digest()
    store.close()
    reopened = RocksDBStore(tmp_path / "db", [A])
    assert reopened.digest() == digest
    assert reopened.view().get(A, 1) == 10
    reopened.close()


_crash_script = textwrap.dedent(
    """
    import os, signal, sys
    from raybee.state import ColumnFamily, INT_KEY, INT_VALUE, RocksDBStore
    A = ColumnFamily("a", INT_KEY, INT_VALUE)
    root = sys.argv[1]
    store = RocksDBStore(root + "/db", [A])
    with store.transaction() as txn:
        for key in range(100):
            txn.put(A, key, key)
    store.checkpoint(root + "/checkpoint")
    with store.transaction() as txn:
        txn.put(A, 1000, 1000)
        txn.delete(A, 0)
    assert store.view().get(A, 1000) == 1000
    print("committed after checkpoint", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_crash_loses_writes_after_the_last_flush_and_the_checkpoint_survives(
    tmp_path: Path,
) -> None:
    """With the WAL off a crash loses unflushed commits; the replicated log replays them."""
    result = subprocess.run(
        [sys.executable, "-c", _crash_script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert "committed after checkpoint" in result.stdout
    after_crash = RocksDBStore(tmp_path / "db", [A])
    # The commit after the checkpoint lived only in the memtable: gone, as designed.
    assert after_crash.view().get(A, 1000) is None
    assert after_crash.view().get(A, 0) == 0
    assert after_crash.view().count(A) == 100
    from_checkpoint = RocksDBStore.open_checkpoint(
        tmp_path / "checkpoint", tmp_path / "restored", [A]
    )
    assert from_checkpoint.digest() == after_crash.digest()
    after_crash.close()
    from_checkpoint.close()


def test_open_checkpoint_hard_links_sst_files(tmp_path: Path) -> None:
    store = RocksDBStore(tmp_path / "db", [A, B])
    with store.transaction() as txn:
        for key in range(1000):
            txn.put(B, key, bytes(100))
    store.checkpoint(tmp_path / "checkpoint")
    store.close()
    copy = RocksDBStore.open_checkpoint(tmp_path / "checkpoint", tmp_path / "copy", [A, B])
    linked = [
        f for f in (tmp_path / "copy").glob("*.sst") if (tmp_path / "checkpoint" / f.name).exists()
    ]
    assert linked, "the checkpoint holds SST files the copy should share"
    for file in linked:
        assert file.stat().st_ino == (tmp_path / "checkpoint" / file.name).stat().st_ino
    assert copy.view().count(B) == 1000
    copy.close()
    assert not (tmp_path / "copy.partial").exists()


def test_open_checkpoint_refuses_an_existing_target(tmp_path: Path) -> None:
    store = RocksDBStore(tmp_path / "db", [A])
    store.checkpoint(tmp_path / "checkpoint")
    store.close()
    (tmp_path / "taken").mkdir()
    with pytest.raises(CheckpointError, match="exists"):
        RocksDBStore.open_checkpoint(tmp_path / "checkpoint", tmp_path / "taken", [A])
    with pytest.raises(CheckpointError, match="not a RocksDB checkpoint"):
        RocksDBStore.open_checkpoint(tmp_path / "taken", tmp_path / "other", [A])
    assert not os.listdir(tmp_path / "taken")


def test_undeclared_families_on_disk_are_kept_but_invisible(tmp_path: Path) -> None:
    store = RocksDBStore(tmp_path / "db", [A, B])
    with store.transaction() as txn:
        txn.put(A, 1, 1)
        txn.put(B, 1, b"b")
    store.close()
    only_a = RocksDBStore(tmp_path / "db", [A])
    assert [name for name, _, _ in only_a.dump()] == ["a"]
    only_a.close()
    both = RocksDBStore(tmp_path / "db", [A, B])
    assert both.view().get(B, 1) == b"b"
    both.close()


def test_a_family_declared_later_is_created(tmp_path: Path) -> None:
    RocksDBStore(tmp_path / "db", [A]).close()
    store = RocksDBStore(tmp_path / "db", [A, B])
    with store.transaction() as txn:
        txn.put(B, 2, b"x")
    assert store.view().get(B, 2) == b"x"
    store.close()


def test_reopen_with_changed_codecs_is_refused(tmp_path: Path) -> None:
    store = RocksDBStore(tmp_path / "db", [A])
    with store.transaction() as txn:
        txn.put(A, 5, 5)
    store.close()
    changed = ColumnFamily("a", STR_KEY, INT_VALUE)
    with pytest.raises(SchemaError, match="created as key=int value=int"):
        RocksDBStore(tmp_path / "db", [changed])
    # The refused open released the database: the right declaration opens it, data intact.
    store = RocksDBStore(tmp_path / "db", [A])
    assert store.view().get(A, 5) == 5
    store.close()


def test_opening_an_open_database_is_a_clear_error(tmp_path: Path) -> None:
    store = RocksDBStore(tmp_path / "db", [A])
    with pytest.raises(StateError, match="cannot open RocksDB"):
        RocksDBStore(tmp_path / "db", [A])
    store.close()
