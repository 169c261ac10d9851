"""Static checks of a parsed ``when`` expression: allowed constructs, known names, and kinds.

Only numbers, ``true``/``false``, known measurement names, arithmetic (``+ - * /``),
comparisons (chained too), ``and``/``or``/``not`` and parentheses are allowed. Each node has a
kind: a number, a condition, or a flag (a 0/1 measurement, usable as either), so that
``drift_share && rows > 5`` is caught when the rules load rather than silently meaning "non-zero".
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Collection

from rules.expression_syntax import CONSTANTS, ExpressionError, NameUse, parse_python

# "flag" is a measurement whose unit is bool (1 or 0): usable as a number and as a condition.
NUMBER, CONDITION, FLAG = "number", "condition", "flag"

ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div)
COMPARISONS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_OPERATOR_TOKEN = re.compile(r"&&|\|\||\*\*|//|<<|>>|[=!<>]=|and\b|or\b|not\b|in\b|is\b|[-+*/<>!%@^~&|]")
_UNSUPPORTED = {
    ast.Call: "function calls are not supported",
    ast.Attribute: "attribute access ('.name') is not supported",
    ast.Subscript: "subscripts ('[...]') are not supported",
    ast.IfExp: "conditional expressions ('a if c else b') are not supported",
    ast.Lambda: "lambda is not supported",
    ast.NamedExpr: "assignment (':=') is not supported",
    ast.JoinedStr: "strings are not supported",
    ast.Tuple: "lists of values (a comma) are not supported",
    ast.List: "lists are not supported",
    ast.Set: "sets are not supported",
    ast.Dict: "dicts are not supported",
}


def parse(text: str, known: Collection[str], flags: Collection[str]) -> tuple[ast.expr, tuple[NameUse, ...]]:
    """Parse and check ``text``; return the checked tree and where each measurement is used.

    ``known`` is every name a rule may read; ``flags`` are those of them that are 0/1 values
    and may stand alone as a condition (``dataset_drift && rows > 500``).
    """
    tree, source, origin = parse_python(text)
    checker = _Checker(text, source, origin, known, flags)
    if checker.kind(tree) == NUMBER:
        raise checker.error(tree, "the expression is a number, not a condition; compare it, e.g. 'x > 0.3'")
    return tree, tuple(checker.uses)


class _Checker:
    def __init__(
        self, text: str, source: str, origin: list[int], known: Collection[str], flags: Collection[str]
    ):
        self.text, self.source, self.origin = text, source, origin
        self.known, self.flags = known, flags
        self.encoded = source.encode("utf-8")
        self.uses: list[NameUse] = []

    def column(self, node: ast.expr) -> int:
        # ast reports UTF-8 byte offsets; authors count characters.
        chars = len(self.encoded[: node.col_offset].decode("utf-8", errors="ignore"))
        return self.origin[min(chars, len(self.origin) - 1)] + 1

    def error(self, node: ast.expr, problem: str) -> ExpressionError:
        return ExpressionError(self.text, self.column(node), problem)

    def operator_after(self, node: ast.expr) -> tuple[int, str]:
        """The 1-based column and the text, as written, of the operator that follows ``node``."""
        end = len(self.encoded[: node.end_col_offset].decode("utf-8", errors="ignore"))
        while end < len(self.source) and self.source[end] in " )":
            end += 1
        start = self.origin[min(end, len(self.origin) - 1)]
        match = _OPERATOR_TOKEN.match(self.text, start)
        return start + 1, match.group(0) if match else "?"

    def kind(self, node: ast.expr) -> str:
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.BoolOp):
            for i, value in enumerate(node.values):
                symbol = self.operator_after(node.values[i - 1] if i else value)[1]
                self.condition(value, symbol)
            return CONDITION
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        for kind, problem in _UNSUPPORTED.items():
            if isinstance(node, kind):
                raise self.error(node, problem)
        raise self.error(node, f"unsupported construct ({type(node).__name__})")

    def condition(self, node: ast.expr, where: str) -> None:
        if self.kind(node) == NUMBER:
            raise self.error(node, f"'{where}' needs a condition, got a number; compare it, e.g. 'x > 0.3'")

    def number(self, node: ast.expr, where: str) -> None:
        if self.kind(node) == CONDITION:
            raise self.error(node, f"'{where}' needs a number, got a condition")

    def _name(self, node: ast.Name) -> str:
        if node.id in CONSTANTS:
            return CONDITION
        if node.id in ("None", "none", "null"):
            raise self.error(
                node, f"'{node.id}' is not supported; a value that could not be measured is unknown"
            )
        if node.id not in self.known:
            close = difflib.get_close_matches(node.id, sorted(self.known), n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise self.error(node, f"unknown measurement '{node.id}'{hint}")
        start = self.column(node) - 1
        self.uses.append(NameUse(node.id, start, start + len(node.id)))
        return FLAG if node.id in self.flags else NUMBER

    def _constant(self, node: ast.Constant) -> str:
        value = node.value
        if isinstance(value, bool):
            return CONDITION
        if isinstance(value, int | float):
            return NUMBER
        if isinstance(value, str | bytes):
            raise self.error(node, "strings are not supported")
        if value is None:
            raise self.error(node, "'None' is not supported; a value that could not be measured is unknown")
        raise self.error(node, f"the literal {value!r} is not supported; use a plain number")

    def _unary(self, node: ast.UnaryOp) -> str:
        if isinstance(node.op, ast.Not):
            match = _OPERATOR_TOKEN.match(self.text, self.column(node) - 1)
            self.condition(node.operand, match.group(0) if match else "not")
            return CONDITION
        if isinstance(node.op, ast.USub | ast.UAdd):
            self.number(node.operand, "-" if isinstance(node.op, ast.USub) else "+")
            return NUMBER
        raise self.error(node, "operator '~' is not supported")

    def _binary(self, node: ast.BinOp) -> str:
        if not isinstance(node.op, ARITHMETIC):
            column, symbol = self.operator_after(node.left)
            raise ExpressionError(self.text, column, f"operator '{symbol}' is not supported (use + - * /)")
        symbol = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}[type(node.op)]
        self.number(node.left, symbol)
        self.number(node.right, symbol)
        return NUMBER

    def _compare(self, node: ast.Compare) -> str:
        operands = [node.left, *node.comparators]
        kinds = [self.kind(operand) for operand in operands]
        for i, op in enumerate(node.ops):
            if not isinstance(op, COMPARISONS):
                column, symbol = self.operator_after(operands[i])
                problem = f"operator '{symbol}' is not supported (use == != < <= > >=)"
                raise ExpressionError(self.text, column, problem)
            if isinstance(op, ast.Eq | ast.NotEq):
                continue
            symbol = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}[type(op)]
            for k in (i, i + 1):
                if kinds[k] == CONDITION:
                    raise self.error(operands[k], f"'{symbol}' needs a number, got a condition")
        return CONDITION
