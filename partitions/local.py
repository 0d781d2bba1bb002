"""One partition in one process, without Raft: a log, a store and a stream processor.

What tests, the engine benchmark and the demo drive; the replicated partition composes the
same parts with Raft between the log and the processor.
"""

from collections.abc import Callable

from raybee.partitions.engine import ProcessingResult, Response
from raybee.partitions.log_stream import LogStream
from raybee.partitions.protocol import Record, RecordType
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

    def write_commands(self, commands: list[Record], request_stream_id: int = 1) -> list[Record]:
        """Stamp client commands with the clock and request ids and append them as one unit."""
        now_ms = self.clock()
        stamped = []
        for command in commands:
            if command.record_type != RecordType.COMMAND:
                raise ValueError(f"clients write commands, not {command.record_type.name}")
            stamped.append(
                command._replace(
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
        for result in self.processor.process_all():
            responses.extend(result.responses)
        return responses

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
