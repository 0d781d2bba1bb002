"""ISO-8601 timer values, as BPMN timer definitions write them: a date-time (`timeDate`), a
duration (`timeDuration`) and a repeating interval (`timeCycle`).

The parser validates static values at deployment; the executor reuses it on the result of a
FEEL timer expression. Arithmetic is on epoch milliseconds in UTC and takes no clock: callers
pass the time (the command's timestamp), so replay computes the same due dates.

Accepted forms (and nothing looser, so that a typo is refused instead of guessed at):
- date-time: `2026-01-01T10:00:00Z`, `2026-01-01T10:00:00.250+02:00`, `2026-01-01T10:00Z`;
  a zone offset or `Z` is required;
- duration: `P1Y2M3W4DT5H6M7.5S` and every subset with at least one part, e.g. `PT1H30M`,
  `P1D`, `PT0.5S` (seconds take at most millisecond precision); never negative;
- cycle: `R5/PT10S` (5 repetitions), `R/PT1M` (forever), `R3/2026-01-01T10:00:00Z/PT1H`
  (from a start date-time). Cron expressions are refused.
"""

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
# No timer is further out than this: it keeps calendar arithmetic inside datetime's range
# and turns a typo such as P99999999Y into a clear refusal.
DURATION_MS_MAX = 1000 * 366 * DAY_MS
# Zeebe keeps repetitions in a Java int.
CYCLE_REPETITIONS_MAX = 2**31 - 1
# Longer text is not a timer value; refuse it before any regular expression runs.
TIMER_TEXT_CHARS_MAX = 200

_DURATION = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)(?:[.,](?P<fraction>\d{1,3}))?S)?)?"
)
_DATE_TIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})"
)
_REPETITIONS = re.compile(r"R(?P<count>\d*)")


class TimerParseError(ValueError):
    """A timer value that is not one of the accepted ISO-8601 forms; the message says which
    form was expected and what was wrong."""


class TimerKind(StrEnum):
    DATE = "timeDate"
    DURATION = "timeDuration"
    CYCLE = "timeCycle"


@dataclass(frozen=True, slots=True)
class IsoDuration:
    """A duration with calendar parts kept apart: a month is not a fixed number of days, so
    months and years are added on the calendar (clamped to the month's last day, as Java's
    `Period` does) and the rest as exact milliseconds."""

    years: int = 0
    months: int = 0
    days: int = 0
    milliseconds: int = 0

    def __post_init__(self) -> None:
        assert min(self.years, self.months, self.days, self.milliseconds) >= 0, self

    @property
    def is_zero(self) -> bool:
        return not (self.years or self.months or self.days or self.milliseconds)

    def upper_bound_ms(self) -> int:
        """No addition of this duration moves a time further than this."""
        return (self.years * 366 + self.months * 31 + self.days) * DAY_MS + self.milliseconds

    def add_to(self, epoch_ms: int) -> int:
        """`epoch_ms` moved on by this duration, on the UTC calendar."""
        if not (self.years or self.months):
            return epoch_ms + self.days * DAY_MS + self.milliseconds
        moment = datetime.fromtimestamp(epoch_ms // SECOND_MS, tz=UTC)
        month_index = moment.month - 1 + self.months + 12 * self.years
        year = moment.year + month_index // 12
        month = month_index % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        moved = moment.replace(year=year, month=month, day=day)
        moved_ms = int(moved.timestamp()) * SECOND_MS + epoch_ms % SECOND_MS
        return moved_ms + self.days * DAY_MS + self.milliseconds


@dataclass(frozen=True, slots=True)
class TimerCycle:
    """`repetitions` is None for `R/...` (repeat forever). `start_ms` is the start date-time of
    `R/<start>/<duration>`, None when the cycle starts when the timer is created."""

    repetitions: int | None
    interval: IsoDuration
    start_ms: int | None = None

    def __post_init__(self) -> None:
        assert self.repetitions is None or 1 <= self.repetitions <= CYCLE_REPETITIONS_MAX
        assert not self.interval.is_zero, "a cycle with a zero interval would never stop firing"

    def first_due_ms(self, now_ms: int) -> int:
        """When the first repetition is due for a timer created at `now_ms`: the start, if the
        cycle has one still ahead, else one interval from now."""
        if self.start_ms is not None and self.start_ms > now_ms:
            return self.start_ms
        return self.interval.add_to(now_ms)


def parse_duration(text: str) -> IsoDuration:
    """An ISO-8601 duration such as `PT1H30M` or `P1D`."""
    _check_length(text, "duration")
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise TimerParseError(
            f"'{text}' is not an ISO-8601 duration (expected the form P1Y2M3W4DT5H6M7.5S, "
            f"for example PT1H30M or P1D; negative durations are not allowed)"
        )
    parts = match.groupdict()
    if all(
        parts[name] is None
        for name in ("years", "months", "weeks", "days", "hours", "minutes", "seconds")
    ):
        raise TimerParseError(f"'{text}' is not an ISO-8601 duration: it has no parts")
    if text.strip().endswith("T"):
        raise TimerParseError(f"'{text}' is not an ISO-8601 duration: 'T' without a time part")
    number = {name: int(value) if value else 0 for name, value in parts.items()}
    fraction_ms = int((parts["fraction"] or "0").ljust(3, "0"))
    duration = IsoDuration(
        years=number["years"],
        months=number["months"],
        days=number["weeks"] * 7 + number["days"],
        milliseconds=number["hours"] * HOUR_MS
        + number["minutes"] * MINUTE_MS
        + number["seconds"] * SECOND_MS
        + fraction_ms,
    )
    if duration.upper_bound_ms() > DURATION_MS_MAX:
        raise TimerParseError(f"'{text}' is longer than the longest timer allowed (1000 years)")
    return duration


def parse_date_time(text: str) -> int:
    """An ISO-8601 date-time with a zone offset or `Z`, as epoch milliseconds."""
    _check_length(text, "date-time")
    stripped = text.strip()
    if _DATE_TIME.fullmatch(stripped) is None:
        if "[" in stripped:
            reason = "zone ids are not supported; write an offset such as +01:00 or Z"
        else:
            reason = "expected the form 2026-01-01T10:00:00Z or 2026-01-01T10:00:00+02:00"
        raise TimerParseError(f"'{text}' is not an ISO-8601 date-time with a zone: {reason}")
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError as error:
        raise TimerParseError(f"'{text}' is not a valid date-time: {error}") from None
    assert moment.tzinfo is not None
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return delta // timedelta(milliseconds=1)


def parse_cycle(text: str) -> TimerCycle:
    """An ISO-8601 repeating interval: `R5/PT10S`, `R/PT1M` or `R3/<date-time>/PT1H`."""
    _check_length(text, "cycle")
    stripped = text.strip()
    parts = stripped.split("/")
    repetitions_match = _REPETITIONS.fullmatch(parts[0])
    if repetitions_match is None or len(parts) not in (2, 3):
        if " " in stripped:
            raise TimerParseError(
                f"'{text}' looks like a cron expression; only ISO-8601 cycles such as "
                f"R5/PT10S are supported"
            )
        raise TimerParseError(
            f"'{text}' is not an ISO-8601 cycle (expected R<n>/<duration>, R/<duration> or "
            f"R<n>/<start date-time>/<duration>, for example R5/PT10S)"
        )
    count = repetitions_match.group("count")
    repetitions = int(count) if count else None
    if repetitions is not None and not 1 <= repetitions <= CYCLE_REPETITIONS_MAX:
        raise TimerParseError(
            f"'{text}' repeats {repetitions} times; expected 1 to {CYCLE_REPETITIONS_MAX}, "
            f"or R/ to repeat forever"
        )
    if len(parts) == 3 and parts[1].startswith("P"):
        raise TimerParseError(
            f"'{text}' gives a duration and an end; only R<n>/<start date-time>/<duration> "
            f"is supported"
        )
    start_ms = parse_date_time(parts[1]) if len(parts) == 3 else None
    interval = parse_duration(parts[-1])
    if interval.is_zero:
        raise TimerParseError(f"'{text}' has a zero interval; it would fire without pause")
    return TimerCycle(repetitions=repetitions, interval=interval, start_ms=start_ms)


def parse_timer(kind: TimerKind, text: str) -> int | IsoDuration | TimerCycle:
    """The value of a timer definition of this kind: epoch ms, a duration or a cycle."""
    if kind is TimerKind.DATE:
        return parse_date_time(text)
    if kind is TimerKind.DURATION:
        return parse_duration(text)
    assert kind is TimerKind.CYCLE, kind
    return parse_cycle(text)


def _check_length(text: str, form: str) -> None:
    if len(text) > TIMER_TEXT_CHARS_MAX:
        raise TimerParseError(
            f"a timer {form} of {len(text)} characters is longer than the "
            f"{TIMER_TEXT_CHARS_MAX} allowed"
        )
