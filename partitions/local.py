"""One partition in one process, without Raft: a log, a store and a stream processor.

What tests, the engine benchmark and the demo drive; the replicated partition composes the
same parts with Raft between the log and the processor.
"""

from collections.abc import Callable

from raybee.partitions.engine import ProcessingResult, Response
from raybee.partitions.engine.job_streams import JobPush, JobStream
from raybee.partitions.log_stream import LogStream
from raybee.partitions.protocol import JobIntent, JobRecordValue, Record, RecordType, ValueType
from raybee.partitions.stream_processor import StreamProcessor


class LocalPartition:
    def __init__(
        self, store, log: LogStream, partition_id: int, clock: Callable[[], int], **options
    ):
        self.store = store
        self.log = log
        self.partition_id = partition_id
        self.clock = clock
        self.processor = StreamProcessor(store, log, partition_id, clock, **options)
        self.processor.become_leader()
        self._next_request_id = 0
        self._consumers: dict[int, Callable[[JobPush], bool]] = {}
        self.undelivered_pushes = 0
        # Commands for other partitions that processed batches handed out, (partition id,
        # command), for the host to deliver (partitions/local_cluster.py) - after commit.
        self.outbox: list[tuple[int, Record]] = []

    def write_commands(self, commands: list[Record], request_stream_id: int = 1) -> list[Record]:
        """Stamp client commands with the clock and request ids and append them as one unit."""
        now_ms = self.clock()
        position = self.log.last_position
        stamped = []
        for command in commands:
            if command.record_type != RecordType.COMMAND:
                raise ValueError(f"clients write commands, not {command.record_type.name}")
            position += 1
            stamped.append(
                command.stamped(
                    position=position,
                    timestamp_ms=now_ms,
                    partition_id=self.partition_id,
                    request_stream_id=request_stream_id,
                    request_id=self._next_request_id,
                )
            )
            self._next_request_id += 1
        return self.log.append(stamped)

    def process(self) -> list[Response]:
        responses: list[Response] = []
        while (result := self.processor.process_batch()) is not None:
            responses.extend(result.responses)
            self._deliver(result.job_pushes)
            self.outbox.extend(result.partition_commands)
        return responses

    # ------------------------------------------------------------------ job push
    def open_job_stream(self, stream: JobStream, consumer: Callable[[JobPush], bool]) -> None:
        """Push activatable jobs of stream.job_type to consumer (which returns whether it took
        the job) from now on; jobs already waiting are still for JOB_BATCH ACTIVATE."""
        self.processor.job_streams.add(stream)
        self._consumers[stream.stream_id] = consumer

    def close_job_stream(self, stream_id: int) -> None:
        self.processor.job_streams.remove(stream_id)
        self._consumers.pop(stream_id, None)

    def _deliver(self, pushes: list[JobPush]) -> None:
        """After commit: hand each pushed job to its stream; one that cannot take it gets the
        job back to the partition with a YIELD command, so no job waits out its timeout."""
        handed_back = []
        for push in pushes:
            consumer = self._consumers.get(push.stream_id)
            try:
                delivered = consumer is not None and consumer(push)
            except Exception:  # a failing worker callback must not stop the partition
                delivered = False
            if not delivered:
                self.undelivered_pushes += 1
                handed_back.append(
                    Record(ValueType.JOB, JobIntent.YIELD, JobRecordValue(), key=push.job_key)
                )
        if handed_back:
            self.write_commands(handed_back, request_stream_id=-1)

    def execute(self, command: Record) -> Record:
        """Write one command, process, and return the answer to it (event or rejection)."""
        (written,) = self.write_commands([command])
        answers = [r.record for r in self.process() if r.request_id == written.request_id]
        assert len(answers) == 1, f"expected one answer to {written}, got {answers}"
        return answers[0]

    def tick(self) -> list[Response]:
        """Append the commands of work that came due, then process."""
        due = self.processor.due_commands()
        if due:
            self.log.append(due)
        return self.process()

    def results(self) -> list[ProcessingResult]:
        return self.processor.process_all()

    def close(self) -> None:
        self.log.close()
        self.store.close()
