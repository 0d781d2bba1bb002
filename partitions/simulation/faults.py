"""The faults of the partition simulator, by the names its counters and the bench report use.

Each is counted only when it changed something (what that means is beside it). The first
group is the Raft simulator's (`raft/testing.py`), met here by real replicas on real journals;
the second is the composition's own.
"""

import os
import random
import shutil

from raybee.journal._segment import SegmentReader

FAULT_KINDS = (
    # -- the Raft simulator's
    "drops",  # a message lost that would have reached a live replica over an open link
    "duplicates",  # a second copy stepped by its receiver
    "delays",  # a message stepped 1..30 ms late (and so reordered)
    "long_delays",  # a message stepped later than an election timeout
    "partitions",  # a two-way partition that stopped at least one message
    "one_way_partitions",  # the same, one way only
    "heals",  # a heal that reopened a link a partition had used to stop a message
    "clock_skews",  # a tick in which a replica's clock took 0 or 2 ticks instead of 1
    "pauses",  # a process paused for at least one tick (no ticks, no messages, no readies)
    "crashes",  # a running process killed between two calls
    "lost_writes",  # a crash inside the journal flush that lost unflushed entries
    "torn_writes",  # the same, leaving a torn prefix of them
    "lost_hard_state_writes",  # a crash before a new term or vote reached the disk
    "storage_write_errors",  # an append failed (ENOSPC): the host stops the replica
    "transfers",  # a leader began handing leadership to another voter
    # -- the composition's
    "crashes_after_batch",  # a batch processed (state committed, entry proposed), not persisted
    "crashes_before_send",  # a Ready persisted, its messages not sent
    "crashes_before_response",  # entries committed and applied, their answers not handed out
    "crashes_after_snapshot_taken",  # a checkpoint written that Raft does not hold yet
    "crashes_installing_snapshot",  # Raft installed a snapshot, the state not yet replaced
    "crashes_rebuilding",  # a deposed leader died rebuilding its state
    "memtable_losses",  # a crashed replica's RocksDB directory left at an older flush
    "interrupted_snapshot_installs",  # a replica died with part of a snapshot received
    "corrupted_snapshot_chunks",  # a chunk damaged on the way, refused by its receiver
    "replacements",  # a replica lost its disk and was replaced by an empty one (new id)
    "lost_requests",  # a client's command lost on its way to a replica
    "lost_responses",  # an answer lost on its way to its client (the client retries)
)

# Fault point of the replica (replica.FAULT_POINTS) -> the kind a crash there counts as.
CRASH_POINT_KINDS = {
    "after_batch": "crashes_after_batch",
    "after_persist": "crashes_before_send",
    "after_commit": "crashes_before_response",
    "after_snapshot_taken": "crashes_after_snapshot_taken",
    "install_before_state": "crashes_installing_snapshot",
    "rebuild_before_state": "crashes_rebuilding",
}


class SimCrash(BaseException):
    """Raised from a fault hook: the replica's process dies right there. A BaseException so
    no `except Exception` inside the replica swallows it."""


def lose_unflushed(storage, rng: random.Random, tear: bool) -> tuple[bool, bool]:
    """After a crash inside the journal's flush: the entries appended since the last flush
    reached the page cache only. Lose them (tear: keep a torn prefix). Returns (lost, torn).
    Reaches into the journal's private state; a test harness's liberty."""
    journal = storage._journal
    flushed, last = journal.last_flushed_index, journal.last_index
    if last <= flushed or not journal._segments:
        return False, False
    segment = journal._segments[-1]
    if flushed + 1 < segment.first_index:
        return False, False  # a roll sealed them: flushed after all
    cut = SegmentReader(segment, journal.schema, 1 << 20).offset_of(flushed + 1)
    size = segment.size_bytes
    keep = cut
    torn = tear and size - cut > 1
    if torn:
        keep = rng.randint(cut + 1, size - 1)
    journal.crash()
    with open(segment.path, "r+b") as handle:
        handle.truncate(keep)
    return True, torn


def lose_memtables(directory, snapshots_dir) -> bool:
    """A crashed replica's RocksDB (WAL off) keeps only what it flushed: leave its runtime
    state directory at an older flush - the oldest kept snapshot's checkpoint. Recovery must
    not trust it. Returns whether the directory changed."""
    state = os.path.join(directory, "state")
    candidates = (
        sorted(name for name in os.listdir(snapshots_dir) if name.isdigit())
        if os.path.isdir(snapshots_dir)
        else []
    )
    if not os.path.isdir(state) or not candidates:
        return False
    older = os.path.join(snapshots_dir, candidates[0], "state")
    shutil.rmtree(state)
    shutil.copytree(older, state)
    return True
