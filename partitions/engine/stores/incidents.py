"""Incidents, and the incident open on a job."""

from raybee.partitions.protocol import NO_KEY, IncidentRecordValue

from ..families import ELEMENT_INCIDENTS, INCIDENTS, JOB_INCIDENTS


class IncidentStore:
    def __init__(self, reader, writer=None):
        self._reader = reader
        self._writer = writer

    def get(self, key: int) -> IncidentRecordValue | None:
        return self._reader.get(INCIDENTS, key)

    def of_job(self, job_key: int) -> int | None:
        return self._reader.get(JOB_INCIDENTS, job_key)

    def of_element(self, element_instance_key: int) -> int | None:
        """The incident of an element instance's own step (not its job's)."""
        return self._reader.get(ELEMENT_INCIDENTS, element_instance_key)

    def create(self, key: int, incident: IncidentRecordValue) -> None:
        assert self.get(key) is None, f"incident {key} created twice"
        self._writer.put(INCIDENTS, key, incident)
        if incident.job_key != NO_KEY:
            assert self.of_job(incident.job_key) is None, f"job {incident.job_key} has an incident"
            self._writer.put(JOB_INCIDENTS, incident.job_key, key)
        elif incident.element_instance_key != NO_KEY:
            assert self.of_element(incident.element_instance_key) is None, incident
            self._writer.put(ELEMENT_INCIDENTS, incident.element_instance_key, key)

    def remove(self, key: int) -> None:
        incident = self.get(key)
        assert incident is not None, f"incident {key} does not exist"
        self._writer.delete(INCIDENTS, key)
        if incident.job_key != NO_KEY:
            self._writer.delete(JOB_INCIDENTS, incident.job_key)
        elif incident.element_instance_key != NO_KEY:
            self._writer.delete(ELEMENT_INCIDENTS, incident.element_instance_key)
