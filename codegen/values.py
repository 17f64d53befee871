"""Values in generated code: a checked parameter value (or a symbolic one) written as Python source.

``literal`` writes a value (never raw user text), ``numeric`` evaluates a symbolic one in one
instance's environment, ``same_value`` compares with a torch default (True is not 1 here).
"""

from __future__ import annotations

import math
import re
from typing import Any

from codegen import pyformat as pf
from codegen.symbolic import Sym, evaluate, render
from graph.errors import UserError

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def same_value(a: Any, b: Any) -> bool:
    """``a`` (a value, or a constant Sym) equals the default ``b`` (True is not 1 here)."""
    if isinstance(a, Sym):
        if not a.is_const:
            return False
        a = a.value
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if a is None or b is None:
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


class Unexpressible(Exception):
    pass


def literal(value: Any, name=lambda n: n) -> pf.Expr:
    """Python source for a checked parameter value (never raw user text)."""
    if isinstance(value, Sym):
        if value.ast is None:
            raise Unexpressible(value.value)
        return render(value.ast, name)
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UserError(f"cannot write the number {value!r} into code", exit_code=1)
        return repr(value)
    if isinstance(value, str):
        if not _WORD.fullmatch(value):
            raise UserError(f"unexpected text value {value!r} in a layer parameter", exit_code=1)
        return f'"{value}"'
    if isinstance(value, tuple):
        return pf.Seq("(", tuple(literal(v, name) for v in value))
    if isinstance(value, list):
        return pf.Seq("[", tuple(literal(v, name) for v in value))
    raise UserError(f"cannot write a value of type {type(value).__name__} into code", exit_code=1)


def numeric(value: Any, env: dict) -> Any:
    """A symbolic spec value evaluated in one instance's environment."""
    if isinstance(value, Sym):
        return evaluate(value.ast, env) if value.ast is not None else value.value
    if isinstance(value, (list, tuple)):
        return type(value)(numeric(v, env) for v in value)
    return value


class Rendered:
    """A parameter as the registry's ``forward`` templates format it: its source text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __format__(self, spec: str) -> str:
        return self.text

    __str__ = __repr__ = lambda self: self.text


def doc_text(text: Any, limit: int = 100) -> str:
    """User text made safe for a one-line docstring: printable, no quotes or backslashes."""
    if not isinstance(text, str):
        return ""
    text = "".join(c if c.isprintable() else " " for c in text)
    text = text.replace("\\", "/").replace('"', "'")
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    return text.rstrip("'").strip()
