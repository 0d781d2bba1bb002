"""`raybee bench replica`: the replicated partition - safety over many simulated seeds, job
lifecycles committed through Raft, and how fast a promoted follower processes.

Figures:
  seeds, violations (the failing seeds with the invariant each broke), faults (by kind, each
  counted only when it changed something), requests / acknowledged / lost / unknown_outcomes
  (lost: acknowledged but not committed - always 0 unless an invariant broke), sim_seeds_per_s;
  job_lifecycles_per_s: three replicas in one process on journals (an fsync per Ready per
  replica) and RocksDB, a lossless in-process network: `--jobs` jobs created (clients' commands
  of one ready() ride one entry), activated 100 at a time and completed, every answer after
  commit; records_per_lifecycle; rebuild_ms: what a deposed leader pays to rebuild its state
  (Raft's snapshot plus replay of the committed log after it, `rebuild_replayed_positions`);
  promotion: in fault-free simulations (0-3 ms message latency, clients that know which
  replicas are up and retry after 50 ms) the leader is killed under load three times; per
  election (the first ones included), simulated ms from the election to the new leader
  processing (its noop committed and its tail replayed: `promotion_ready_ms`) and to its first
  processed command (`promotion_first_command_ms`, which also waits for clients to find it).

`--mutants` instead reports, per planted composition bug (partitions/simulation/mutations.py),
on how many of `--seeds` seeds the simulator catches it.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter

from raybee.partitions.protocol import JobBatchIntent, JobIntent
from raybee.partitions.replica import ReplicaConfig
from raybee.partitions.simulation import ReplicaGroup, mutations
from raybee.partitions.simulation.faults import FAULT_KINDS
from raybee.partitions.simulation.simulator import (
    PartitionSimulator,
    SimOptions,
    SimulationFailure,
)
from raybee.partitions.testing import activate, create, job_command

CHUNK = 500  # commands a client hands the leader at once
CHUNKS_IN_FLIGHT_MAX = 4  # unanswered chunks a client keeps going
JOBS_PER_ACTIVATION = 100
PROMOTION_KILLS = (400, 900, 1400)  # simulated ms at which the leader is killed


def simulate(
    seeds: int, seed_base: int = 0, options: SimOptions | None = None, progress: bool = False
) -> dict:
    logging.disable(logging.WARNING)  # torn tails repaired on open are the faults working
    faults, counts = Counter(), Counter()
    violations = []
    start = time.perf_counter()
    for seed in range(seed_base, seed_base + seeds):
        try:
            report = PartitionSimulator(seed, options).run()
        except SimulationFailure as failure:
            violations.append({"seed": seed, "invariant": failure.invariant, "what": failure.what})
            if progress:  # a long run's violations are worth seeing (and replaying) at once
                print(f"seed {seed}: {failure.invariant}: {failure.what}", file=sys.stderr)
            continue
        faults.update(report.faults)
        counts.update(report.counts)
        done = seed - seed_base + 1
        if progress and done % 100 == 0:
            print(
                f"{done} seeds, {len(violations)} violations, {time.perf_counter() - start:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    seconds = time.perf_counter() - start
    logging.disable(logging.NOTSET)
    return {
        "seeds": seeds,
        "violations": len(violations),
        "violation_seeds": violations[:20],
        "faults": {kind: faults[kind] for kind in FAULT_KINDS},
        "fault_kinds_never_injected": [kind for kind in FAULT_KINDS if not faults[kind]],
        "requests": counts["requests"],
        "acknowledged": counts["acked"],
        "lost": 0 if not violations else None,  # the checker fails a seed that loses one
        "unknown_outcomes": counts["unknown_outcomes"],
        "retries": counts["retries"],
        "retries_answered_from_the_window": counts["retries_in_log"],
        "records_committed": counts["records_committed"],
        "elections": counts["elections"],
        "rebuilds": counts["rebuilds"],
        "snapshots_taken": counts["snapshots_taken"],
        "snapshots_installed": counts["snapshots_installed"],
        "digests_compared": counts["digests_compared"],
        "sim_seeds_per_s": round(seeds / seconds, 2) if seconds else None,
    }


def measure_lifecycles(jobs: int, root: str) -> dict:
    """Jobs created, activated and completed through three replicas; wall-clock rate."""
    group = ReplicaGroup(root, config=ReplicaConfig())
    try:
        leader = group.await_leader()
        next_rid = 0

        def run(count: int, command, kept) -> list:
            """`count` commands, the i-th made by `command(i)` when it is submitted, in chunks,
            keeping up to CHUNKS_IN_FLIGHT_MAX unanswered (a client that pipelines), a round of
            readies and messages between submissions; returns `kept(answer)` per command,
            in request order. Commands are made as they go and answers reduced as they come:
            tens of thousands of records held by the client would be walked by every full
            collection of Python's garbage collector, a cost of the bench, not the replicas."""
            nonlocal next_rid
            first_rid, answers, submitted = next_rid, {}, 0
            while len(answers) < count:
                # Fill the window: a client that was answered sends at once, not one chunk per
                # round (that capped the leader's intake at CHUNK commands per round of fsyncs).
                while submitted < count and submitted - len(answers) < CHUNKS_IN_FLIGHT_MAX * CHUNK:
                    chunk = [command(i) for i in range(submitted, min(count, submitted + CHUNK))]
                    group.submit(chunk, first_request_id=next_rid)
                    next_rid += len(chunk)
                    submitted += len(chunk)
                if not group.round() and submitted == count:
                    group.tick()  # nothing moves: let heartbeats carry the last commit
                for _, response in group.responses:
                    if response.request_id >= first_rid:
                        answers[response.request_id] = kept(response.record)
                group.responses.clear()
            return [answers[rid] for rid in sorted(answers)]

        def intent(record):
            return record.intent

        def job_keys(record):
            return record.value.job_keys if record.intent == JobBatchIntent.ACTIVATED else []

        begin = time.perf_counter()
        created = run(jobs, lambda _: create(job_type="bench"), intent)
        activations = run(
            -(-jobs // JOBS_PER_ACTIVATION),
            lambda _: activate(job_type="bench", max_jobs=JOBS_PER_ACTIVATION, timeout_ms=600_000),
            job_keys,
        )
        keys = [key for batch in activations for key in batch]
        completed = run(len(keys), lambda i: job_command(JobIntent.COMPLETE, keys[i]), intent)
        seconds = time.perf_counter() - begin
        done = completed.count(JobIntent.COMPLETED)
        assert created.count(JobIntent.CREATED) == jobs and len(keys) == jobs and done == jobs, (
            created.count(JobIntent.CREATED),
            len(keys),
            done,
        )
        group.tick(2)
        digests = {r.digest() for r in group.replicas.values()}
        # What a deposed leader pays (rare): its state rebuilt from Raft's snapshot and the
        # committed log after it. Timed on a follower (the same path).
        follower = next(r for r in group.replicas.values() if r is not leader)
        snapshot_position = follower.status()["snapshot"]["position"]
        begin = time.perf_counter()
        follower._rebuild()
        follower._processor.replay()
        rebuild_seconds = time.perf_counter() - begin
        assert follower.digest() == leader.digest()
        return {
            "jobs": jobs,
            "job_lifecycles_per_s": round(jobs / seconds),
            "lifecycle_seconds": round(seconds, 2),
            "records_per_lifecycle": round(leader.committed_position / jobs, 2),
            "replicas_agree": len(digests) == 1,
            "rebuild_ms": round(rebuild_seconds * 1000),
            "rebuild_replayed_positions": leader.committed_position - max(snapshot_position, 0),
        }
    finally:
        group.close()


def measure_promotion(seeds: int) -> dict:
    """Fault-free simulations in which the leader is killed under load a few times."""
    logging.disable(logging.WARNING)
    quiet = {f.name: 0.0 for f in SimOptions.__dataclass_fields__.values() if f.name.endswith("_p")}
    quiet["skew_p"] = 0.0
    options = SimOptions(
        **{**quiet, "restart_p": 0.05, "client_timeout_ms": 50, "clients_know_live_replicas": True}
    )
    ready_ms, first_ms = [], []
    for seed in range(seeds):
        sim = PartitionSimulator(seed, options)
        seen: set[tuple[int, int]] = set()  # (replica id, term) measured
        try:
            while sim.now < options.fault_ms:
                if sim.now in PROMOTION_KILLS and sim.leader() is not None:
                    sim._crash(sim.leader().replica_id, "killed by the benchmark")
                sim._step_ms(new_requests=True)
                for replica_id in sim.live():
                    replica = sim.hosts[replica_id].replica
                    key = (replica_id, replica.term)
                    if replica.leading_since_ms is not None and key not in seen:
                        seen.add(key)
                        ready_ms.append(replica.leading_since_ms - replica.promoted_at_ms)
        finally:
            sim.close()
        first_ms += sim.promotion_ms
    logging.disable(logging.NOTSET)
    return {
        "promotions_measured": len(ready_ms),
        "promotion_ready_ms_p50": statistics.median(ready_ms) if ready_ms else None,
        "promotion_ready_ms_max": max(ready_ms) if ready_ms else None,
        "promotion_first_command_ms_p50": statistics.median(first_ms) if first_ms else None,
        "promotion_first_command_ms_max": max(first_ms) if first_ms else None,
    }


def score_mutants(seeds: int, names: list[str] | None = None) -> dict:
    logging.disable(logging.WARNING)
    scores = {}
    for mutant in mutations.MUTANTS:
        if names and mutant.name not in names:
            continue
        score = mutations.score(mutant, range(seeds))
        scores[mutant.name] = {
            "bug": mutant.bug,
            "seeds": score.seeds,
            "caught": score.caught,
            "rate": round(score.rate, 4),
            "first_seed": score.first_seed,
            "caught_by": score.invariants,
        }
    logging.disable(logging.NOTSET)
    return {"mutants": scores}


def run(args: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="raybee bench replica")
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--seed-base", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--promotion-seeds", type=int, default=10)
    parser.add_argument("--dir", default=None, help="where the replicas live (default: /tmp)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--progress", action="store_true", help="a line per 100 seeds (stderr)")
    parser.add_argument("--mutants", action="store_true", help="catch rate of each planted bug")
    parser.add_argument("--mutant", action="append", help="with --mutants: only these")
    opts = parser.parse_args(args)
    if opts.mutants:
        figures = score_mutants(opts.seeds, opts.mutant)
        return figures
    figures = simulate(opts.seeds, opts.seed_base, progress=opts.progress) if opts.seeds else {}
    if opts.jobs:
        with tempfile.TemporaryDirectory(prefix="raybee-bench-replica-", dir=opts.dir) as root:
            figures.update(measure_lifecycles(opts.jobs, root))
    if opts.promotion_seeds:
        figures.update(measure_promotion(opts.promotion_seeds))
    return figures


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1:]), indent=2))
