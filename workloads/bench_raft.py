"""`raybee bench raft`: safety over many simulated seeds, and commit throughput on the journal.

Figures:
  seeds, violations (with the failing seeds and the invariant each broke), faults (by kind,
  each counted only when it changed something), sim_steps_per_s;
  commits_per_s: records committed per second by a 3-node in-process Raft group on
  journal-backed storage with flushes on (fsync per Ready per node), 100-record proposals.

`--mutants` instead plants each classic bug of raft/mutations.py and reports, per mutant, on
how many of `--seeds` seeds the simulator catches it (target: >= 1 % each); the table goes to
stderr as it is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time

import pyarrow as pa

from raybee.partitions.raft_storage import JournalStorage
from raybee.raft import (
    ConfState,
    EntryKind,
    NotLeaderError,
    RaftConfig,
    RaftNode,
    Role,
    bootstrap,
    mutations,
    persist_ready,
)
from raybee.raft.testing import SimulationFailure, run_simulation

SCHEMA = pa.schema([("key", pa.int64()), ("value", pa.binary())])


class JournalGroup:
    """N Raft nodes in one process on JournalStorage; messages are handed over directly."""

    def __init__(
        self, path: str, node_count: int = 3, config: RaftConfig | None = None, seed: int = 0
    ) -> None:
        self.path = path
        self.config = config or RaftConfig()
        self.seed = seed
        self.conf = ConfState(voters=frozenset(range(1, node_count + 1)))
        self.storages: dict[int, JournalStorage] = {}
        self.nodes: dict[int, RaftNode] = {}
        self.committed_records: dict[int, int] = {}
        self.applied_batches: dict[int, list[pa.RecordBatch]] = {}
        for i in range(1, node_count + 1):
            storage = self._open(i)
            if storage.last_index() == 0:
                bootstrap(storage, self.conf)
            self._start(i, storage)

    def _open(self, node_id: int) -> JournalStorage:
        return JournalStorage.open(os.path.join(self.path, f"node-{node_id}"), SCHEMA)

    def _start(self, node_id: int, storage: JournalStorage) -> None:
        self.storages[node_id] = storage
        rng = random.Random(self.seed * 1000 + node_id)
        self.nodes[node_id] = RaftNode(node_id, self.config, storage, rng)
        self.committed_records.setdefault(node_id, 0)
        self.applied_batches[node_id] = []

    def restart(self, node_id: int) -> None:
        self.storages[node_id].close()
        self._start(node_id, self._open(node_id))

    def close(self) -> None:
        for storage in self.storages.values():
            storage.close()

    def pump(self, keep_batches: bool = False) -> int:
        """One round: every node persists, sends and applies its Ready. Returns messages sent."""
        sent = []
        for node_id, node in self.nodes.items():
            if not node.has_ready():
                continue
            rd = node.ready()
            persist_ready(self.storages[node_id], rd)  # append, flush (fsync), hard state
            sent.extend(rd.messages)
            for entry in rd.committed_entries:
                if entry.kind == EntryKind.NORMAL:
                    self.committed_records[node_id] += entry.data.num_rows
                    if keep_batches:
                        self.applied_batches[node_id].append(entry.data)
            node.advance(rd)
        for msg in sent:
            if msg.to in self.nodes:
                self.nodes[msg.to].step(msg)
        return len(sent)

    def stabilize(self, rounds_max: int = 10_000, keep_batches: bool = False) -> None:
        for _ in range(rounds_max):
            if not self.pump(keep_batches) and not any(n.has_ready() for n in self.nodes.values()):
                return
        raise AssertionError("journal group did not stabilize")

    def elect(self, node_id: int = 1) -> RaftNode:
        self.nodes[node_id].campaign()
        self.stabilize()
        leader = self.nodes[node_id]
        assert leader.role == Role.LEADER, leader.role
        return leader


def measure_commits(
    seconds: float,
    records_per_proposal: int = 100,
    proposals_per_round: int = 64,
    uncommitted_entries_max: int = 512,
) -> dict:
    """Records committed per second by a 3-node group on journal storage with flushes on."""
    path = tempfile.mkdtemp(prefix="raybee-bench-raft-")
    try:
        group = JournalGroup(path)
        leader = group.elect(1)
        batches = [
            pa.RecordBatch.from_pylist(
                [
                    {"key": b * records_per_proposal + r, "value": os.urandom(16)}
                    for r in range(records_per_proposal)
                ],
                schema=SCHEMA,
            )
            for b in range(16)
        ]
        start_records = group.committed_records[1]
        proposals = rounds = 0
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            room = uncommitted_entries_max - (leader.last_index - leader.commit_index)
            count = min(proposals_per_round, room)
            if count > 0:
                try:
                    leader.propose_many(
                        batches[(proposals + i) % len(batches)] for i in range(count)
                    )
                except NotLeaderError:
                    break
                proposals += count
            group.pump()
            rounds += 1
        elapsed = time.perf_counter() - start
        committed = group.committed_records[1] - start_records
        group.close()
        return {
            "commits_per_s": round(committed / elapsed),
            "commit_seconds": round(elapsed, 3),
            "records_committed": committed,
            "rounds": rounds,
            "records_per_proposal": records_per_proposal,
            "still_leader": leader.role == Role.LEADER,
        }
    finally:
        shutil.rmtree(path, ignore_errors=True)


def simulate(seeds: int, seed_base: int = 0) -> dict:
    faults: dict[str, int] = {}
    failing: list[int] = []
    broken: dict[str, int] = {}
    stats: dict[str, int] = {}
    steps = 0
    start = time.perf_counter()
    for seed in range(seed_base, seed_base + seeds):
        try:
            result = run_simulation(seed)
        except SimulationFailure as failure:
            failing.append(seed)
            broken[failure.invariant] = broken.get(failure.invariant, 0) + 1
            print(str(failure).splitlines()[0], flush=True)
            continue
        steps += result.steps
        for kind, count in result.faults.items():
            faults[kind] = faults.get(kind, 0) + count
        for kind, count in result.stats.items():
            if kind.startswith("liveness_"):
                stats[kind] = max(stats.get(kind, 0), count)  # worst case over seeds
            else:
                stats[kind] = stats.get(kind, 0) + count
    elapsed = time.perf_counter() - start
    return {
        "seeds": seeds,
        "seed_base": seed_base,
        "violations": len(failing),
        "violating_seeds": failing[:20],
        "violations_by_invariant": broken,
        "faults": faults,
        "sim_stats": stats,
        "sim_steps": steps,
        "sim_seconds": round(elapsed, 2),
        "sim_steps_per_s": round(steps / elapsed) if elapsed else 0,
    }


def score_mutants(seeds: int, seed_base: int = 0, names: list[str] | None = None) -> dict:
    """Catch rate of every planted bug over the same seeds."""
    chosen = [mutations.MUTANTS_BY_NAME[n] for n in names] if names else list(mutations.MUTANTS)
    rows = []
    start = time.perf_counter()
    for mutant in chosen:
        score = mutations.score(mutant, range(seed_base, seed_base + seeds))
        print(mutations.table([score]).splitlines()[1], file=sys.stderr, flush=True)
        rows.append(score)
    below = [s.name for s in rows if s.rate < mutations.CATCH_RATE_MIN]
    return {
        "mutant_seeds": seeds,
        "seed_base": seed_base,
        "mutants": {
            s.name: {
                "caught": s.caught,
                "rate": round(s.rate, 4),
                "first_seed": s.first_seed,
                "caught_by": s.invariants,
            }
            for s in rows
        },
        "mutants_below_1pct": below,
        "mutant_seconds": round(time.perf_counter() - start, 1),
    }


def run(args: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="raybee bench raft")
    parser.add_argument("--seeds", type=int, default=500)
    parser.add_argument("--seed-base", type=int, default=0)
    parser.add_argument("--commit-seconds", type=float, default=5.0)
    parser.add_argument("--records-per-proposal", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--mutants", action="store_true", help="catch rate of each planted raft bug instead"
    )
    parser.add_argument("--mutant", action="append", help="with --mutants: only these")
    opts = parser.parse_args(args)
    if opts.mutants:
        figures = score_mutants(opts.seeds, opts.seed_base, opts.mutant)
        return figures
    figures = simulate(opts.seeds, opts.seed_base)
    figures.update(measure_commits(opts.commit_seconds, opts.records_per_proposal))
    return figures


if __name__ == "__main__":
    import sys

    print(json.dumps(run(sys.argv[1:]), indent=2))
