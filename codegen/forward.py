"""``forward``: one line per node, in topological order (part of the emitter).

Variables: ``x`` is the input; a chain reuses its variable while the value
dies at the next node, a value still needed later (a shortcut's source)
keeps its own and the chain moves to ``out`` (torchvision's ``identity = x``
... ``out += identity``). Merges use the registry's functional forms; a
shortcut's projection is applied in place (static) or behind
``if self.<edge> is not None`` (per instance).
"""

from __future__ import annotations

import re

from codegen import layer_codegen
from codegen import pyformat as pf
from codegen.classinfo import ClassInfo, Rendered, Unit, same_value
from codegen.namespace import RESERVED, Namespace
from codegen.symbolic import Sym, render
from graph import registry
from graph.model import Edge, Node


def describe_shape(shape: tuple[int, ...] | None) -> str:
    return "(B, " + ", ".join(str(d) for d in shape) + ")" if shape else ""


# ---------------------------------------------------------------------------- planning
def plan_inplace(cls: ClassInfo, classes: dict[str, ClassInfo]) -> None:
    """Which units' values die where (``last_use``), which nodes may not run in place
    (``unsafe_inplace``: an in-place activation must not overwrite memory still needed), and whether
    the class may return (a view of) its input. Part of the class's plan; writes no text."""
    graph, units = cls.graph, cls.units
    unit_of = {u.last: i for i, u in enumerate(units)}
    last_use: dict[int, int] = {}
    for i, u in enumerate(units):
        for e in graph.in_edges(u.first):
            last_use[unit_of[e.src]] = i
    unsafe: set[str] = set()
    for i, u in enumerate(units):
        node = graph.nodes[u.first]
        if node.type in ("Input", "BlockInput", "Output", "BlockOutput"):
            continue
        for e in graph.in_edges(u.first):
            if len(graph.out_edges(e.src)) > 1:
                unsafe.add(u.first)
            for src_id in alias_chain(cls, classes, e.src):
                src_node = graph.nodes[src_id]
                if src_node.type in ("Input", "BlockInput") or last_use.get(unit_of.get(src_id, -1), -1) > i:
                    unsafe.add(u.first)
    cls.unit_of = unit_of
    cls.last_use = last_use
    cls.unsafe_inplace = unsafe
    cls.output_aliases_input = any(
        graph.nodes[n].type == "BlockInput" for n in alias_chain(cls, classes, cls.output_id)
    )


def alias_chain(cls: ClassInfo, classes: dict[str, ClassInfo], node_id: str) -> list[str]:
    """``node_id`` and the nodes whose output its output may share memory with (views,
    Identity, Dropout in eval mode, blocks that can return their input)."""
    chain = [node_id]
    while True:
        node = cls.graph.nodes[chain[-1]]
        if node.block_name is not None:
            aliases = classes[node.block_name].output_aliases_input
        else:
            aliases = layer_codegen.get(node.type).aliases_input
        if not aliases:
            return chain
        ins = cls.graph.in_edges(node.id)
        if not ins:
            return chain
        chain.append(ins[0].src)


def forward_names(cls: ClassInfo) -> list[tuple[str, object]]:
    """The attribute names forward reads, in the order it reads them: ``("shortcut", edge id)`` for a
    shortcut's projection module, ``("param", name)`` for a block parameter a functional node uses
    (``x[:, : self.out_planes]``). The planner names them in this order, before any text."""
    out: list[tuple[str, object]] = []
    for u in cls.units:
        node = cls.graph.nodes[u.first]
        if node.type in ("Input", "BlockInput", "Output", "BlockOutput"):
            continue
        for e in cls.graph.in_edges(u.first):
            if e.id in cls.static or e.id in cls.dynamic:
                out.append(("shortcut", e.id))
        if not _functional(cls, u):
            continue
        for value in cls.params[node.id].values():
            if not isinstance(value, Sym) or value.is_const or cls.block is None:
                continue
            if value.ast is None:
                cls.lit(value, node)  # raises the readable error
            out += [("param", raw) for raw in _names(value.ast)]
    return out


def _functional(cls: ClassInfo, u: Unit) -> bool:
    """A unit written with the registry's functional form (merges, flatten, slices)."""
    node = cls.graph.nodes[u.first]
    if u.stage is not None or node.block_name is not None:
        return False
    if node.type == "Add" and cls.rep.nodes[node.id].params["weights"] == "learnable":
        return False
    return registry.get(node.type).module is None


def _names(ast: tuple) -> list[str]:
    """The names in an expression, in the order codegen/symbolic.py renders them."""
    if ast[0] == "name":
        return [ast[1]]
    if ast[0] == "int":
        return []
    return [n for a in ast[1:] for n in _names(a)]


# ---------------------------------------------------------------------------- text
def write_forward(cls: ClassInfo) -> list[str]:
    """``forward`` from the class's (frozen) plan."""
    graph, units = cls.graph, cls.units
    unit_of, last_use = cls.unit_of, cls.last_use
    var: dict[int, str] = {}
    live: set[str] = set()
    local = Namespace(RESERVED | {"x", "out", "identity"})
    lines: list[str] = []
    at_network = cls.block is None
    for i, u in enumerate(units):
        node = graph.nodes[u.first]
        if node.type in ("Input", "BlockInput"):
            var[i] = "x"
            live.add("x")
            if at_network:
                lines.append(f"        # x: {describe_shape(cls.rep.nodes[node.id].out_shape)}")
            continue
        in_edges = graph.in_edges(u.first)
        if node.type in ("Output", "BlockOutput"):
            lines.append(f"        return {var[unit_of[in_edges[0].src]]}")
            continue
        pre: list[str] = []
        args: list[str] = []
        for e in in_edges:
            v = var[unit_of[e.src]]
            if e.id in cls.static:
                args.append(f"self.{cls.sc_attrs[e.id]}({v})")
            elif e.id in cls.dynamic:
                attr = cls.sc_attrs[e.id]
                ident = "identity" if "identity" not in live else local.create("identity")
                pre += [
                    f"        {ident} = {v}",
                    f"        if self.{attr} is not None:",
                    f"            {ident} = self.{attr}({v})",
                ]
                args.append(ident)
            else:
                args.append(v)
        code_expr, augmented = _call_expr(cls, u, args, in_edges, i)
        # the output variable: reuse the main input's if it dies here
        main = next((e for e in in_edges if not e.is_shortcut), in_edges[0])
        main_var = var[unit_of[main.src]]
        dying = {var[unit_of[e.src]] for e in in_edges if last_use.get(unit_of[e.src]) == i}
        if main_var in dying and main_var in ("x", "out"):
            target = main_var
        elif "out" not in live or "out" in dying:
            target = "out"
        elif main_var in dying:
            target = main_var
        else:
            target = local.create(graph.nodes[u.last].name, fallback="y")
        if target != main_var:
            augmented = None
        live -= dying
        live.add(target)
        var[i] = target
        lines += pre
        comment = describe_shape(cls.rep.nodes[u.last].out_shape) if at_network else ""
        if augmented is not None:
            lines += pf.statement(f"{target} += {augmented}", 2, comment)
        else:
            lines += pf.statement(f"{target} = {code_expr}", 2, comment)
    return pf.signature("forward", ["self", "x: Tensor"], "Tensor", 1) + lines


def _call_expr(
    cls: ClassInfo, u: Unit, args: list[str], in_edges: list[Edge], i: int
) -> tuple[str, str | None]:
    """The forward expression of a unit, and the ``+=`` operand when an in-place add is safe."""
    node = cls.graph.nodes[u.first]
    if u.stage is not None:
        return f"self.{cls.attrs.get(('stage', u.stage.name))}({args[0]})", None
    params = cls.rep.nodes[node.id].params
    if not _functional(cls, u):
        if node.type == "Add":  # a learnable one: WeightedAdd takes the list
            return f"self.{cls.code_paths[node.id]}([{', '.join(args)}])", None
        return f"self.{cls.code_paths[node.id]}({args[0]})", None
    # functional forms from the registry (merges, flatten, slices)
    shown = {
        k: (Rendered(_forward_lit(cls, v, node)) if isinstance(v, Sym) else v)
        for k, v in cls.params[node.id].items()
    }
    lt = registry.get(node.type)
    if lt.parameter is not None:  # the tensor the layer holds (self.layer_scale) is forward's last argument
        args = [*args, f"self.{cls.attrs.get(node.id)}"]
    text = _slice(args[0], shown) if node.type == "ChannelSlice" else lt.forward(args, shown)
    augmented = None
    unit_of, last_use = cls.unit_of, cls.last_use
    if node.type == "Add" and params["weights"] == "none" and len(args) == 2 and args[0] != args[1]:
        src = cls.units[unit_of[in_edges[0].src]]
        producer = cls.graph.nodes[src.last]
        if (
            not in_edges[0].is_shortcut
            and last_use.get(unit_of[in_edges[0].src]) == i
            and producer.block_name is None
            and layer_codegen.get(producer.type).inplace_safe
            and src.stage is None
            and len(cls.graph.out_edges(producer.id)) == 1
        ):
            augmented = args[1]
    return text, augmented


def _forward_lit(cls: ClassInfo, value: Sym, node: Node) -> str:
    """A block parameter used in forward is read from the attribute the constructor sets."""
    if value.is_const or cls.block is None:
        return cls.lit(value, node)
    return render(value.ast, lambda raw: f"self.{cls.forward_params[raw]}")


def _slice(arg: str, p: dict) -> str:
    """``x[:, start:stop]`` spaced as ruff spaces slices (around ``:`` when a bound is not simple)."""
    start = "" if same_value(p["start"], 0) else str(p["start"])
    stop = "" if p["stop"] is None else str(p["stop"])
    simple = all(re.fullmatch(r"-?[A-Za-z0-9_]*", b) for b in (start, stop))
    colon = ":" if simple else " : "
    if not simple:
        colon = (" :" if start else ":") if not stop else (": " if not start else " : ")
    return f"{arg}[:, {start}{colon}{stop}]"
