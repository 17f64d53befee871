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


class ForwardWriter:
    """Mixin of :class:`codegen.emitter.Emitter`: writes each class's ``forward``."""

    def emit_forward(self, cls: ClassInfo) -> list[str]:
        graph, units = cls.graph, cls.units
        unit_of = {u.last: i for i, u in enumerate(units)}
        last_use: dict[int, int] = {}
        for i, u in enumerate(units):
            for e in graph.in_edges(u.first):
                last_use[unit_of[e.src]] = i
        cls.last_use = last_use
        cls.unit_of = unit_of
        var: dict[int, str] = {}
        live: set[str] = set()
        local = Namespace(RESERVED | {"x", "out", "identity"})
        lines: list[str] = []
        cls.unsafe_inplace: set[str] = set()
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
            for e in in_edges:  # an in-place activation must not overwrite memory still needed
                if len(graph.out_edges(e.src)) > 1:
                    cls.unsafe_inplace.add(u.first)
                for src_id in self.alias_chain(cls, e.src):
                    src_node = graph.nodes[src_id]
                    if (
                        src_node.type in ("Input", "BlockInput")
                        or last_use.get(unit_of.get(src_id, -1), -1) > i
                    ):
                        cls.unsafe_inplace.add(u.first)
            pre: list[str] = []
            args: list[str] = []
            for e in in_edges:
                v = var[unit_of[e.src]]
                if e.id in cls.static:
                    args.append(f"self.{self.sc_attr(cls, e)}({v})")
                elif e.id in cls.dynamic:
                    attr = self.sc_attr(cls, e)
                    ident = "identity" if "identity" not in live else local.create("identity")
                    pre += [
                        f"        {ident} = {v}",
                        f"        if self.{attr} is not None:",
                        f"            {ident} = self.{attr}({v})",
                    ]
                    args.append(ident)
                else:
                    args.append(v)
            code_expr, augmented = self.call_expr(cls, u, args, in_edges, var, unit_of, last_use, i)
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
        out_node = cls.output_id
        cls.output_aliases_input = any(
            graph.nodes[n].type == "BlockInput" for n in self.alias_chain(cls, out_node)
        )
        return pf.signature("forward", ["self", "x: Tensor"], "Tensor", 1) + lines

    def sc_attr(self, cls: ClassInfo, e: Edge) -> str:
        if e.id not in cls.sc_attrs:
            cls.sc_attrs[e.id] = cls.attrs.create(
                e.name or "shortcut", key=("shortcut", e.id), fallback="shortcut"
            )
        return cls.sc_attrs[e.id]

    def alias_chain(self, cls: ClassInfo, node_id: str) -> list[str]:
        """``node_id`` and the nodes whose output its output may share memory with (views,
        Identity, Dropout in eval mode, blocks that can return their input)."""
        chain = [node_id]
        while True:
            node = cls.graph.nodes[chain[-1]]
            if node.block_name is not None:
                aliases = self.classes[node.block_name].output_aliases_input
            else:
                aliases = layer_codegen.get(node.type).aliases_input
            if not aliases:
                return chain
            ins = cls.graph.in_edges(node.id)
            if not ins:
                return chain
            chain.append(ins[0].src)

    def call_expr(
        self, cls: ClassInfo, u: Unit, args: list[str], in_edges: list[Edge], var, unit_of, last_use, i: int
    ) -> tuple[str, str | None]:
        """The forward expression of a unit, and the ``+=`` operand when an in-place add is safe."""
        node = cls.graph.nodes[u.first]
        if u.stage is not None:
            return f"self.{self.stage_attr(cls, u.stage)}({args[0]})", None
        if node.block_name is not None:
            return f"self.{self.node_attr(cls, node)}({args[0]})", None
        lt = registry.get(node.type)
        params = cls.rep.nodes[node.id].params
        if node.type == "Add" and params["weights"] == "learnable":
            return f"self.{self.node_attr(cls, node)}([{', '.join(args)}])", None
        if lt.module is not None:
            return f"self.{self.node_attr(cls, node)}({args[0]})", None
        # functional forms from the registry (merges, flatten, slices)
        shown = {
            k: (Rendered(self.forward_lit(cls, v, node)) if isinstance(v, Sym) else v)
            for k, v in cls.params[node.id].items()
        }
        text = _slice(args[0], shown) if node.type == "ChannelSlice" else lt.forward(args, shown)
        augmented = None
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

    def forward_lit(self, cls: ClassInfo, value: Sym, node: Node) -> str:
        """A block parameter used in forward is read from an attribute the constructor sets."""
        if value.is_const or cls.block is None:
            return cls.lit(value, node)
        if value.ast is None:
            cls.lit(value, node)  # raises the readable error

        def name(raw: str) -> str:
            attr = cls.attrs.create(raw, key=("param", raw), fallback="param")
            cls.forward_params[raw] = attr
            return f"self.{attr}"

        return render(value.ast, name)


def _slice(arg: str, p: dict) -> str:
    """``x[:, start:stop]`` spaced as ruff spaces slices (around ``:`` when a bound is not simple)."""
    start = "" if same_value(p["start"], 0) else str(p["start"])
    stop = "" if p["stop"] is None else str(p["stop"])
    simple = all(re.fullmatch(r"-?[A-Za-z0-9_]*", b) for b in (start, stop))
    colon = ":" if simple else " : "
    if not simple:
        colon = (" :" if start else ":") if not stop else (": " if not start else " : ")
    return f"{arg}[:, {start}{colon}{stop}]"
