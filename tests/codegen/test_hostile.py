"""No text in a project can inject code into the generated module.

A corpus of hostile projects (quotes, newlines, ``__import__``, unicode
look-alikes, keywords, very long names, hostile block names, parameter
names, parameter values, expressions, edge and stage names, docs) either is
refused with a clear UserError or emits a module whose AST holds nothing but
the expected constructs: calls only to an allowlist, no dunder names, only
torch imports, string constants that are plain words. The sanitised module
then builds and matches shape inference.
"""

from __future__ import annotations

import ast
import copy
import re

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen.build import build_module
from codegen.emitter import emit
from graph.errors import UserError
from graph.model import BlockDef, BlockParam, Project, Stage
from graph.shapes import analyze

HOSTILE = [
    'a"; import os; "',
    "x\nimport os",
    "__import__('os').system('ls')",
    "ｃｏｎｖ1",
    "сonv1",
    "conv1",
    "class",
    "lambda",
    "self",
    "torch",
    "nn",
    "F",
    "x",
    "out",
    "identity",
    "forward",
    "train",
    "__init__",
    "__class__",
    "super",
    "print",
    "eval",
    "exec",
    "n" * 5000,
    "!!!",
    "",
    " ",
    "\x00",
    "a\u202eb",
    "1abc",
    "_",
    "__",
    "None",
    "True",
    "import",
    "def",
    "#comment",
    "a.b.c",
    "os.system",
    "'''",
    '"""',
    "\\",
    "{x}",
    "conv1 ",
    "Conv1",
    "CONV1",
    "ŀ",
    "ﬁ",
    "Ω",
    "٣",
    "_init_weights",
    "state_dict",
    "modules",
    "in_channels",
]

CALL_OK = re.compile(r"^(nn|torch|F)(\.[A-Za-z_][A-Za-z0-9_]*)+$")
WORD = re.compile(r"^[A-Za-z0-9_]*$")


def _dotted(expr: ast.AST) -> str:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return _dotted(expr.value) + "." + expr.attr
    if isinstance(expr, ast.Subscript):
        return _dotted(expr.value) + "[]"
    if isinstance(expr, ast.Call):
        return _dotted(expr.func) + "()"
    return "?"


def assert_only_expected_constructs(source: str) -> None:
    tree = ast.parse(source)
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    docstrings = set()
    for node in [tree, *ast.walk(tree)]:
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
                assert "\n" not in first.value.value and '"' not in first.value.value
    for node in ast.walk(tree):
        assert isinstance(
            node,
            (
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
                ast.BitOr,
            ),
        ), type(node).__name__
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            assert (
                name in classes
                or name in ("super", "super().__init__", "isinstance", "range", "len", "OrderedDict")
                or CALL_OK.match(name)
                or re.match(r"^(self|m|x)[\w.\[\]]*$", name)
            ), name
        if isinstance(node, ast.Name):
            assert node.id.isascii() and not node.id.startswith("__"), node.id
        if isinstance(node, ast.Attribute):
            assert node.attr.isascii() and (not node.attr.startswith("__") or node.attr == "__init__")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            assert WORD.match(node.value), repr(node.value)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mod = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            assert mod in ("torch", "torch.nn.functional", "collections"), mod


def hostile_project(
    names: list[str],
    block: str = "Block",
    param: str = "width",
    edge: str = "downsample",
    doc: str = "doc",
    title: str = "net",
    stage: str | None = "layers",
) -> Project:
    """A small network whose every name comes from ``names`` (cycled); the stage's too when ``stage``
    is None (the analysis refuses a stage name that cannot be an attribute, so a hostile one would
    stop every other name from reaching the emitter)."""
    it = iter(names * 4)
    p = Project(title)
    b = BlockDef(block, {param: BlockParam("int", 4), "stride": BlockParam("int", 1)}, doc=doc)
    g = b.graph
    i = g.add("BlockInput", next(it))
    c = g.add("Conv2d", next(it), out_channels=param, stride="stride")
    n = g.add("BatchNorm2d", next(it))
    add = g.add("Add", next(it))
    r = g.add("ReLU", next(it))
    o = g.add("BlockOutput", next(it))
    g.chain(i, c, n, add, r, o)
    g.connect(i, add, 1, kind="shortcut", projection="conv_bn", name=edge)
    p.add_block(b)
    G = p.graph
    x = G.add("Input", next(it), shape=[3, 8, 8])
    stem = G.add("Conv2d", next(it), out_channels=4)
    b1 = G.add(f"block:{block}", next(it))
    b1.params[param] = 4
    b2 = G.add(f"block:{block}", next(it), stride=2)
    b2.params[param] = 8
    pool = G.add("AdaptiveAvgPool2d", next(it))
    flat = G.add("Flatten", next(it))
    fc = G.add("Linear", next(it), out_features=3)
    out = G.add("Output", next(it))
    G.chain(x, stem, b1, b2, pool, flat, fc, out)
    stage_name = next(it)
    G.set_stages([Stage(stage_name if stage is None else stage, "name", [b1.id, b2.id])])
    return p


def _dedupe(names: list[str]) -> list[str]:
    """Node names must be unique within a graph (the analysis says so); make them so, keeping them hostile."""
    out, seen = [], set()
    for n in names:
        while n in seen:
            n += "'"
        seen.add(n)
        out.append(n)
    return out


def _check(project: Project) -> None:
    analysis = analyze(project)
    try:
        emitted = emit(project, analysis)
    except UserError as exc:
        assert exc.exit_code == 1 and exc.message and "Traceback" not in exc.message
        return
    assert_only_expected_constructs(emitted.source)
    compile(emitted.source, "<test>", "exec")
    return emitted


@pytest.mark.parametrize("start", range(0, len(HOSTILE), 7))
def test_hostile_node_names(start):
    names = _dedupe((HOSTILE[start:] + HOSTILE[:start])[:14])
    p = hostile_project(names)
    emitted = _check(p)
    if emitted is not None:
        a = analyze(p)
        m = build_module(p, a, emitted)
        assert sum(t.numel() for t in m.parameters()) == a.total_params
        assert tuple(m(torch.randn(2, 3, 8, 8)).shape[1:]) == a.output_shape


@pytest.mark.parametrize("text", HOSTILE[:30])
def test_hostile_block_param_edge_doc_and_project_names(text):
    param = text if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) and text != "stride" else "width"
    p = hostile_project(
        [f"n{i}" for i in range(14)], block=text or "B", param=param, edge=text, doc=text * 3, title=text
    )
    emitted = _check(p)
    if emitted is None:
        assert len(text) > 200  # its name is too long for an expression that refers to it
        return
    m = build_module(p, emitted=emitted)
    assert tuple(m(torch.randn(1, 3, 8, 8)).shape) == (1, 3)


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_stage_names(text):
    """A stage name becomes an attribute: sanitised or refused with a clear error, never injected."""
    _check(hostile_project([f"n{i}" for i in range(14)], stage=text))


def test_names_that_collide_after_sanitising_stay_distinct():
    p = hostile_project(
        [
            "conv",
            "ｃｏｎｖ",
            "Conv",
            "conv ",
            "c-o-n-v",
            "conv_1",
            "conv1",
            "CONV",
            "c",
            "d",
            "e",
            "f",
            "g",
            "h",
        ]
    )
    emitted = emit(p)
    tree = ast.parse(emitted.source)
    net = [n for n in tree.body if isinstance(n, ast.ClassDef)][-1]
    init = next(f for f in net.body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
    attrs = [
        t.attr
        for s in init.body
        if isinstance(s, ast.Assign)
        for t in s.targets
        if isinstance(t, ast.Attribute)
    ]
    assert len(attrs) == len(set(attrs))


def test_block_names_colliding_with_helpers_and_the_network():
    p = hostile_project([f"n{i}" for i in range(14)], block="ZeroPadShortcut", title="ZeroPadShortcut")
    e = emit(p)
    assert (
        e.block_classes["ZeroPadShortcut"] != "ZeroPadShortcut"
        and e.class_name != e.block_classes["ZeroPadShortcut"]
    )
    build_module(p, emitted=e)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("bias", "True; import os"),
        ("bias", 1),
        ("kernel_size", "__import__('os')"),
        ("kernel_size", 3.5),
        ("padding", "same\nimport os"),
        ("init", "kaiming_fan_out'); import os; ('"),
        ("bias_init", float("nan")),
        ("bias_init", "1e3"),
        ("out_channels", [4]),
        ("out_channels", {"a": 1}),
        ("stride", True),
    ],
)
def test_hostile_parameter_values_are_refused(param, value):
    p = hostile_project([f"n{i}" for i in range(14)])
    stem = p.graph.node_by_name("n7")
    p.graph.set_param(stem.id, param, value)
    with pytest.raises(UserError) as info:
        emit(p)
    assert info.value.exit_code == 1


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os')",
        "width; import os",
        "width\nimport os",
        "width.__class__",
        "width if 1 else 2",
        "lambda: 0",
        "width ** 2",
        "[width]",
        "width, 1",
        "os.system",
        "width /2",
        "eval('1')",
        "width # c",
        "a" * 300,
        "(" * 60 + "width" + ")" * 60,
    ],
)
def test_hostile_expressions_are_refused(expression):
    p = hostile_project([f"n{i}" for i in range(14)])
    conv = p.blocks["Block"].graph.node_by_name("n1")
    p.blocks["Block"].graph.set_param(conv.id, "out_channels", expression)
    with pytest.raises(UserError) as info:
        emit(p)
    assert info.value.exit_code == 1


def test_expression_names_map_through_the_namespace():
    p = hostile_project([f"n{i}" for i in range(14)], param="lambda_")
    p2 = copy.deepcopy(p)
    p2.blocks["Block"].params = {"print": BlockParam("int", 4), "stride": BlockParam("int", 1)}
    conv = p2.blocks["Block"].graph.node_by_name("n1")
    p2.blocks["Block"].graph.set_param(conv.id, "out_channels", "print * 2 // 2")
    for node in p2.graph.nodes.values():
        if node.type.startswith("block:"):
            node.params["print"] = node.params.pop("lambda_")
    e = emit(p2)
    assert "print_1 * 2 // 2" in e.source
    build_module(p2, emitted=e)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(min_size=0, max_size=30), min_size=14, max_size=14))
def test_random_names_emit_safe_code(names):
    p = hostile_project(_dedupe(names))
    _check(p)


def test_sanitised_code_is_still_ruff_clean(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    n = 0
    for k in range(0, len(HOSTILE), 3):
        names = _dedupe((HOSTILE[k:] + HOSTILE[:k])[:14])
        for extra in (
            {},
            {"block": HOSTILE[k] or "B", "edge": HOSTILE[k], "doc": HOSTILE[k] * 3, "title": HOSTILE[k]},
        ):
            try:
                source = emit(hostile_project(names, **extra)).source
            except UserError:
                continue
            (tmp_path / f"h{k}_{len(extra)}.py").write_text(source, encoding="utf-8")
            n += 1
    assert n > 20
    ruff = Path(sys.executable).parent / "ruff"
    config = ["--config", str(Path(__file__).resolve().parents[2] / "pyproject.toml"), "--no-cache"]
    for cmd in (["format", "--check", "--diff"], ["check"]):
        r = subprocess.run(
            [str(ruff), *cmd, *config, str(tmp_path)], capture_output=True, text=True, check=False
        )
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-1000:]


@pytest.mark.parametrize(
    ("ptype", "default"),
    [
        ("int", "4); import os; (4"),
        ("str", "import os"),
        ("float", float("inf")),
        ("bool", "True"),
        ("int", None),
        ("float", [1.0]),
    ],
)
def test_hostile_block_parameter_defaults_are_refused(ptype, default):
    p = hostile_project([f"n{i}" for i in range(14)])
    p.blocks["Block"].params["extra"] = BlockParam(ptype, default)
    with pytest.raises(UserError) as info:
        emit(p)
    assert info.value.exit_code == 1
