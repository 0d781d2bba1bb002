"""Temporal functions and constructors:
https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-temporal/
https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-conversion/

`now()` and `today()` read the timestamp of the command being processed (the `now` argument of
`evaluate`), never the wall clock: processing a command again must give the same result. A
naive `now` is taken as UTC. `date and time(x, "Zone")` takes a date-time without a zone as UTC
(Camunda takes the JVM's zone).
"""

import datetime as dt
import zoneinfo
from decimal import Decimal

from .. import temporal
from ..errors import EvaluationFailure
from .registry import (
    DATE_OR_DATE_TIME,
    DAYS_TIME_DURATION,
    NOT_NULL,
    NUMBER,
    STRING,
    Builtins,
    as_int,
    overload,
)

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def _now(env) -> dt.datetime:
    now = env.now
    if now is None:
        raise EvaluationFailure(
            "now() and today() need the command's timestamp, and none was given (now=None)"
        )
    return now


def _date(value):
    kind = type(value)
    if kind is str:
        return temporal.parse_date(value)
    if kind is dt.datetime:
        return value.date()
    if kind is dt.date:
        return value
    return None


def _date_from_parts(year, month, day):
    parts = [as_int(part) for part in (year, month, day)]
    if None in parts:
        return None
    return dt.date(*parts)


def _time(value):
    kind = type(value)
    if kind is str:
        return temporal.parse_time(value)
    if kind is dt.datetime:
        return value.timetz()
    if kind is dt.time:
        return value
    return None


def _time_from_parts(hour, minute, second, offset=None):
    whole = [as_int(hour), as_int(minute)]
    if None in whole:
        return None
    seconds = Decimal(second)
    microsecond = int((seconds - int(seconds)) * temporal.MICROSECONDS_PER_SECOND)
    zone = None if offset is None else dt.timezone(offset)
    return dt.time(*whole, int(seconds), microsecond, tzinfo=zone)


def _date_and_time(value):
    if type(value) is str:
        return temporal.parse_date_time(value)
    if type(value) is dt.datetime:
        return value
    return None


def _date_and_time_of(day, time_or_zone):
    if type(time_or_zone) is dt.time:
        start = day.date() if type(day) is dt.datetime else day
        return dt.datetime.combine(start, time_or_zone)
    if type(time_or_zone) is str and type(day) is dt.datetime:
        zone = temporal.UTC if time_or_zone in ("Z", "UTC") else _zone(time_or_zone)
        if zone is None:
            return None
        start = day if day.tzinfo is not None else day.replace(tzinfo=temporal.UTC)
        return start.astimezone(zone)
    return None


def _zone(zone_id: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(zone_id)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _years_and_months(start, end):
    """Whole months from `start` to `end` (as Java's Period.between: a month counts once its
    day is reached)."""
    months = (end.year * 12 + end.month) - (start.year * 12 + start.month)
    days = end.day - start.day
    if months > 0 and days < 0:
        months -= 1
    elif months < 0 and days > 0:
        months += 1
    return temporal.YearsMonthsDuration(months)


def _last_day_of_month(value):
    day = value.date() if type(value) is dt.datetime else value
    following = temporal.add_months(day.replace(day=1), 1)
    return following - dt.timedelta(days=1)


FUNCTIONS: Builtins = {
    "now": (overload(_now, needs_env=True),),
    "today": (overload(lambda env: _now(env).date(), needs_env=True),),
    "date": (
        overload(_date, ("from", NOT_NULL)),
        overload(_date_from_parts, ("year", NUMBER), ("month", NUMBER), ("day", NUMBER)),
    ),
    "time": (
        overload(_time, ("from", NOT_NULL)),
        overload(_time_from_parts, ("hour", NUMBER), ("minute", NUMBER), ("second", NUMBER)),
        overload(
            _time_from_parts,
            ("hour", NUMBER),
            ("minute", NUMBER),
            ("second", NUMBER),
            ("offset", DAYS_TIME_DURATION),
        ),
    ),
    "date and time": (
        overload(_date_and_time, ("from", NOT_NULL)),
        # Positional calls bind here; the implementation tells a time from a zone id.
        overload(_date_and_time_of, ("date", DATE_OR_DATE_TIME), ("time", NOT_NULL)),
        overload(_date_and_time_of, ("date", DATE_OR_DATE_TIME), ("timezone", STRING)),
    ),
    "duration": (overload(temporal.parse_duration, ("from", STRING)),),
    "years and months duration": (
        overload(_years_and_months, ("from", DATE_OR_DATE_TIME), ("to", DATE_OR_DATE_TIME)),
    ),
    "day of week": (overload(lambda d: DAY_NAMES[d.weekday()], ("date", DATE_OR_DATE_TIME)),),
    "day of year": (overload(lambda d: d.timetuple().tm_yday, ("date", DATE_OR_DATE_TIME)),),
    "week of year": (overload(lambda d: d.isocalendar()[1], ("date", DATE_OR_DATE_TIME)),),
    "month of year": (overload(lambda d: MONTH_NAMES[d.month - 1], ("date", DATE_OR_DATE_TIME)),),
    "last day of month": (overload(_last_day_of_month, ("date", DATE_OR_DATE_TIME)),),
}
