import pytest

from raybee.partitions.engine.feel import evaluate
from raybee.partitions.engine.feel.testing import NOW, same


@pytest.fixture
def check():
    """Evaluate at the fixed timestamp NOW and compare strictly (see feel/testing.py)."""

    def check(expression: str, expected, variables: dict) -> None:
        actual = evaluate(expression, variables, now=NOW)
        assert same(actual, expected), f"{expression!r} gave {actual!r}, expected {expected!r}"

    return check
