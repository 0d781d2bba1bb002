"""Bugs in the composition, planted one at a time, that the partition simulator must catch.

Each mutant is a small edit of the real source (as in `raft/mutations.py`): the text `old`
inside one function becomes `new`, the edited function is compiled in its module's namespace
and patched in for the duration of `planted(mutant)`. An edit whose text is gone raises
`MutantStale`, so a mutant never silently tests yesterday's code.

    python -m raybee.partitions.simulation.mutations --seeds 40
    RAYBEE_MUTANT=respond_before_commit python -m raybee.partitions.simulation SEED --trace
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

REPLICA = "raybee.partitions.replica.replica:PartitionReplica"
VIEW = "raybee.partitions.replica.log_view:RaftLogView"
PROCESSOR = "raybee.partitions.stream_processor:StreamProcessor"


class MutantStale(RuntimeError):
    """The source a mutant edits has changed: update the mutant."""


@dataclass(frozen=True)
class Edit:
    target: str  # "module:Qual.name", e.g. REPLICA + "._release"
    old: str  # must occur exactly once in the target's source
    new: str


@dataclass(frozen=True)
class Mutant:
    name: str
    bug: str
    edits: tuple[Edit, ...]


def _m(name: str, bug: str, *edits: tuple[str, str, str]) -> Mutant:
    return Mutant(name, bug, tuple(Edit(*e) for e in edits))


MUTANTS: tuple[Mutant, ...] = (
    _m(
        "respond_before_commit",
        "a leader hands out a batch's answers before the entry holding its records commits",
        (
            REPLICA + "._release",
            "while self._pending and self._pending[0].index <= committed:",
            "while self._pending:",
        ),
    ),
    _m(
        "follower_processes_commands",
        "a follower runs the processors on committed commands (and then replays the leader's "
        "events too)",
        (
            VIEW + "._append",
            "        if node is None or not self._leading:\n",
            "        if node is None or not self._leading:\n"
            "            self._last_position = records[-1].position\n"
            "            return\n"
            "        if False:\n",
        ),
        (
            REPLICA + "._process_or_replay",
            "            self._processor.replay(transactions_max=1)\n            return True",
            "            self._processor.replay(transactions_max=1)\n"
            "            self._processor.become_leader()\n"
            "            self._processor.process_all()\n"
            "            return True",
        ),
    ),
    _m(
        "replay_skips_a_record",
        "replay skips an event now and then (an off-by-one in its cursor)",
        (
            PROCESSOR + "._replay_some",
            "                        if record.is_event:\n",
            "                        if record.is_event and record.position % 23 != 0:\n",
        ),
    ),
    _m(
        "promoted_follower_reuses_keys",
        "a new leader processes before replaying the entries its log held when it won",
        (
            REPLICA + "._can_process",
            "            return self._view.committed_index >= self._promotion_index",
            "            return True",
        ),
    ),
    _m(
        "no_request_id_window",
        "retries are processed again (no window of processed request ids)",
        (REPLICA + "._new_processor", "request_ids=window,", "request_ids=None,"),
    ),
    _m(
        "demotion_keeps_uncommitted_state",
        "a deposed leader keeps the effects of batches that never committed",
        (
            REPLICA + "._demote",
            "            if ahead or self._processor.halted is not None:",
            "            if False:",
        ),
    ),
    _m(
        "snapshot_ahead_of_commit",
        "a leader snapshots a state that holds uncommitted batches",
        (
            REPLICA + ".snapshot_now",
            "        if self._mode == LEADER and self._last_batch_index > self._view.committed_index:\n"
            "            return False\n",
            "",
        ),
        (
            REPLICA + "._maybe_snapshot",
            "        if self._mode == LEADER and self._last_batch_index > self._view.committed_index:",
            "        if False:",
        ),
    ),
)
MUTANTS_BY_NAME = {m.name: m for m in MUTANTS}
assert len(MUTANTS_BY_NAME) == len(MUTANTS), "names must be unique"


def _resolve(target: str):
    module_name, _, qualname = target.partition(":")
    module = importlib.import_module(module_name)
    owner = module
    parts = qualname.split(".")
    for part in parts[:-1]:
        owner = getattr(owner, part)
    return owner, parts[-1], vars(owner)[parts[-1]], module


def _mutated(mutant: Mutant) -> list[tuple[object, str, object]]:
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
                    f"(expected once); the code changed, update the mutant:\n{edit.old}"
                )
            source = source.replace(edit.old, edit.new)
        namespace = dict(vars(module))
        exec(
            compile(textwrap.dedent(source), f"<mutant {mutant.name}: {target}>", "exec"), namespace
        )
        patches.append((owner, attr, namespace[func.__name__]))
    return patches


def _aliases(original: object, owner: object, attr: str) -> list[tuple[dict, str]]:
    """The names under which loaded modules hold `original` besides `owner.attr`: a function
    another module took with `from m import f` before the mutant was planted still calls the
    original code unless its name there is patched too."""
    found = []
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for name, value in list(namespace.items()):
            if value is original and not (namespace is vars(owner) and name == attr):
                found.append((namespace, name))
    return found


@contextmanager
def planted(mutant: Mutant) -> Iterator[None]:
    """Patch the mutant in (and every module-level name of the original function, see
    `_aliases`); the original code is back when the block ends."""
    patches = _mutated(mutant)
    saved = []
    renamed = []
    for owner, attr, replacement in patches:
        original = vars(owner)[attr]
        saved.append((owner, attr, original))
        for namespace, name in _aliases(original, owner, attr):
            renamed.append((namespace, name, original))
            namespace[name] = replacement
        setattr(owner, attr, replacement)
    try:
        yield
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)
        for namespace, name, original in reversed(renamed):
            namespace[name] = original


@contextmanager
def planted_from_env() -> Iterator[Mutant | None]:
    """Plant the mutant named by RAYBEE_MUTANT (to replay a caught seed), if any."""
    name = os.environ.get("RAYBEE_MUTANT")
    if not name:
        yield None
        return
    if name not in MUTANTS_BY_NAME:
        raise SystemExit(f"RAYBEE_MUTANT={name!r}: unknown; known: {sorted(MUTANTS_BY_NAME)}")
    with planted(MUTANTS_BY_NAME[name]):
        yield MUTANTS_BY_NAME[name]


@dataclass
class MutantScore:
    name: str
    seeds: int = 0
    caught: int = 0
    first_seed: int | None = None
    invariants: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.caught / self.seeds if self.seeds else 0.0


def score(mutant: Mutant, seeds: range, first_only: bool = False, options=None) -> MutantScore:
    """Run every seed with the mutant planted; count the seeds whose simulation fails."""
    from .simulator import SimulationFailure, run_simulation

    result = MutantScore(mutant.name)
    start = time.perf_counter()
    with planted(mutant):
        for seed in seeds:
            result.seeds += 1
            try:
                run_simulation(seed, options)
            except SimulationFailure as failure:
                result.caught += 1
                if result.first_seed is None:
                    result.first_seed = seed
                result.invariants[failure.invariant] = (
                    result.invariants.get(failure.invariant, 0) + 1
                )
                if first_only:
                    break
    result.seconds = time.perf_counter() - start
    return result


def main(argv: list[str] | None = None) -> int:
    import argparse
    import logging

    logging.disable(logging.WARNING)
    parser = argparse.ArgumentParser(prog="python -m raybee.partitions.simulation.mutations")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--mutant", action="append")
    parser.add_argument("--first", action="store_true")
    opts = parser.parse_args(argv)
    names = opts.mutant or [m.name for m in MUTANTS]
    for name in names:
        s = score(MUTANTS_BY_NAME[name], range(opts.seeds), first_only=opts.first)
        by = ", ".join(f"{k} {v}" for k, v in sorted(s.invariants.items(), key=lambda kv: -kv[1]))
        print(
            f"{s.name:36} caught {s.caught:4d}/{s.seeds:<4d} ({s.rate:6.1%}) first "
            f"{s.first_seed}  {s.seconds:6.1f}s  by: {by}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
