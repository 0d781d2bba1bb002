"""Command processors: one per (value type, intent). A processor reads state through its
context, and answers with follow-up events, follow-up commands, or a rejection."""

from enum import IntEnum

from raybee.partitions.protocol import (
    CommandDistributionIntent,
    DeploymentIntent,
    IncidentIntent,
    JobBatchIntent,
    JobIntent,
    MessageIntent,
    MessageSubscriptionIntent,
    ProcessInstanceCreationIntent,
    ProcessInstanceIntent,
    ProcessMessageSubscriptionIntent,
    Record,
    RejectionType,
    TimerIntent,
    ValueType,
    VariableDocumentIntent,
)

from ..context import ProcessingContext
from . import (
    command_distribution,
    deployment,
    incident,
    job,
    job_batch,
    message,
    message_subscription,
    process_instance,
    process_instance_creation,
    process_message_subscription,
    timer,
    variable_document,
)

# Which processor handles which command: the whole list, in one place.
# fmt: off
PROCESSORS: dict[tuple[ValueType, IntEnum], type] = {
    (ValueType.JOB, JobIntent.COMPLETE): job.CompleteJob,
    (ValueType.JOB, JobIntent.TIME_OUT): job.TimeOutJob,
    (ValueType.JOB, JobIntent.FAIL): job.FailJob,
    (ValueType.JOB, JobIntent.UPDATE_RETRIES): job.UpdateJobRetries,
    (ValueType.JOB, JobIntent.CANCEL): job.CancelJob,
    (ValueType.JOB, JobIntent.THROW_ERROR): job.ThrowJobError,
    (ValueType.JOB, JobIntent.RECUR_AFTER_BACKOFF): job.RecurJobAfterBackoff,
    (ValueType.JOB, JobIntent.YIELD): job.YieldJob,
    (ValueType.JOB, JobIntent.UPDATE_TIMEOUT): job.UpdateJobTimeout,
    (ValueType.JOB, JobIntent.CREATE): job.CreateJob,
    (ValueType.DEPLOYMENT, DeploymentIntent.CREATE): deployment.CreateDeployment,
    (ValueType.PROCESS_INSTANCE, ProcessInstanceIntent.CANCEL): process_instance.CancelProcessInstance,
    (ValueType.PROCESS_INSTANCE, ProcessInstanceIntent.ACTIVATE_ELEMENT): process_instance.ActivateElement,
    (ValueType.PROCESS_INSTANCE, ProcessInstanceIntent.COMPLETE_ELEMENT): process_instance.CompleteElement,
    (ValueType.PROCESS_INSTANCE, ProcessInstanceIntent.TERMINATE_ELEMENT): process_instance.TerminateElement,
    (ValueType.PROCESS_INSTANCE_CREATION, ProcessInstanceCreationIntent.CREATE): process_instance_creation.CreateInstance,
    (ValueType.PROCESS_INSTANCE_CREATION, ProcessInstanceCreationIntent.CREATE_WITH_AWAITING_RESULT): process_instance_creation.CreateInstanceAwaitingResult,
    (ValueType.INCIDENT, IncidentIntent.RESOLVE): incident.ResolveIncident,
    (ValueType.JOB_BATCH, JobBatchIntent.ACTIVATE): job_batch.ActivateJobs,
    (ValueType.VARIABLE_DOCUMENT, VariableDocumentIntent.UPDATE): variable_document.UpdateVariableDocument,
    (ValueType.MESSAGE, MessageIntent.PUBLISH): message.PublishMessage,
    (ValueType.MESSAGE, MessageIntent.EXPIRE): message.ExpireMessage,
    (ValueType.TIMER, TimerIntent.TRIGGER): timer.TriggerTimer,
    (ValueType.COMMAND_DISTRIBUTION, CommandDistributionIntent.DISTRIBUTE): command_distribution.Distribute,
    (ValueType.COMMAND_DISTRIBUTION, CommandDistributionIntent.ACKNOWLEDGE): command_distribution.Acknowledge,
    (ValueType.COMMAND_DISTRIBUTION, CommandDistributionIntent.RESEND): command_distribution.Resend,
}
# Commands that only another partition sends: they arrive inside COMMAND_DISTRIBUTION DISTRIBUTE
# (engine/distribution.py), never on their own.
DISTRIBUTED_PROCESSORS: dict[tuple[ValueType, IntEnum], type] = {
    (ValueType.DEPLOYMENT, DeploymentIntent.DISTRIBUTE): deployment.DistributeDeployment,
    (ValueType.MESSAGE_SUBSCRIPTION, MessageSubscriptionIntent.CREATE): message_subscription.CreateMessageSubscription,
    (ValueType.MESSAGE_SUBSCRIPTION, MessageSubscriptionIntent.DELETE): message_subscription.DeleteMessageSubscription,
    (ValueType.PROCESS_MESSAGE_SUBSCRIPTION, ProcessMessageSubscriptionIntent.CORRELATE): process_message_subscription.CorrelateProcessMessageSubscription,
}
# fmt: on


class CommandProcessors:
    def __init__(self) -> None:
        self._processors = {(int(vt), int(i)): cls() for (vt, i), cls in PROCESSORS.items()}

    def process(self, command: Record, context: ProcessingContext) -> None:
        assert command.is_command, command
        processor = self._processors.get((command.value_type, command.intent))
        if processor is None:
            context.reject(
                RejectionType.INVALID_ARGUMENT,
                f"Expected a command this partition can process, but there is no processor "
                f"for {command.value_type.name} {command.intent.name}",
            )
            return
        processor.process(command, context)
