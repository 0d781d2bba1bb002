"""The FEEL grammar (lark, LALR(1), one basic lexer) and the one parser built from it.

The grammar has no conflicts (tests/feel/test_grammar.py builds it in lark's debug mode and
checks that none is reported), so every text has one parse and lark never picks one silently.
The lexer is lark's basic one: one token stream whatever the parser state, so keywords are
reserved everywhere (`x.then` is an error, as Camunda says a name may not be a keyword), and
an `=`-sign or a `<` is always a COMPARATOR token (`list<number>` reuses it).

Names with spaces
-----------------
FEEL names may contain spaces (`Current Vacation Status`, `string length`, `upper case`), and
some built-in names contain words that are keywords elsewhere (`date and time`, `get or else`,
`day of week`). An LALR grammar cannot find where a name ends by looking at the names in
scope, as the DMN specification does, so the design is:

- Keywords (`and`, `or`, `in`, `of`, `if`, `for`, ...) are separate terminals and never part of
  a NAME token: lark lexes a word with the NAME pattern and turns it into the keyword terminal
  when the whole word is a keyword (so `android` stays a NAME).
- A name is one or more adjacent NAME tokens (`name: NAME+`); the compiler joins the words with
  single spaces. Two names are never adjacent anywhere else in FEEL, so this adds no conflict:
  `string length(x)`, `upper case(x)` and `Current Vacation Status.name` need nothing special
  (no pre-pass over the text, no list of known names).
- The built-in names that contain a keyword are matched whole by one terminal, KEYWORD_NAME,
  whose priority beats NAME (`date and time`, `years and months duration`, `day of week`, ...;
  see KEYWORD_NAMES). The price: two boolean variables called `date` and `time` cannot be
  combined with `date and time` — write `(date) and time`.
- Anything else goes in backticks, as in Camunda: `` `tracking-id` ``, ``order.`total price` ``.

Left out of the grammar (each is a FeelSyntaxError): intervals written with outward brackets
(`]1..10[`; write `(1..10)`) — a `]` that opens a range makes `[[]]` ambiguous for LALR(1);
`?` and the unary-tests dialect of decision tables (except after `in`); `external` functions;
`list<...>` nested in itself.
"""

import lark

# Built-in (and type) names that contain a keyword (and, or, of): each is lexed as one token.
KEYWORD_NAMES = (
    "years and months duration",
    "days and time duration",
    "last day of month",
    "date and time",
    "get or else",
    "day of week",
    "day of year",
    "week of year",
    "month of year",
    "index of",
)

_KEYWORD_NAME_PATTERN = "|".join(
    r"\s+".join(word for word in name.split()) + r"(?![\w])" for name in KEYWORD_NAMES
)

GRAMMAR = r"""
?start: expr

?expr: "if" expr "then" expr "else" expr                           -> if_expr
     | "for" iteration ("," iteration)* "return" expr               -> for_expr
     | SOME iteration ("," iteration)* "satisfies" expr             -> quantified
     | EVERY iteration ("," iteration)* "satisfies" expr            -> quantified
     | "function" "(" [name ("," name)*] ")" expr                   -> function_def
     | disjunction

iteration: name "in" expr [".." expr]

?disjunction: conjunction
            | disjunction "or" conjunction                          -> or_expr
?conjunction: comparison
            | conjunction "and" comparison                          -> and_expr

?comparison: sum
           | sum COMPARATOR sum                                     -> compare
           | sum "between" sum "and" sum                            -> between
           | sum "in" in_test                                       -> in_expr
           | sum "in" "(" in_tests ")"                              -> in_expr
           | sum "instance" "of" type                               -> instance_of

in_tests: in_test ("," in_test)+
        | comparator_test
?in_test: comparator_test
        | sum
comparator_test: COMPARATOR sum

// `list<number>` (one level): the angle brackets are COMPARATOR tokens (one lexer for all
// states); the compiler checks that they are `<` and `>`.
type: type_name [COMPARATOR type_name COMPARATOR]
type_name: type_words ("-" type_words)*
type_words: (NAME | KEYWORD_NAME | function_type)+
function_type: "function"

?sum: product
    | sum "+" product                                               -> add
    | sum "-" product                                               -> sub
?product: power
        | product "*" power                                         -> mul
        | product "/" power                                         -> div
?power: unary
      | power "**" unary                                            -> pow
?unary: postfix
      | "-" unary                                                   -> neg

?postfix: primary
        | postfix "." name                                          -> path
        | postfix "[" expr "]"                                      -> filter
        | postfix "(" [arguments] ")"                               -> call

arguments: expr ("," expr)*                                         -> positional
         | name ":" expr ("," name ":" expr)*                       -> named

?primary: NUMBER                                                    -> number
        | STRING                                                    -> string
        | "@" STRING                                                -> temporal
        | "true"                                                    -> true
        | "false"                                                   -> false
        | "null"                                                    -> null
        | name                                                      -> variable
        | "not" "(" expr ")"                                        -> not_call
        | "(" expr ")"
        | "[" [expr ("," expr)*] "]"                                -> list
        | "{" [entry ("," entry)*] "}"                              -> context
        | "[" expr ".." expr "]"                                    -> range_closed_closed
        | "[" expr ".." expr ")"                                    -> range_closed_open
        | "(" expr ".." expr "]"                                    -> range_open_closed
        | "(" expr ".." expr ")"                                    -> range_open_open

entry: (name | STRING) ":" expr

name: NAME+
    | KEYWORD_NAME
    | BACKTICK_NAME

SOME: "some"
EVERY: "every"
COMPARATOR: "!=" | "<=" | ">=" | "=" | "<" | ">"

KEYWORD_NAME.2: /@KEYWORD_NAMES@/
NAME: /(?!\d)\w+/
BACKTICK_NAME: /`[^`]+`/
NUMBER: /\d+(\.\d+)?|\.\d+/
STRING: /"(\\.|[^"\\])*"/

COMMENT: /\/\/[^\n]*/ | /\/\*(.|\n)*?\*\//
%ignore COMMENT
%ignore /\s+/
""".replace("@KEYWORD_NAMES@", _KEYWORD_NAME_PATTERN)

_parser: lark.Lark | None = None


def parser() -> lark.Lark:
    """The LALR parser, built on first use (building it takes a few tens of milliseconds)."""
    global _parser
    if _parser is None:
        _parser = lark.Lark(
            GRAMMAR,
            parser="lalr",
            lexer="basic",
            propagate_positions=True,
            maybe_placeholders=False,
        )
    return _parser
