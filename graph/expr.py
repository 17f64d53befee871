"""A tiny, safe arithmetic language for block parameters.

Grammar (integers only, no eval)::

    expr   := term (('+' | '-') term)*
    term   := factor (('*' | '//') factor)*
    factor := INT | NAME | '(' expr ')' | '-' factor

Names are block parameters or the read-only inferred ``in_channels``.
Parsing is whitelisted character by character; anything else is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_TOKEN = re.compile(r"\s*(?:([0-9]+)|([A-Za-z_][A-Za-z0-9_]*)|(//|[-+*()]))", re.ASCII)
MAX_LENGTH = 200
MAX_VALUE = 10**12


class ExprError(ValueError):
    """An expression that cannot be parsed or evaluated.

    ``unknown`` is the name that was not found (with ``known``, the names that
    were available), so that the validator can suggest the closest one.
    """

    def __init__(self, message: str, unknown: str | None = None, known: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.unknown = unknown
        self.known = known


@dataclass(frozen=True)
class Expr:
    text: str
    ast: tuple  # ('int', v) | ('name', n) | ('neg', a) | (op, a, b)
    names: frozenset[str]

    def evaluate(self, env: dict[str, int]) -> int:
        return _eval(self.ast, env, self.text)


def _tokenize(text: str) -> list[tuple[str, str]]:
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression is longer than {MAX_LENGTH} characters")
    tokens: list[tuple[str, str]] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if not m or m.end() == pos:
            bad = stripped[pos:].lstrip()[:1]
            raise ExprError(f"unexpected character {bad!r} in expression {text!r}")
        if m.group(1) is not None:
            tokens.append(("int", m.group(1)))
        elif m.group(2) is not None:
            tokens.append(("name", m.group(2)))
        else:
            tokens.append(("op", m.group(3)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ExprError(f"expression {self.text!r} ends too early")
        self.i += 1
        return tok

    def parse(self) -> tuple:
        if not self.tokens:
            raise ExprError("empty expression")
        node = self.expr()
        if self.peek() is not None:
            raise ExprError(f"unexpected {self.peek()[1]!r} in expression {self.text!r}")
        return node

    def expr(self) -> tuple:
        node = self.term()
        while (tok := self.peek()) and tok[1] in ("+", "-"):
            self.take()
            node = (tok[1], node, self.term())
        return node

    def term(self) -> tuple:
        node = self.factor()
        while (tok := self.peek()) and tok[1] in ("*", "//"):
            self.take()
            node = (tok[1], node, self.factor())
        return node

    def factor(self) -> tuple:
        self.depth += 1
        if self.depth > 50:
            raise ExprError("expression is nested too deeply")
        try:
            kind, value = self.take()
            if kind == "int":
                if int(value) > MAX_VALUE:
                    raise ExprError(
                        f"number {value[:20]}{'...' if len(value) > 20 else ''} is too large "
                        f"in expression {self.text!r}"
                    )
                return ("int", int(value))
            if kind == "name":
                return ("name", value)
            if value == "-":
                return ("neg", self.factor())
            if value == "(":
                node = self.expr()
                if self.take()[1] != ")":
                    raise ExprError(f"missing ')' in expression {self.text!r}")
                return node
            raise ExprError(f"unexpected {value!r} in expression {self.text!r}")
        finally:
            self.depth -= 1


def names_in(ast: tuple) -> set[str]:
    """The names a parsed expression (``Expr.ast``, or a codegen ``Sym``'s) refers to."""
    if ast[0] == "name":
        return {ast[1]}
    if ast[0] == "int":
        return set()
    return set().union(*(names_in(a) for a in ast[1:]))


def parse(text: str) -> Expr:
    """Parse ``text``; raises ExprError with a readable reason."""
    if not isinstance(text, str):
        raise ExprError(f"expression must be text, not {type(text).__name__}")
    return _parse(text)


@lru_cache(maxsize=4096)
def _parse(text: str) -> Expr:
    ast = _Parser(text).parse()
    return Expr(text, ast, frozenset(names_in(ast)))


def _eval(ast: tuple, env: dict[str, int], text: str) -> int:
    op = ast[0]
    if op == "int":
        return ast[1]
    if op == "name":
        if ast[1] not in env:
            known = tuple(sorted(env))
            raise ExprError(
                f"unknown name {ast[1]!r} in expression {text!r}; the names it can use are "
                + (", ".join(known) or "none"),
                ast[1],
                known,
            )
        value = env[ast[1]]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ExprError(f"{ast[1]!r} is not an integer in expression {text!r}")
        return value
    if op == "neg":
        return -_eval(ast[1], env, text)
    a = _eval(ast[1], env, text)
    b = _eval(ast[2], env, text)
    if op == "+":
        r = a + b
    elif op == "-":
        r = a - b
    elif op == "*":
        r = a * b
    else:
        if b == 0:
            raise ExprError(f"division by zero in expression {text!r}")
        r = a // b
    if abs(r) > MAX_VALUE:
        raise ExprError(f"value too large in expression {text!r}")
    return r


def is_expression(value: object) -> bool:
    return isinstance(value, str)
