"""Dates, times, date-times and durations: parsing their ISO-8601 text, arithmetic, and the
properties FEEL reads from them (`.year`, `.hours`, `.time offset`, ...).

Text parsing uses regular expressions on purpose: these are ISO-8601 value formats, not FEEL
syntax (the FEEL grammar itself is in grammar.py). Invalid text yields None — FEEL's null —
never an exception: `date("2024-06-31")` is null, as in Camunda.

Zones: `Z` and offsets (`+02:00`) become `datetime.timezone`; zone ids (`@Europe/Berlin`, or
`+02:00[Europe/Berlin]`) become `zoneinfo.ZoneInfo`. Adding a days-time duration to a date-time
with a zone id moves the instant (as Java's ZonedDateTime does), so adding `PT24H` across a DST
change lands on a different wall-clock hour than adding `P1D`.
"""

import datetime as dt
import re
import zoneinfo
from decimal import Decimal
from typing import Any

from .values import YearsMonthsDuration

UTC = dt.UTC
MICROSECONDS_PER_SECOND = 1_000_000
MICROSECONDS_PER_DAY = 86_400 * MICROSECONDS_PER_SECOND
_ANCHOR_DATE = dt.date(2000, 1, 3)  # any date: times are combined with it to do arithmetic

_DATE = r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
_TIME = r"(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?)?"
_ZONE = (
    r"(?P<offset>Z|[+-]\d{2}:\d{2})?"
    r"(?:@(?P<zone>[A-Za-z][\w/+\-]*)|\[(?P<bracket_zone>[A-Za-z][\w/+\-]*)\])?"
)
DATE_PATTERN = re.compile(_DATE)
TIME_PATTERN = re.compile("T?" + _TIME + _ZONE)
DATE_TIME_PATTERN = re.compile(_DATE + "T" + _TIME + _ZONE)
DAYS_TIME_PATTERN = re.compile(
    r"(?P<sign>-)?P(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)
YEARS_MONTHS_PATTERN = re.compile(r"(?P<sign>-)?P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?")


def parse_date(text: str) -> dt.date | None:
    match = DATE_PATTERN.fullmatch(text)
    if match is None:
        return None
    try:
        return dt.date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError:  # not a calendar date (June 31st) or a year Python cannot hold
        return None


def _zone(match: re.Match) -> dt.tzinfo | None | bool:
    """The match's zone; None when it has none; False when it names one that does not exist."""
    zone_id = match["zone"] or match["bracket_zone"]
    if zone_id is not None:
        if zone_id in ("Z", "UTC"):
            return UTC
        try:
            return zoneinfo.ZoneInfo(zone_id)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return False
    offset = match["offset"]
    if offset is None:
        return None
    if offset == "Z":
        return UTC
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    if hours > 18 or minutes > 59:
        return False
    delta = dt.timedelta(hours=hours, minutes=minutes)
    return dt.timezone(-delta if offset[0] == "-" else delta)


def _time_fields(match: re.Match) -> tuple[int, int, int, int]:
    fraction = match["fraction"] or ""
    microsecond = int((fraction + "000000")[:6])  # nanoseconds are cut, not rounded
    return int(match["hour"]), int(match["minute"]), int(match["second"] or 0), microsecond


def parse_time(text: str) -> dt.time | None:
    match = TIME_PATTERN.fullmatch(text)
    if match is None:
        return None
    zone = _zone(match)
    if zone is False:
        return None
    try:
        return dt.time(*_time_fields(match), tzinfo=zone)
    except ValueError:
        return None


def parse_date_time(text: str) -> dt.datetime | None:
    match = DATE_TIME_PATTERN.fullmatch(text)
    if match is None:
        return None
    zone = _zone(match)
    if zone is False:
        return None
    try:
        day = dt.date(int(match["year"]), int(match["month"]), int(match["day"]))
        return dt.datetime.combine(day, dt.time(*_time_fields(match)), tzinfo=zone)
    except ValueError:
        return None


def parse_duration(text: str) -> dt.timedelta | YearsMonthsDuration | None:
    """`P1Y6M` (years and months) or `P1DT2H30M4.5S` (days and time); a leading `-` negates.
    A mix of both (`P1Y2D`), an empty `P`/`PT`, or weeks (`P2W`) is null."""
    match = YEARS_MONTHS_PATTERN.fullmatch(text)
    if match is not None:
        if match["years"] is None and match["months"] is None:
            return None
        months = 12 * int(match["years"] or 0) + int(match["months"] or 0)
        return YearsMonthsDuration(-months if match["sign"] else months)
    match = DAYS_TIME_PATTERN.fullmatch(text)
    if match is None or all(
        match[part] is None for part in ("days", "hours", "minutes", "seconds")
    ):
        return None
    if "T" in text and text.endswith("T"):
        return None
    seconds = Decimal(match["seconds"] or 0)
    microseconds = (
        int(match["days"] or 0) * MICROSECONDS_PER_DAY
        + (int(match["hours"] or 0) * 3600 + int(match["minutes"] or 0) * 60)
        * MICROSECONDS_PER_SECOND
        + int(seconds * MICROSECONDS_PER_SECOND)
    )
    try:
        return dt.timedelta(microseconds=-microseconds if match["sign"] else microseconds)
    except OverflowError:
        return None


def parse_temporal_literal(text: str) -> Any:
    """The value of `@"..."`: a date-time, date, time or duration, or None."""
    if text.startswith(("P", "-P")):
        return parse_duration(text)
    if "T" in text:
        return parse_date_time(text)
    if ":" in text:
        return parse_time(text)
    return parse_date(text)


# --- text -------------------------------------------------------------------------------------


def _offset_text(offset: dt.timedelta) -> str:
    if not offset:
        return "Z"
    sign = "-" if offset < dt.timedelta(0) else "+"
    seconds = abs(int(offset.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}"
    return text + f":{seconds:02d}" if seconds else text


def _clock_text(value: dt.time | dt.datetime) -> str:
    text = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text


def date_text(value: dt.date) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _feel_zone_text(value: dt.time | dt.datetime) -> str:
    zone = value.tzinfo
    if zone is None:
        return ""
    if isinstance(zone, zoneinfo.ZoneInfo):
        return "@" + zone.key
    return _offset_text(zone.utcoffset(None))


def time_text(value: dt.time) -> str:
    """FEEL's text of a time: `10:31:10`, `10:31:10+02:00`, `10:31:10Z`, `10:31:10@Europe/Paris`."""
    return _clock_text(value) + _feel_zone_text(value)


def date_time_text(value: dt.datetime) -> str:
    """FEEL's text of a date-time: `2020-04-06T08:00:00` with `+02:00`, `Z` or `@Europe/Berlin`."""
    return f"{date_text(value)}T{_clock_text(value)}{_feel_zone_text(value)}"


def json_date_time_text(value: dt.datetime) -> str:
    """ISO-8601 as Camunda's `to json` writes it: a zone id after its offset in brackets."""
    zone = value.tzinfo
    text = f"{date_text(value)}T{_clock_text(value)}"
    if zone is None:
        return text
    offset_text = _offset_text(value.utcoffset())
    if isinstance(zone, zoneinfo.ZoneInfo):
        return f"{text}{'+00:00' if offset_text == 'Z' else offset_text}[{zone.key}]"
    return text + offset_text


def days_time_text(value: dt.timedelta) -> str:
    """`P1DT2H3M4.5S`, `-PT5H`, `P0D`: days, then hours, minutes and seconds below a day (zero
    is `P0D`, as FEEL-Scala writes it)."""
    total = value // dt.timedelta(microseconds=1)
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, MICROSECONDS_PER_DAY)
    seconds, microseconds = divmod(rest, MICROSECONDS_PER_SECOND)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    clock = ""
    if hours:
        clock += f"{hours}H"
    if minutes:
        clock += f"{minutes}M"
    if seconds or microseconds:
        fraction = f".{microseconds:06d}".rstrip("0") if microseconds else ""
        clock += f"{seconds}{fraction}S"
    if not days and not clock:
        return "P0D"
    return f"{sign}P{f'{days}D' if days else ''}{'T' + clock if clock else ''}"


# --- arithmetic -------------------------------------------------------------------------------


def _days_in_month(year: int, month: int) -> int:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return (following - dt.timedelta(days=1)).day


def add_months(value: dt.date, months: int) -> dt.date:
    """`value` moved by whole months, the day clamped to the month's end (Jan 31 + P1M is Feb
    28/29), as Java's `plusMonths`; works for dates and date-times alike."""
    year, month = divmod(value.month - 1 + months, 12)
    year += value.year
    day = min(value.day, _days_in_month(year, month + 1))
    return value.replace(year=year, month=month + 1, day=day)


def add_to_date_time(value: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    if isinstance(value.tzinfo, zoneinfo.ZoneInfo):
        return (value.astimezone(UTC) + delta).astimezone(value.tzinfo)
    return value + delta


def subtract_date_times(left: dt.datetime, right: dt.datetime) -> dt.timedelta | None:
    """The duration between two date-times; None when one has a zone and the other has not."""
    if (left.tzinfo is None) != (right.tzinfo is None):
        return None
    if left.tzinfo is None:
        return left - right
    return left.astimezone(UTC) - right.astimezone(UTC)


def add_to_time(value: dt.time, delta: dt.timedelta) -> dt.time:
    """A time moved by a duration, wrapping at midnight."""
    moved = dt.datetime.combine(_ANCHOR_DATE, value.replace(tzinfo=None)) + delta
    return moved.time().replace(tzinfo=value.tzinfo)


def subtract_times(left: dt.time, right: dt.time) -> dt.timedelta | None:
    if (left.tzinfo is None) != (right.tzinfo is None):
        return None
    return subtract_date_times(
        dt.datetime.combine(_ANCHOR_DATE, left), dt.datetime.combine(_ANCHOR_DATE, right)
    )


def microseconds(value: dt.timedelta) -> int:
    return value // dt.timedelta(microseconds=1)


# --- properties -------------------------------------------------------------------------------


def _signed_parts(value: dt.timedelta) -> tuple[int, int, int, int, int]:
    total = microseconds(value)
    sign = -1 if total < 0 else 1
    days, rest = divmod(abs(total), MICROSECONDS_PER_DAY)
    seconds = rest // MICROSECONDS_PER_SECOND
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return sign, days, hours, minutes, seconds


def _time_offset(value: dt.time | dt.datetime) -> dt.timedelta | None:
    if isinstance(value, dt.time) and isinstance(value.tzinfo, zoneinfo.ZoneInfo):
        return None  # a time with a zone id has no offset without a date
    return value.utcoffset()


def _timezone(value: dt.time | dt.datetime) -> str | None:
    zone = value.tzinfo
    return zone.key if isinstance(zone, zoneinfo.ZoneInfo) else None


_DATE_PROPERTIES = {
    "year": lambda v: v.year,
    "month": lambda v: v.month,
    "day": lambda v: v.day,
    "weekday": lambda v: v.isoweekday(),
}
_TIME_PROPERTIES = {
    "hour": lambda v: v.hour,
    "minute": lambda v: v.minute,
    "second": lambda v: v.second,
    "time offset": _time_offset,
    "timezone": _timezone,
}
PROPERTIES: dict[type, dict] = {
    dt.date: _DATE_PROPERTIES,
    dt.datetime: {**_DATE_PROPERTIES, **_TIME_PROPERTIES},
    dt.time: _TIME_PROPERTIES,
    dt.timedelta: {
        "days": lambda v: (lambda p: p[0] * p[1])(_signed_parts(v)),
        "hours": lambda v: (lambda p: p[0] * p[2])(_signed_parts(v)),
        "minutes": lambda v: (lambda p: p[0] * p[3])(_signed_parts(v)),
        "seconds": lambda v: (lambda p: p[0] * p[4])(_signed_parts(v)),
    },
    YearsMonthsDuration: {
        "years": lambda v: v.years_part,
        "months": lambda v: v.months_part,
    },
}


def temporal_property(value: Any, name: str) -> Any:
    """`value.name` for a temporal value; None for a name the type does not have."""
    getter = PROPERTIES[type(value)].get(name)
    return None if getter is None else getter(value)
