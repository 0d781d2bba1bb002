"""Deployed processes and deployments: by key, by (bpmn process id, version), the latest
version of each bpmn process id; each process also as an `ExecutableProcess` (parsed model,
compiled FEEL), cached for the life of the partition."""

from raybee.partitions.protocol import DeploymentRecordValue, ProcessRecordValue

from ..bpmn_behaviors.executable import ExecutableProcess
from ..families import DEPLOYMENTS, PROCESS_LATEST, PROCESS_VERSIONS, PROCESSES
from .bpmn_cache import ABSENT, BpmnCache


class ProcessStore:
    def __init__(self, reader, writer, cache: BpmnCache):
        self._reader = reader
        self._writer = writer
        self._cache = cache

    # ------------------------------------------------------------------ reads
    def get(self, key: int) -> ExecutableProcess | None:
        process = self._cache.lookup("processes", key)
        if process is ABSENT:
            record = self._reader.get(PROCESSES, key)
            process = None if record is None else ExecutableProcess.load(record)
            self._cache.processes[key] = process
        return process

    def record(self, key: int) -> ProcessRecordValue | None:
        """The stored process with its resource (for distribution and exporters)."""
        return self._reader.get(PROCESSES, key)

    def latest_key(self, bpmn_process_id: str) -> int | None:
        key = self._cache.lookup("latest", bpmn_process_id)
        if key is ABSENT:
            key = self._reader.get(PROCESS_LATEST, bpmn_process_id)
            self._cache.latest[bpmn_process_id] = key
        return key

    def latest(self, bpmn_process_id: str) -> ExecutableProcess | None:
        key = self.latest_key(bpmn_process_id)
        return None if key is None else self.get(key)

    def by_version(self, bpmn_process_id: str, version: int) -> ExecutableProcess | None:
        key = self._reader.get(PROCESS_VERSIONS, (bpmn_process_id, version))
        return None if key is None else self.get(key)

    def deployment(self, key: int) -> DeploymentRecordValue | None:
        return self._reader.get(DEPLOYMENTS, key)

    # ------------------------------------------------------------------ writes (appliers)
    def put(self, record: ProcessRecordValue) -> None:
        """Store a deployed process. It becomes the latest of its id unless a newer version is
        stored already (versions distributed from the deployment partition may arrive out of
        order when a delivery was lost and sent again)."""
        key, process_id = record.process_definition_key, record.bpmn_process_id
        assert self._reader.get(PROCESSES, key) is None, f"process {key} deployed twice"
        assert self._reader.get(PROCESS_VERSIONS, (process_id, record.version)) is None, (
            f"version {record.version} of '{process_id}' deployed twice"
        )
        latest = self.latest(process_id)
        self._writer.put(PROCESSES, key, record)
        self._writer.put(PROCESS_VERSIONS, (process_id, record.version), key)
        if latest is None or latest.version < record.version:
            self._writer.put(PROCESS_LATEST, process_id, key)
            self._cache.latest[process_id] = key
        # The deploying processor parsed the resource already: this load hits the parse cache.
        self._cache.processes[key] = ExecutableProcess.load(record)

    def put_deployment(self, key: int, deployment: DeploymentRecordValue) -> None:
        self._writer.put(DEPLOYMENTS, key, deployment)
