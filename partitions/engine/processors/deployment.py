"""DEPLOYMENT CREATE: parse every resource, refuse the whole deployment if any is bad (every
problem listed, nothing stored), else version each process and write PROCESS CREATED for each
new version and DEPLOYMENT CREATED for the deployment.

Versions are per bpmn process id. A process whose latest version came from a resource with the
same name and the same content (checksum) is a duplicate: the deployment names that version
with `duplicate=True` and creates nothing. Anything else is a new version.

Distribution: with more than one partition, deployments are created on partition 1 only (the
deployment partition; elsewhere DEPLOYMENT CREATE is rejected, so versions stay one sequence)
and sent to every other partition as DEPLOYMENT DISTRIBUTE (engine/distribution.py: resent
until each acknowledges). A receiving partition stores each process it does not hold yet under
the keys and versions partition 1 gave it (`DistributeDeployment`), so a repeated distribution
changes nothing; an older version that arrives after a newer one is stored without becoming
the latest.

A version that becomes the latest opens its message start events (on every partition) and its
timer start events (on the deployment partition) and closes the previous latest version's
(bpmn_behaviors/start_events.py).
"""

import hashlib

from raybee.partitions.engine.bpmn import BpmnValidationError
from raybee.partitions.protocol import (
    DeploymentIntent,
    ProcessIntent,
    ProcessMetadata,
    ProcessRecordValue,
    RejectionType,
    evolve,
)
from raybee.partitions.protocol.record import REJECTION_REASON_CHARS_MAX

from ..bpmn_behaviors.executable import parse_resource
from ..bpmn_behaviors.executor import Executor
from ..bpmn_behaviors.start_events import process_became_latest
from ..context import ProcessingContext
from ..distribution import send

RESOURCES_PER_DEPLOYMENT_MAX = 100
DEPLOYMENT_PARTITION = 1
TRUNCATED_SUFFIX = "\n  ... (more problems; the reason is cut at the rejection size limit)"


class CreateDeployment:
    def process(self, command, ctx: ProcessingContext) -> None:
        resources = command.value.resources
        problem = _shape_problem(resources)
        if problem:
            return ctx.reject(RejectionType.INVALID_ARGUMENT, problem)
        parsed, refusals = [], []
        for resource in resources:
            checksum = _checksum(resource.resource)
            try:
                models = parse_resource(resource.resource, resource.resource_name, checksum)
            except BpmnValidationError as error:
                refusals.append(str(error))
                continue
            parsed.extend((resource, checksum, model) for model in models)
        refusals += _duplicate_ids(parsed)
        if refusals:
            return ctx.reject(RejectionType.INVALID_ARGUMENT, _reason(refusals))
        if ctx.partition_count > 1 and ctx.partition_id != DEPLOYMENT_PARTITION:
            return ctx.reject(
                RejectionType.INVALID_ARGUMENT,
                f"Expected deployments on partition {DEPLOYMENT_PARTITION} (the deployment "
                f"partition, which distributes them), but this is partition {ctx.partition_id}",
            )
        executor = Executor(ctx)
        metadata = []
        for resource, checksum, model in parsed:
            latest = ctx.state.processes.latest(model.bpmn_process_id)
            if latest is not None and _same_resource(ctx, latest.key, resource, checksum):
                metadata.append(
                    _metadata(model, latest.key, latest.version, resource, checksum, True)
                )
                continue
            key = ctx.next_key()
            version = 1 if latest is None else latest.version + 1
            ctx.append_event(
                key,
                ProcessIntent.CREATED,
                ProcessRecordValue(
                    bpmn_process_id=model.bpmn_process_id,
                    version=version,
                    process_definition_key=key,
                    resource_name=resource.resource_name,
                    checksum=checksum,
                    resource=resource.resource,
                    tenant_id=command.value.tenant_id,
                ),
            )
            metadata.append(_metadata(model, key, version, resource, checksum, False))
            process_became_latest(executor, ctx.state.processes.get(key), latest, deploying=True)
        created = evolve(command.value, processes_metadata=metadata)
        deployment_key = ctx.next_key()
        ctx.respond(ctx.append_event(deployment_key, DeploymentIntent.CREATED, created))
        for partition_id in range(1, ctx.partition_count + 1):
            if partition_id != ctx.partition_id:
                send(ctx, partition_id, DeploymentIntent.DISTRIBUTE, deployment_key, created)
        executor.drain()


class DistributeDeployment:
    """DEPLOYMENT DISTRIBUTE: a deployment created on the deployment partition (arrives only
    inside COMMAND_DISTRIBUTION DISTRIBUTE)."""

    def process(self, command, ctx: ProcessingContext) -> None:
        deployment = command.value
        processes = ctx.state.processes
        resources = {r.resource_name: r.resource for r in deployment.resources}
        executor = Executor(ctx)
        for meta in deployment.processes_metadata:
            key = meta.process_definition_key
            if meta.duplicate or processes.get(key) is not None:
                continue  # stored by an earlier deployment or distribution
            previous = processes.latest(meta.bpmn_process_id)
            ctx.append_event(
                key,
                ProcessIntent.CREATED,
                ProcessRecordValue(
                    bpmn_process_id=meta.bpmn_process_id,
                    version=meta.version,
                    process_definition_key=key,
                    resource_name=meta.resource_name,
                    checksum=meta.checksum,
                    resource=resources[meta.resource_name],
                    tenant_id=deployment.tenant_id,
                ),
            )
            if previous is None or previous.version < meta.version:
                process_became_latest(executor, processes.get(key), previous, deploying=False)
        ctx.append_event(
            command.key, DeploymentIntent.DISTRIBUTED, evolve(deployment, resources=[])
        )
        executor.drain()


def _checksum(resource: bytes) -> bytes:
    return hashlib.sha256(resource).digest()


def _shape_problem(resources) -> str | None:
    if not resources:
        return "Expected to deploy at least one resource, but none was given"
    if len(resources) > RESOURCES_PER_DEPLOYMENT_MAX:
        return (
            f"Expected at most {RESOURCES_PER_DEPLOYMENT_MAX} resources in one deployment, "
            f"but {len(resources)} were given"
        )
    names = [r.resource_name for r in resources]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        return f"Expected resource names to be unique in a deployment, but {twice} repeat"
    return None


def _duplicate_ids(parsed) -> list[str]:
    first: dict[str, str] = {}
    problems = []
    for resource, _, model in parsed:
        seen_in = first.setdefault(model.bpmn_process_id, resource.resource_name)
        if seen_in != resource.resource_name:
            problems.append(
                f"Expected each process id once in a deployment, but '{model.bpmn_process_id}' "
                f"is in both '{seen_in}' and '{resource.resource_name}'"
            )
    return problems


def _same_resource(ctx: ProcessingContext, key: int, resource, checksum: bytes) -> bool:
    stored = ctx.state.processes.record(key)
    return stored.checksum == checksum and stored.resource_name == resource.resource_name


def _metadata(model, key, version, resource, checksum, duplicate) -> ProcessMetadata:
    return ProcessMetadata(
        bpmn_process_id=model.bpmn_process_id,
        version=version,
        process_definition_key=key,
        resource_name=resource.resource_name,
        checksum=checksum,
        duplicate=duplicate,
    )


def _reason(refusals: list[str]) -> str:
    reason = "\n".join(refusals)
    if len(reason) > REJECTION_REASON_CHARS_MAX:
        keep = REJECTION_REASON_CHARS_MAX - len(TRUNCATED_SUFFIX)
        reason = reason[:keep] + TRUNCATED_SUFFIX
    return reason
