"""Constructor expressions of a planned class: ``nn.Conv2d(64, 128, kernel_size=3, ...)``, block calls,
shortcut projections, stages as ``nn.Sequential``, containers, hoisted locals and module paths.

Part of the planner: :func:`plan_modules` fills a :class:`codegen.class_draft.ClassDraft`'s
``assignments``, ``module_exprs``, ``paths`` and ``code_paths``; the writer lays them out.
"""

from __future__ import annotations

import keyword
import re
from typing import Any

from codegen import layer_codegen, variants
from codegen import pyformat as pf
from codegen.class_draft import ClassDraft
from codegen.helpers import HELPERS
from codegen.namespace import Namespace, attribute_namespace
from codegen.plan import IO_TYPES, ClassPlan, PassedProjection
from codegen.plan_state import PlanningState
from codegen.symbolic import Sym, evaluate, render, substitute
from codegen.values import literal, numeric, same_value
from graph import registry
from graph.errors import UserError
from graph.expr import names_in
from graph.model import Edge, Node, Stage
from graph.shapes import GraphInfo

_MODULE_CLASS = re.compile(r"nn\.[A-Z][A-Za-z0-9]*")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")


# ---------------------------------------------------------------------------- attribute names
def has_module(node: Node, info: GraphInfo) -> bool:
    if node.block_name is not None:
        return True
    lt = registry.get(node.type)
    if node.type == "Add":
        return info.nodes[node.id].params.get("weights") == "learnable"
    return lt is not None and (lt.module is not None or lt.parameter is not None)


def is_module(node: Node, rep: GraphInfo) -> bool:
    """An ``nn.Module`` attribute (a container may hold it), not a bare ``nn.Parameter``."""
    lt = registry.get(node.type)
    return has_module(node, rep) and (node.block_name is not None or lt is None or lt.parameter is None)


def sc_attr(cls: ClassDraft, e: Edge) -> str:
    if e.id not in cls.sc_attrs:
        cls.sc_attrs[e.id] = cls.attrs.create(
            e.name or "shortcut", key=("shortcut", e.id), fallback="shortcut"
        )
    return cls.sc_attrs[e.id]


def node_attr(cls: ClassDraft, node: Node) -> str:
    return cls.attrs.create(node.name, key=node.id, fallback="layer")


def stage_attr(cls: ClassDraft, stage: Stage) -> str:
    return cls.attrs.create(stage.name, key=("stage", stage.name), fallback="stage")


# ---------------------------------------------------------------------------- the constructor
def plan_modules(st: PlanningState, cls: ClassDraft) -> None:
    """The constructor's statements (``self.conv1 = nn.Conv2d(...)``, in order) and module paths."""
    graph = cls.graph
    if cls.block is not None:
        cls.hoisted_lines = hoist(cls)
    assignments: list[tuple[str, pf.Expr]] = []
    done_stages: set[str] = set()
    containers: dict[str, int] = {}  # container attribute -> its assignment's index
    members: dict[str, pf.Expr] = {}  # node id -> its module, for the containers
    for nid in cls.rep.order:
        node = graph.nodes[nid]
        stage = cls.staged.get(nid)
        if stage is not None:
            if stage.name not in done_stages:
                done_stages.add(stage.name)
                assignments.append((f"self.{stage_attr(cls, stage)}", stage_expr(st, cls, stage)))
            continue
        if node.type in IO_TYPES:
            continue
        mexpr = module_expr(st, cls, node)
        if mexpr is None:
            mexpr = parameter_expr(cls, node)
        if mexpr is None:
            continue
        cls.module_exprs[nid] = mexpr
        if nid in cls.container_of:  # convs.0: a member of a container written whole below
            top = cls.container_of[nid]
            if top not in containers:
                containers[top] = len(assignments)
                assignments.append(("", ""))
            members[nid] = mexpr
            continue
        attr = node_attr(cls, node)
        cls.paths[nid] = attr
        cls.code_paths[nid] = attr
        assignments.append((f"self.{attr}", mexpr))
    for top, at in containers.items():
        attr = cls.attrs.get(("container", top))
        assignments[at] = (f"self.{attr}", container_expr(cls, cls.containers[top], members, attr, attr))
    for e in graph.edges.values():
        if e.id in cls.static:
            assignments.append((f"self.{sc_attr(cls, e)}", static_projection(st, cls, e)))
    for eid, argname in cls.dynamic.items():
        assignments.append((f"self.{sc_attr(cls, graph.edges[eid])}", argname))
    for raw, attr in cls.forward_params.items():
        assignments.append((f"self.{attr}", cls.argnames[raw]))
    cls.assignments = assignments


def hoist(cls: ClassDraft) -> list[tuple[str, str]]:
    """``width = planes * base_width // 64 * groups``: a compound expression that several
    constructor arguments share gets a local name, as torchvision's Bottleneck does."""
    counts: dict[tuple, int] = {}

    def visit(value: Any) -> None:
        if isinstance(value, Sym):
            if value.ast is not None and _operators(value.ast) >= 2:
                counts[value.ast] = counts.get(value.ast, 0) + 1
        elif isinstance(value, (list, tuple)):
            for v in value:
                visit(v)

    for nid in cls.rep.order:
        node = cls.graph.nodes[nid]
        if node.type in IO_TYPES or not has_module(node, cls.rep):
            continue
        if node.block_name is not None:
            visit(cls.in_shapes(node)[0][0])
            visit(list(cls.params[nid].values()))
            continue
        lt = registry.get(node.type)
        if lt.module is not None:
            spec = lt.module(cls.params[nid], cls.in_shapes(node))
            visit(list(spec.args))
            visit(list(spec.kwargs.values()))
    lines: list[tuple[str, str]] = []
    for ast_, n in counts.items():
        if n >= 2:
            name = cls.locals.create("width", fallback="width")
            lines.append((name, render(ast_, cls.name_of)))
            cls.hoisted[ast_] = name
    return lines


def _operators(ast: tuple) -> int:
    if ast[0] in ("int", "name"):
        return 0
    return 1 + sum(_operators(a) for a in ast[1:])


# ---------------------------------------------------------------------------- modules
def module_expr(st: PlanningState, cls: ClassDraft, node: Node, in_stage: bool = False) -> pf.Expr | None:
    if node.block_name is not None:
        return block_call(st, cls, node)
    lt = registry.get(node.type)
    ni = cls.rep.nodes[node.id]
    if node.type == "Add" and ni.params["weights"] == "learnable":
        st.helpers.add("WeightedAdd")
        n = len(ni.in_shapes)
        ws = list(ni.params["weight_values"][:n]) + [1.0] * max(0, n - len(ni.params["weight_values"]))
        return pf.Call("WeightedAdd", (literal([float(w) for w in ws]),))
    if lt.module is None:
        if node.type == "Flatten" and in_stage:
            return pf.Call("nn.Flatten")
        return None
    params = cls.params[node.id]
    ins = cls.in_shapes(node)
    spec = lt.module(params, ins)
    # the same constructor must hold in every instance
    for info, env in zip(cls.infos, cls.envs(), strict=True):
        other = info.nodes[node.id]
        want = lt.module(other.params, other.in_shapes)
        got = (numeric(list(spec.args), env), {k: numeric(v, env) for k, v in spec.kwargs.items()})
        if got != (list(want.args), dict(want.kwargs)):
            raise UserError(
                f'{cls.where}: node "{node.name}" needs different constructor arguments in '
                "different instances that no block parameter explains; make them block "
                "parameters",
                exit_code=1,
            )
    if spec.cls in HELPERS:
        st.helpers.add(spec.cls)
    elif not _MODULE_CLASS.fullmatch(spec.cls):
        raise UserError(f"unknown module class {spec.cls!r} for {node.type}", exit_code=1)
    defaults = layer_codegen.get(node.type).torch_defaults
    kwargs = dict(spec.kwargs)
    if kwargs.get("inplace") is True and node.id in cls.unsafe_inplace:
        kwargs["inplace"] = False  # its input is still needed elsewhere: never overwrite it
    spec_args = list(spec.args)
    if spec.cls == "nn.LayerNorm" and isinstance(spec_args[0], list) and len(spec_args[0]) == 1:
        spec_args[0] = spec_args[0][0]  # nn.LayerNorm(128), as people write it, not nn.LayerNorm([128])
    args = tuple(cls.lit(a, node, "an argument") for a in spec_args)
    kw = tuple(
        (k, cls.lit(v, node, k))
        for k, v in kwargs.items()
        if not (k in defaults and same_value(v, defaults[k]))
    )
    for k, _ in kw:
        if not _WORD.fullmatch(k):
            raise UserError(f"bad keyword {k!r} for {node.type}", exit_code=1)
    return pf.Call(spec.cls, args, kw)


def parameter_expr(cls: ClassDraft, node: Node) -> pf.Expr | None:
    """``nn.Parameter(torch.full((in_channels, 1, 1), 1e-06))`` for a layer that holds its own tensor
    (registry ``parameter``: ConvNeXt's layer scale); None for other layers."""
    lt = registry.get(node.type)
    if node.block_name is not None or lt is None or lt.parameter is None:
        return None
    spec = lt.parameter(cls.params[node.id], cls.in_shapes(node))
    for info, env in zip(cls.infos, cls.envs(), strict=True):  # one constructor for every instance
        other = info.nodes[node.id]
        want = lt.parameter(other.params, other.in_shapes)
        if (numeric(list(spec.shape), env), spec.fill) != (list(want.shape), want.fill):
            raise UserError(
                f'{cls.where}: node "{node.name}" needs a parameter of a different shape in different '
                "instances that no block parameter explains; make it a block parameter",
                exit_code=1,
            )
    dims = pf.Seq("(", tuple(cls.lit(d, node, "a size") for d in spec.shape))
    return pf.Call("nn.Parameter", (pf.Call("torch.full", (dims, literal(float(spec.fill)))),))


def block_call(st: PlanningState, cls: ClassDraft, node: Node) -> pf.Expr:
    inner = st.classes[node.block_name]
    bdef = st.project.blocks[node.block_name]
    params = cls.params[node.id]
    ins = cls.in_shapes(node)
    cls.block_in_ch[node.id] = ins[0][0]
    args: list[pf.Expr] = [cls.lit(ins[0][0], node, "the input channel count")]
    kwargs: list[tuple[str, pf.Expr]] = []
    if node.block_name in st.dense:  # DenseBlock(64, num_layers=6, growth_rate=12): all by keyword
        chain, group = st.dense[node.block_name]
        kwargs.append((group.names["num_layers"], str(chain.num_layers)))
        for pname, bp in bdef.params.items():
            if not same_value(params[pname], bp.default):
                kwargs.append((group.argnames[pname], cls.lit(params[pname], node, pname)))
        return pf.Call(group.name, tuple(args), tuple(kwargs))
    for j, (pname, bp) in enumerate(bdef.params.items()):
        value = params[pname]
        if j == 0:
            args.append(cls.lit(value, node, pname))
        elif not same_value(value, bp.default):
            kwargs.append((inner.argnames[pname], cls.lit(value, node, pname)))
    children = cls.rep.nodes[node.id].children
    if node.block_name in st.variants:  # its extra input chain, built with this instance's numbers
        m = st.variants[node.block_name]
        kwargs.append((m.attr, variants.instance_module(inner, m, children)))
    kwargs += instance_projections(st, cls, node, inner)
    return pf.Call(st.class_names.get(("block", bdef.name)), tuple(args), tuple(kwargs))


# ---------------------------------------------------------------------------- per-instance projections
Need = tuple[str, int, int, int]  # a projection one instance needs: (kind, in channels, out channels, stride)
SymNeed = tuple[tuple, tuple, tuple]  # the same channels and stride as expressions of a class's arguments


def instance_projections(
    st: PlanningState, cls: ClassDraft, node: Node, inner: ClassPlan
) -> list[tuple[str, pf.Expr]]:
    """The keyword arguments that give block instance ``node`` the shortcut projections its class takes
    per instance (``downsample=...``, torchvision's pattern), one per argument that some instance needs:

    - the network (one instance) builds each with its numbers:
      ``downsample=nn.Sequential(nn.Conv2d(16, 32, kernel_size=1, stride=2, bias=False), ...)``;
    - a block class whose instances all need the same projection there builds it from its own
      arguments: ``downsample=nn.Sequential(nn.Conv2d(in_channels, planes, ..., stride=stride, ...))``
      (or with the numbers they all share, where no expression describes them);
    - otherwise the block class takes it as a constructor argument of its own and passes it on
      (``downsample=tree1_downsample``); its own instances get it the same way, up to the network.
    """
    out: list[tuple[str, pf.Expr]] = []
    for arg in [*inner.dynamic.values(), *inner.passed]:
        needs = [_need(st, inner, arg, info.nodes[node.id].children) for info in cls.infos]
        if all(n is None for n in needs):
            continue
        expr = _built_here(st, cls, node, inner, arg, needs)
        if expr is None:  # differs between this class's instances: passed in from outside
            key = ("passed", node.id, arg)
            expr = cls.locals.create(f"{node.name}_{arg}", key=key, fallback="projection")
            cls.passed[expr] = PassedProjection(node.id, arg)
        out.append((arg, expr))
    return out


def _need(st: PlanningState, plan: ClassPlan, arg: str, info: GraphInfo) -> Need | None:
    """What one instance (analysed as ``info``) of ``plan``'s class needs for its per-instance argument
    ``arg``; None where it needs nothing (the argument stays None)."""
    passed = plan.passed.get(arg)
    if passed is not None:
        inner = st.classes[plan.graph.nodes[passed.node].block_name]
        return _need(st, inner, passed.arg, info.nodes[passed.node].children)
    eid = next(e for e, a in plan.dynamic.items() if a == arg)
    sc = info.shortcuts.get(eid)
    if sc is None or sc.applied == "identity":
        return None
    return (sc.applied, sc.in_shape[0], sc.out_shape[0], sc.stride)


def _sym_need(st: PlanningState, plan: ClassPlan, arg: str) -> SymNeed | None:
    """The channels and stride of the projection ``arg`` as expressions of ``plan``'s own arguments, as
    the class would write them; None where one is no such expression."""
    passed = plan.passed.get(arg)
    if passed is not None:
        inner = st.classes[plan.graph.nodes[passed.node].block_name]
        sub = _sym_need(st, inner, passed.arg)
        return None if sub is None else _seen_from(plan, plan.graph.nodes[passed.node], sub)
    e = plan.graph.edges[next(e for e, a in plan.dynamic.items() if a == arg)]
    main = next(m for m in plan.graph.in_edges(e.dst) if not m.is_shortcut)
    stride = shortcut_stride(plan, e)
    need = (plan.ch[e.src].ast, plan.ch[main.src].ast, None if stride is None else stride.ast)
    return None if None in need else need


def _seen_from(cls: ClassDraft | ClassPlan, node: Node, need: SymNeed) -> SymNeed | None:
    """An instance's expressions (``need``, over its class's arguments) over ``cls``'s arguments; None
    where an argument they use is no expression there."""
    values = {"in_channels": cls.block_in_ch[node.id], **cls.params[node.id]}
    env = {}
    for name in set().union(*(names_in(ast) for ast in need)):
        value = values.get(name)
        if not isinstance(value, Sym) or value.ast is None:
            return None
        env[name] = value.ast
    return tuple(substitute(ast, env) for ast in need)


def _built_here(
    st: PlanningState, cls: ClassDraft, node: Node, inner: ClassPlan, arg: str, needs: list[Need | None]
) -> pf.Expr | None:
    """The projection module built in ``cls``'s constructor for instance ``node``, or None where
    ``cls``'s instances need different ones. In a block class its channels and stride are expressions
    of the class's arguments where they are (checked in every instance), else the numbers that every
    instance shares."""
    if None in needs or len({n[0] for n in needs}) != 1:
        return None
    kind = needs[0][0]
    if cls.block is not None:
        sym = _expressed(st, cls, node, inner, arg, needs)
        if sym is not None:
            cin, cout, stride = sym
            return projection_expr(st, kind, cls.lit(cin), cls.lit(cout), stride, cls)
    if cls.block is None or len(set(needs)) == 1:  # the network (one instance), or the same numbers
        _, cin, cout, stride = needs[0]
        return projection_expr(st, kind, str(cin), str(cout), stride, None)
    return None


def _expressed(
    st: PlanningState, cls: ClassDraft, node: Node, inner: ClassPlan, arg: str, needs: list[Need]
) -> tuple[Sym, Sym, Sym] | None:
    """The channels and stride of projection ``arg`` of instance ``node`` as expressions of ``cls``'s
    arguments that give every instance's numbers; None where they do not."""
    sym = _sym_need(st, inner, arg)
    sym = None if sym is None else _seen_from(cls, node, sym)
    if sym is None:
        return None
    try:
        values = [tuple(evaluate(ast, env) for ast in sym) for env in cls.envs()]
    except KeyError:  # a name that is no argument of this class
        return None
    if values != [n[1:] for n in needs]:
        return None
    cin, cout, stride = (Sym(ast, v) for ast, v in zip(sym, values[0], strict=True))
    return cin, cout, stride


# ---------------------------------------------------------------------------- shortcuts
def shortcut_stride(cls: ClassDraft, e: Edge) -> Sym | None:
    strides = [info.shortcuts[e.id].stride for info in cls.infos]
    if len(set(strides)) == 1:
        return Sym.const(strides[0])
    for pname in cls.block.params if cls.block else {}:
        envs = cls.envs()
        if all(env.get(pname) == s for env, s in zip(envs, strides, strict=True)):
            return Sym(("name", pname), strides[0])
    return None


def static_projection(st: PlanningState, cls: ClassDraft, e: Edge) -> pf.Expr | None:
    stride = shortcut_stride(cls, e)
    if stride is None:
        return None
    main = next(m for m in cls.graph.in_edges(e.dst) if not m.is_shortcut)
    kind = cls.rep.shortcuts[e.id].applied
    return projection_expr(st, kind, cls.lit(cls.ch[e.src]), cls.lit(cls.ch[main.src]), stride, cls)


# the zero-pad projections' helper classes (codegen/helpers.py)
ZERO_PAD_HELPERS = {"zero_pad": "ZeroPadShortcut", "zero_pad_both": "ZeroPadBothSidesShortcut"}


def projection_expr(
    st: PlanningState, kind: str, cin: pf.Expr, cout: pf.Expr, stride: Sym | int, cls: ClassDraft | None
) -> pf.Expr:
    stride_kw = () if same_value(stride, 1) else (("stride", cls.lit(stride) if cls else str(stride)),)
    if kind in ZERO_PAD_HELPERS:
        st.helpers.add(ZERO_PAD_HELPERS[kind])
        return pf.Call(ZERO_PAD_HELPERS[kind], (cin, cout), stride_kw)
    conv = pf.Call("nn.Conv2d", (cin, cout), (("kernel_size", "1"),) + stride_kw + (("bias", "False"),))
    return pf.Call("nn.Sequential", (conv, pf.Call("nn.BatchNorm2d", (cout,))))


# ---------------------------------------------------------------------------- containers and stages
def container_expr(cls: ClassDraft, tree: dict, members: dict, path: str, code: str) -> pf.Expr:
    """``nn.ModuleList([...])`` for keys 0, 1, ..., else ``nn.ModuleDict([("key", ...), ...])``, of
    the nodes whose names are module paths (timm's Res2Net ``convs.0``); nested ones in place."""
    keys = list(tree)
    as_list = keys == [str(i) for i in range(len(keys))]
    items: list[pf.Expr] = []
    for i, key in enumerate(keys):
        sub_path = f"{path}.{key}"
        sub_code = f"{code}[{i}]" if as_list else (f"{code}.{key}" if _is_word(key) else f'{code}["{key}"]')
        value = tree[key]
        if isinstance(value, dict):
            expr = container_expr(cls, value, members, sub_path, sub_code)
        else:
            expr = members[value]
            cls.paths[value] = sub_path
            cls.code_paths[value] = sub_code
        items.append(expr if as_list else pf.Seq("(", (f'"{key}"', expr)))
    return pf.Call("nn.ModuleList" if as_list else "nn.ModuleDict", (pf.Seq("[", tuple(items)),))


def stage_expr(
    st: PlanningState, cls: ClassDraft, stage: Stage, path: str | None = None, code: str = ""
) -> pf.Expr:
    """``nn.Sequential(...)`` of the stage's members; a stage nested in it is one member, written
    in place. ``path``/``code`` reach the stage (its attribute when None)."""
    if path is None:
        path = code = stage_attr(cls, stage)
    members: list[pf.Expr] = []
    names = attribute_namespace() if stage.keys == "name" else None
    for i, member in enumerate(cls.stage_tree.members(stage)):
        if names is not None:
            text = member.name if isinstance(member, Stage) else cls.graph.nodes[member].name
            child = _module_key(text, names)
            sub_path = f"{path}.{child}"
            sub_code = f"{code}.{child}" if _is_word(child) else f"{code}[{i}]"  # block1-0: by index
        else:
            child, sub_path, sub_code = "", f"{path}.{i}", f"{code}[{i}]"
        if isinstance(member, Stage):
            mexpr = stage_expr(st, cls, member, sub_path, sub_code)
        else:
            mexpr = module_expr(st, cls, cls.graph.nodes[member], in_stage=True)
            cls.module_exprs[member] = mexpr
            cls.paths[member] = sub_path
            cls.code_paths[member] = sub_code
        members.append(pf.Seq("(", (f'"{child}"', mexpr)) if names is not None else mexpr)
    if names is not None:
        return pf.Call("nn.Sequential", (pf.Call("OrderedDict", (pf.Seq("[", tuple(members)),)),))
    return pf.Call("nn.Sequential", _repeats(members))


def _module_key(text: str, names: Namespace) -> str:
    """A member's key in a name-keyed ``nn.Sequential``: the name itself where it is a safe module key
    (torchvision's RegNet has ``block1-0``), else an identifier made from it."""
    if _KEY.fullmatch(text) and not text.isdigit() and names.is_free(text):
        names.take(text)
        return text
    return names.create(text, fallback="layer")


def _is_word(key: str) -> bool:
    return key.isidentifier() and not keyword.iskeyword(key)


def _repeats(members: list[pf.Expr]) -> tuple[pf.Expr, ...]:
    """A stage's members with a run of identical ones at the end written once, torchvision-style:
    ``BasicBlock(16, 32, stride=2, ...), *[BasicBlock(32, 32) for _ in range(17)]``. The modules are
    built in the same order, so initial weights and state_dict keys are unchanged."""
    texts = [pf.flat(m) for m in members]
    start = len(texts) - 1
    while start > 0 and texts[start - 1] == texts[-1]:
        start -= 1
    if len(texts) - start < 2:
        return tuple(members)
    return (*members[:start], pf.Repeat(members[-1], len(texts) - start))
