"""What a FEEL expression can fail with. Every failure names the expression; none is a bare
Python exception (the evaluator turns anything unexpected into a FeelEvaluationError)."""


class FeelError(Exception):
    """Base of every FEEL failure; `expression` is the source text (without Zeebe's `=`)."""

    def __init__(self, expression: str, message: str):
        super().__init__(message)
        self.expression = expression
        self.message = message


class FeelSyntaxError(FeelError):
    """The expression cannot be compiled: bad syntax, an unknown function, a wrong number of
    arguments to a built-in, an unknown type name. Found by `parse`, so a process that holds
    such an expression can be refused at deployment."""

    def __init__(self, expression: str, line: int, column: int, expected: str):
        self.line = line
        self.column = column
        self.expected = expected
        where = f"line {line}, column {column}" if "\n" in expression else f"column {column}"
        super().__init__(
            expression, f"Expected {expected} at {where} of FEEL expression {expression!r}"
        )


class FeelEvaluationError(FeelError):
    """The expression compiled but could not be evaluated: `now()` without a timestamp, a
    call of something that is not a function, a failed `assert`, a variable of a type that is
    not JSON, or an internal error. Ordinary type mismatches are not errors: FEEL evaluates
    them to null (see the package docstring)."""

    def __init__(self, expression: str, reason: str):
        self.reason = reason
        super().__init__(expression, f"Failed to evaluate FEEL expression {expression!r}: {reason}")


class EvaluationFailure(Exception):
    """Raised inside compiled code when evaluation must stop; `FeelExpression.evaluate` turns
    it into a FeelEvaluationError naming the expression (compiled closures do not know it)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
