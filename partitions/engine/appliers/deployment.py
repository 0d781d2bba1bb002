"""Appliers of deployment and process events."""


def process_created(state, record):
    state.processes.put(record.value)


def deployment_created(state, record):
    # Kept for distribution to the other partitions (see processors/deployment.py).
    state.processes.put_deployment(record.key, record.value)


def deployment_distributed(state, record):
    pass  # the PROCESS CREATED events of the distribution stored its processes
