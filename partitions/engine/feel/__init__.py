"""FEEL, the expression language of Zeebe processes: conditions, input/output mappings, job
types, correlation keys, timers.

    expression = parse('status = "open" and priority >= 3')   # once per process definition
    expression.evaluate({"status": "open", "priority": 4})      # -> True, per use
    evaluate("now() + duration(\"PT5S\")", {}, now=command_timestamp)

Expressions are given without Zeebe's leading `=`. `parse` runs the lark LALR grammar
(grammar.py) and compiles the tree into closures (compiler.py); `FeelExpression.evaluate`
only calls them. The semantics follow Camunda 8's FEEL (FEEL-Scala) and its documentation
(https://docs.camunda.io/docs/components/modeler/feel/what-is-feel/):

- Null-friendly: a missing variable or context entry is null; an operation on types it is not
  defined for (`1 + "a"`, `"a" < 1`, a division by zero) is null; a built-in called with
  arguments of the wrong types is null. Comparisons with null are null except `=`/`!=`
  (`x = null` is the null check). `and`/`or` use three-valued logic (`false and null` is false).
- Conditions: an expression can evaluate to null (`x > 5` with no `x`). FEEL leaves what that
  means to its caller; raybee's engine treats a condition that is not `true` as not fulfilled.
- Numbers are decimal: `0.1 + 0.2 = 0.3`, also for variables (JSON floats are read as the
  decimal they were written as). Results are int when whole, else Decimal.
- Stricter than Camunda, on purpose: calling a function that does not exist, or a built-in with
  a number or names of arguments none of its overloads takes, is a FeelSyntaxError from
  `parse` (Camunda evaluates it to null), so a process with a misspelt function is refused at
  deployment instead of taking a wrong branch. `assert()` failures, calling a value that is not
  a function, `now()` without a timestamp and internal errors raise FeelEvaluationError.
- Names may contain spaces (`Current Vacation Status.name`, as the DMN spec allows; Camunda
  asks for backticks, which work too). See grammar.py for how that is parsed.

- Limits: a range or a for/some/every that would go through more than 1,000,000 items fails
  (FeelEvaluationError) instead of occupying the partition; expressions longer than 100,000
  characters are refused by `parse`.

Not supported: unary-tests as a separate dialect (only after `in`), `?`, `external`
functions, ranges written with outward brackets (`]1..5[`), the range built-ins (`before`,
`meets`, ...), `uuid()` and `random number()` (not deterministic), `fromAi()`, nanosecond
precision (times keep microseconds), telling a missing variable from a null one.
"""

from .errors import FeelError, FeelEvaluationError, FeelSyntaxError
from .expression import FeelExpression, evaluate, parse
from .values import FeelFunction, Range, YearsMonthsDuration, from_json_value, to_json_value

__all__ = [
    "FeelError",
    "FeelEvaluationError",
    "FeelExpression",
    "FeelFunction",
    "FeelSyntaxError",
    "Range",
    "YearsMonthsDuration",
    "evaluate",
    "from_json_value",
    "parse",
    "to_json_value",
]
