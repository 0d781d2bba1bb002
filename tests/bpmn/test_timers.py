"""ISO-8601 timer values: the forms BPMN timers use, their arithmetic, and clear refusals."""

from datetime import datetime

import pytest

from raybee.partitions.engine.bpmn.timers import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    SECOND_MS,
    IsoDuration,
    TimerCycle,
    TimerKind,
    TimerParseError,
    parse_cycle,
    parse_date_time,
    parse_duration,
    parse_timer,
)


def epoch_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT10S", IsoDuration(milliseconds=10 * SECOND_MS)),
        ("PT1H30M", IsoDuration(milliseconds=HOUR_MS + 30 * MINUTE_MS)),
        ("P1D", IsoDuration(days=1)),
        ("P2W", IsoDuration(days=14)),
        ("PT0.5S", IsoDuration(milliseconds=500)),
        ("PT1,25S", IsoDuration(milliseconds=1250)),
        ("P1Y2M3DT4H5M6S", IsoDuration(1, 2, 3, 4 * HOUR_MS + 5 * MINUTE_MS + 6 * SECOND_MS)),
        ("PT0S", IsoDuration()),
        (" P7D ", IsoDuration(days=7)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("P", "no parts"),
        ("PT", "no parts"),
        ("P1DT", "'T' without a time part"),
        ("-PT5S", "negative durations are not allowed"),
        ("P1.5D", "not an ISO-8601 duration"),
        ("PT0.0001S", "not an ISO-8601 duration"),
        ("10S", "not an ISO-8601 duration"),
        ("P1H", "not an ISO-8601 duration"),
        ("", "not an ISO-8601 duration"),
        ("P99999999Y", "longer than the longest timer"),
        ("P" + "1" * 300 + "D", "longer than the 200 allowed"),
    ],
)
def test_bad_durations_are_refused_with_the_reason(text, reason):
    with pytest.raises(TimerParseError, match=reason):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T10:00:00Z", "2026-01-01T10:00:00+00:00"),
        ("2026-01-01T12:00:00+02:00", "2026-01-01T10:00:00+00:00"),
        ("2026-01-01T12:00:00+0200", "2026-01-01T10:00:00+00:00"),
        ("2026-01-01T10:00Z", "2026-01-01T10:00:00+00:00"),
        ("2026-01-01T10:00:00.250Z", "2026-01-01T10:00:00.250+00:00"),
    ],
)
def test_date_times(text, expected):
    assert parse_date_time(text) == epoch_ms(expected)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-01-01T10:00:00", "with a zone"),
        ("2026-01-01", "with a zone"),
        ("2026-01-01T10:00:00[Europe/Berlin]", "zone ids are not supported"),
        ("2026-02-30T10:00:00Z", "not a valid date-time"),
        ("2026-01-01 10:00:00Z", "with a zone"),
        ("yesterday", "with a zone"),
    ],
)
def test_bad_date_times_are_refused(text, reason):
    with pytest.raises(TimerParseError, match=reason):
        parse_date_time(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("R5/PT10S", TimerCycle(5, IsoDuration(milliseconds=10 * SECOND_MS))),
        ("R/PT1M", TimerCycle(None, IsoDuration(milliseconds=MINUTE_MS))),
        ("R6/P1D", TimerCycle(6, IsoDuration(days=1))),
        (
            "R3/2026-01-01T10:00:00Z/PT1H",
            TimerCycle(3, IsoDuration(milliseconds=HOUR_MS), epoch_ms("2026-01-01T10:00:00+00:00")),
        ),
    ],
)
def test_cycles(text, expected):
    assert parse_cycle(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("R0/PT1S", "repeats 0 times"),
        ("R/PT0S", "zero interval"),
        ("R5", "not an ISO-8601 cycle"),
        ("PT10S", "not an ISO-8601 cycle"),
        ("0 0 9-17 * * MON-FRI", "cron expression"),
        ("R5/PT10S/2026-01-01T00:00:00Z", "a duration and an end"),
        ("R2/2026-01-01T00:00:00/PT1S", "with a zone"),
        ("R99999999999/PT1S", "repeats 99999999999 times"),
    ],
)
def test_bad_cycles_are_refused(text, reason):
    with pytest.raises(TimerParseError, match=reason):
        parse_cycle(text)


def test_months_and_years_move_on_the_calendar_and_clamp_to_the_month_end():
    january_31 = epoch_ms("2026-01-31T10:00:00.123+00:00")
    assert parse_duration("P1M").add_to(january_31) == epoch_ms("2026-02-28T10:00:00.123+00:00")
    leap_day = epoch_ms("2028-02-29T00:00:00+00:00")
    assert parse_duration("P1Y").add_to(leap_day) == epoch_ms("2029-02-28T00:00:00+00:00")
    assert parse_duration("P1Y1M1DT1H").add_to(epoch_ms("2026-12-15T00:00:00+00:00")) == (
        epoch_ms("2028-01-16T01:00:00+00:00")
    )
    # Without calendar parts a duration is exact milliseconds.
    assert parse_duration("P1DT1S").add_to(1_000) == 1_000 + DAY_MS + SECOND_MS


def test_first_due_of_a_cycle_is_its_start_while_ahead_else_one_interval_on():
    start = epoch_ms("2026-01-01T10:00:00+00:00")
    cycle = parse_cycle("R3/2026-01-01T10:00:00Z/PT1H")
    assert cycle.first_due_ms(start - 5) == start
    assert cycle.first_due_ms(start + 5) == start + 5 + HOUR_MS
    assert parse_cycle("R/PT1M").first_due_ms(7) == 7 + MINUTE_MS


def test_parse_timer_dispatches_on_the_kind():
    assert parse_timer(TimerKind.DURATION, "PT1S") == IsoDuration(milliseconds=SECOND_MS)
    assert parse_timer(TimerKind.DATE, "1970-01-01T00:00:01Z") == SECOND_MS
    assert parse_timer(TimerKind.CYCLE, "R2/PT1S").repetitions == 2
    with pytest.raises(TimerParseError):
        parse_timer(TimerKind.DATE, "PT1S")
