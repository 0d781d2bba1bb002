"""The mutation check of a layer's fast tests: plant a known bug, run the tests that should
catch it, expect a failure.

A layer's check (`tests/cluster/test_actor_mutations.py`, `tests/gateway/...`,
`tests/journal/...`, `tests/state/...`) lists `CHECKS`: each a mutant - a one-line classic
mistake, planted as an edit of the real source by `partitions/simulation/mutations.py`
(`Edit`, `Mutant`, `planted`; the same machinery the partition simulator's mutants use) - and
the pytest arguments (test files, or tests) that exercise the code it breaks. `run_under` runs
`python -m pytest -x` on them in a fresh interpreter with `RAYBEE_TEST_MUTANT=<file>::<name>`;
tests/conftest.py plants that mutant in `pytest_configure`, before any test module
is imported, and the run must fail in a test. A mutant the tests let through is a hole in the
tests: add the test that catches it, never weaken the mutant.

    RAYBEE_TEST_MUTANT=tests/cluster/test_actor_mutations.py::leaders_not_spread \\
        .venv/bin/python -m pytest -q tests/cluster/test_placement.py    # see it caught

tests/conftest.py loads this file by path (test directories are not packages) under one
module name; the hook and the layers' checks share that copy (`sys.modules`).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from raybee.partitions.simulation.mutations import Edit, Mutant, planted

ENV = "RAYBEE_TEST_MUTANT"
ROOT = Path(__file__).resolve().parents[1]
PLANTED_LINE = "raybee mutant planted: "
# A mutant that makes a test hang (a wait that never ends) fails that test after this long.
TEST_TIMEOUT_S = 30
RUN_TIMEOUT_S = 300
_SUMMARY = re.compile(r"^(FAILED|ERROR) (\S+)", re.MULTILINE)


@dataclass(frozen=True)
class Check:
    mutant: Mutant
    tests: tuple[str, ...]  # pytest arguments, relative to the repository root

    @property
    def name(self) -> str:
        return self.mutant.name


def check(name: str, bug: str, tests: tuple[str, ...], *edits: tuple[str, str, str]) -> Check:
    """A check of the mutant `name` (edits as (target, old, new)) against `tests`."""
    return Check(Mutant(name, bug, tuple(Edit(*e) for e in edits)), tests)


@dataclass
class Run:
    caught_by: list[str]  # "FAILED tests/...::test_x" (pytest -x: the first failure)
    returncode: int
    seconds: float
    output: str


def _checks_in(path: Path) -> dict[str, Check]:
    spec = importlib.util.spec_from_file_location(f"raybee_tests_mutants_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    checks = {check.name: check for check in module.CHECKS}
    assert len(checks) == len(module.CHECKS), f"mutant names repeat in {path}"
    return checks


class _Planted:
    """A pytest plugin that says, at the end of the run, which mutant was planted (so the
    check knows the run tested the mutant, not an unchanged tree)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def pytest_terminal_summary(self, terminalreporter) -> None:
        terminalreporter.write_line(PLANTED_LINE + self.name)


# The planted mutant's context, kept referenced: a collected generator context would close
# and put the original code back.
_planted_here: list = []


def plant_from_env(config) -> None:
    """For the conftest's pytest_configure: plant the mutant RAYBEE_TEST_MUTANT names (once
    per process, for the whole run). Without the variable, nothing happens."""
    reference = os.environ.get(ENV)
    if not reference or _planted_here:
        return
    path, _, name = reference.rpartition("::")
    checks = _checks_in(ROOT / path)
    if name not in checks:
        raise SystemExit(f"{ENV}={reference!r}: unknown mutant; known: {sorted(checks)}")
    context = planted(checks[name].mutant)
    context.__enter__()  # for the life of this process: it runs only the check's tests
    _planted_here.append(context)
    config.pluginmanager.register(_Planted(name), "raybee-mutant")


def run_under(check: Check, defined_in: str) -> Run:
    """Run the check's tests with its mutant planted, in a fresh interpreter."""
    with planted(check.mutant):  # a stale mutant (its code changed) fails here, clearly
        pass
    reference = f"{Path(defined_in).resolve().relative_to(ROOT)}::{check.name}"
    env = dict(os.environ, **{ENV: reference})
    command = [
        sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-rfE",
        "-o", f"timeout={TEST_TIMEOUT_S}", *check.tests,
    ]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    output = done.stdout + done.stderr
    caught = [f"{kind} {test}" for kind, test in _SUMMARY.findall(done.stdout)]
    return Run(caught, done.returncode, time.monotonic() - started, output)


def expect_caught(check: Check, defined_in: str) -> Run:
    """The check's test body: the mutant must make a test fail (not the run break)."""
    run = run_under(check, defined_in)
    tail = run.output[-3000:]
    assert PLANTED_LINE + check.name in run.output, f"{check.name} was not planted:\n{tail}"
    assert run.returncode == 1 and run.caught_by, (
        f"{check.name} ({check.mutant.bug}) survived {' '.join(check.tests)}: a hole in the "
        f"tests - add the test that catches it (exit code {run.returncode}):\n{tail}"
    )
    print(f"{check.name}: caught in {run.seconds:.1f} s by {', '.join(run.caught_by)}")
    return run
