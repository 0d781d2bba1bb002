"""Parked long polls (actors/gateway/long_polls.py) against a router that only counts and
answers: a poll of a type this gateway streams asks once, then waits - for the next probe, a
hand-back, or its timeout - instead of asking the partitions again and again for nothing."""

import asyncio
import time

from raybee.actors.gateway.long_polls import LongPolls
from raybee.partitions.protocol import (
    JobBatchIntent,
    JobBatchRecordValue,
    JobRecordValue,
    Record,
    RecordType,
    ValueType,
)

JOB_TYPE = "parked-work"
PARTITIONS = 3


class CountingRouter:
    """Three partitions whose activatable jobs the test puts there (`waiting`); counts the
    JOB_BATCH ACTIVATE commands and the long polls handed to Router.activate_jobs."""

    partition_count = PARTITIONS

    def __init__(self) -> None:
        self.waiting: dict[int, list[int]] = {p: [] for p in range(1, PARTITIONS + 1)}
        self.asked: list[int] = []
        self.router_polls = 0

    async def execute(self, partition: int, command: Record, timeout_ms: int) -> Record:
        assert (command.value_type, command.intent) == (
            ValueType.JOB_BATCH,
            JobBatchIntent.ACTIVATE,
        )
        assert timeout_ms > 0
        self.asked.append(partition)
        await asyncio.sleep(0.001)
        value = command.value
        keys = self.waiting[partition][: value.max_jobs_to_activate]
        del self.waiting[partition][: len(keys)]
        jobs = [JobRecordValue(type=value.type, worker=value.worker) for _ in keys]
        return Record(
            ValueType.JOB_BATCH,
            JobBatchIntent.ACTIVATED,
            JobBatchRecordValue(type=value.type, job_keys=keys, jobs=jobs),
            record_type=RecordType.EVENT,
        )

    async def activate_jobs(self, *args) -> list:
        self.router_polls += 1
        return []


def poll(polls: LongPolls, request_timeout_ms: int, jobs_max: int = 5):
    return polls.activate(JOB_TYPE, jobs_max, 60_000, "w", request_timeout_ms, [])


def streamed(router: CountingRouter, probe_ms: int) -> LongPolls:
    polls = LongPolls(router, probe_ms)
    polls.stream_opened(JOB_TYPE)
    return polls


def test_a_parked_poll_answers_nothing_at_its_timeout_and_asks_once_per_probe():
    async def run():
        router = CountingRouter()
        polls = streamed(router, probe_ms=200)
        started = time.monotonic()
        jobs = await poll(polls, request_timeout_ms=700)
        return jobs, time.monotonic() - started, router, polls

    jobs, elapsed, router, polls = asyncio.run(run())
    assert jobs == []
    assert 0.65 <= elapsed < 3, elapsed  # not before its timeout
    # Asked at 0 and then once per probe (0.2, 0.4, 0.6 s): not every back-off step.
    assert 2 <= polls.stats["rounds"] <= 5, polls.stats
    assert len(router.asked) == PARTITIONS * polls.stats["rounds"]
    assert polls.stats["parked"] == 1 and router.router_polls == 0


def test_a_job_that_was_not_pushed_is_found_by_the_next_probe():
    async def run():
        router = CountingRouter()
        polls = streamed(router, probe_ms=200)
        parked = asyncio.ensure_future(poll(polls, request_timeout_ms=10_000))
        await asyncio.sleep(0.3)
        assert not parked.done()
        router.waiting[2].append(42)  # handed back by a broker (JOB YIELD): nobody says so
        put = time.monotonic()
        jobs = await asyncio.wait_for(parked, 10)
        return jobs, time.monotonic() - put

    jobs, waited = asyncio.run(run())
    assert [key for key, _ in jobs] == [42]
    assert waited < 2.0, waited  # the probe (200 ms), not the request timeout (10 s)


def test_a_hand_back_through_the_gateway_wakes_the_parked_polls_at_once():
    async def run():
        router = CountingRouter()
        polls = streamed(router, probe_ms=60_000)  # no probe during the test
        parked = [
            asyncio.ensure_future(poll(polls, request_timeout_ms=10_000, jobs_max=1))
            for _ in range(2)
        ]
        await asyncio.sleep(0.3)
        assert not any(p.done() for p in parked)
        router.waiting[1].extend([7, 8])
        polls.handed_back(JOB_TYPE)
        put = time.monotonic()
        jobs = await asyncio.wait_for(asyncio.gather(*parked), 10)
        return jobs, time.monotonic() - put

    jobs, waited = asyncio.run(run())
    # One job each: the first poll's round filled its request, so the second asked at once.
    assert sorted(key for found in jobs for key, _ in found) == [7, 8]
    assert waited < 2.0, waited


def test_polls_of_one_type_share_the_probe_round():
    async def run():
        router = CountingRouter()
        polls = streamed(router, probe_ms=200)
        answers = await asyncio.gather(*[poll(polls, request_timeout_ms=1_000) for _ in range(6)])
        return answers, polls

    answers, polls = asyncio.run(run())
    assert answers == [[]] * 6
    # One round at 0 and one per probe for all six (about 6), not six each (about 36).
    assert 2 <= polls.stats["rounds"] <= 9, polls.stats


def test_a_filled_request_asks_again_at_once_and_an_emptied_type_does_not():
    async def run():
        router = CountingRouter()
        polls = streamed(router, probe_ms=60_000)
        router.waiting[1].extend(range(100, 110))
        first = await poll(polls, request_timeout_ms=5_000, jobs_max=4)
        started = time.monotonic()
        second = await poll(polls, request_timeout_ms=5_000, jobs_max=4)
        third = await poll(polls, request_timeout_ms=5_000, jobs_max=4)  # 2 left: emptied
        quick = time.monotonic() - started
        asked = len(router.asked)
        fourth = await poll(polls, request_timeout_ms=300, jobs_max=4)
        return first, second, third, quick, asked, fourth, router

    first, second, third, quick, asked, fourth, router = asyncio.run(run())
    assert [len(first), len(second), len(third)] == [4, 4, 2]
    assert quick < 2.0, quick
    assert fourth == [] and len(router.asked) == asked  # known empty: parked, not asked


def test_a_type_nobody_streams_long_polls_through_the_router():
    async def run():
        router = CountingRouter()
        polls = LongPolls(router, 200)
        await poll(polls, request_timeout_ms=100)
        polls.stream_opened(JOB_TYPE)
        polls.stream_closed(JOB_TYPE)
        await poll(polls, request_timeout_ms=100)
        return router

    router = asyncio.run(run())
    assert router.router_polls == 2 and router.asked == []
