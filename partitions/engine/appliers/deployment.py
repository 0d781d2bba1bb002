"""Appliers of deployment and process events."""

from raybee.partitions.protocol import DeploymentIntent, ProcessIntent, ValueType

from . import applies


@applies(ValueType.PROCESS, ProcessIntent.CREATED)
def process_created(state, record):
    state.processes.put(record.value)


@applies(ValueType.DEPLOYMENT, DeploymentIntent.CREATED)
def deployment_created(state, record):
    # Kept for distribution to the other partitions (see processors/deployment.py).
    state.processes.put_deployment(record.key, record.value)
