"""The grammar itself: LALR(1) without conflicts, and names with spaces and keywords."""

import io
import logging

import lark
import pytest

from raybee.partitions.engine.feel import evaluate, grammar
from raybee.partitions.engine.feel.builtins import BUILTINS


def test_the_grammar_has_no_conflicts():
    """lark resolves a shift/reduce conflict silently (it shifts) and only logs it; a
    conflict would mean some texts parse in a way nobody chose."""
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    previous = lark.logger.level
    lark.logger.addHandler(handler)
    lark.logger.setLevel(logging.DEBUG)
    try:
        lark.Lark(grammar.GRAMMAR, parser="lalr", lexer="basic", debug=True)
    finally:
        lark.logger.removeHandler(handler)
        lark.logger.setLevel(previous)
    assert "conflict" not in captured.getvalue().lower(), captured.getvalue()


def test_every_builtin_name_with_a_keyword_is_one_token():
    keywords = {"and", "or", "of", "in", "not", "for", "if", "then", "else", "some", "every"}
    with_keywords = {name for name in BUILTINS if keywords & set(name.split())}
    assert with_keywords <= set(grammar.KEYWORD_NAMES), with_keywords - set(grammar.KEYWORD_NAMES)


@pytest.mark.parametrize("spacing", [" ", "  ", "\n", "\t "])
def test_multi_word_names_take_any_whitespace(spacing):
    assert evaluate(f"string{spacing}length(x)", {"x": "abc"}) == 3
    assert evaluate(f"date{spacing}and{spacing}time(s).year", {"s": "2020-01-01T00:00:00"}) == 2020
    assert evaluate(f"first{spacing}name", {"first name": "Ada"}) == "Ada"
