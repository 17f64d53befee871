"""Symbolic integers for block classes.

One block class serves every instance, so a constructor argument such as a
convolution's ``in_channels`` must be written as an expression over the
class's own arguments (``in_channels``, ``out_channels * 4``), not as the
number one instance happens to have. A :class:`Sym` carries both: the
expression (an AST of graph/expr.py's whitelisted grammar: ints, names,
``+ - * //``, negation) and the value it has in a representative instance.
The registry's ``module`` builders run unchanged on Syms: comparisons and
truth tests use the value, arithmetic builds a new expression.

A Sym whose ``ast`` is None stands for a number that no expression explains
(a spatial size that differs between instances); the emitter refuses to
write one into code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Ast = tuple

_PREC = {"+": 1, "-": 1, "*": 2, "//": 2, "neg": 3, "int": 4, "name": 4}


class Sym:
    __slots__ = ("ast", "value")

    def __init__(self, ast: Ast | None, value: Any) -> None:
        self.ast = ast
        self.value = value

    @classmethod
    def const(cls, value: int) -> Sym:
        return cls(("int", value), value)

    @property
    def is_const(self) -> bool:
        return self.ast is not None and self.ast[0] == "int"

    # comparisons and truth use the representative value
    def __bool__(self) -> bool:
        return bool(self.value)

    def __eq__(self, other: object) -> bool:
        return self.value == _value(other)

    def __ne__(self, other: object) -> bool:
        return self.value != _value(other)

    def __lt__(self, other: object) -> bool:
        return self.value < _value(other)

    def __le__(self, other: object) -> bool:
        return self.value <= _value(other)

    def __gt__(self, other: object) -> bool:
        return self.value > _value(other)

    def __ge__(self, other: object) -> bool:
        return self.value >= _value(other)

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"Sym({render(self.ast, str) if self.ast else '?'}={self.value})"

    # arithmetic builds expressions
    def _op(self, op: str, other: Any, swap: bool = False) -> Sym:
        o = other if isinstance(other, Sym) else Sym.const(other)
        a, b = (o, self) if swap else (self, o)
        value = _apply(op, a.value, b.value)
        if a.ast is None or b.ast is None:
            return Sym(None, value)
        return Sym(simplify((op, a.ast, b.ast)), value)

    def __add__(self, o: Any) -> Sym:
        return self._op("+", o)

    def __radd__(self, o: Any) -> Sym:
        return self._op("+", o, True)

    def __sub__(self, o: Any) -> Sym:
        return self._op("-", o)

    def __rsub__(self, o: Any) -> Sym:
        return self._op("-", o, True)

    def __mul__(self, o: Any) -> Sym:
        return self._op("*", o)

    def __rmul__(self, o: Any) -> Sym:
        return self._op("*", o, True)

    def __floordiv__(self, o: Any) -> Sym:
        return self._op("//", o)


def _value(other: object) -> Any:
    return other.value if isinstance(other, Sym) else other


def _apply(op: str, a: int, b: int) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a // b


def _terms(ast: Ast, sign: int, out: list[list]) -> None:
    """Flatten a sum into [coefficient, factor] terms (factor None for the constant)."""
    op = ast[0]
    if op in ("+", "-"):
        _terms(ast[1], sign, out)
        _terms(ast[2], sign if op == "+" else -sign, out)
        return
    if op == "neg":
        _terms(ast[1], -sign, out)
        return
    coef, factor, right = 1, ast, False
    if op == "int":
        coef, factor = ast[1], None
    elif op == "*" and ast[1][0] == "int":
        coef, factor = ast[1][1], ast[2]
    elif op == "*" and ast[2][0] == "int":
        coef, factor, right = ast[2][1], ast[1], True
    for term in out:
        if term[1] == factor:
            term[0] += sign * coef
            return
    out.append([sign * coef, factor, right])


def _collect(ast: Ast) -> Ast:
    """``a + b + b - 2`` -> ``a + 2 * b - 2``: like terms combined, in order of first appearance."""
    terms: list[list] = []
    _terms(ast, 1, terms)
    const = sum(c for c, f, _ in terms if f is None)
    result: Ast | None = None
    for coef, factor, right in [t for t in terms if t[1] is not None] + [[const, None, False]]:
        if coef == 0:
            continue
        mag = abs(coef)
        if factor is None:
            part = ("int", mag)
        elif mag == 1:
            part = factor
        else:
            part = ("*", factor, ("int", mag)) if right else ("*", ("int", mag), factor)
        if result is None:
            result = part if coef > 0 else ("neg", part) if factor is not None else ("int", coef)
        else:
            result = ("+" if coef > 0 else "-", result, part)
    return result if result is not None else ("int", 0)


def simplify(ast: Ast) -> Ast:
    """Fold constants, combine like terms of sums, drop ``* 1``, ``// 1`` and ``* k // k``."""
    op = ast[0]
    if op in ("int", "name"):
        return ast
    if op in ("+", "-"):
        a, b = simplify(ast[1]), simplify(ast[2])
        return _collect((op, a, b))
    if op == "neg":
        inner = simplify(ast[1])
        return ("int", -inner[1]) if inner[0] == "int" else ("neg", inner)
    a, b = simplify(ast[1]), simplify(ast[2])
    if a[0] == "int" and b[0] == "int" and not (op == "//" and b[1] == 0):
        return ("int", _apply(op, a[1], b[1]))
    if op == "+" and a == ("int", 0):
        return b
    if op in ("+", "-") and b == ("int", 0):
        return a
    if op == "*" and a == ("int", 1):
        return b
    if op in ("*", "//") and b == ("int", 1):
        return a
    if op == "//" and a[0] == "*" and b[0] == "int" and b[1] != 0 and b in a[1:]:
        return a[2] if a[1] == b else a[1]  # (x * k) // k is x (a GroupSum of k groups after a conv)
    return (op, a, b)


def substitute(ast: Ast, env: dict[str, Ast]) -> Ast:
    """Replace names by ASTs (a block's expressions seen from its instance)."""
    if ast[0] == "name":
        return env.get(ast[1], ast)
    if ast[0] == "int":
        return ast
    return simplify((ast[0], *(substitute(a, env) for a in ast[1:])))


def evaluate(ast: Ast, env: dict[str, Any]) -> int:
    op = ast[0]
    if op == "int":
        return ast[1]
    if op == "name":
        return env[ast[1]]
    if op == "neg":
        return -evaluate(ast[1], env)
    return _apply(op, evaluate(ast[1], env), evaluate(ast[2], env))


def render(ast: Ast, name: Callable[[str], str]) -> str:
    """Python source for ``ast``; ``name`` maps an expression name to its identifier."""
    op = ast[0]
    if op == "int":
        return str(ast[1])
    if op == "name":
        return name(ast[1])
    if op == "neg":
        inner = render(ast[1], name)
        return f"-({inner})" if _PREC[ast[1][0]] < _PREC["neg"] else f"-{inner}"
    left, right = ast[1], ast[2]
    ls = render(left, name)
    rs = render(right, name)
    if _PREC[left[0]] < _PREC[op]:
        ls = f"({ls})"
    rp = _PREC[right[0]]
    if rp < _PREC[op] or (
        rp == _PREC[op] and not (op == right[0] and op in ("+", "*")) and not (op == "+" and right[0] == "-")
    ):
        rs = f"({rs})"
    return f"{ls} {op} {rs}"
