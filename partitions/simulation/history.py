"""The history checker: what clients were told against what the partition committed.

Fed as the simulation runs (every committed record any replica reports, every answer any
replica hands out, every answer a client receives), it checks at once what can break at once,
and the rest at the end over the whole committed history:

- committed records never change: every replica that commits position p holds the same record
  there (so every replica's committed log is a prefix of the longest one);
- an answer leaves a replica only once the record answering it is committed;
- replicas hold the same bytes (state digest) at equal processed positions;
- no key is issued twice (by the events that mint keys), no job is completed twice;
- every committed command is answered exactly once in the log (`partitions/checks.py`);
- exactly once with retries: each (request stream id, request id) is processed fresh at most
  once (a retry is answered by the request-id window), and every acknowledged request was, its
  answer being the committed record at the answer's position. A lost response is an unknown
  outcome for the client, never a failure by itself.
"""

from collections import Counter
from dataclasses import dataclass, field

from raybee.partitions.checks import check_answers
from raybee.partitions.protocol import (
    DeploymentIntent,
    IncidentIntent,
    JobBatchIntent,
    JobIntent,
    ProcessInstanceIntent,
    Record,
    RejectionType,
    ValueType,
)
from raybee.partitions.replica.request_ids import REJECTION_REASON_PREFIX

# Events that mint the key they carry.
KEY_MINTING = {
    (ValueType.JOB, JobIntent.CREATED),
    (ValueType.JOB_BATCH, JobBatchIntent.ACTIVATED),
    (ValueType.PROCESS_INSTANCE, ProcessInstanceIntent.ELEMENT_ACTIVATING),
    (ValueType.DEPLOYMENT, DeploymentIntent.CREATED),
    (ValueType.INCIDENT, IncidentIntent.CREATED),
}


class Violation(AssertionError):
    def __init__(self, invariant: str, what: str) -> None:
        super().__init__(f"[{invariant}] {what}")
        self.invariant = invariant
        self.what = what


def is_retry_answer(record: Record) -> bool:
    return (
        record.is_rejection
        and record.rejection_type == RejectionType.ALREADY_EXISTS
        and record.rejection_reason.startswith(REJECTION_REASON_PREFIX)
    )


@dataclass
class HistoryChecker:
    committed: dict[int, Record] = field(default_factory=dict)  # position -> record
    digests: dict[int, tuple[str, int]] = field(default_factory=dict)  # processed -> (digest, by)
    minted: dict[int, int] = field(default_factory=dict)  # key -> position of the minting event
    completed: dict[int, int] = field(default_factory=dict)  # job key -> position
    acked: dict[tuple[int, int], Record] = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)

    # ------------------------------------------------------------------ as it runs
    def on_committed(self, replica_id: int, records: list[Record]) -> None:
        for record in records:
            known = self.committed.get(record.position)
            if known is None:
                self.committed[record.position] = record
                self._on_new(record)
            elif known != record:
                raise Violation(
                    "committed records never change",
                    f"replica {replica_id} committed {record!r:.300} at position "
                    f"{record.position}, another replica committed {known!r:.300}",
                )

    def _on_new(self, record: Record) -> None:
        if not record.is_event:
            return
        if (record.value_type, record.intent) in KEY_MINTING:
            earlier = self.minted.get(record.key)
            if earlier is not None:
                raise Violation(
                    "no key issued twice",
                    f"key {record.key} minted at positions {earlier} and {record.position} "
                    f"({record.value_type.name} {record.intent.name})",
                )
            self.minted[record.key] = record.position
        if record.value_type == ValueType.JOB and record.intent == JobIntent.COMPLETED:
            earlier = self.completed.get(record.key)
            if earlier is not None:
                raise Violation(
                    "no job completed twice",
                    f"job {record.key} completed at positions {earlier} and {record.position}",
                )
            self.completed[record.key] = record.position

    def on_released(self, replica_id: int, record: Record) -> None:
        """A replica handed out `record` as an answer."""
        self.counts["answers_released"] += 1
        if record.position < 0:
            return  # an answer outside the log (an awaited result)
        known = self.committed.get(record.position)
        if known is None:
            raise Violation(
                "answers only after commit",
                f"replica {replica_id} answered with position {record.position} "
                f"({record.value_type.name} {record.intent.name}), which no replica committed",
            )
        if known != record:
            raise Violation(
                "answers only after commit",
                f"replica {replica_id} answered with {record!r:.300}, but position "
                f"{record.position} committed {known!r:.300}",
            )

    def on_digest(self, replica_id: int, processed: int, digest: str) -> None:
        if processed <= 0:
            return
        self.counts["digests_compared"] += 1
        known = self.digests.get(processed)
        if known is None:
            self.digests[processed] = (digest, replica_id)
        elif known[0] != digest:
            raise Violation(
                "replicas agree at equal positions",
                f"at processed position {processed} replica {replica_id} holds state "
                f"{digest[:12]}, replica {known[1]} held {known[0][:12]}",
            )

    def on_acked(self, ids: tuple[int, int], record: Record) -> None:
        self.acked.setdefault(ids, record)

    # ------------------------------------------------------------------ at the end
    def check_final(self) -> None:
        positions = sorted(self.committed)
        if positions != list(range(1, len(positions) + 1)):
            missing = sorted(set(range(1, (positions or [0])[-1] + 1)) - set(positions))
            raise Violation("committed log is whole", f"positions never seen: {missing[:10]}")
        records = [self.committed[p] for p in positions]
        report = check_answers(records)
        if report.problems:
            raise Violation("every command answered exactly once", "; ".join(report.problems))
        fresh: dict[tuple[int, int], list[int]] = {}
        retried: Counter = Counter()
        answers_of: dict[int, list[Record]] = {}
        for record in records:
            if not record.is_command:
                answers_of.setdefault(record.source_record_position, []).append(record)
        for record in records:
            if not record.is_command or record.source_record_position >= 0:
                continue
            if record.request_stream_id < 0 or record.request_id < 0:
                continue
            ids = (record.request_stream_id, record.request_id)
            answers = answers_of.get(record.position, [])
            if len(answers) == 1 and is_retry_answer(answers[0]):
                retried[ids] += 1
                continue
            fresh.setdefault(ids, []).append(record.position)
        twice = {ids: p for ids, p in fresh.items() if len(p) > 1}
        if twice:
            ids, where = next(iter(sorted(twice.items())))
            raise Violation(
                "exactly once",
                f"{len(twice)} requests processed more than once, e.g. {ids} at {where}",
            )
        for ids, record in sorted(self.acked.items()):
            if ids not in fresh:
                raise Violation(
                    "acknowledged commands are committed",
                    f"request {ids} was answered ({record.value_type.name} "
                    f"{record.intent.name} at {record.position}) but the log never processed it",
                )
            if record.position >= 0 and self.committed.get(record.position) != record:
                raise Violation(
                    "acknowledged commands are committed",
                    f"request {ids} was answered with position {record.position}, which the "
                    f"log holds otherwise",
                )
        self.counts["requests_processed"] = len(fresh)
        self.counts["retries_in_log"] = sum(retried.values())
        self.counts["records_committed"] = len(records)
