"""Classic Raft bugs, planted one at a time, to measure what the simulator catches.

Each mutant is a small edit of the real source: the text `old` inside one function of the raft
package becomes `new`, the edited function is compiled in its module's namespace and patched
in for the duration of `planted(mutant)`. Because the edit is made on the current source, a
mutant that no longer applies (the code it edits has changed) raises `MutantStale` instead of
silently testing yesterday's code.

    python -m raybee.raft.mutations --seeds 2000          # catch rate of every mutant
    python -m raybee.raft.mutations --mutant vote_twice_in_term --seeds 200 --first
    RAYBEE_MUTANT=vote_twice_in_term python -m raybee.raft.testing SEED --trace

A mutant is caught on a seed when the simulation of that seed fails (a safety invariant, the
liveness phase, or an assertion inside raft). The target is every mutant caught on >= 1 % of
seeds.
"""

from __future__ import annotations
import __future__

import importlib
import inspect
import os
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

PACKAGE = __package__ or "raybee.raft"
CATCH_RATE_MIN = 0.01  # the target: every mutant caught on at least 1 % of seeds


class MutantStale(RuntimeError):
    """The source a mutant edits has changed: update the mutant."""


@dataclass(frozen=True)
class Edit:
    target: str  # "module:Qual.name" inside the raft package, e.g. "node:RaftNode.step"
    old: str  # must occur exactly once in the target's source
    new: str


@dataclass(frozen=True)
class Mutant:
    name: str
    bug: str  # the classic mistake, in one line
    edits: tuple[Edit, ...]


def _m(name: str, bug: str, *edits: tuple[str, str, str]) -> Mutant:
    return Mutant(name, bug, tuple(Edit(*e) for e in edits))


STEP = "node:RaftNode.step"
MUTANTS: tuple[Mutant, ...] = (
    _m(
        "commit_earlier_term_by_counting",
        "a leader commits an entry of an earlier term once a majority stores it (Raft §5.4.2)",
        (
            "node:RaftNode._maybe_commit",
            "if index > self._commit and self._log.term(index) == self._term:",
            "if index > self._commit:",
        ),
    ),
    _m(
        "accept_stale_term_appends",
        "a follower accepts appends from a leader of an older term",
        (
            STEP,
            "            if isinstance(msg, AppendRequest | Heartbeat | SnapshotChunk):\n"
            "                # A stale leader",
            "            if isinstance(msg, AppendRequest) and self._role != Role.LEADER:\n"
            "                pass\n"
            "            elif isinstance(msg, AppendRequest | Heartbeat | SnapshotChunk):\n"
            "                # A stale leader",
        ),
        (
            STEP,
            "            return\n        if isinstance(msg, VoteRequest):",
            "            if not (isinstance(msg, AppendRequest) and self._role != Role.LEADER):\n"
            "                return\n"
            "        if isinstance(msg, VoteRequest):",
        ),
    ),
    _m(
        "vote_twice_in_term",
        "a node grants its vote to a second candidate in the same term",
        (
            "node:RaftNode._handle_vote_request",
            "self._vote == m.frm\n            or (self._vote is None and self._lead is None)",
            "True",
        ),
    ),
    _m(
        "vote_for_less_up_to_date_log",
        "a node grants its vote without comparing logs (election restriction, Raft §5.4.1)",
        (
            "node:RaftNode._handle_vote_request",
            "granted = can_vote and self._log.is_up_to_date(m.last_index, m.last_term)",
            "granted = bool(can_vote)",
        ),
    ),
    _m(
        "up_to_date_by_length_only",
        "'at least as up-to-date' compares log lengths and ignores the last term",
        (
            "_private.log:RaftLog.is_up_to_date",
            "return last_term > ours or (last_term == ours and last_index >= self.last_index())",
            "return last_index >= self.last_index()",
        ),
    ),
    _m(
        "append_without_log_matching",
        "a follower appends after prev_index without checking the term there",
        (
            "node:RaftNode._handle_append",
            "if self._log.matches(prev_index, prev_term):",
            "if prev_index <= self._log.last_index():",
        ),
        (
            "node:RaftNode._handle_append",
            "prev_index, prev_term = self._commit, self._log.term(self._commit)\n"
            "            assert entries[skip - 1].term == prev_term, (entries[skip - 1], prev_term)",
            "prev_index, prev_term = self._commit, self._log.term(self._commit)",
        ),
    ),
    _m(
        "truncate_after_every_append",
        "a follower drops its log after an append's entries even when they all match",
        (
            "node:RaftNode._handle_append",
            "conflict = self._log.find_conflict(entries)\n            if conflict:",
            "conflict = entries[0].index if entries else 0\n            if conflict:",
        ),
    ),
    _m(
        "snapshot_drops_matching_suffix",
        "a follower installs a snapshot its log already holds, dropping the entries after it",
        (
            "node:RaftNode._restore",
            "if self._log.matches(meta.index, meta.term):",
            "if False:",
        ),
    ),
    _m(
        "persist_ready_hard_state_first",
        "the host writes term/vote/commit before the entries are appended and flushed",
        (
            ":persist_ready",
            "    if ready.snapshot is not None:",
            "    if ready.hard_state is not None:\n"
            "        storage.set_hard_state(ready.hard_state)\n"
            "    if ready.snapshot is not None:",
        ),
        (
            ":persist_ready",
            "    storage.flush()\n    if ready.hard_state is not None:\n",
            "    storage.flush()\n    if False:\n",
        ),
    ),
    _m(
        "persist_ready_without_flush",
        "the host sends messages promising entries it appended but never flushed",
        (":persist_ready", "    storage.flush()\n", ""),
    ),
    _m(
        "persist_ready_ignores_flush_error",
        "the host treats a failed fsync as done (and a retry as success)",
        (
            ":persist_ready",
            "    storage.flush()\n",
            "    try:\n        storage.flush()\n    except OSError:\n        pass\n",
        ),
    ),
    _m(
        "conf_change_not_gated",
        "a leader proposes a membership change before the previous one has committed",
        (
            "node:RaftNode.propose_conf_change",
            "if self._commit < self._pending_conf_index:",
            "if False:",
        ),
    ),
    _m(
        "conf_change_before_own_term_commit",
        "a new leader changes membership before an entry of its own term has committed",
        (
            "node:RaftNode._become_leader",
            "self._pending_conf_index = noop.index",
            "self._pending_conf_index = 0",
        ),
    ),
    _m(
        "leader_ignores_higher_term",
        "a leader that hears of a higher term in a response keeps leading",
        (
            STEP,
            "        if msg.term > self._term:\n",
            "        if msg.term > self._term and self._role == Role.LEADER and isinstance(\n"
            "            msg, AppendResponse | HeartbeatResponse | SnapshotResponse | VoteResponse\n"
            "        ):\n"
            "            return\n"
            "        if msg.term > self._term:\n",
        ),
    ),
    _m(
        "commit_index_goes_backwards",
        "a follower takes the commit index it is sent even when it is lower than its own",
        (
            "node:RaftNode._commit_to",
            "if index > self._commit:",
            "if index != self._commit:",
        ),
        (
            "node:RaftNode.advance",
            "        assert self._applied <= self._commit, (self._applied, self._commit)\n",
            "",
        ),
    ),
    _m(
        "pre_vote_changes_term",
        "a node that answers a pre-vote adopts the pre-candidate's (hypothetical) term",
        (
            STEP,
            "            if isinstance(msg, VoteRequest) and msg.pre_vote:\n"
            "                pass  # a pre-vote never changes our term\n"
            "            elif",
            "            if",
        ),
    ),
    _m(
        "check_quorum_disabled",
        "a leader cut off from a quorum never steps down",
        (
            "node:RaftNode._tick_heartbeat",
            "if not quorum.has_quorum(self._conf.voters, active):",
            "if False:",
        ),
    ),
    _m(
        "new_leader_overwrites_own_log",
        "a new leader appends its first entry after its commit index, dropping its own tail",
        (
            "node:RaftNode._become_leader",
            "noop = Entry(last + 1, self._term, EntryKind.NOOP, None)",
            "noop = Entry(self._commit + 1, self._term, EntryKind.NOOP, None)",
        ),
    ),
    _m(
        "heartbeat_commit_past_match",
        "a leader's heartbeat carries its commit index even past what the follower matches",
        (
            "node:RaftNode._tick_heartbeat",
            "Heartbeat(self.id, peer, self._term, min(pr.match, self._commit))",
            "Heartbeat(self.id, peer, self._term, self._commit)",
        ),
    ),
    _m(
        "leader_counts_unpersisted_entries",
        "a leader counts its own entries toward a quorum before they are on its disk",
        (
            "node:RaftNode._maybe_commit",
            "matches[self.id] = self._self_match",
            "matches[self.id] = self._log.last_index()",
        ),
    ),
    _m(
        "count_old_term_vote_responses",
        "a candidate counts vote grants that answer an election of an older term",
        (
            STEP,
            "            return\n        if isinstance(msg, VoteRequest):",
            "            if not isinstance(msg, VoteResponse):\n"
            "                return\n"
            "        if isinstance(msg, VoteRequest):",
        ),
    ),
    _m(
        "next_index_not_backed_off",
        "a leader whose append is rejected retries from the same place instead of backing off",
        (
            "node:RaftNode._handle_append_response",
            "        pr.next = max(pr.match + 1, min(m.reject_hint + 1, m.index))\n",
            "",
        ),
    ),
    _m(
        "new_leader_without_noop",
        "a new leader appends no entry of its own term, so it cannot learn what is committed",
        ("node:RaftNode._become_leader", "        self._append([noop])\n", ""),
    ),
    _m(
        "pre_votes_count_in_election",
        "a candidate counts (late) pre-vote grants as votes of the real election",
        (
            "node:RaftNode._step_candidate",
            "if msg.pre_vote != (self._role == Role.PRE_CANDIDATE):",
            "if False:",
        ),
    ),
    _m(
        "vote_not_persisted",
        "the vote is left out of the hard state the host persists",
        (
            "node:RaftNode.hard_state",
            "return HardState(self._term, self._vote, self._commit)",
            "return HardState(self._term, None, self._commit)",
        ),
    ),
    _m(
        "learners_count_toward_commit",
        "a leader counts learners' acknowledgements toward the commit quorum",
        (
            "node:RaftNode._maybe_commit",
            "index = quorum.committed_index(self._conf.voters, matches)",
            "index = quorum.committed_index(self._conf.members, matches)",
        ),
    ),
    _m(
        "learner_campaigns",
        "a learner (non-voter) starts elections and can lead",
        ("node:RaftNode._promotable", "return self.id in self._conf.voters", "return True"),
    ),
    _m(
        "majority_off_by_one",
        "a majority of n voters is taken as n // 2",
        ("quorum:majority", "return voter_count // 2 + 1", "return max(1, voter_count // 2)"),
    ),
    _m(
        "apply_uncommitted_entries",
        "the host is handed entries to apply that are not committed yet",
        (
            "node:RaftNode.ready",
            "if self._commit >= lo:\n            committed = tuple(\n"
            "                self._log.entries(lo, self._commit + 1,",
            "if self._log.last_index() >= lo:\n            committed = tuple(\n"
            "                self._log.entries(lo, self._log.last_index() + 1,",
        ),
        (
            "node:RaftNode.advance",
            "        assert self._applied <= self._commit, (self._applied, self._commit)\n",
            "",
        ),
    ),
    _m(
        "snapshot_done_on_any_chunk_reply",
        "a leader counts a follower as holding a snapshot after any chunk is acknowledged",
        (
            "node:RaftNode._handle_snapshot_response",
            "        if m.done:\n",
            "        if m.done or m.snapshot_index == pr.snapshot_index:\n",
        ),
    ),
    _m(
        "append_prev_term_is_leaders_term",
        "a leader sends its own term as the term of the entry before the append",
        (
            "node:RaftNode._send_append",
            "AppendRequest(self.id, peer, self._term, prev, prev_term, tuple(entries), self._commit)",
            "AppendRequest(self.id, peer, self._term, prev, self._term, tuple(entries), self._commit)",
        ),
    ),
)
# Bugs that cannot (or all but cannot) change what this node does, kept to say why they are not
# in MUTANTS; `--equivalent` runs them.
# - The first two matter only if a follower holds a divergent tail beyond an append that
#   matched. This leader probes from its own last entry and the reject hint walks back to the
#   last entry of a term <= prev_term, so the first append that matches starts at the
#   divergence and truncates it. (With probing that skips whole terms they would be live.)
# - The third removes a guard that the "log already holds the snapshot" shortcut in _restore
#   covers, except for a complete late copy of an old transfer reaching a follower that has
#   compacted past it.
EQUIVALENT_MUTANTS: tuple[Mutant, ...] = (
    _m(
        "stale_snapshot_installed",
        "a follower installs a snapshot older than its commit index over its newer log",
        (
            "node:RaftNode._handle_snapshot_chunk",
            "if meta.index <= self._commit:",
            "if False:",
        ),
        ("node:RaftNode._restore", "        assert meta.index > self._commit\n", ""),
    ),
    _m(
        "follower_commits_past_verified_entries",
        "a follower commits up to the leader's commit index even past the entries it verified",
        (
            "node:RaftNode._handle_append",
            "self._commit_to(min(m.commit, last_new))",
            "self._commit_to(min(m.commit, self._log.last_index()))",
        ),
    ),
    _m(
        "ack_reports_whole_log",
        "a follower acknowledges its whole log instead of the entries it just verified",
        (
            "node:RaftNode._handle_append",
            "self._send(AppendResponse(self.id, m.frm, self._term, True, last_new))",
            "self._send(AppendResponse(self.id, m.frm, self._term, True, self._log.last_index()))",
        ),
    ),
)
MUTANTS_BY_NAME = {m.name: m for m in MUTANTS + EQUIVALENT_MUTANTS}
assert len(MUTANTS_BY_NAME) == len(MUTANTS) + len(EQUIVALENT_MUTANTS), "names must be unique"


# ---------------------------------------------------------------------- planting


def _resolve(target: str) -> tuple[object, str, object, object]:
    """(owner to patch, attribute, the function whose source is edited, its module)."""
    module_name, _, qualname = target.partition(":")
    module = importlib.import_module(f"{PACKAGE}.{module_name}" if module_name else PACKAGE)
    owner: object = module
    parts = qualname.split(".")
    for part in parts[:-1]:
        owner = getattr(owner, part)
    attr = parts[-1]
    current = vars(owner)[attr] if isinstance(owner, type) else getattr(owner, attr)
    func = current.fget if isinstance(current, property) else current
    return owner, attr, func, module


def _mutated(mutant: Mutant) -> list[tuple[object, str, object]]:
    """Compile the edited functions; one patch per target, its edits applied in order.

    Edits are made on the source exactly as it stands in the file (indentation included),
    then the function is dedented and compiled in a copy of its module's namespace."""
    by_target: dict[str, list[Edit]] = {}
    for edit in mutant.edits:
        by_target.setdefault(edit.target, []).append(edit)
    patches = []
    for target, edits in by_target.items():
        owner, attr, func, module = _resolve(target)
        source = inspect.getsource(func)
        for edit in edits:
            count = source.count(edit.old)
            if count != 1:
                raise MutantStale(
                    f"mutant {mutant.name}: the text to edit occurs {count} times in {target} "
                    f"(expected once); raft changed, update the mutant:\n{edit.old}"
                )
            source = source.replace(edit.old, edit.new)
        namespace = dict(vars(module))
        code = compile(
            textwrap.dedent(source),
            f"<mutant {mutant.name}: {target}>",
            "exec",
            flags=__future__.annotations.compiler_flag,
            dont_inherit=True,
        )
        exec(code, namespace)
        patches.append((owner, attr, namespace[func.__name__]))
    return patches


@contextmanager
def planted(mutant: Mutant) -> Iterator[None]:
    """Patch the mutant in; the original code is back when the block ends."""
    patches = _mutated(mutant)
    saved = []
    for owner, attr, replacement in patches:
        saved.append((owner, attr, vars(owner)[attr]))
        setattr(owner, attr, replacement)
    try:
        yield
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)


@contextmanager
def planted_from_env() -> Iterator[Mutant | None]:
    """Plant the mutant named by RAYBEE_MUTANT (for replaying a caught seed), if any."""
    name = os.environ.get("RAYBEE_MUTANT")
    if not name:
        yield None
        return
    if name not in MUTANTS_BY_NAME:
        raise SystemExit(
            f"RAYBEE_MUTANT={name!r}: unknown mutant; known: {sorted(MUTANTS_BY_NAME)}"
        )
    mutant = MUTANTS_BY_NAME[name]
    with planted(mutant):
        yield mutant


# ---------------------------------------------------------------------- measuring


@dataclass
class MutantScore:
    name: str
    seeds: int = 0
    caught: int = 0
    first_seed: int | None = None
    invariants: dict[str, int] = field(default_factory=dict)  # what caught it, how often
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.caught / self.seeds if self.seeds else 0.0


def score(mutant: Mutant, seeds: range, first_only: bool = False) -> MutantScore:
    """Run every seed with the mutant planted; count the seeds whose simulation fails."""
    from .testing import SimulationFailure, run_simulation

    result = MutantScore(mutant.name)
    start = time.perf_counter()
    with planted(mutant):
        for seed in seeds:
            result.seeds += 1
            try:
                run_simulation(seed)
            except SimulationFailure as failure:
                result.caught += 1
                if result.first_seed is None:
                    result.first_seed = seed
                kind = getattr(failure, "invariant", "failure")
                result.invariants[kind] = result.invariants.get(kind, 0) + 1
                if first_only:
                    break
    result.seconds = time.perf_counter() - start
    return result


def table(scores: list[MutantScore]) -> str:
    lines = [f"{'mutant':42} {'seeds':>6} {'caught':>7} {'rate':>7}  first  caught by (seeds)"]
    for s in scores:
        by = ", ".join(f"{k} {v}" for k, v in sorted(s.invariants.items(), key=lambda kv: -kv[1]))
        mark = "" if s.rate >= CATCH_RATE_MIN else "  <-- below 1 %"
        lines.append(
            f"{s.name:42} {s.seeds:6d} {s.caught:7d} {s.rate:7.1%}  "
            f"{s.first_seed if s.first_seed is not None else '-':>5}  {by}{mark}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m raybee.raft.mutations")
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--seed-base", type=int, default=0)
    parser.add_argument("--mutant", action="append", help="only these (repeatable)")
    parser.add_argument("--first", action="store_true", help="stop each mutant at its first catch")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument(
        "--equivalent", action="store_true", help="run the mutants that cannot change behaviour"
    )
    opts = parser.parse_args(argv)
    if opts.list:
        for m in MUTANTS:
            print(f"{m.name:42} {m.bug}")
        return 0
    names = opts.mutant or [m.name for m in (EQUIVALENT_MUTANTS if opts.equivalent else MUTANTS)]
    unknown = [n for n in names if n not in MUTANTS_BY_NAME]
    if unknown:
        parser.error(f"unknown mutants {unknown}; --list shows them")
    seeds = range(opts.seed_base, opts.seed_base + opts.seeds)
    scores = []
    for name in names:
        s = score(MUTANTS_BY_NAME[name], seeds, first_only=opts.first)
        scores.append(s)
        if not opts.json:
            print(table([s]).splitlines()[1], flush=True)
    if opts.json:
        print(json.dumps([vars(s) | {"rate": round(s.rate, 4)} for s in scores], indent=2))
    else:
        print(table(scores))
    return 0 if all(s.rate >= CATCH_RATE_MIN for s in scores) else 1


if __name__ == "__main__":
    raise SystemExit(main())
