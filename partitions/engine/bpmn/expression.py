"""An expression as written in a BPMN attribute or element: a FEEL expression when it starts
with '=' (Zeebe's convention), a static value otherwise. Conditions (of sequence flows and of
multi-instance completion) are always FEEL: the '=' is optional there."""

from dataclasses import dataclass

FEEL_PREFIX = "="


@dataclass(frozen=True, slots=True)
class Expression:
    """`source` is the text exactly as in the file; `is_feel` says how to read it.

    Read `feel` (the FEEL text, without the '=') when `is_feel`, `static_value` otherwise; the
    other accessor is a programming error and asserts."""

    source: str
    is_feel: bool

    @classmethod
    def of(cls, source: str) -> "Expression":
        """FEEL if the text starts with '=' (after leading blanks), else a static value."""
        return cls(source=source, is_feel=source.lstrip().startswith(FEEL_PREFIX))

    @classmethod
    def condition(cls, source: str) -> "Expression":
        """Always FEEL; a leading '=' is allowed and dropped."""
        return cls(source=source, is_feel=True)

    @property
    def feel(self) -> str:
        assert self.is_feel, f"'{self.source}' is a static value, not a FEEL expression"
        text = self.source.strip()
        if text.startswith(FEEL_PREFIX):
            text = text[len(FEEL_PREFIX) :].strip()
        return text

    @property
    def static_value(self) -> str:
        assert not self.is_feel, f"'{self.source}' is a FEEL expression, not a static value"
        return self.source

    def __str__(self) -> str:
        return self.source
