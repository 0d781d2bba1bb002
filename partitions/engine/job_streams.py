"""Job push: workers that keep a stream open for a job type get jobs the moment they become
activatable, instead of polling with JOB_BATCH ACTIVATE.

Streams are leader-local and not part of replicated state: the decision to push is recorded as
a JOB_BATCH ACTIVATED event (so replay needs no streams), and the delivery is a side effect after
commit. A push that cannot be delivered is handed back with a JOB YIELD command.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class JobStream:
    stream_id: int
    job_type: str
    worker: str
    timeout_ms: int
    fetch_variables: tuple[str, ...] = ()


@dataclass
class JobStreams:
    """Open streams by job type, handed jobs round-robin."""

    _by_type: dict[str, list[JobStream]] = field(default_factory=dict)
    _turn: dict[str, int] = field(default_factory=dict)

    def add(self, stream: JobStream) -> None:
        if stream.timeout_ms < 1:
            raise ValueError(
                f"a job stream needs a timeout of at least 1 ms, got {stream.timeout_ms}"
            )
        if not stream.job_type:
            raise ValueError("a job stream needs a job type")
        streams = self._by_type.setdefault(stream.job_type, [])
        if any(s.stream_id == stream.stream_id for s in streams):
            raise ValueError(
                f"job stream {stream.stream_id} is already open for {stream.job_type!r}"
            )
        streams.append(stream)

    def remove(self, stream_id: int) -> None:
        for job_type, streams in list(self._by_type.items()):
            self._by_type[job_type] = [s for s in streams if s.stream_id != stream_id]
            if not self._by_type[job_type]:
                del self._by_type[job_type]

    def next_for(self, job_type: str) -> JobStream | None:
        streams = self._by_type.get(job_type)
        if not streams:
            return None
        turn = self._turn.get(job_type, 0) % len(streams)
        self._turn[job_type] = turn + 1
        return streams[turn]


@dataclass(frozen=True)
class JobPush:
    """A job activated for a stream; delivered after the batch that activated it commits."""

    stream_id: int
    job_key: int
    job: object
