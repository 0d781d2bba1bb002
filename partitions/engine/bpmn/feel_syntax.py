"""The one place the BPMN parser meets FEEL: checking at deployment that an expression
compiles, so that a process with a FEEL syntax error is refused instead of failing when an
instance reaches it."""

from raybee.partitions.engine.feel import FeelSyntaxError, parse


def feel_syntax_error(text: str) -> str | None:
    """None when `text` (a FEEL expression without its leading '=') compiles, else why not."""
    try:
        parse(text)
    except FeelSyntaxError as error:
        return str(error)
    return None
