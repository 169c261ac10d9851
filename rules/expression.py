"""Compiled ``when`` expressions, evaluated with three-valued (Kleene) logic.

A measurement that is ``None`` (or NaN) is *unknown*. Arithmetic or a comparison that touches
an unknown is unknown, and so is a division by zero. ``and``/``or``/``not`` follow Kleene:
``false && unknown`` is false, ``true || unknown`` is true, and otherwise unknown propagates.

>>> expr = compile_expression("drift_share > 0.3 && rows >= 500")
>>> expr.evaluate({"drift_share": 0.6, "rows": 900})
True
>>> expr.evaluate({"drift_share": 0.1, "rows": None})
False
>>> expr.evaluate({"drift_share": 0.6, "rows": None}) is None
True
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from simpleeval import SimpleEval

from rules.expression_check import parse
from rules.expression_syntax import CONSTANTS, ExpressionError, NameUse
from rules.vocabulary import NAMES, VOCABULARY

__all__ = ["CompiledExpression", "ExpressionError", "compile_expression"]

Value = float | None
Truth = bool | None

_FLAGS = frozenset(m.name for m in VOCABULARY if m.unit == "bool")
_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def _known(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _truth(value: object) -> Truth:
    return bool(value) if _known(value) else None


# simpleeval ships no type information, so mypy sees its class as Any and strict mode refuses
# to subclass it; the handlers below are typed, only the base is unknown.
class KleeneEval(SimpleEval):  # type: ignore[misc]
    """simpleeval with unknown values: ``None`` flows through arithmetic, comparisons and logic."""

    def __init__(self, values: Mapping[str, object]):
        super().__init__(operators=dict(_OPERATORS), functions={}, names={})
        self.values = values

    def run(self, source: str, tree: ast.expr) -> object:
        """Walk a tree parsed and checked at load time (simpleeval's node handlers, no ``eval``)."""
        self.expr = source  # simpleeval quotes it in its own error messages
        return self._eval(tree)

    def _eval_name(self, node: ast.Name) -> object:
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        value = self.values.get(node.id)
        return value if _known(value) else None

    def _eval_unaryop(self, node: ast.UnaryOp) -> object:
        operand = self._eval(node.operand)
        if isinstance(node.op, ast.Not):
            truth = _truth(operand)
            return None if truth is None else not truth
        return None if not _known(operand) else self.operators[type(node.op)](operand)

    def _eval_binop(self, node: ast.BinOp) -> object:
        left, right = self._eval(node.left), self._eval(node.right)
        if not (_known(left) and _known(right)):
            return None
        try:
            result = self.operators[type(node.op)](left, right)
        except ZeroDivisionError:
            return None
        return result if _known(result) else None

    def _eval_boolop(self, node: ast.BoolOp) -> Truth:
        decisive = not isinstance(node.op, ast.And)  # the value that settles the whole operation
        unknown = False
        for value in node.values:
            truth = _truth(self._eval(value))
            if truth is decisive:
                return decisive
            unknown = unknown or truth is None
        return None if unknown else not decisive

    def _eval_compare(self, node: ast.Compare) -> Truth:
        # A chain a < b < c is (a < b) and (b < c) under Kleene "and".
        operands = [self._eval(node.left), *(self._eval(c) for c in node.comparators)]
        unknown = False
        for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
            if not (_known(left) and _known(right)):
                unknown = True
            elif not self.operators[type(op)](left, right):
                return False
        return None if unknown else True


@dataclass(frozen=True, eq=False)
class CompiledExpression:
    """A checked ``when`` expression. ``names`` are the measurements it reads."""

    source: str
    tree: ast.expr
    uses: tuple[NameUse, ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(use.name for use in self.uses)

    def evaluate(self, values: Mapping[str, float | None]) -> bool | None:
        """True, False, or None when the measurements it reads leave the answer unknown."""
        for name in self.names:
            value = values.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise TypeError(f"measurement {name!r} must be a number or None, got {value!r}")
        return _truth(KleeneEval(values).run(self.source, self.tree))

    def inputs(self, values: Mapping[str, float | None]) -> dict[str, float | None]:
        """The values of the measurements this expression reads (unknown ones as None)."""
        return {name: (v if _known(v := values.get(name)) else None) for name in sorted(self.names)}

    def describe(self, values: Mapping[str, float | None]) -> str:
        """The expression with each measurement's value written after it: ``drift_share=0.62 > 0.3``."""
        out, pos = [], 0
        for use in sorted(self.uses, key=lambda u: u.start):
            value = values.get(use.name)
            shown = f"{value:.4g}" if _known(value) else "unknown"
            out.append(self.source[pos : use.end] + f"={shown}")
            pos = use.end
        out.append(self.source[pos:])
        return " ".join("".join(out).split())

    def __repr__(self) -> str:
        return f"CompiledExpression({self.source!r})"


def compile_expression(text: str, extra_names: Collection[str] = ()) -> CompiledExpression:
    """Check ``text`` against the measurement vocabulary (plus ``extra_names``) and compile it.

    Raises :class:`ExpressionError` naming the expression, the 1-based column and the problem.
    """
    known = NAMES | frozenset(extra_names)
    tree, uses = parse(text, known, _FLAGS | frozenset(extra_names))
    return CompiledExpression(text, tree, uses)
