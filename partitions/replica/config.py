"""Limits of a partition replica, with units in their names."""

from dataclasses import dataclass, field

from raybee.partitions.stream_processor import COMMANDS_PER_BATCH_MAX
from raybee.raft import RaftConfig

from .request_ids import REQUEST_ID_WINDOW_POSITIONS

# Ticks: the broker's loop ticks every `tick_ms` real milliseconds. 20 ticks of 10 ms: a
# follower that hears nothing for 200-400 ms campaigns.
TICK_MS = 10
ELECTION_TIMEOUT_TICKS = 20
HEARTBEAT_INTERVAL_TICKS = 2
# Uncommitted entries beyond entries_in_flight_max x this make submit refuse (backpressure): a
# leader that cannot commit (cut off) must not take commands it can only fail later.
UNCOMMITTED_ENTRIES_SUBMIT_MAX_FACTOR = 4


def default_raft_config() -> RaftConfig:
    return RaftConfig(
        election_timeout_ticks=ELECTION_TIMEOUT_TICKS,
        heartbeat_interval_ticks=HEARTBEAT_INTERVAL_TICKS,
        # One entry is a batch of records: a window of 64 in flight is plenty.
        max_inflight_appends=64,
        max_entries_per_append=64,
    )


@dataclass(frozen=True)
class ReplicaConfig:
    # Real milliseconds per Raft tick when hosted (the broker's loop); the simulator keeps it.
    tick_ms: int = TICK_MS
    raft: RaftConfig = field(default_factory=default_raft_config)
    # Client commands submitted between two ready() calls ride one entry, up to this many.
    client_batch_records_max: int = 1_000
    # Log-read commands per processing batch (one store transaction, one follow-up entry).
    commands_per_batch_max: int = COMMANDS_PER_BATCH_MAX
    # Processing batches per ready(): a host's loop must not be held for long at a time.
    batches_per_ready_max: int = 16
    # Rounds of (propose, persist, apply, process) per ready().
    rounds_per_ready_max: int = 8
    # Client commands waiting for an answer on a leader before submit refuses (backpressure).
    commands_in_flight_max: int = 20_000
    # Uncommitted entries beyond which a leader processes no new batch until some commit.
    entries_in_flight_max: int = 128
    # Due work (job deadlines, back-offs, timers) is looked for every this many ticks.
    due_check_ticks: int = 5
    # A snapshot is taken when the processed position moved this far since the last one, or
    # this long after it (and only if it moved).
    snapshot_interval_positions: int = 200_000
    snapshot_interval_ms: int = 5 * 60 * 1000
    snapshots_kept: int = 2
    # Replicated state: every replica of a partition must use the same (request_ids.py).
    request_id_window_positions: int = REQUEST_ID_WINDOW_POSITIONS
    # Journal segments; None for the journal's default.
    segment_size_bytes_max: int | None = None

    def __post_init__(self) -> None:
        for name in (
            "tick_ms",
            "client_batch_records_max",
            "commands_per_batch_max",
            "batches_per_ready_max",
            "rounds_per_ready_max",
            "commands_in_flight_max",
            "entries_in_flight_max",
            "due_check_ticks",
            "snapshot_interval_positions",
            "snapshot_interval_ms",
            "snapshots_kept",
            "request_id_window_positions",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ReplicaConfig.{name} must be a positive int, got {value!r}")
        factor = UNCOMMITTED_ENTRIES_SUBMIT_MAX_FACTOR
        if factor * self.entries_in_flight_max >= self.raft.max_uncommitted_entries:
            raise ValueError(
                f"ReplicaConfig.entries_in_flight_max ({self.entries_in_flight_max}) x {factor} must "
                f"stay below raft.max_uncommitted_entries ({self.raft.max_uncommitted_entries}): "
                f"a leader stops processing, and then refuses commands, before Raft drops its "
                f"proposals"
            )
