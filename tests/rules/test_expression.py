"""``when`` expressions: syntax, precedence, Kleene logic over unknown values, and every error."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.expression import CompiledExpression, ExpressionError, compile_expression

U = None  # an unknown measurement

# (expression, values, expected result)
EVALUATIONS = [
    # comparisons and arithmetic
    ("rows > 5", {"rows": 6}, True),
    ("rows > 5", {"rows": 5}, False),
    ("rows >= 5", {"rows": 5}, True),
    ("rows == 5", {"rows": 5}, True),
    ("rows != 5", {"rows": 5}, False),
    ("rows < 5", {"rows": 4}, True),
    ("rows <= 4", {"rows": 4}, True),
    ("rows * 2 + 1 > 10", {"rows": 5}, True),
    ("rows * (2 + 1) > 10", {"rows": 3}, False),
    ("rows - 10 / 2 == 0", {"rows": 5}, True),
    ("-rows < 0", {"rows": 1}, True),
    ("+rows > 0", {"rows": 1}, True),
    ("1e-3 < latency_p95_seconds", {"latency_p95_seconds": 0.002}, True),
    # chained comparisons
    ("0.1 < drift_share < 0.5", {"drift_share": 0.3}, True),
    ("0.1 < drift_share < 0.5", {"drift_share": 0.6}, False),
    ("0.1 < drift_share < 0.5", {"drift_share": 0.05}, False),
    ("0 <= rows <= 10 < 20", {"rows": 10}, True),
    # && || ! and the word forms
    ("rows > 1 && rows < 3", {"rows": 2}, True),
    ("rows > 1 and rows < 3", {"rows": 5}, False),
    ("rows < 1 || rows > 3", {"rows": 5}, True),
    ("rows < 1 or rows > 3", {"rows": 2}, False),
    ("!(rows > 1)", {"rows": 0}, True),
    ("not rows > 1", {"rows": 0}, True),
    ("!!(rows > 1)", {"rows": 2}, True),
    ("rows != 1 && !(rows == 2)", {"rows": 3}, True),
    # precedence: && binds tighter than ||, ! tighter than both
    ("true || false && false", {}, True),
    ("(true || false) && false", {}, False),
    ("!true || true", {}, True),
    ("!(true || true)", {}, False),
    ("rows > 1 || rows > 100 && rows < 0", {"rows": 2}, True),
    ("rows + 2 * 3 == 7", {"rows": 1}, True),
    # constants
    ("true", {}, True),
    ("false", {}, False),
    ("True && !False", {}, True),
    # flag measurements stand alone as conditions
    ("dataset_drift && rows > 1", {"dataset_drift": 1, "rows": 2}, True),
    ("dataset_drift && rows > 1", {"dataset_drift": 0, "rows": 2}, False),
    ("!prediction_drift", {"prediction_drift": 0}, True),
    # Kleene logic with unknown values
    ("rows > 5", {"rows": U}, U),
    ("rows > 5", {}, U),
    ("rows > 5", {"rows": math.nan}, U),
    ("rows + 1 > 5", {"rows": U}, U),
    ("-rows < 5", {"rows": U}, U),
    ("!(rows > 5)", {"rows": U}, U),
    ("rows > 5 && accuracy < 0.8", {"rows": 1, "accuracy": U}, False),
    ("rows > 5 && accuracy < 0.8", {"rows": 9, "accuracy": U}, U),
    ("accuracy < 0.8 && rows > 5", {"rows": 1, "accuracy": U}, False),
    ("rows > 5 || accuracy < 0.8", {"rows": 9, "accuracy": U}, True),
    ("accuracy < 0.8 || rows > 5", {"rows": 9, "accuracy": U}, True),
    ("rows > 5 || accuracy < 0.8", {"rows": 1, "accuracy": U}, U),
    ("rows > 5 || accuracy < 0.8 || f1 < 0.5", {"rows": 1, "accuracy": U, "f1": 0.4}, True),
    ("rows > 5 && accuracy < 0.8 && f1 < 0.5", {"rows": 9, "accuracy": U, "f1": 0.9}, False),
    ("0 < rows < accuracy", {"rows": -1, "accuracy": U}, False),  # first link false settles the chain
    ("0 < rows < accuracy", {"rows": 1, "accuracy": U}, U),
    ("rows / error_ratio > 1", {"rows": 1, "error_ratio": 0}, U),  # division by zero is unknown
    ("dataset_drift || rows > 1", {"dataset_drift": U, "rows": 0}, U),
]


@pytest.mark.parametrize(("text", "values", "expected"), EVALUATIONS)
def test_evaluate(text, values, expected):
    assert compile_expression(text).evaluate(values) is expected


# (expression, column, words the problem must contain)
ERRORS = [
    ("drift_shar > 0.3", 1, ["unknown measurement 'drift_shar'", "did you mean drift_share"]),
    ("rows >= 500 && drift_shar > 0.3", 16, ["unknown measurement 'drift_shar'", "drift_share"]),
    ("rows > 1 && zzz > 2", 13, ["unknown measurement 'zzz'"]),
    ("rows >", 7, ["ends too early"]),
    ("rows > 1 &&", 12, ["ends too early"]),
    ("(rows > 1", 1, ["never closed"]),
    ("rows > 1)", 9, ["no opening"]),
    ("rows > 1 & rows < 3", 10, ["single '&'", "&&"]),
    ("rows > 1 | rows < 3", 10, ["single '|'", "||"]),
    ("rows = 1", 6, ["'='", "=="]),
    ("abs(rows) > 1", 1, ["function calls"]),
    ("rows.real > 1", 1, ["attribute"]),
    ("rows[0] > 1", 1, ["subscripts"]),
    ("'x' == rows", 1, ["strings"]),
    ('rows == "x', 9, ["strings"]),
    ("rows ** 2 > 1", 6, ["'**'", "not supported"]),
    ("rows % 2 > 1", 6, ["'%'"]),
    ("rows // 2 > 1", 6, ["'//'"]),
    ("rows in 3", 6, ["'in'"]),
    ("rows is 3", 6, ["'is'"]),
    ("~rows > 1", 1, ["'~'"]),
    ("rows > None", 8, ["None"]),
    ("rows > 1j", 8, ["literal"]),
    ("rows if rows else 1", 1, ["conditional"]),
    ("rows > 1, 2", 1, ["comma"]),
    ("[rows] == 1", 1, ["lists"]),
    ("lambda: 1", 1, ["lambda"]),
    ("(x := 1) > 0", 2, ["':='"]),
    ("drift_share", 1, ["number, not a condition"]),
    ("rows + 1", 1, ["number, not a condition"]),
    ("drift_share && rows > 5", 1, ["'&&' needs a condition"]),
    ("rows > 5 || drift_share", 13, ["'||' needs a condition"]),
    ("!drift_share", 2, ["'!' needs a condition"]),
    ("(rows > 1) > 2", 2, ["'>' needs a number"]),
    ("rows + (rows > 1) > 2", 9, ["'+' needs a number"]),
    ("1 && rows > 1", 1, ["needs a condition"]),
]


@pytest.mark.parametrize(("text", "column", "words"), ERRORS)
def test_errors_name_expression_column_and_problem(text, column, words):
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    err = caught.value
    assert (err.expression, err.column) == (text, column), err
    for word in words:
        assert word in err.problem
    assert repr(text) in str(err) and f"column {column}" in str(err)
    caret_line = err.pointer().splitlines()[1]
    assert caret_line.index("^") == column - 1


@pytest.mark.parametrize("text", ["", "   ", "x" * 2001])
def test_empty_and_oversized_expressions_have_no_column(text):
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    assert caught.value.column is None


def test_columns_count_characters_not_bytes():
    with pytest.raises(ExpressionError) as caught:
        compile_expression("rows > 1 && dérive > 2")
    assert caught.value.column == 13


def test_multiline_expressions_compile():
    expr = compile_expression("rows > 1\n  && drift_share > 0.3")
    assert expr.evaluate({"rows": 2, "drift_share": 0.5}) is True


def test_extra_names_are_accepted_and_act_as_flags():
    with pytest.raises(ExpressionError):
        compile_expression("custom_score > 1")
    expr = compile_expression("custom_score > 1 || custom_flag", extra_names={"custom_score", "custom_flag"})
    assert expr.evaluate({"custom_score": 0, "custom_flag": 1}) is True
    assert expr.names == {"custom_score", "custom_flag"}


def test_names_inputs_and_describe():
    expr = compile_expression("drift_share > 0.3 && rows >= 500 && true")
    assert expr.names == {"drift_share", "rows"}
    assert expr.inputs({"drift_share": 0.62, "rows": None, "accuracy": 1.0}) == {
        "drift_share": 0.62,
        "rows": None,
    }
    assert (
        expr.describe({"drift_share": 0.62, "rows": 900})
        == "drift_share=0.62 > 0.3 && rows=900 >= 500 && true"
    )
    assert expr.describe({}) == "drift_share=unknown > 0.3 && rows=unknown >= 500 && true"


@pytest.mark.parametrize("bad", ["0.5", True, [1]])
def test_non_numeric_values_are_refused_with_the_name(bad):
    with pytest.raises(TypeError, match="rows"):
        compile_expression("rows > 1").evaluate({"rows": bad})


def test_compiled_expression_is_reusable_and_stateless():
    expr = compile_expression("rows > 1")
    assert isinstance(expr, CompiledExpression)
    assert [expr.evaluate({"rows": v}) for v in (0, 2, None, 3)] == [False, True, None, True]


known = st.one_of(st.none(), st.booleans())


def _kleene_and(a, b):
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _kleene_or(a, b):
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


@given(known, known)
def test_and_or_follow_kleene_truth_tables(a, b):
    values = {
        "rows": {True: 2.0, False: 0.0, None: None}[a],
        "accuracy": {True: 2.0, False: 0.0, None: None}[b],
    }
    assert compile_expression("rows > 1 && accuracy > 1").evaluate(values) is _kleene_and(a, b)
    assert compile_expression("rows > 1 || accuracy > 1").evaluate(values) is _kleene_or(a, b)
    negated = None if _kleene_and(a, b) is None else not _kleene_and(a, b)
    assert compile_expression("!(rows > 1 && accuracy > 1)").evaluate(values) is negated
    # De Morgan holds in Kleene logic too
    assert compile_expression("!(rows > 1) || !(accuracy > 1)").evaluate(values) is negated


@given(st.floats(allow_nan=False, allow_infinity=False, width=32), st.floats(min_value=-1e6, max_value=1e6))
def test_comparison_agrees_with_python_for_known_values(x, threshold):
    expr = compile_expression(f"drift_share > {threshold!r}")
    assert expr.evaluate({"drift_share": x}) is (x > threshold)
