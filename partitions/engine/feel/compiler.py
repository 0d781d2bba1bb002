"""From lark's parse tree to a tree of Python closures, built once per expression.

Every node becomes a function `(env, local) -> value`: `env` holds the evaluation's variables
and timestamp, `local` the names bound inside the expression (context entries, `for` and
`some`/`every` variables, function parameters, `item` and `partial`), a plain dict that binding
constructs copy and extend and nothing ever mutates. Evaluating is calling the root closure:
no tree walking, no name resolution, no overload lookup — those happen here:

- a name is looked up in `local` only where something in the expression can bind it (inside a
  filter, where the item's entries are names, or under a binding of that very name); elsewhere
  it goes straight to the variables;
- a path from a variable (`order.customer.id`) walks the raw JSON and converts only the value
  it ends at;
- a call of a built-in is bound to its overload now, and a call that cannot bind (an unknown
  function, a wrong number of arguments, unknown argument names) is a FeelSyntaxError now;
- comparisons with a literal (`amount > 100`, `status = "open"`) get a fast path.
"""

from decimal import Decimal
from typing import Any

from lark import Token, Tree

from . import calls, iteration, operators
from .builtins import BUILTINS, bind_named, bind_positional
from .closures import Compiled, Env, constant, constant_of
from .errors import EvaluationFailure, FeelSyntaxError
from .strings import unescape
from .temporal import parse_temporal_literal
from .type_names import GENERIC_TESTS, TYPE_TESTS, TypeTest
from .values import FeelFunction, Range, from_json_value, number_result

_MISSING = object()


class Scope:
    """Names that may be bound in `local` where a node is evaluated (compile time only)."""

    __slots__ = ("names", "dynamic")

    def __init__(self, names: frozenset[str] = frozenset(), dynamic: bool = False):
        self.names = names
        self.dynamic = dynamic  # inside a filter: the item's entries are names too

    def bind(self, *names: str, dynamic: bool = False) -> "Scope":
        return Scope(self.names | frozenset(names), self.dynamic or dynamic)

    def may_bind(self, name: str) -> bool:
        return self.dynamic or name in self.names


def variable_value(env: Env, name: str) -> Any:
    value = env.variables.get(name)
    kind = type(value)
    if kind is int or kind is str or kind is bool or value is None:
        return value
    return from_json_value(value)


def _first_token(node: Tree | Token) -> Token | None:
    if isinstance(node, Token):
        return node
    for child in node.children:
        found = _first_token(child)
        if found is not None:
            return found
    return None


class Compiler:
    def __init__(self, source: str):
        self.source = source

    # --- errors ------------------------------------------------------------------------------

    def error(self, node: Tree | Token, expected: str) -> FeelSyntaxError:
        token = _first_token(node)
        line, column = (token.line, token.column) if token is not None else (1, 1)
        return FeelSyntaxError(self.source, line, column, expected)

    # --- entry -------------------------------------------------------------------------------

    def compile(self, node: Tree | Token, scope: Scope) -> Compiled:
        handler = getattr(self, "_" + node.data, None) if isinstance(node, Tree) else None
        assert handler is not None, f"no compiler for {node!r}"
        return handler(node, scope)

    @staticmethod
    def name(node: Tree) -> str:
        assert node.data == "name", node
        tokens = node.children
        if tokens[0].type == "BACKTICK_NAME":
            return tokens[0][1:-1]
        return " ".join(word for token in tokens for word in token.split())

    # --- literals ----------------------------------------------------------------------------

    def _number(self, node: Tree, scope: Scope) -> Compiled:
        text = node.children[0]
        value = number_result(Decimal(text)) if "." in text else int(text)
        return constant(value)

    def _string(self, node: Tree, scope: Scope) -> Compiled:
        return constant(unescape(node.children[0][1:-1]))

    def _temporal(self, node: Tree, scope: Scope) -> Compiled:
        return constant(parse_temporal_literal(unescape(node.children[0][1:-1])))

    def _true(self, node: Tree, scope: Scope) -> Compiled:
        return constant(True)

    def _false(self, node: Tree, scope: Scope) -> Compiled:
        return constant(False)

    def _null(self, node: Tree, scope: Scope) -> Compiled:
        return constant(None)

    def _list(self, node: Tree, scope: Scope) -> Compiled:
        items = [self.compile(child, scope) for child in node.children]

        def make_list(env, local):
            return [item(env, local) for item in items]

        return make_list

    def _context(self, node: Tree, scope: Scope) -> Compiled:
        entries: list[tuple[str, Compiled]] = []
        for entry in node.children:
            key_node, value_node = entry.children
            key = self.name(key_node) if isinstance(key_node, Tree) else unescape(key_node[1:-1])
            # Later entries see earlier ones: {a: 2, b: a * 2}.
            entries.append((key, self.compile(value_node, scope.bind(*(k for k, _ in entries)))))

        def make_context(env, local):
            inner = dict(local)
            built = {}
            for key, value in entries:
                built[key] = inner[key] = value(env, inner)
            return built

        return make_context

    def _range(self, node: Tree, scope: Scope, start_included: bool, end_included: bool):
        start, end = (self.compile(child, scope) for child in node.children)

        def make_range(env, local):
            return Range(start(env, local), end(env, local), start_included, end_included)

        return make_range

    def _range_closed_closed(self, node: Tree, scope: Scope) -> Compiled:
        return self._range(node, scope, True, True)

    def _range_closed_open(self, node: Tree, scope: Scope) -> Compiled:
        return self._range(node, scope, True, False)

    def _range_open_closed(self, node: Tree, scope: Scope) -> Compiled:
        return self._range(node, scope, False, True)

    def _range_open_open(self, node: Tree, scope: Scope) -> Compiled:
        return self._range(node, scope, False, False)

    # --- names and paths ---------------------------------------------------------------------

    def _variable(self, node: Tree, scope: Scope) -> Compiled:
        name = self.name(node.children[0])
        if scope.may_bind(name):

            def bound_or_variable(env, local):
                value = local.get(name, _MISSING)
                if value is _MISSING:
                    return variable_value(env, name)
                return value

            return bound_or_variable

        def variable(env, local):
            value = env.variables.get(name)
            kind = type(value)
            if kind is int or kind is str or kind is bool or value is None:
                return value
            return from_json_value(value)

        return variable

    def _path(self, node: Tree, scope: Scope) -> Compiled:
        keys: list[str] = []
        base = node
        while isinstance(base, Tree) and base.data == "path":
            keys.insert(0, self.name(base.children[1]))
            base = base.children[0]
        if base.data == "variable" and not scope.may_bind(self.name(base.children[0])):
            return self._variable_path(self.name(base.children[0]), tuple(keys))
        target = self.compile(base, scope)
        if len(keys) == 1:
            (key,) = keys

            def one_step(env, local):
                return operators.path(target(env, local), key)

            return one_step

        def steps(env, local):
            value = target(env, local)
            for key in keys:
                value = operators.path(value, key)
            return value

        return steps

    @staticmethod
    def _variable_path(name: str, keys: tuple[str, ...]) -> Compiled:
        """`order.customer.id` on the raw variables: only the value reached is converted."""

        def variable_path(env, local):
            value = env.variables.get(name)
            for position, key in enumerate(keys):
                if type(value) is dict:
                    value = value.get(key)
                    continue
                value = from_json_value(value)
                for rest in keys[position:]:
                    value = operators.path(value, rest)
                return value
            kind = type(value)
            if kind is int or kind is str or kind is bool or value is None:
                return value
            return from_json_value(value)

        return variable_path

    def _filter(self, node: Tree, scope: Scope) -> Compiled:
        target_node, condition_node = node.children
        target = self.compile(target_node, scope)
        static_index = self._static_number(condition_node, scope)
        if static_index is not None:

            def index(env, local):
                return operators.index(target(env, local), static_index)

            return index
        condition = self.compile(condition_node, scope.bind("item", dynamic=True))

        def filter_or_index(env, local):
            items = target(env, local)
            if type(items) is not list:
                return None
            kept = []
            for position, item in enumerate(items):
                if type(item) is dict:
                    item_local = {**local, **item, "item": item}
                else:
                    item_local = {**local, "item": item}
                keep = condition(env, item_local)
                # A number (for the first item) makes this an index: xs[i], xs[count(xs)].
                if position == 0 and (type(keep) is int or type(keep) is Decimal):
                    return operators.index(items, keep)
                if keep is True:
                    kept.append(item)
            return kept

        return filter_or_index

    def _static_number(self, node: Tree, scope: Scope) -> int | Decimal | None:
        compiled = self.compile(node, scope)
        known = constant_of(compiled)
        if known is not None and type(known[0]) in (int, Decimal):
            return known[0]
        return None

    # --- calls -------------------------------------------------------------------------------

    def _call(self, node: Tree, scope: Scope) -> Compiled:
        callee = node.children[0]
        arguments = node.children[1] if len(node.children) > 1 else None
        if arguments is None or arguments.data == "positional":
            values = [] if arguments is None else list(arguments.children)
            names = None
        else:
            pairs = arguments.children
            names = [self.name(pairs[i]) for i in range(0, len(pairs), 2)]
            values = [pairs[i] for i in range(1, len(pairs), 2)]
            if len(set(names)) != len(names):
                raise self.error(arguments, "each argument name once")
        compiled = [self.compile(value, scope) for value in values]
        if callee.data == "variable":
            name = self.name(callee.children[0])
            # Only a name bound in the expression can hold a function (variables are JSON).
            if name not in scope.names:
                return self._builtin_call(node, name, names, compiled)
            if name in BUILTINS:  # {date: date(x), day: date.day}: a value does not hide date()
                return self._local_or_builtin_call(node, name, names, compiled, scope)
        return self._dynamic_call(self.compile(callee, scope), names, compiled)

    def _local_or_builtin_call(
        self,
        node: Tree,
        name: str,
        names: list[str] | None,
        arguments: list[Compiled],
        scope: Scope,
    ) -> Compiled:
        local_call = self._dynamic_call(self.compile(node.children[0], scope), names, arguments)
        try:
            builtin_call = self._builtin_call(node, name, names, arguments)
        except FeelSyntaxError:  # the arguments fit only the function bound in the expression
            return local_call

        def local_or_builtin(env, local):
            if type(local.get(name)) is FeelFunction:
                return local_call(env, local)
            return builtin_call(env, local)

        return local_or_builtin

    def _builtin_call(
        self, node: Tree, name: str, names: list[str] | None, arguments: list[Compiled]
    ) -> Compiled:
        overloads = BUILTINS.get(name)
        if overloads is None:
            raise self.error(node, f"a known function, not {name!r} (no built-in has that name)")
        if names is None:
            bound = bind_positional(overloads, len(arguments))
            found = f"{len(arguments)} argument(s)"
        else:
            bound = bind_named(overloads, names)
            found = "arguments named " + ", ".join(names)
        if bound is None:
            signatures = " or ".join(name + candidate.signature() for candidate in overloads)
            raise self.error(node, f"the arguments of {signatures}, not {found}")
        if names is not None:
            order = {parameter: i for i, parameter in enumerate(bound.parameters)}
            by_position = sorted(
                zip(names, arguments, strict=True), key=lambda pair: order[pair[0]]
            )
            arguments = [argument for _, argument in by_position]
            if bound.variadic:
                arguments[-1] = calls.as_list(arguments[-1])
        elif bound.variadic:
            fixed = len(bound.parameters) - 1
            arguments = [*arguments[:fixed], calls.collect(arguments[fixed:])]
        invoke = calls.invoke(bound, arguments)
        if not bound.needs_env and all(constant_of(a) is not None for a in arguments):
            return calls.folded(invoke)
        return invoke

    def _dynamic_call(
        self, callee: Compiled, names: list[str] | None, arguments: list[Compiled]
    ) -> Compiled:
        def call(env, local):
            function = callee(env, local)
            if type(function) is not FeelFunction:
                kind = "null" if function is None else type(function).__name__
                raise EvaluationFailure(f"a {kind} value was invoked as a function")
            values = [argument(env, local) for argument in arguments]
            if names is None:
                return function.invoke(values)
            return function.invoke_named(dict(zip(names, values, strict=True)))

        return call

    def _not_call(self, node: Tree, scope: Scope) -> Compiled:
        operand = self.compile(node.children[0], scope)

        def negation(env, local):
            value = operand(env, local)
            if value is True:
                return False
            if value is False:
                return True
            return None

        return negation

    def _function_def(self, node: Tree, scope: Scope) -> Compiled:
        *parameter_nodes, body_node = node.children
        parameters = tuple(self.name(parameter) for parameter in parameter_nodes)
        body = self.compile(body_node, scope.bind(*parameters))

        def define(env, local):
            return FeelFunction(parameters, body, env, local)

        return define

    # --- operators ---------------------------------------------------------------------------

    def _binary(self, node: Tree, scope: Scope, operation) -> Compiled:
        left_node, right_node = node.children
        if isinstance(left_node, Tree) and left_node.data in _ARITHMETIC_CHAINS[node.data]:
            return self._chain(node, scope)
        left, right = self.compile(left_node, scope), self.compile(right_node, scope)
        left_constant, right_constant = constant_of(left), constant_of(right)
        if left_constant is not None and right_constant is not None:
            return constant(operation(left_constant[0], right_constant[0]))

        def binary(env, local):
            return operation(left(env, local), right(env, local))

        return binary

    def _chain(self, node: Tree, scope: Scope) -> Compiled:
        """`a + b - c + ...` (or `*`, `/`) as one loop: a long concatenation is compiled
        without a Python frame per operator."""
        links = _ARITHMETIC_CHAINS[node.data]
        steps = []
        while isinstance(node, Tree) and node.data in links:
            steps.append((_OPERATIONS[node.data], node.children[1]))
            node = node.children[0]
        first = self.compile(node, scope)
        rest = [(operation, self.compile(right, scope)) for operation, right in reversed(steps)]

        def chain(env, local):
            value = first(env, local)
            for operation, right in rest:
                value = operation(value, right(env, local))
            return value

        return chain

    def _add(self, node: Tree, scope: Scope) -> Compiled:
        return self._binary(node, scope, operators.add)

    def _sub(self, node: Tree, scope: Scope) -> Compiled:
        return self._binary(node, scope, operators.subtract)

    def _mul(self, node: Tree, scope: Scope) -> Compiled:
        return self._binary(node, scope, operators.multiply)

    def _div(self, node: Tree, scope: Scope) -> Compiled:
        return self._binary(node, scope, operators.divide)

    def _pow(self, node: Tree, scope: Scope) -> Compiled:
        return self._binary(node, scope, operators.power)

    def _neg(self, node: Tree, scope: Scope) -> Compiled:
        operand = self.compile(node.children[0], scope)
        known = constant_of(operand)
        if known is not None:
            return constant(operators.negate(known[0]))

        def negation(env, local):
            return operators.negate(operand(env, local))

        return negation

    def _compare(self, node: Tree, scope: Scope) -> Compiled:
        left_node, comparator, right_node = node.children
        compare = operators.COMPARATORS[comparator]
        left, right = self.compile(left_node, scope), self.compile(right_node, scope)
        known = constant_of(right)
        if known is not None:
            return _compare_with_constant(compare, comparator, left, known[0])

        def comparison(env, local):
            return compare(left(env, local), right(env, local))

        return comparison

    def _between(self, node: Tree, scope: Scope) -> Compiled:
        value, low, high = (self.compile(child, scope) for child in node.children)

        def between(env, local):
            return operators.between(value(env, local), low(env, local), high(env, local))

        return between

    def _in_expr(self, node: Tree, scope: Scope) -> Compiled:
        value_node, tests_node = node.children
        value = self.compile(value_node, scope)
        if isinstance(tests_node, Tree) and tests_node.data == "in_tests":
            tests = [self._unary_test(test, scope) for test in tests_node.children]
            if len(tests) == 1:
                (test,) = tests
            else:

                def test(env, local, subject):
                    return any(each(env, local, subject) is True for each in tests)

        else:
            test = self._unary_test(tests_node, scope)

        def membership(env, local):
            return test(env, local, value(env, local))

        return membership

    def _unary_test(self, node: Tree, scope: Scope):
        if isinstance(node, Tree) and node.data == "comparator_test":
            comparator, operand_node = node.children
            compare = operators.COMPARATORS[comparator]
            operand = self.compile(operand_node, scope)
            return lambda env, local, subject: compare(subject, operand(env, local))
        operand = self.compile(node, scope)
        return lambda env, local, subject: operators.matches_test(subject, operand(env, local))

    def _instance_of(self, node: Tree, scope: Scope) -> Compiled:
        value_node, type_node = node.children
        value = self.compile(value_node, scope)
        test = self._type_test(type_node)
        return lambda env, local: test(value(env, local))

    def _type_test(self, node: Tree) -> TypeTest:
        name_node, *argument = node.children
        name = self._type_name(name_node)
        if not argument:
            if name not in TYPE_TESTS:
                known = ", ".join(sorted(TYPE_TESTS))
                raise self.error(name_node, f"a type ({known}), not {name!r}")
            return TYPE_TESTS[name]
        opening, item_node, closing = argument
        if opening != "<" or closing != ">" or name not in GENERIC_TESTS:
            raise self.error(name_node, f"a type such as list<number>, not {name!r}")
        item_name = self._type_name(item_node)
        if item_name not in TYPE_TESTS:
            raise self.error(item_node, f"a type, not {item_name!r}")
        return GENERIC_TESTS[name](TYPE_TESTS[item_name])

    @staticmethod
    def _type_name(node: Tree) -> str:
        words = []
        for part in node.children:
            for token in part.children:
                # `function` is a keyword, so the grammar hands it over as a subtree.
                words.extend(["function"] if isinstance(token, Tree) else token.split())
        return " ".join(words)

    # --- logic and control -------------------------------------------------------------------

    def _operands(self, node: Tree, scope: Scope) -> list[Compiled]:
        """The operands of `a and b and c` (left-nested in the tree), in order, collected
        without recursion so that long chains compile."""
        kind, nodes = node.data, []
        while isinstance(node, Tree) and node.data == kind:
            nodes.append(node.children[1])
            node = node.children[0]
        nodes.append(node)
        return [self.compile(operand, scope) for operand in reversed(nodes)]

    def _and_expr(self, node: Tree, scope: Scope) -> Compiled:
        operands = self._operands(node, scope)
        if len(operands) == 2:
            left, right = operands

            def conjunction(env, local):
                first = left(env, local)
                if first is False:
                    return False
                second = right(env, local)
                if second is False:
                    return False
                if first is True and second is True:
                    return True
                return None

            return conjunction

        def conjunctions(env, local):
            result = True  # false wins over null, null over true
            for operand in operands:
                value = operand(env, local)
                if value is False:
                    return False
                if value is not True:
                    result = None
            return result

        return conjunctions

    def _or_expr(self, node: Tree, scope: Scope) -> Compiled:
        operands = self._operands(node, scope)
        if len(operands) == 2:
            left, right = operands

            def disjunction(env, local):
                first = left(env, local)
                if first is True:
                    return True
                second = right(env, local)
                if second is True:
                    return True
                if first is False and second is False:
                    return False
                return None

            return disjunction

        def disjunctions(env, local):
            result = False  # true wins over null, null over false
            for operand in operands:
                value = operand(env, local)
                if value is True:
                    return True
                if value is not False:
                    result = None
            return result

        return disjunctions

    def _if_expr(self, node: Tree, scope: Scope) -> Compiled:
        condition, then, otherwise = (self.compile(child, scope) for child in node.children)

        def choice(env, local):
            # Anything but true (false, null, a number) takes the else branch, as in Camunda.
            if condition(env, local) is True:
                return then(env, local)
            return otherwise(env, local)

        return choice

    def _iterations(self, nodes: list[Tree], scope: Scope):
        """(name, domain) per `name in domain`; each domain sees the names before it."""
        compiled = []
        for node in nodes:
            name = self.name(node.children[0])
            domain = self.compile(node.children[1], scope)
            if len(node.children) == 3:  # for x in 1..n
                domain = iteration.numeric_range(domain, self.compile(node.children[2], scope))
            compiled.append((name, domain))
            scope = scope.bind(name)
        return compiled, scope

    def _for_expr(self, node: Tree, scope: Scope) -> Compiled:
        *iteration_nodes, body_node = node.children
        iterations, inner = self._iterations(iteration_nodes, scope)
        body = self.compile(body_node, inner.bind("partial"))
        # `partial` (the results so far) is a copy per item, so it is only made when the body
        # reads it: a loop that returned `partial` would otherwise hold itself.
        uses_partial = any(
            subtree.data == "variable" and self.name(subtree.children[0]) == "partial"
            for subtree in body_node.iter_subtrees()
        )
        last = len(iterations)

        def loop(env, local, depth: int, results: list) -> bool:
            name, domain = iterations[depth]
            items = iteration.items_of(domain(env, local))
            if items is None:
                return False
            for item in items:
                bound = {**local, name: item}
                if depth + 1 < last:
                    if not loop(env, bound, depth + 1, results):
                        return False
                    continue
                if len(results) == iteration.ITERATIONS_MAX:
                    raise EvaluationFailure(f"a for loop ran past {iteration.ITERATIONS_MAX} items")
                if uses_partial:
                    bound["partial"] = list(results)
                results.append(body(env, bound))
            return True

        def for_loop(env, local):
            results: list = []
            return results if loop(env, local, 0, results) else None

        return for_loop

    def _quantified(self, node: Tree, scope: Scope) -> Compiled:
        quantifier, *iteration_nodes, condition_node = node.children
        iterations, inner = self._iterations(iteration_nodes, scope)
        condition = self.compile(condition_node, inner)
        wanted = quantifier == "some"  # some: stop at the first true; every: at the first not
        last = len(iterations)

        def search(env, local, depth: int, tested: list[int]):
            """True if an item decides the quantifier, False if none does, None if a domain
            is not a list."""
            name, domain = iterations[depth]
            items = iteration.items_of(domain(env, local))
            if items is None:
                return None
            for item in items:
                bound = {**local, name: item}
                if depth + 1 < last:
                    found = search(env, bound, depth + 1, tested)
                    if found is not False:
                        return found
                    continue
                tested[0] += 1
                if tested[0] > iteration.ITERATIONS_MAX:
                    raise EvaluationFailure(
                        f"{quantifier} ran past {iteration.ITERATIONS_MAX} items"
                    )
                if (condition(env, bound) is True) is wanted:
                    return True
            return False

        def quantified(env, local):
            found = search(env, local, 0, [0])
            if found is None:
                return None
            return found if wanted else not found

        return quantified


_OPERATIONS = {
    "add": operators.add,
    "sub": operators.subtract,
    "mul": operators.multiply,
    "div": operators.divide,
}
# A chain continues through operators of the same precedence (and left associativity).
_ARITHMETIC_CHAINS = {
    "add": ("add", "sub"),
    "sub": ("add", "sub"),
    "mul": ("mul", "div"),
    "div": ("mul", "div"),
    "pow": (),
}


def _compare_with_constant(compare, comparator: str, left: Compiled, value: Any) -> Compiled:
    """`amount > 100`, `status = "open"`: when the value has the constant's exact type, one
    Python comparison decides; anything else takes the general path."""
    kind = type(value)
    if kind not in (int, Decimal, str) or comparator not in operators.PYTHON_COMPARATORS:
        return lambda env, local: compare(left(env, local), value)
    python_compare = operators.PYTHON_COMPARATORS[comparator]
    if kind is str:

        def with_string(env, local):
            found = left(env, local)
            if type(found) is str:
                return python_compare(found, value)
            return compare(found, value)

        return with_string

    def with_number(env, local):
        found = left(env, local)
        found_kind = type(found)
        if found_kind is int or found_kind is Decimal:
            return python_compare(found, value)
        return compare(found, value)

    return with_number
