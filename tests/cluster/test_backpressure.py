"""AIMD backpressure: refusal with a reason past the limit, additive increase while answers are
fast and the limit is used, multiplicative decrease at most once per latency target."""

from raybee.actors.backpressure import AimdLimiter, is_exempt
from raybee.partitions.protocol import JobIntent
from raybee.partitions.testing import create, job_command


def test_refuses_past_the_limit_and_says_why():
    limiter = AimdLimiter(partition_id=2, limit=20, limit_min=5)
    assert limiter.admit(20) == (20, None)
    admitted, reason = limiter.admit(1)
    assert admitted == 0 and reason is not None
    assert "partition 2" in reason and "20 commands are in flight" in reason
    assert "limit is 20" in reason
    assert limiter.refused == 1 and limiter.in_flight == 20


def test_a_batch_larger_than_the_room_left_is_admitted_in_part():
    limiter = AimdLimiter(partition_id=1, limit=20, limit_min=5)
    assert limiter.admit(15)[0] == 15
    admitted, reason = limiter.admit(10)
    assert admitted == 5 and "limit is 20" in reason
    assert limiter.in_flight == 20 and limiter.refused == 5


def test_additive_increase_only_while_the_limit_is_used():
    limiter = AimdLimiter(partition_id=1, limit=20, limit_min=5)
    limiter.admit(2)
    limiter.answered(latency_ms=1, now_ms=0)
    assert limiter.limit == 20  # 1 in flight of 20: the limit is not what holds anything back
    limiter.admit(19)
    limiter.answered(latency_ms=1, now_ms=1)
    assert limiter.limit == 21


def test_multiplicative_decrease_once_per_latency_target():
    limiter = AimdLimiter(partition_id=1, limit=100, limit_min=5, latency_ms_target=200)
    limiter.admit(10)
    limiter.answered(latency_ms=500, now_ms=1_000)
    assert limiter.limit == 90
    limiter.answered(latency_ms=500, now_ms=1_100)  # the same slow batch: one signal
    assert limiter.limit == 90
    limiter.answered(latency_ms=500, now_ms=1_200)
    assert limiter.limit == 81
    for step in range(200):
        limiter.admit(1)
        limiter.answered(latency_ms=500, now_ms=2_000 + 200 * step)
    assert limiter.limit == 5  # never below the minimum


def test_commands_that_drain_work_are_exempt():
    assert is_exempt(job_command(JobIntent.COMPLETE, 1))
    assert is_exempt(job_command(JobIntent.FAIL, 1))
    assert not is_exempt(create())
