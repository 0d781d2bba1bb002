"""The event workload's checks catch known bugs of messages, timers, boundary events, errors and
distribution: each mutant plants one (a patched behaviour, applier, store or due work) and
`check_event_workload` (event_workload.py) must fail in the checks named beside it; without a
mutant they pass (test_event_replay.py). A mutant the checks let through is a hole: add a check.
Seeds 1 to 10 (RAYBEE_SEEDS=1,...,10) catch every mutant, except that seed 2 lets the first one
through (no correlation was delivered twice in its run).

| mutant                                              | caught by (seed 1)                 |
|-----------------------------------------------------|------------------------------------|
| a repeated delivery is processed again              | log                                |
| a message goes to every subscription of a process   | log                                |
| an expired message is still correlated              | log                                |
| a timer is not cancelled with its element           | log, settled                       |
| a subscription stays open when its element leaves   | log, settled                       |
| a lost send is never sent again                     | settled                            |
| an error is caught by a catch event of another code | log                                |
| a non-interrupting boundary event interrupts        | log                                |
| a message start key is never released               | settled                            |
| replay only: TIMER CREATED not applied              | replay from scratch, from snapshot |
"""

import os

import pytest

from raybee.partitions.engine import distribution
from raybee.partitions.engine.appliers import APPLIERS
from raybee.partitions.engine.appliers import process_instance as process_instance_appliers
from raybee.partitions.engine.bpmn_behaviors import errors, events, messages, subscriptions, timers
from raybee.partitions.engine.engine import Replay
from raybee.partitions.engine.stores.distribution import DistributionStore
from raybee.partitions.protocol import (
    ProcessInstanceIntent,
    ProcessMessageSubscriptionIntent,
    TimerIntent,
    ValueType,
)

from .test_event_replay import STEPS, load_event_workload

SEEDS = [int(s) for s in os.environ.get("RAYBEE_SEEDS", "1").split(",")]
LOG, SETTLED = "log", "settled"
SCRATCH, SNAPSHOT = "replay from scratch", "replay from snapshot"


def repeated_delivery_processed_again(monkeypatch):
    """Receivers keep no receipts, and a subscription forgets the last message it took: a
    repeated delivery of a correlation is taken again."""
    monkeypatch.setattr(DistributionStore, "remember", lambda self, send_key, receipt: None)

    def correlated(state, record):
        value = record.value
        if value.interrupting:
            state.subscriptions.remove(value.element_instance_key, value.message_name)

    pms = (ValueType.PROCESS_MESSAGE_SUBSCRIPTION, ProcessMessageSubscriptionIntent.CORRELATED, 1)
    monkeypatch.setitem(APPLIERS, pms, correlated)


def message_to_every_subscription(monkeypatch):
    def correlate_to_subscriptions(ctx, message_key, message, excluded=None):
        store = ctx.state.messages
        for subscription in store.subscriptions_for(message.name, message.correlation_key):
            if subscription.message_key == -1 and excluded != (
                subscription.element_instance_key,
                subscription.message_name,
            ):
                messages.start_correlation(ctx, subscription, message_key, message)

    monkeypatch.setattr(messages, "correlate_to_subscriptions", correlate_to_subscriptions)


def expired_message_correlated(monkeypatch):
    monkeypatch.setattr(messages, "is_live", lambda message, now_ms: message is not None)


def timer_not_cancelled(monkeypatch):
    monkeypatch.setattr(timers, "cancel_timers", lambda executor, owner_key: None)


def subscription_left_open(monkeypatch):
    monkeypatch.setattr(subscriptions, "close_subscriptions", lambda executor, owner_key: None)


def lost_send_never_resent(monkeypatch):
    monkeypatch.setattr(distribution.PendingSends, "due", lambda self, state, now_ms: iter(()))


def error_caught_by_other_code(monkeypatch):
    def matching(process, event_ids, error_code):
        for event_id in event_ids:
            event = process.node(event_id)
            if event.error is not None:
                return event  # the first error event, whatever its code
        return None

    monkeypatch.setattr(errors, "_matching", matching)


def non_interrupting_boundary_interrupts(monkeypatch):
    def activate_boundary_event(executor, owner_key, owner, node, process, variables):
        scope_key = owner.value.flow_scope_key
        executor.terminate(owner_key)  # whatever cancelActivity says
        scope = executor.instances.get(scope_key)
        executor.triggers[(scope_key, node.id)] = variables
        executor.activate(process, scope_key, scope.value, node)

    monkeypatch.setattr(events, "activate_boundary_event", activate_boundary_event)


def start_key_never_released(monkeypatch):
    for intent in (
        ProcessInstanceIntent.ELEMENT_COMPLETED,
        ProcessInstanceIntent.ELEMENT_TERMINATED,
    ):
        monkeypatch.setitem(
            APPLIERS,
            (ValueType.PROCESS_INSTANCE, intent, 2),
            process_instance_appliers.element_ended,
        )


def timer_created_not_replayed(monkeypatch):
    apply = Replay.apply

    def replay_apply(self, record):
        if record.value_type == ValueType.TIMER and record.intent == TimerIntent.CREATED:
            return
        apply(self, record)

    monkeypatch.setattr(Replay, "apply", replay_apply)


MUTANTS = {
    repeated_delivery_processed_again: {LOG},
    message_to_every_subscription: {LOG},
    expired_message_correlated: {LOG},
    timer_not_cancelled: {LOG, SETTLED},
    subscription_left_open: {LOG, SETTLED},
    lost_send_never_resent: {SETTLED},
    error_caught_by_other_code: {LOG},
    non_interrupting_boundary_interrupts: {LOG},
    start_key_never_released: {SETTLED},
    timer_created_not_replayed: {SCRATCH, SNAPSHOT},
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mutant", list(MUTANTS), ids=lambda m: m.__name__)
def test_the_event_checks_catch_the_mutant(tmp_path, monkeypatch, seed, mutant, bpmn_workload):
    mutant(monkeypatch)
    event_workload = load_event_workload()
    report = event_workload.check_event_workload(
        seed, STEPS, tmp_path / "snapshots", bpmn_workload.bpmn_state_problems
    )
    print(report.summary())
    missed = MUTANTS[mutant] - set(report.failed)
    assert not missed, f"{mutant.__name__} got past {sorted(missed)}: {report.summary()}"
