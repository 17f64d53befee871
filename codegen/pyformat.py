"""A very small code formatter for the emitter: calls, lists and tuples laid
out exactly as ``ruff format`` (black's style) lays them out, so that the
generated source passes ``ruff format --check`` without running ruff.

An expression is a tree of :class:`Call`, :class:`Seq` and plain strings
(atoms that are already valid Python). :func:`layout` puts one on one line
when it fits, else hugs its arguments on one indented line, else puts one
argument per line with a trailing comma, recursing into arguments that are
still too long: black's right-hand split followed by its delimiter split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LINE_LENGTH = 110  # this project's ruff setting (pyproject.toml); torchvision uses 120
INDENT = "    "


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Expr, ...] = ()
    kwargs: tuple[tuple[str, Expr], ...] = field(default=())

    @property
    def open(self) -> str:
        return self.func + "("

    close = ")"

    def items(self) -> list[tuple[str, Expr]]:
        return [("", a) for a in self.args] + [(k + "=", v) for k, v in self.kwargs]


@dataclass(frozen=True)
class Seq:
    open: str  # "[" or "("
    elements: tuple[Expr, ...]

    @property
    def close(self) -> str:
        return "]" if self.open == "[" else ")"

    def items(self) -> list[tuple[str, Expr]]:
        return [("", e) for e in self.elements]


@dataclass(frozen=True)
class Repeat:
    """``*[expr for _ in range(count)]``: ``count`` identical constructions, unpacked into a call."""

    expr: Expr
    count: int

    @property
    def tail(self) -> str:
        return f"for _ in range({self.count})"


Expr = str | Call | Seq | Repeat


def flat(e: Expr) -> str:
    if isinstance(e, str):
        return e
    if isinstance(e, Repeat):
        return f"*[{flat(e.expr)} {e.tail}]"
    parts = [p + flat(v) for p, v in e.items()]
    if isinstance(e, Seq) and e.open == "(" and len(parts) == 1:
        return "(" + parts[0] + ",)"
    return e.open + ", ".join(parts) + e.close


def layout(e: Expr, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
    """Lines (without newlines) for ``prefix + e + suffix`` at ``indent`` levels."""
    pad = INDENT * indent
    line = pad + prefix + flat(e) + suffix
    if len(line) <= LINE_LENGTH or isinstance(e, str):
        return [line]
    if isinstance(e, Repeat):  # as ruff splits a comprehension: element, then its for clause
        return [
            pad + prefix + "*[",
            *layout(e.expr, indent + 1),
            INDENT * (indent + 1) + e.tail,
            pad + "]" + suffix,
        ]
    if not e.items():
        return [line]
    items = e.items()
    single_tuple = isinstance(e, Seq) and e.open == "(" and len(items) == 1
    head = pad + prefix + e.open
    tail = pad + e.close + suffix
    if not single_tuple:
        body = INDENT * (indent + 1) + ", ".join(p + flat(v) for p, v in items)
        if len(body) <= LINE_LENGTH:
            return [head, body, tail]
    if len(items) == 1 and not single_tuple:
        p, v = items[0]
        return [head, *layout(v, indent + 1, p), tail]
    lines = [head]
    for p, v in items:
        lines += layout(v, indent + 1, p, ",")
    lines.append(tail)
    return lines


def signature(name: str, params: list[str], returns: str, indent: int) -> list[str]:
    """A ``def`` line, split as ruff splits it when too long."""
    pad = INDENT * indent
    line = f"{pad}def {name}({', '.join(params)}) -> {returns}:"
    if len(line) <= LINE_LENGTH:
        return [line]
    body = INDENT * (indent + 1) + ", ".join(params)
    if len(body) <= LINE_LENGTH and len(params) > 1:
        return [f"{pad}def {name}(", body, f"{pad}) -> {returns}:"]
    return [f"{pad}def {name}(", *(INDENT * (indent + 1) + p + "," for p in params), f"{pad}) -> {returns}:"]


def statement(code: str, indent: int, comment: str = "") -> list[str]:
    """One simple statement with an optional trailing comment (moved above it if too long)."""
    pad = INDENT * indent
    if not comment:
        return [pad + code]
    line = f"{pad}{code}  # {comment}"
    if len(line) <= LINE_LENGTH:
        return [line]
    return [f"{pad}# {comment}", pad + code]
