"""The one place the BPMN parser meets FEEL: checking that an expression compiles."""


def feel_syntax_error(text: str) -> str | None:
    """None when `text` (a FEEL expression without its leading '=') parses, else why not."""
    from raybee.partitions.engine.feel import FeelSyntaxError, parse

    try:
        parse(text)
    except FeelSyntaxError as error:
        return str(error)
    return None
