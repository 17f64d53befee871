"""An allowlist check of generated source: defence in depth against injection.

The emitter never copies project text into code (names go through
codegen/namespace.py, values are written from checked Python values), and
this module checks the result anyway, before anyone executes it: the source
parses; it holds only class and function definitions, assignments, returns,
``for m in self.modules()`` loops, ``if`` tests and expressions; every call
is to ``nn.*``, ``nn.init.*``, ``torch.*``, ``F.*``, a class defined in the
same source, ``self.<module>`` or one of a few builtins (super, isinstance, range, len); no name or attribute
is a dunder other than ``__init__``; the only imports are torch's and
``collections.OrderedDict``.
"""

from __future__ import annotations

import ast

from graph.errors import UserError

ALLOWED_NODES = (
    ast.Module,
    ast.ClassDef,
    ast.FunctionDef,
    ast.arguments,
    ast.arg,
    ast.Return,
    ast.Assign,
    ast.AugAssign,
    ast.If,
    ast.For,
    ast.Expr,
    ast.Call,
    ast.Attribute,
    ast.Name,
    ast.Constant,
    ast.Subscript,
    ast.Slice,
    ast.Tuple,
    ast.List,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.keyword,
    ast.Import,
    ast.ImportFrom,
    ast.alias,
    ast.Load,
    ast.Store,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.FloorDiv,
    ast.USub,
    ast.IsNot,
    ast.Is,
    ast.BitOr,
    ast.Starred,  # nn.Sequential(first, *[Block(...) for _ in range(n)])
    ast.ListComp,
    ast.comprehension,
    ast.JoinedStr,  # self.add_module(f"denselayer{i + 1}", layer)
    ast.FormattedValue,
)
# ``for layer in self.values():`` binds submodules that forward may call
LOOP_SOURCES = {"items", "values", "children", "modules"}
ALLOWED_IMPORTS = {"torch", "torch.nn.functional", "torch.nn", "collections"}
CALL_ROOTS = {"nn", "torch", "F", "self", "m", "x"}
BUILTINS = {"super", "isinstance", "range", "len"}


def check_source(source: str) -> None:
    """Raise UserError if ``source`` holds anything the emitter does not write."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:  # pragma: no cover - an emitter bug
        raise UserError(f"internal error: generated code does not parse ({exc})", exit_code=1) from None
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    submodules: set[str] = set()  # names bound by ``for ... in self.values()`` (a For comes before its body)
    for node in ast.walk(tree):
        if isinstance(node, ast.For):
            submodules.update(_loop_bound(node))
        if not isinstance(node, ALLOWED_NODES):
            _fail(f"a {type(node).__name__} construct", node)
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            _fail(f"the name {node.id!r}", node)
        if isinstance(node, ast.Attribute) and node.attr.startswith("__") and node.attr != "__init__":
            _fail(f"the attribute {node.attr!r}", node)
        if isinstance(node, ast.FunctionDef) and node.name.startswith("__") and node.name != "__init__":
            _fail(f"the method {node.name!r}", node)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mod = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            if mod not in ALLOWED_IMPORTS or getattr(node, "level", 0):
                _fail(f"an import of {mod!r}", node)
        if isinstance(node, ast.Call):
            root = _root(node.func)
            if isinstance(node.func, ast.Name):
                if node.func.id not in classes | BUILTINS | submodules | {"OrderedDict"}:
                    _fail(f"a call to {node.func.id!r}", node)
            elif root not in CALL_ROOTS and not (isinstance(root, ast.Call)):
                _fail("a call to an unexpected object", node)
            elif isinstance(root, ast.Call) and not (
                isinstance(root.func, ast.Name) and root.func.id == "super"
            ):
                _fail("a call on a call result", node)


def _loop_bound(node: ast.For) -> list[str]:
    """The names a ``for ... in self.values()`` (or items, children, modules) loop binds: submodules."""
    it = node.iter
    if (
        isinstance(it, ast.Call)
        and isinstance(it.func, ast.Attribute)
        and isinstance(it.func.value, ast.Name)
        and it.func.value.id == "self"
        and it.func.attr in LOOP_SOURCES
    ):
        return [n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)]
    return []


def _root(expr: ast.AST):
    while isinstance(expr, (ast.Attribute, ast.Subscript)):
        expr = expr.value
    if isinstance(expr, ast.Name):
        return expr.id
    return expr


def _fail(what: str, node: ast.AST) -> None:
    raise UserError(
        f"generated code holds {what} (line {getattr(node, 'lineno', '?')}), which Skipwire "
        "never writes; refusing to use it",
        exit_code=1,
    )
