"""Event appliers: the only code that changes state. One applier per (value type, intent,
record version); a released applier is never edited — a changed behaviour is a new version."""

from collections.abc import Callable
from enum import IntEnum

from raybee.partitions.protocol import (
    CommandDistributionIntent,
    DeploymentIntent,
    ErrorIntent,
    IncidentIntent,
    JobBatchIntent,
    JobIntent,
    MessageIntent,
    MessageStartEventSubscriptionIntent,
    MessageSubscriptionIntent,
    ProcessInstanceCreationIntent,
    ProcessInstanceIntent,
    ProcessIntent,
    ProcessMessageSubscriptionIntent,
    Record,
    TimerIntent,
    ValueType,
    VariableDocumentIntent,
    VariableIntent,
)

from . import (
    command_distribution,
    deployment,
    error,
    incident,
    job,
    job_batch,
    message,
    process_instance,
    timer,
)

MS = MessageSubscriptionIntent
PMS = ProcessMessageSubscriptionIntent
MSE = MessageStartEventSubscriptionIntent
CD = CommandDistributionIntent

Applier = Callable[["object", Record], None]

# Which applier applies which event, by (value type, intent, version): the whole list, in one
# place. A released row is never edited; a changed behaviour is a new row with the next version.
# fmt: off
APPLIERS: dict[tuple[ValueType, IntEnum, int], Applier] = {
    (ValueType.JOB, JobIntent.CREATED, 1): job.created,
    (ValueType.JOB, JobIntent.CREATED, 2): job.created_v2,
    (ValueType.JOB, JobIntent.COMPLETED, 1): job.completed,
    (ValueType.JOB, JobIntent.TIMED_OUT, 1): job.timed_out,
    (ValueType.JOB, JobIntent.FAILED, 1): job.failed,
    (ValueType.JOB, JobIntent.FAILED, 2): job.failed_v2,
    (ValueType.JOB, JobIntent.RETRIES_UPDATED, 1): job.retries_updated,
    (ValueType.JOB, JobIntent.CANCELED, 1): job.canceled,
    (ValueType.JOB, JobIntent.ERROR_THROWN, 1): job.error_thrown,
    (ValueType.JOB, JobIntent.ERROR_THROWN, 2): job.error_thrown_v2,
    (ValueType.JOB, JobIntent.RECURRED_AFTER_BACKOFF, 1): job.recurred_after_backoff,
    (ValueType.JOB, JobIntent.YIELDED, 1): job.yielded,
    (ValueType.JOB, JobIntent.TIMEOUT_UPDATED, 1): job.timeout_updated,
    (ValueType.DEPLOYMENT, DeploymentIntent.CREATED, 1): deployment.deployment_created,
    (ValueType.PROCESS, ProcessIntent.CREATED, 1): deployment.process_created,
    (ValueType.PROCESS_INSTANCE, ProcessInstanceIntent.SEQUENCE_FLOW_TAKEN, 1): process_instance.sequence_flow_taken,
    (ValueType.PROCESS_INSTANCE, ProcessInstanceIntent.ELEMENT_ACTIVATING, 1): process_instance.element_activating,
    (ValueType.PROCESS_INSTANCE, ProcessInstanceIntent.ELEMENT_ACTIVATED, 1): process_instance.element_activated,
    (ValueType.PROCESS_INSTANCE, ProcessInstanceIntent.ELEMENT_COMPLETING, 1): process_instance.element_completing,
    (ValueType.PROCESS_INSTANCE, ProcessInstanceIntent.ELEMENT_COMPLETED, 1): process_instance.element_ended,
    (ValueType.PROCESS_INSTANCE, ProcessInstanceIntent.ELEMENT_TERMINATING, 1): process_instance.element_terminating,
    (ValueType.PROCESS_INSTANCE, ProcessInstanceIntent.ELEMENT_TERMINATED, 1): process_instance.element_ended,
    (ValueType.PROCESS_INSTANCE_CREATION, ProcessInstanceCreationIntent.CREATED, 1): process_instance.instance_created,
    (ValueType.INCIDENT, IncidentIntent.CREATED, 1): incident.created,
    (ValueType.INCIDENT, IncidentIntent.RESOLVED, 1): incident.resolved,
    (ValueType.JOB_BATCH, JobBatchIntent.ACTIVATED, 1): job_batch.activated,
    (ValueType.VARIABLE, VariableIntent.CREATED, 1): process_instance.variable_set,
    (ValueType.VARIABLE, VariableIntent.UPDATED, 1): process_instance.variable_set,
    (ValueType.VARIABLE_DOCUMENT, VariableDocumentIntent.UPDATED, 1): process_instance.document_updated,
    (ValueType.ERROR, ErrorIntent.CREATED, 1): error.created,
    (ValueType.PROCESS_INSTANCE, ProcessInstanceIntent.ELEMENT_COMPLETED, 2): process_instance.element_ended_v2,
    (ValueType.PROCESS_INSTANCE, ProcessInstanceIntent.ELEMENT_TERMINATED, 2): process_instance.element_ended_v2,
    (ValueType.DEPLOYMENT, DeploymentIntent.DISTRIBUTED, 1): deployment.deployment_distributed,
    (ValueType.COMMAND_DISTRIBUTION, CD.STARTED, 1): command_distribution.started,
    (ValueType.COMMAND_DISTRIBUTION, CD.RECEIVED, 1): command_distribution.received,
    (ValueType.COMMAND_DISTRIBUTION, CD.ACKNOWLEDGED, 1): command_distribution.acknowledged,
    (ValueType.COMMAND_DISTRIBUTION, CD.RESENT, 1): command_distribution.resent,
    (ValueType.TIMER, TimerIntent.CREATED, 1): timer.created,
    (ValueType.TIMER, TimerIntent.TRIGGERED, 1): timer.removed,
    (ValueType.TIMER, TimerIntent.CANCELED, 1): timer.removed,
    (ValueType.MESSAGE, MessageIntent.PUBLISHED, 1): message.published,
    (ValueType.MESSAGE, MessageIntent.EXPIRED, 1): message.expired,
    (ValueType.MESSAGE_SUBSCRIPTION, MS.CREATED, 1): message.subscription_created,
    (ValueType.MESSAGE_SUBSCRIPTION, MS.CORRELATING, 1): message.subscription_correlating,
    (ValueType.MESSAGE_SUBSCRIPTION, MS.CORRELATED, 1): message.subscription_correlated,
    (ValueType.MESSAGE_SUBSCRIPTION, MS.REJECTED, 1): message.subscription_rejected,
    (ValueType.MESSAGE_SUBSCRIPTION, MS.DELETED, 1): message.subscription_deleted,
    (ValueType.PROCESS_MESSAGE_SUBSCRIPTION, PMS.CREATING, 1): message.process_subscription_creating,
    (ValueType.PROCESS_MESSAGE_SUBSCRIPTION, PMS.CREATED, 1): message.process_subscription_created,
    (ValueType.PROCESS_MESSAGE_SUBSCRIPTION, PMS.DELETING, 1): message.process_subscription_deleting,
    (ValueType.PROCESS_MESSAGE_SUBSCRIPTION, PMS.DELETED, 1): message.process_subscription_deleted,
    (ValueType.PROCESS_MESSAGE_SUBSCRIPTION, PMS.CORRELATED, 1): message.process_subscription_correlated,
    (ValueType.MESSAGE_START_EVENT_SUBSCRIPTION, MSE.CREATED, 1): message.start_subscription_created,
    (ValueType.MESSAGE_START_EVENT_SUBSCRIPTION, MSE.CORRELATED, 1): message.start_subscription_correlated,
    (ValueType.MESSAGE_START_EVENT_SUBSCRIPTION, MSE.DELETED, 1): message.start_subscription_deleted,
}
# fmt: on

# What replay decodes of the events of some appliers, instead of the whole value: None for an
# applier that reads the key alone (a completed job's event carries the whole job), a slimmer
# model for one that reads a few fields of a large value (a batch's activated jobs). Replay
# hands these appliers records carrying that; processing, the values it wrote.
REPLAY_VALUE_MODELS: dict[Applier, type | None] = {
    job.completed: None,
    job.canceled: None,
    job_batch.activated: job_batch.ActivatedJobs,
}


class EventAppliers:
    """Dispatches an event to its applier, then moves the key generator past its key."""

    def __init__(self) -> None:
        self._appliers = {(int(vt), int(i), v): f for (vt, i, v), f in APPLIERS.items()}
        # (value type, intent, version) -> what replay decodes of the value (see above).
        self.replay_models = {
            slot: REPLAY_VALUE_MODELS[applier]
            for slot, applier in self._appliers.items()
            if applier in REPLAY_VALUE_MODELS
        }
        # The version a NEW event is written for: the newest applier of its (type, intent).
        # Events already in a log keep theirs, and replay picks the applier by it.
        self._latest: dict[tuple[int, int], int] = {}
        for vt, i, version in self._appliers:
            self._latest[(vt, i)] = max(version, self._latest.get((vt, i), 0))

    def add(self, value_type: ValueType, intent: IntEnum, version: int, applier: Applier) -> None:
        """Plug in one more applier (tests of the processing machinery use it)."""
        slot = (int(value_type), int(intent), version)
        assert slot not in self._appliers, f"an applier for {slot} exists"
        self._appliers[slot] = applier
        pair = (int(value_type), int(intent))
        self._latest[pair] = max(version, self._latest.get(pair, 0))

    def latest_version(self, value_type: int, intent: int) -> int:
        """The applier version an event of this type and intent is written for now."""
        version = self._latest.get((value_type, intent))
        if version is None:
            raise LookupError(
                f"no applier for {ValueType(value_type).name} intent {int(intent)}: an event "
                f"nothing can apply must not be written"
            )
        return version

    def apply(self, state, record: Record) -> None:
        assert record.is_event, f"only events are applied, not {record.record_type.name}"
        applier = self._appliers.get((record.value_type, record.intent, record.record_version))
        if applier is None:
            raise LookupError(
                f"no applier for {record.value_type.name} {record.intent.name} "
                f"version {record.record_version} (event at position {record.position})"
            )
        applier(state, record)
        state.keys.observe(record.key)
