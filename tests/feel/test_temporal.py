"""Dates, times, date-times and durations, table-driven: literals, arithmetic, properties,
the temporal functions, and the examples of Camunda's temporal pages. `now()` is the fixed
command timestamp NOW (Friday 2024-03-15T10:30:00Z)."""

import datetime as dt
import zoneinfo

import pytest

from raybee.partitions.engine.feel import YearsMonthsDuration as YM
from raybee.partitions.engine.feel.testing import ids, rows

UTC = dt.UTC
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
PLUS_2 = dt.timezone(dt.timedelta(hours=2))
PLUS_1 = dt.timezone(dt.timedelta(hours=1))

# https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-temporal-expressions/
LITERALS = [
    ('date("2020-04-06")', dt.date(2020, 4, 6)),
    ('@"2020-04-06"', dt.date(2020, 4, 6)),
    ('time("08:00:00")', dt.time(8)),
    ('time("08:00:00+02:00")', dt.time(8, tzinfo=PLUS_2)),
    ('time("08:00:00@Europe/Berlin")', dt.time(8, tzinfo=BERLIN)),
    ('@"08:00:00"', dt.time(8)),
    ('@"08:00:00+02:00"', dt.time(8, tzinfo=PLUS_2)),
    ('@"08:00:00@Europe/Berlin"', dt.time(8, tzinfo=BERLIN)),
    ('time("13:30")', dt.time(13, 30)),
    ('time("10:00:00.250")', dt.time(10, 0, 0, 250000)),
    ('date and time("2020-04-06T08:00:00")', dt.datetime(2020, 4, 6, 8)),
    ('date and time("2020-04-06T08:00:00+02:00")', dt.datetime(2020, 4, 6, 8, tzinfo=PLUS_2)),
    (
        'date and time("2020-04-06T08:00:00@Europe/Berlin")',
        dt.datetime(2020, 4, 6, 8, tzinfo=BERLIN),
    ),
    ('@"2020-04-06T08:00:00"', dt.datetime(2020, 4, 6, 8)),
    ('@"2020-04-06T08:00:00Z"', dt.datetime(2020, 4, 6, 8, tzinfo=UTC)),
    ('@"2020-04-06T08:00:00+02:00"', dt.datetime(2020, 4, 6, 8, tzinfo=PLUS_2)),
    ('@"2020-04-06T08:00:00@Europe/Berlin"', dt.datetime(2020, 4, 6, 8, tzinfo=BERLIN)),
    ('duration("P5D")', dt.timedelta(days=5)),
    ('duration("PT6H")', dt.timedelta(hours=6)),
    ('@"P5D"', dt.timedelta(days=5)),
    ('@"PT6H"', dt.timedelta(hours=6)),
    ('@"P1DT2H3M4.5S"', dt.timedelta(days=1, hours=2, minutes=3, seconds=4.5)),
    ('@"-PT5H"', dt.timedelta(hours=-5)),
    ('duration("P1Y6M")', YM(18)),
    ('duration("P3M")', YM(3)),
    ('@"P1Y6M"', YM(18)),
    ('@"-P2Y"', YM(-24)),
    ('@"2024-06-31"', None),  # June has 30 days
    ('date("2024-06-31")', None),
    ('date("2024-02-29")', dt.date(2024, 2, 29)),
    ('date("2023-02-29")', None),
    ('date("not a date")', None),
    ('time("25:00:00")', None),
    ('date and time("2020-04-06T08:00:00@Nowhere/City")', None),
    ('duration("P")', None),
    ('duration("PT")', None),
    ('duration("P1Y2D")', None),
    ('duration("5 days")', None),
]

ARITHMETIC = [
    ('date("2020-04-06") + duration("P1D")', dt.date(2020, 4, 7)),
    ('time("08:00:00") + duration("PT1H")', dt.time(9)),
    ('date and time("2020-04-06T08:00:00") + duration("P7D")', dt.datetime(2020, 4, 13, 8)),
    ('duration("P2D") + duration("P5D")', dt.timedelta(days=7)),
    ('date("2020-04-06") - date("2020-04-01")', dt.timedelta(days=5)),
    ('date("2020-04-06") - duration("P5D")', dt.date(2020, 4, 1)),
    ('time("08:00:00") - time("06:00:00")', dt.timedelta(hours=2)),
    ('time("08:00:00") - duration("PT2H")', dt.time(6)),
    ('duration("P7D") - duration("P2D")', dt.timedelta(days=5)),
    ('duration("P1Y") - duration("P3M")', YM(9)),
    ('duration("P1D") * 5', dt.timedelta(days=5)),
    ('5 * duration("P1D")', dt.timedelta(days=5)),
    ('duration("P1M") * 6', YM(6)),
    ('duration("P5D") / duration("P1D")', 5),
    ('duration("P5D") / 5', dt.timedelta(days=1)),
    ('duration("P1Y") / duration("P1M")', 12),
    ('duration("P1Y") / 12', YM(1)),
    ('duration("P1D") / 0', None),
    ('date("2020-01-31") + duration("P1M")', dt.date(2020, 2, 29)),  # clamped to the month
    ('date("2020-04-06") + duration("P1Y2M")', dt.date(2021, 6, 6)),
    ('@"2020-04-06T08:00:00Z" - @"2020-04-06T06:00:00+01:00"', dt.timedelta(hours=3)),
    ('@"2020-04-06T08:00:00" - @"2020-04-06T06:00:00Z"', None),  # local against zoned
    ('@"23:00:00" + @"PT2H"', dt.time(1)),  # wraps at midnight
    ('date("2020-04-06") + 1', None),
    ('date("2020-04-06") + date("2020-04-06")', None),
    # 2024-03-31 02:00 Berlin: clocks go forward; 24 hours later is 03:00 local on April 1st.
    (
        '@"2024-03-30T02:30:00@Europe/Berlin" + @"PT24H"',
        dt.datetime(2024, 3, 31, 3, 30, tzinfo=BERLIN),
    ),
    ('@"2024-03-30T02:30:00@Europe/Berlin" + @"P1D" = @"2024-03-31T01:30:00Z"', True),
]

# https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-temporal-expressions/#properties
PROPERTIES = [
    ('date("2020-04-06").year', 2020),
    ('date("2020-04-06").month', 4),
    ('date("2020-04-06").day', 6),
    ('date("2020-04-06").weekday', 1),
    ('time("08:00:00").hour', 8),
    ('time("08:15:30").minute', 15),
    ('time("08:15:30").second', 30),
    ('date and time("2020-04-06T08:00:00+02:00").time offset', dt.timedelta(hours=2)),
    ('date and time("2020-04-06T08:00:00@Europe/Berlin").timezone', "Europe/Berlin"),
    ('date and time("2020-04-06T08:00:00").timezone', None),
    ('date and time("2020-04-06T08:00:00").year', 2020),
    ('duration("PT2H30M").hours', 2),
    ('duration("PT2H30M").minutes', 30),
    ('duration("P2DT3H").days', 2),
    ('duration("-PT90M").minutes', -30),
    ('duration("P6M").months', 6),
    ('duration("P18M").years', 1),
    ('duration("P18M").months', 6),
    ('date("2020-04-06").hour', None),
]

# https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-temporal/
# https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-conversion/
FUNCTIONS = [
    ("now()", dt.datetime(2024, 3, 15, 10, 30, tzinfo=UTC)),
    ("today()", dt.date(2024, 3, 15)),
    ("string(now())", "2024-03-15T10:30:00Z"),
    ('day of week(date("2019-09-17"))', "Tuesday"),
    ('day of week(date and time("2019-09-17T12:00:00"))', "Tuesday"),
    ('day of year(date("2019-09-17"))', 260),
    ('day of year(date and time("2019-09-17T12:00:00"))', 260),
    ('week of year(date("2019-09-17"))', 38),
    ('week of year(date and time("2019-09-17T12:00:00"))', 38),
    ('month of year(date("2019-09-17"))', "September"),
    ('month of year(date and time("2019-09-17T12:00:00"))', "September"),
    ('abs(duration("-PT5H"))', dt.timedelta(hours=5)),
    ('abs(duration("PT5H"))', dt.timedelta(hours=5)),
    ('abs(duration("-P2M"))', YM(2)),
    ('last day of month(date("2022-10-01"))', dt.date(2022, 10, 31)),
    ('last day of month(date and time("2022-10-16T12:00:00"))', dt.date(2022, 10, 31)),
    ('last day of month(date("2024-02-10"))', dt.date(2024, 2, 29)),
    ('date("2018-04-29")', dt.date(2018, 4, 29)),
    ('date(date and time("2012-12-25T11:00:00"))', dt.date(2012, 12, 25)),
    ("date(2012, 12, 25)", dt.date(2012, 12, 25)),
    ("date(2024, 6, 31)", None),
    ('time("12:00:00")', dt.time(12)),
    ('time(date and time("2012-12-25T11:00:00"))', dt.time(11)),
    ("time(23, 59, 0)", dt.time(23, 59)),
    ('time(14, 30, 0, duration("PT1H"))', dt.time(14, 30, tzinfo=PLUS_1)),
    ('date and time("2018-04-29T09:30:00")', dt.datetime(2018, 4, 29, 9, 30)),
    ('date and time("2018-04-29T09:30:00+02:00")', dt.datetime(2018, 4, 29, 9, 30, tzinfo=PLUS_2)),
    (
        'date and time("2018-04-29T09:30:00@Europe/Berlin")',
        dt.datetime(2018, 4, 29, 9, 30, tzinfo=BERLIN),
    ),
    (
        'date and time("2018-04-29T09:30:00+02:00[Europe/Berlin]")',
        dt.datetime(2018, 4, 29, 9, 30, tzinfo=BERLIN),
    ),
    ('date and time(date("2012-12-24"),time("T23:59:00"))', dt.datetime(2012, 12, 24, 23, 59)),
    (
        'date and time(date and time("2012-12-25T11:00:00"),time("T23:59:00"))',
        dt.datetime(2012, 12, 25, 23, 59),
    ),
    (
        'date and time(@"2020-07-31T14:27:30@Europe/Berlin", "America/Los_Angeles")',
        dt.datetime(2020, 7, 31, 5, 27, 30, tzinfo=zoneinfo.ZoneInfo("America/Los_Angeles")),
    ),
    ('date and time(@"2020-07-31T14:27:30Z", "Europe/Berlin").hour', 16),
    ('date and time(date: @"2020-07-31T14:27:30Z", timezone: "Nowhere/City")', None),
    ('duration("P5D")', dt.timedelta(days=5)),
    ('duration("P32Y")', YM(384)),
    ('years and months duration(date("2011-12-22"), date("2013-08-24"))', YM(20)),
    ('years and months duration(date("2013-08-24"), date("2011-12-22"))', YM(-20)),
    ('years and months duration(date("2020-01-31"), date("2020-02-29"))', YM(0)),
    ("years and months duration(date(birthday), today()).years", 33, {"birthday": "1990-05-20"}),
    ('string(date("2012-12-25"))', "2012-12-25"),
    ('string(time("23:59:00"))', "23:59:00"),
    ('string(time("23:59:00+01:00"))', "23:59:00+01:00"),
    ('string(date and time("2012-12-25T11:00:00"))', "2012-12-25T11:00:00"),
    ('string(date and time("2012-12-25T11:00:00+02:00"))', "2012-12-25T11:00:00+02:00"),
    (
        'string(date and time("2012-12-25T11:00:00@Europe/Berlin"))',
        "2012-12-25T11:00:00@Europe/Berlin",
    ),
    ('string(@"-PT0S")', "P0D"),
    ('string(@"PT0H0M")', "P0D"),
    ('string(@"PT1H")', "PT1H"),
    ('string(@"PT2M30S")', "PT2M30S"),
    ('string(@"P1DT2H3M4S")', "P1DT2H3M4S"),
    ('string(@"-P1DT2H3M4S")', "-P1DT2H3M4S"),
    ('string(@"PT36H")', "P1DT12H"),
    ('string(@"P0Y")', "P0Y"),
    ('string(@"-P0M")', "P0Y"),
    ('string(@"P1Y")', "P1Y"),
    ('string(@"P2M")', "P2M"),
    ('string(@"-P3Y1M")', "-P3Y1M"),
    ('to json(@"2023-06-14")', '"2023-06-14"'),
    ('to json(@"P3Y")', '"P3Y"'),
    ('to json(@"2025-11-24T10:00:00@Europe/Berlin")', '"2025-11-24T10:00:00+01:00[Europe/Berlin]"'),
]

# https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-temporal-expressions/#examples
EXAMPLES = [
    ('{date1: @"2020-01-01", date2: @"2019-08-01", r: date1 < date2 + @"P6M"}.r', True),
    ('{date1: @"2020-03-01", date2: @"2019-08-01", r: date1 < date2 + @"P6M"}.r', False),
    (
        '(for x in 1..7 return date and time(today(),@"08:00:00Z") + @"P1D" * x)'
        '[day of week(item) = "Tuesday"][1] - now()',
        dt.timedelta(days=3, hours=21, minutes=30),
    ),
    (
        '(for x in 1..3 return date and time(today(),@"00:00:00Z") + @"P1D" * x)'
        '[not(day of week(item) in ("Saturday","Sunday"))][1]',
        dt.datetime(2024, 3, 18, tzinfo=UTC),
    ),
    (
        """for d in dates return {
             date: date(date and time(d)),
             day: string(date.day),
             month: substring(month of year(date), 1, 3),
             year: string(date.year),
             formatted: day + "-" + month + "-" + year
           }.formatted""",
        ["21-Apr-2021", "22-Apr-2021"],
        {"dates": ["2021-04-21T07:25:06.000Z", "2021-04-22T07:25:06.000Z"]},
    ),
    ('(now() - @"1970-01-01T00:00Z") / @"PT1S" * 1000', 1710498600000),
    (
        """{
             time: @"09:00:00@Europe/Berlin",
             date: if time(now()) < time then today() else today() + @"P1D",
             duration: date and time(date, time) - now()
           }.duration""",
        # 10:30Z against 09:00@Europe/Berlin is null (a time with a zone id has no offset), so
        # tomorrow: 09:00 Berlin is 08:00Z, 21:30 after NOW.
        dt.timedelta(hours=21, minutes=30),
    ),
    ('now() > @"2024-01-01T00:00:00Z"', True),
    ('today() - @"2024-03-01"', dt.timedelta(days=14)),
]

TABLE = LITERALS + ARITHMETIC + PROPERTIES + FUNCTIONS + EXAMPLES


@pytest.mark.parametrize("expression, expected, variables", rows(TABLE), ids=ids(TABLE))
def test_temporal(check, expression, expected, variables):
    check(expression, expected, variables)
