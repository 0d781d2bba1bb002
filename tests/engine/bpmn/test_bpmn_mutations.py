"""The BPMN layer's fast checks catch known bugs: each mutant plants one (a patched behaviour,
processor, applier or store method) and the seeded BPMN workload's checks
(`check_bpmn_workload`, see bpmn_workload.py) must fail in the checks named beside it; without a
mutant they pass. A mutant the checks let through is a hole in the tests: add a check.

| mutant                                             | caught by (seed 1)             |
|----------------------------------------------------|--------------------------------|
| parallel join fires on its first token             | log                            |
| inclusive join ignores tokens that can still come  | log                            |
| output mappings land on the element, not its scope | log                            |
| termination leaves the job of a task open          | log                            |
| identical deployment gets a new version            | log                            |
| variable applier ignores the scope (all on root)   | log                            |
| a scope completes while children are active        | log, state, errors             |
| termination does not reach the children            | log, state, errors             |
| multi-instance body completes on its first inner   | log, state, errors             |
| resolving an element incident does not retry       | log                            |
| TERMINATED applier forgets to uncount the child    | state                          |
| a job is activated without its element's variables | log                            |
| a completed instance's awaiting request unanswered | log                            |
| replay only: SEQUENCE_FLOW_TAKEN not applied       | follower in step               |
"""

import os

import pytest

from raybee.partitions.engine.appliers import APPLIERS
from raybee.partitions.engine.bpmn_behaviors import executor, jobs, termination
from raybee.partitions.engine.bpmn_behaviors.variables import evaluate_mappings, set_local
from raybee.partitions.engine.engine import Replay
from raybee.partitions.engine.processors import deployment, job_batch
from raybee.partitions.engine.processors import incident as incident_processor
from raybee.partitions.protocol import ProcessInstanceIntent, ValueType, VariableIntent

# Seeds 1 to 10 each catch every mutant in the checks named (RAYBEE_SEEDS=1,...,10 to see it).
SEEDS = [int(s) for s in os.environ.get("RAYBEE_SEEDS", "1").split(",")]
STEPS = 300
LOG, STATE = "log", "state"
FOLLOWER = "follower in step"
PI = ValueType.PROCESS_INSTANCE


def early_parallel_join(monkeypatch):
    def fire(self, scope_key, gateway_id):
        scope = self.instances.get(scope_key)
        if scope is None or (scope_key, gateway_id) in self._joins_queued:
            return
        if any(scope.joins.get(gateway_id, {}).values()):  # one token is enough (the bug)
            self._queue_join(scope_key, gateway_id)

    monkeypatch.setattr(executor.Executor, "_fire_parallel_join", fire)


def eager_inclusive_join(monkeypatch):
    monkeypatch.setattr(executor.Executor, "_can_still_arrive", lambda *args: False)


def outputs_on_the_element(monkeypatch):
    def map_outputs(self, key, scope_key, process, node):
        set_local(self, key, evaluate_mappings(self, process, node.io_mapping.outputs, key, "o"))

    monkeypatch.setattr(executor.Executor, "map_outputs", map_outputs)


def termination_keeps_jobs(monkeypatch):
    monkeypatch.setattr(
        termination, "CLOSERS", [c for c in termination.CLOSERS if c is not jobs.cancel_job]
    )
    monkeypatch.setattr(executor, "CLOSERS", termination.CLOSERS)


def identical_deployment_is_new_version(monkeypatch):
    monkeypatch.setattr(deployment, "_same_resource", lambda *args: False)


def variables_all_on_the_root(monkeypatch):
    def variable_set(state, record):
        variable = record.value
        scope = variable.process_instance_key
        state.variables.set(scope, variable.name, record.key, variable.value)

    for intent in (VariableIntent.CREATED, VariableIntent.UPDATED):
        monkeypatch.setitem(APPLIERS, (ValueType.VARIABLE, intent, 1), variable_set)


def scope_completes_with_children(monkeypatch):
    def check_scope(self, scope_key):
        scope = self.instances.get(scope_key)
        if (
            scope is not None
            and scope.state.value == "ACTIVATED"
            and not self.pending(scope_key)
            and scope.value.bpmn_element_type != "MULTI_INSTANCE_BODY"
        ):
            self.complete(scope_key)  # without looking at its active children (the bug)

    monkeypatch.setattr(executor.Executor, "_check_scope", check_scope)


def termination_skips_children(monkeypatch):
    original = executor.Executor.terminate

    def terminate(self, key):
        children = self.instances.children
        self.instances.children = lambda scope_key: []
        try:
            return original(self, key)
        finally:
            self.instances.children = children

    monkeypatch.setattr(executor.Executor, "terminate", terminate)


def body_completes_on_first_inner(monkeypatch):
    def inner_completed(executor_, body_key):
        body = executor_.instances.get(body_key)
        if body is not None and body.state.value == "ACTIVATED":
            executor_.complete(body_key)

    monkeypatch.setattr(executor, "inner_completed", inner_completed)


def resolve_does_not_retry(monkeypatch):
    monkeypatch.setattr(incident_processor, "retry_step", lambda ctx, incident: None)


def terminated_child_stays_counted(monkeypatch):
    def ended(state, record):
        state.variables.remove_scope(record.key)
        state.element_instances.remove(record.key)

    for version in (1, 2):
        monkeypatch.setitem(
            APPLIERS, (PI, ProcessInstanceIntent.ELEMENT_TERMINATED, version), ended
        )


def activation_without_element_variables(monkeypatch):
    monkeypatch.setattr(job_batch, "job_variables", lambda state, job: job.variables)


def awaiting_request_unanswered(monkeypatch):
    original = executor.process_completed

    def process_completed(executor_, key, entry, variables, awaiting):
        original(executor_, key, entry, variables, None)

    monkeypatch.setattr(executor, "process_completed", process_completed)


def sequence_flow_not_counted_on_replay(monkeypatch):
    """A replica that skips SEQUENCE_FLOW_TAKEN (its applier counts tokens at joins)."""
    apply = Replay.apply

    def replay_apply(self, record):
        if record.value_type == PI and record.intent == ProcessInstanceIntent.SEQUENCE_FLOW_TAKEN:
            return
        apply(self, record)

    monkeypatch.setattr(Replay, "apply", replay_apply)


MUTANTS = {
    early_parallel_join: {LOG},
    eager_inclusive_join: {LOG},
    outputs_on_the_element: {LOG},
    termination_keeps_jobs: {LOG},
    identical_deployment_is_new_version: {LOG},
    variables_all_on_the_root: {LOG},
    scope_completes_with_children: {LOG, STATE},
    termination_skips_children: {LOG, STATE},
    body_completes_on_first_inner: {LOG, STATE},
    resolve_does_not_retry: {LOG},
    terminated_child_stays_counted: {STATE},
    activation_without_element_variables: {LOG},
    awaiting_request_unanswered: {LOG},
    sequence_flow_not_counted_on_replay: {FOLLOWER},
}


@pytest.mark.parametrize("seed", SEEDS)
def test_without_a_mutant_every_check_passes(tmp_path, seed, bpmn_workload):
    report = bpmn_workload.check_bpmn_workload(seed, STEPS, tmp_path / "snapshot")
    assert not report.failed, report.summary()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mutant", list(MUTANTS), ids=lambda m: m.__name__)
def test_the_checks_catch_the_mutant(tmp_path, monkeypatch, seed, mutant, bpmn_workload):
    mutant(monkeypatch)
    report = bpmn_workload.check_bpmn_workload(seed, STEPS, tmp_path / "snapshot")
    print(report.summary())
    missed = MUTANTS[mutant] - set(report.failed)
    assert not missed, f"{mutant.__name__} got past {sorted(missed)}: {report.summary()}"
