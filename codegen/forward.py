"""``forward``: one line per node, in topological order, written from a frozen class plan (the writer).

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
from codegen.namespace import RESERVED, Namespace
from codegen.plan import ClassPlan, Unit
from codegen.symbolic import Sym, render
from codegen.values import Rendered, same_value
from graph import registry
from graph.model import Edge, Node


def describe_shape(shape: tuple[int, ...] | None) -> str:
    return "(B, " + ", ".join(str(d) for d in shape) + ")" if shape else ""


# ---------------------------------------------------------------------------- text
def write_forward(cls: ClassPlan) -> list[str]:
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
    cls: ClassPlan, u: Unit, args: list[str], in_edges: list[Edge], i: int
) -> tuple[str, str | None]:
    """The forward expression of a unit, and the ``+=`` operand when an in-place add is safe."""
    node = cls.graph.nodes[u.first]
    if u.stage is not None:
        return f"self.{cls.stage_attrs[u.stage.name]}({args[0]})", None
    params = cls.rep.nodes[node.id].params
    if not cls.is_functional(u):
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
        args = [*args, f"self.{cls.node_attrs[node.id]}"]
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


def _forward_lit(cls: ClassPlan, value: Sym, node: Node) -> str:
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
