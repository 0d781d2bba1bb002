"""Backpressure per partition: an AIMD limit on the commands in flight (admitted, not answered).

Additive increase, multiplicative decrease, as TCP does with its window: every answer that
came back within `latency_ms_target` lets the limit grow by one (while the limit is actually
in use); an answer slower than that shrinks it by `decrease_ratio`, at most once per
`latency_ms_target` (one slow batch is one signal, not a hundred). A command over the limit is
refused before it is written - RESOURCE_EXHAUSTED with a reason that names the partition, the
count, the limit and the latency that set it.

Commands that drain work (job complete, fail, throw error, yield; commands between partitions)
skip the limit: refusing them would keep the load that causes the pressure. (A replica
whose uncommitted entries pile up may still refuse any command; a command between partitions
refused there is resent by its sender's due work.)
Pure logic, time passed in (milliseconds), no clock of its own.
"""

from dataclasses import dataclass

from raybee.partitions.protocol import JobIntent, ValueType

LIMIT_INITIAL = 400
LIMIT_MIN = 20
LIMIT_MAX = 10_000
LATENCY_MS_TARGET = 200
DECREASE_RATIO = 0.9

# (value type, intent) of commands that are always admitted.
EXEMPT_COMMANDS = frozenset(
    {
        (ValueType.JOB, JobIntent.COMPLETE),
        (ValueType.JOB, JobIntent.FAIL),
        (ValueType.JOB, JobIntent.THROW_ERROR),
        (ValueType.JOB, JobIntent.YIELD),
    }
)


def is_exempt(command) -> bool:
    return (command.value_type, command.intent) in EXEMPT_COMMANDS


@dataclass
class AimdLimiter:
    partition_id: int
    limit: float = LIMIT_INITIAL
    limit_min: int = LIMIT_MIN
    limit_max: int = LIMIT_MAX
    latency_ms_target: int = LATENCY_MS_TARGET
    decrease_ratio: float = DECREASE_RATIO
    in_flight: int = 0
    refused: int = 0
    last_latency_ms: float = 0.0
    _last_decrease_ms: float = -1e18

    def __post_init__(self) -> None:
        assert 1 <= self.limit_min <= self.limit <= self.limit_max
        assert 0 < self.decrease_ratio < 1 and self.latency_ms_target > 0

    def admit(self, count: int) -> tuple[int, str | None]:
        """Of `count` commands, how many fit under the limit (counted in flight from now on),
        and for the rest the reason they are refused (None when all fit)."""
        assert count >= 0
        room = max(int(self.limit) - self.in_flight, 0)
        admitted = min(count, room)
        self.in_flight += admitted
        if admitted == count:
            return admitted, None
        self.refused += count - admitted
        return admitted, (
            f"partition {self.partition_id}: {self.in_flight} commands are in flight and "
            f"the limit is {int(self.limit)} (AIMD: the limit shrinks while answers take "
            f"longer than {self.latency_ms_target} ms; the latest took "
            f"{self.last_latency_ms:.0f} ms)"
        )

    def release(self, count: int) -> None:
        """Give back places taken by `admit` for commands that were not sent after all."""
        assert 0 <= count <= self.in_flight
        self.in_flight -= count

    def answered(self, latency_ms: float, now_ms: float) -> None:
        """One admitted command was answered (or given up) after `latency_ms`."""
        assert self.in_flight > 0, "an answer to a command that was never admitted"
        self.in_flight -= 1
        self.last_latency_ms = latency_ms
        if latency_ms > self.latency_ms_target:
            if now_ms - self._last_decrease_ms >= self.latency_ms_target:
                self.limit = max(self.limit_min, self.limit * self.decrease_ratio)
                self._last_decrease_ms = now_ms
        elif self.in_flight >= self.limit / 2:
            self.limit = min(self.limit_max, self.limit + 1)

    def status(self) -> dict:
        return {
            "limit": int(self.limit),
            "in_flight": self.in_flight,
            "refused": self.refused,
            "last_latency_ms": round(self.last_latency_ms, 1),
        }
