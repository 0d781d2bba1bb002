"""Limits of the Raft core. Units are in the names; ticks are chosen by the host."""

# A follower that hears nothing from a leader for this long (plus a random amount below it)
# starts an election; a leader with check-quorum steps down after this long without a quorum.
election_timeout_ticks = 10
# A leader sends heartbeats this often; must be well below the election timeout.
heartbeat_interval_ticks = 1
# Appends in flight per follower in the replicate state (a window, not a queue).
max_inflight_appends = 64
# Entries carried by one append message.
max_entries_per_append = 512
# Bytes of snapshot data carried by one snapshot chunk message.
snapshot_chunk_bytes_max = 1 << 20
# Committed entries handed to the host by one Ready.
max_committed_entries_per_ready = 4096
# Proposals accepted but not yet committed; above this `propose` refuses (backpressure).
max_uncommitted_entries = 100_000
# A follower lagging while this many heartbeats come back has lost appends or a chunk: resend.
replicate_stall_heartbeats = 3
# A leader transfer that has not finished after this many ticks is abandoned.
transfer_timeout_ticks = election_timeout_ticks

assert heartbeat_interval_ticks >= 1
assert election_timeout_ticks >= 3 * heartbeat_interval_ticks, "heartbeats must beat elections"
assert max_inflight_appends >= 1
assert max_entries_per_append >= 1
assert snapshot_chunk_bytes_max >= 1
assert max_committed_entries_per_ready >= max_entries_per_append
assert max_uncommitted_entries >= max_entries_per_append
