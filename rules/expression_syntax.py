"""The surface syntax of ``when`` expressions: operators rewritten to Python, syntax errors located.

A rule author writes ``drift_share > 0.3 && !(rows < 500)``. The text is rewritten into Python
syntax (``&&`` -> ``and``, ``||`` -> ``or``, ``!`` -> ``not``) with a map from every rewritten
character back to the one it came from, so that every position reported to the author is a
1-based column in the text they wrote.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

MAX_LENGTH = 2000
CONSTANTS = {"true": True, "false": False, "True": True, "False": False}


class ExpressionError(ValueError):
    """A ``when`` expression that cannot be used: names the expression, the column and the problem."""

    def __init__(self, expression: str, column: int | None, problem: str):
        self.expression = expression
        self.column = column
        self.problem = problem
        where = f"column {column}: " if column is not None else ""
        super().__init__(f"{expression!r}: {where}{problem}")

    def pointer(self) -> str:
        """The expression on one line and a caret under the offending column on the next."""
        text = self.expression.replace("\n", " ").replace("\t", " ")
        if self.column is None:
            return text
        return f"{text}\n{' ' * (self.column - 1)}^"


@dataclass(frozen=True)
class NameUse:
    """Where a measurement name appears in the original text (0-based, end exclusive)."""

    name: str
    start: int
    end: int


def translate(text: str) -> tuple[str, list[int]]:
    """Python source for ``text`` and, for each of its characters, the 0-based index it came from."""
    out: list[str] = []
    origin: list[int] = []

    def emit(chunk: str, at: int) -> None:
        out.extend(chunk)
        origin.extend([at] * len(chunk))

    i, n = 0, len(text)
    while i < n:
        c, two = text[i], text[i : i + 2]
        if c in "\"'":
            end = text.find(c, i + 1)
            end = n if end < 0 else end + 1
            for k in range(i, end):
                emit(text[k], k)
            i = end
        elif two in ("&&", "||"):
            emit(" and " if two == "&&" else " or ", i)
            i += 2
        elif two in ("==", "!=", "<=", ">=", ":="):
            emit(two, i)
            i += 2
        elif c == "!":
            emit(" not ", i)
            i += 1
        elif c in "&|":
            word = "and" if c == "&" else "or"
            raise ExpressionError(text, i + 1, f"single '{c}' is not an operator; write '{c}{c}' or '{word}'")
        elif c == "=":
            raise ExpressionError(text, i + 1, "'=' is not a comparison; write '==' to compare")
        else:
            emit(" " if c in "\r\n\t" else c, i)
            i += 1
    source = "".join(out)
    stripped = len(source) - len(source.lstrip())
    return source[stripped:], origin[stripped:]


def _syntax_problem(exc: SyntaxError) -> str:
    msg = exc.msg or "invalid syntax"
    if "was never closed" in msg or "unexpected EOF" in msg:
        return "syntax error: a parenthesis is never closed"
    if "unmatched" in msg:
        return "syntax error: a closing parenthesis has no opening one"
    if msg == "invalid syntax" and not exc.offset:
        return "syntax error: the expression ends too early"
    if "unterminated string" in msg:
        return "strings are not supported"
    return f"syntax error: {msg}"


def _syntax_column(exc: SyntaxError, source: str, origin: list[int], text: str) -> int:
    offset = (exc.offset or 0) - 1
    if 0 <= offset < len(origin):
        return origin[offset] + 1
    return len(text.rstrip()) + 1


def parse_python(text: str) -> tuple[ast.expr, str, list[int]]:
    """The :mod:`ast` tree of ``text`` rewritten to Python, the rewritten source and its column map."""
    if not isinstance(text, str):
        raise ExpressionError(str(text), None, f"expected the expression as text, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError(text, None, "the expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            text, None, f"the expression is {len(text)} characters long; the limit is {MAX_LENGTH}"
        )
    source, origin = translate(text)
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(text, _syntax_column(exc, source, origin, text), _syntax_problem(exc)) from None
    return tree, source, origin
