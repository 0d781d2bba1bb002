"""Checks over a partition's log that tests and simulators share.

"Every committed command is answered exactly once": a log-read command (one a client, a
scheduler or another partition appended - source position -1) is answered by the records its
processing wrote, all sourced at it. Processing one command writes its records one after the
other (follow-up commands it asks for are processed later in the batch, and their records are
sourced at them), so the answer to a command is ONE contiguous run of positions. No run means
the command was lost; two runs mean it was processed twice.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from raybee.partitions.protocol import Record


@dataclass
class AnswerReport:
    commands: int = 0
    answered: int = 0
    unanswered: list[int] = field(default_factory=list)
    answered_twice: list[int] = field(default_factory=list)
    follow_ups: int = 0

    @property
    def problems(self) -> list[str]:
        found = []
        if self.unanswered:
            found.append(
                f"{len(self.unanswered)} commands never answered, at positions "
                f"{self.unanswered[:10]}"
            )
        if self.answered_twice:
            found.append(
                f"{len(self.answered_twice)} commands answered more than once, at positions "
                f"{self.answered_twice[:10]}"
            )
        return found


def check_answers(records: Iterable[Record]) -> AnswerReport:
    """Who answered whom, over a whole log (read it with `log.read_from(1)`)."""
    report = AnswerReport()
    log_read: dict[int, Record] = {}
    runs: dict[int, list[int]] = {}  # command position -> [first, last] of each answer run
    for record in records:
        source = record.source_record_position
        if record.is_command and source < 0:
            log_read[record.position] = record
            continue
        if record.is_command:
            report.follow_ups += 1
        if source not in log_read:
            continue  # an answer to a follow-up command (or to nothing we can see)
        spans = runs.setdefault(source, [])
        if spans and spans[-1][1] == record.position - 1:
            spans[-1][1] = record.position
        else:
            spans.append([record.position, record.position])
    report.commands = len(log_read)
    for position in log_read:
        spans = runs.get(position, [])
        if not spans:
            report.unanswered.append(position)
        elif len(spans) > 1:
            report.answered_twice.append(position)
        else:
            report.answered += 1
    return report


def assert_every_command_answered_once(records: Iterable[Record]) -> AnswerReport:
    report = check_answers(records)
    assert not report.problems, "; ".join(report.problems)
    return report
