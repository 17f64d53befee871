"""Turn the flat op list of ``codegen.fx_import`` into graphs, blocks and stages.

The module hierarchy of the traced model (``nn_module_stack``) is kept:

- a custom module class instance with one tensor in and one out becomes a block
  instance; instances of one class whose bodies are equal up to integer
  literals share one definition, each differing literal becoming a block
  parameter (or an expression over ``in_channels`` or another parameter);
- an ``nn.Sequential`` whose children are single nodes becomes a stage
  (``keys: "index"`` for ``0, 1, ...``, else ``"name"``), so that torchvision's
  ``layer1.0.conv1`` survives;
- anything else is inlined, its names joined with ``_``.

Merges whose inputs all come from outside a module (the ``torch.cat`` at the
top of a DenseNet layer) are lifted out of it first, so that the module keeps
a single input.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from codegen.fx_patterns import plain_sequential
from codegen.layer_codegen import CODEGEN_TYPES
from graph.model import BlockDef, BlockParam, Edge, Graph, Node, Project, Stage

MERGES = ("Add", "Concat", "Multiply")
_SNAKE = {
    "ReLU": "relu",
    "LeakyReLU": "leaky_relu",
    "GELU": "gelu",
    "SiLU": "silu",
    "Concat": "cat",
    "ReLU6": "relu6",
}
IN = "<in>"
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")  # a module key the emitter writes as it is
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+")  # as codegen/emitter.py's


def _snake(type_name: str) -> str:
    return _SNAKE.get(type_name) or re.sub(r"(?<=[a-z])(?=[A-Z])", "_", type_name).lower()


def _ident(text: str) -> str:
    s = re.sub(r"\W", "_", text)
    return s if s and not s[0].isdigit() else f"m_{s}"


def _rel(qualname: str, home_qualname: str) -> str:
    return qualname[len(home_qualname) + 1 :] if home_qualname else qualname


class _Builder:
    def __init__(self, conv: Any) -> None:
        self.conv = conv
        self.ops = conv.ops
        self.scopes = conv.scopes
        self.parent: dict[str, str | None] = {}
        self.members: dict[str, set[str]] = {}
        self.blocks: dict[str, BlockDef] = {}
        self.inst_type: dict[str, str] = {}
        self.inst_params: dict[str, dict] = {}
        self.bodies: dict[str, Graph] = {}
        self.positions: dict[str | None, Graph] = {}
        self.renamed_quals: set[str] = set()
        self.renamed: list[tuple[str, str]] = []  # (module path, node name): layers not named as in the model

    # ---- membership ---------------------------------------------------------
    def index(self) -> None:
        self.members = {k: set() for k in self.scopes}
        for op in self.ops.values():
            for i, s in enumerate(op.scope):
                self.members[s].add(op.key)
                self.parent[s] = op.scope[i - 1] if i else None
        consumers: dict[str, set[str]] = {k: set() for k in self.ops}
        for op in self.ops.values():
            for i in op.inputs:
                consumers[i].add(op.key)
        for key, sc in self.scopes.items():
            mem = self.members[key]
            ext: list[str] = []
            outs: list[str] = []
            for k in self.ops:
                if k not in mem:
                    continue
                for i in self.ops[k].inputs:
                    if i not in mem and i not in ext:
                        ext.append(i)
                if k == self.conv.output or consumers[k] - mem:
                    outs.append(k)
            sc.ext = ext
            sc.out = outs[0] if len(outs) == 1 else None
            sc.n_out = len(outs)

    def lift(self) -> None:

        self.index()
        for key in sorted(self.scopes, key=lambda k: -self.scopes[k].depth):
            if plain_sequential(self.scopes[key].cls):
                continue
            while len(self.scopes[key].ext) > 1:
                mem = self.members[key]
                movable = [
                    op
                    for op in self.ops.values()
                    if op.scope
                    and op.scope[-1] == key
                    and op.type in MERGES
                    and not any(i in mem for i in op.inputs)
                ]
                if not movable:
                    break
                for op in movable:
                    op.scope = op.scope[:-1]
                self.index()

    # ---- kinds ----------------------------------------------------------------
    def channel_axes(self) -> dict[str, int]:
        """Where each op's output keeps its channels (0, or the last axis after a Permute to channels
        last), as code generation follows it (codegen/layer_codegen.py ``out_axis``)."""
        axes: dict[str, int] = {}
        for key, op in self.ops.items():
            axis = axes.get(op.inputs[0], 0) if op.inputs else 0
            entry = CODEGEN_TYPES.get(op.type)
            if entry is not None:
                axes[key] = entry.out_axis(op.params, axis, len(op.shape))
            else:
                axes[key] = axis if axis < len(op.shape) else 0
        return axes

    def decide(self) -> None:
        from torch import nn

        axes = self.channel_axes()
        for key in sorted(self.scopes, key=lambda k: -self.scopes[k].depth):
            sc = self.scopes[key]
            can_block = (
                not sc.cls.__module__.startswith("torch.nn")
                and len(sc.ext) == 1
                and sc.out is not None
                and sc.out not in sc.ext
                and self.named_children(key)
                # a block's in_channels is its input's first axis: a channels-last input (timm's
                # ConvNeXt Mlp between two permutes) is inlined instead
                and axes.get(sc.ext[0], 0) == 0
                and axes.get(sc.out, 0) == 0
            )
            if not self.members[key]:
                sc.kind = "none"
            elif plain_sequential(sc.cls) and not self.named_class(key, can_block) and self.stage_units(key):
                sc.kind = "stage"
            elif sc.cls is nn.Sequential:
                sc.kind = "inline"
            elif can_block:
                sc.kind = "block"
            else:
                sc.kind = "inline"

    def named_children(self, key: str) -> bool:
        """A block's layers are attributes of its class: a module whose children are numbered and that
        is not a stage (timm's MixedConv2d, an nn.ModuleDict of convs "0", "1", ... with its own
        forward) is inlined instead, its layers named by module path (``conv_pw.0``) in the block
        around it, where the code keeps them in an ``nn.ModuleList``."""
        module = self.conv.model.get_submodule(self.scopes[key].qualname)
        if plain_sequential(type(module)):
            return True  # a Sequential subclass that is no stage keeps its old rule
        return all(name.isidentifier() for name in module._modules)

    def named_class(self, key: str, can_block: bool) -> bool:
        """A Sequential subclass with named children (torchvision's DenseNet _Transition: norm, relu,
        conv, pool) is better a block: its class keeps the names, which a stage would have to make
        unique across the whole graph. Index keys (Conv2dNormActivation) and keys that are no
        identifiers (RegNet's AnyStage: block1-0) make a stage."""
        sc = self.scopes[key]
        if not can_block or sc.cls.__module__.startswith("torch.nn"):
            return False
        children = list(self.conv.model.get_submodule(sc.qualname)._modules)
        return self.stage_keys(key) == "name" and all(c.isidentifier() for c in children)

    def stage_units(self, key: str) -> list[tuple[str, str]] | None:
        """The children of a Sequential as (kind, id) units, or None if it cannot be a stage."""
        sc = self.scopes[key]
        seq = self.conv.model.get_submodule(sc.qualname)
        children = list(seq._modules)
        units: list[tuple[str, str]] = []
        names: list[str] = []
        for k in self.ops:
            op = self.ops[k]
            if k not in self.members[key]:
                continue
            if op.scope[-1] == key and k in self.conv.tails:
                # the act of a norm+act child (timm BatchNormAct2d): its own member, named norm0_act
                parent = op.attr.rpartition(".")[0]
                if parent.rpartition(".")[0] != sc.qualname or self.stage_keys(key) != "name":
                    return None
                units.append(("op", k))
            elif op.scope[-1] == key:
                if op.attr is None or op.attr.rpartition(".")[0] != sc.qualname:
                    return None
                units.append(("op", k))
                names.append(op.attr.rpartition(".")[2])
            else:
                child = op.scope[op.scope.index(key) + 1]
                csc = self.scopes[child]
                if csc.kind not in ("block", "stage"):
                    return None
                unit = ("blk" if csc.kind == "block" else "stg", child)
                if unit not in units:
                    units.append(unit)
                    names.append(csc.qualname.rpartition(".")[2])
        if names != children:
            return None
        prev = None
        for kind, ident in units:
            ins = self.ops[ident].inputs if kind == "op" else self.scopes[ident].ext
            if len(ins) != 1 or (prev is not None and ins[0] != prev):
                return None
            prev = ident if kind == "op" else self.scopes[ident].out
        if self.stage_keys(key) == "name" and any(
            kind == "stg" and not self.scopes[ident].qualname.rpartition(".")[2].isidentifier()
            for kind, ident in units
        ):
            return None  # a nested stage's key is its name, which must be an identifier
        return units

    def stage_nodes(self, key: str, ids: dict[tuple[str, str], str]) -> list[str]:
        """A stage's node ids, those of its nested stages in place."""
        out: list[str] = []
        for kind, ident in self.stage_units(key):
            out += self.stage_nodes(ident, ids) if kind == "stg" else [ids[(kind, ident)]]
        return out

    # ---- graphs ---------------------------------------------------------------
    def home_chain(self, op_scope: list[str], home: str | None) -> list[str]:
        return op_scope[op_scope.index(home) + 1 :] if home is not None else op_scope

    def unit(self, key: str, home: str | None) -> tuple[str, str]:
        for s in self.home_chain(self.ops[key].scope, home):
            if self.scopes[s].kind == "block":
                return ("blk", s)
        return ("op", key)

    def rep(self, key: str, home: str | None) -> tuple[str, str]:
        if home is not None and key not in self.members[home]:
            return ("in", IN)
        return self.unit(key, home)

    def unit_name(self, unit: tuple[str, str], home: str | None) -> str | None:
        home_q = self.scopes[home].qualname if home is not None else ""
        if unit[0] == "op":
            op = self.ops[unit[1]]
            if op.attr is None:
                return None
            qual, parent = op.attr, (op.scope[-1] if op.scope else None)
        else:
            qual, parent = self.scopes[unit[1]].qualname, self.parent.get(unit[1])
        if parent is not None and self.scopes[parent].kind == "stage" and self.stage_keys(parent) == "name":
            if unit[0] == "op" and unit[1] in self.conv.tails:
                return _ident("_".join(qual.split(".")[-2:]))
            key = qual.rpartition(".")[2]
            return key if _KEY.fullmatch(key) and not key.isdigit() else _ident(key)  # RegNet's block1-0
        rel = _rel(qual, home_q)
        in_stage = parent is not None and self.scopes[parent].kind == "stage"  # named by its index there
        if not in_stage and _PATH.fullmatch(rel) and not (unit[0] == "op" and unit[1] in self.conv.tails):
            return rel  # a module path (timm's Res2Net convs.0): the emitter builds the containers
        if not in_stage and ("." in rel or not rel.isidentifier()) and qual not in self.renamed_quals:
            # a module inside a container that is not kept: its state_dict keys change
            self.renamed_quals.add(qual)
            if self.conv.model.get_submodule(qual).state_dict():
                self.renamed.append((qual, _ident(rel.replace(".", "_"))))
        return _ident(rel.replace(".", "_"))

    def stage_keys(self, key: str) -> str:
        seq = self.conv.model.get_submodule(self.scopes[key].qualname)
        return "index" if list(seq._modules) == [str(i) for i in range(len(seq))] else "name"

    def build_graph(self, home: str | None) -> Graph:
        g = Graph()
        ids, units = self._graph_units(home)
        names = self._unit_names(units, home)
        if home is not None:
            g.add_node(Node("n1", "BlockInput", "input"))
            ids[("in", IN)] = "n1"
        for u in units:
            if u[0] == "op":
                op = self.ops[u[1]]
                g.add_node(Node(ids[u], op.type, names[u], copy.deepcopy(op.params)))
            else:
                g.add_node(Node(ids[u], self.inst_type[u[1]], names[u], dict(self.inst_params[u[1]])))
        out_id = f"n{len(ids) + 2}"
        g.add_node(Node(out_id, "BlockOutput" if home is not None else "Output", "output"))
        edge_n = self._add_edges(g, units, ids, home, out_id)
        self._add_stages(g, ids, home)
        g._ids = iter(range(len(g.nodes) + edge_n + 1, 1 << 30))
        return g

    def _graph_units(self, home: str | None) -> tuple[dict[tuple[str, str], str], list[tuple[str, str]]]:
        """The units (ops and block instances) of ``home``'s graph in op order, with their node ids."""
        ids: dict[tuple[str, str], str] = {}
        units: list[tuple[str, str]] = []
        for k, op in self.ops.items():
            if home is None or home in op.scope:
                u = self.unit(k, home)
                if u not in ids:
                    ids[u] = f"n{len(ids) + 2}"
                    units.append(u)
        return ids, units

    def _unit_names(self, units: list[tuple[str, str]], home: str | None) -> dict[tuple[str, str], str]:
        """Node names: module attributes first (state_dict keys), then the rest."""
        taken: set[str] = {"input", "output"} if home is not None else {"output"}
        names: dict[tuple[str, str], str] = {}
        for u in units:
            base = self.unit_name(u, home)
            if base is not None:
                names[u] = self.unique(base, taken)
        for u in units:
            if u not in names:
                op = self.ops[u[1]]
                names[u] = self.unique("input" if op.type == "Input" else _snake(op.type), taken)
        return names

    def _add_edges(
        self,
        g: Graph,
        units: list[tuple[str, str]],
        ids: dict[tuple[str, str], str],
        home: str | None,
        out_id: str,
    ) -> int:
        """Every unit's input edges and the edge into the output; returns how many edges."""
        edge_n = 0

        def connect(src: str, dst: str, port: int, shortcut: tuple[str, str] | None = None) -> None:
            nonlocal edge_n
            edge_n += 1
            if shortcut is None:
                g.add_edge(Edge(f"e{edge_n}", src, dst, 0, port))
            else:
                g.add_edge(Edge(f"e{edge_n}", src, dst, 0, port, "shortcut", shortcut[1], shortcut[0]))

        for u in units:
            if u[0] == "op":
                op = self.ops[u[1]]
                for port, i in enumerate(op.inputs):
                    connect(ids[self.rep(i, home)], ids[u], port, op.shortcut.get(port))
            else:
                connect(ids[self.rep(self.scopes[u[1]].ext[0], home)], ids[u], 0)
        last = self.scopes[home].out if home is not None else self.conv.output
        connect(ids[self.rep(last, home)], out_id, 0)
        return edge_n

    def _add_stages(self, g: Graph, ids: dict[tuple[str, str], str], home: str | None) -> None:
        """The stages living in ``home``'s graph."""
        for key, sc in self.scopes.items():
            if sc.kind != "stage" or self.home_of_scope(key) != home:
                continue
            home_q = self.scopes[home].qualname if home is not None else ""
            node_ids = self.stage_nodes(key, ids)
            rel = _rel(sc.qualname, home_q)
            parent = self.parent.get(key)
            nested = parent is not None and self.scopes[parent].kind == "stage"
            if nested and self.stage_keys(parent) == "name":
                stage_name = rel.rpartition(".")[2]  # its key in the parent
            else:
                stage_name = _ident(rel.replace(".", "_"))
            if (
                not nested and not rel.isidentifier() and sc.qualname not in self.renamed_quals
            ):  # inside a flattened container
                self.renamed_quals.add(sc.qualname)
                if self.conv.model.get_submodule(sc.qualname).state_dict():
                    self.renamed.append((sc.qualname, stage_name))
            g.stages.append(Stage(stage_name, self.stage_keys(key), node_ids))

    def home_of_scope(self, key: str) -> str | None:
        p = self.parent.get(key)
        while p is not None and self.scopes[p].kind != "block":
            p = self.parent.get(p)
        return p

    @staticmethod
    def unique(base: str, taken: set[str]) -> str:
        name = base
        i = 0
        while name in taken:
            i += 1
            name = f"{base}_{i}"
        taken.add(name)
        return name

    # ---- blocks ---------------------------------------------------------------
    def build_blocks(self) -> None:
        # bottom-up by height (blocks nested below), not depth: an instance inside an inlined container
        # (timm's DLA tree2.root) sits deeper than its twins in the model, not in the exported code
        height: dict[str, int] = {}
        for key in sorted(self.scopes, key=lambda k: -self.scopes[k].depth):
            if self.scopes[key].kind == "block":
                height.setdefault(key, 0)
                home = self.home_of_scope(key)
                if home is not None:
                    height[home] = max(height.get(home, 0), height[key] + 1)
        by_height: dict[int, list[str]] = {}
        for key in self.scopes:
            if key in height:
                by_height.setdefault(height[key], []).append(key)
        for h in sorted(by_height):
            groups: dict[tuple, list[str]] = {}
            for key in by_height[h]:
                body = self.build_graph(key)
                self.bodies[key] = body
                groups.setdefault((self.scopes[key].cls, _signature(body)[0]), []).append(key)
            for (cls, _sig), keys in groups.items():
                for part in self.split_projections(keys):
                    self.unify(cls, part)

    def split_projections(self, keys: list[str]) -> list[list[str]]:
        """Instances share a class when every shortcut edge resolves to one projection (``_resolve``)."""
        if all(
            _resolve([list(self.bodies[k].edges.values())[j] for k in keys]) is not None
            for j in range(len(self.bodies[keys[0]].edges))
        ):
            return [keys]
        parts: dict[tuple, list[str]] = {}
        for k in keys:
            parts.setdefault(tuple((e.projection, e.name) for e in self.bodies[k].edges.values()), []).append(
                k
            )
        return list(parts.values())

    def unify(self, cls: type, keys: list[str]) -> None:
        base = _ident(
            cls.__name__.lstrip("_") or cls.__name__
        )  # as the code names it: _DenseLayer -> DenseLayer
        name, i = base, 1
        while name in self.blocks:
            i += 1
            name = f"{base}{i}"
        bodies = [self.bodies[k] for k in keys]
        slots = [_signature(b)[1] for b in bodies]
        cin = [self.ops[self.scopes[k].ext[0]].shape[0] for k in keys]
        params: dict[str, BlockParam] = {}
        values: dict[str, list[int]] = {}
        g = copy.deepcopy(bodies[0])
        for s, (node_id, pkey, _v) in enumerate(slots[0]):
            vals = [sl[s][2] for sl in slots]
            if len(set(vals)) == 1 and len({type(v) for v in vals}) == 1:
                continue
            floats = any(isinstance(v, float) for v in vals)
            expr = None if floats else _expression(vals, cin, values)
            if expr is None:
                pname = (
                    pkey
                    if pkey not in params and pkey != "in_channels"
                    else f"{g.nodes[node_id].name}_{pkey}"
                )
                pname = _ident(pname)
                params[pname] = BlockParam("float" if floats else "int", vals[0])
                values[pname] = vals
                expr = pname
            g.nodes[node_id].params[pkey] = expr
        # shortcut projections: what every instance's edge agrees on
        for j, edge in enumerate(g.edges.values()):
            if edge.kind == "shortcut":
                edge.projection, edge.name = _resolve([list(b.edges.values())[j] for b in bodies])
        self.blocks[name] = BlockDef(name, params, g, f"Imported from {cls.__module__}.{cls.__qualname__}.")
        for idx, key in enumerate(keys):
            self.inst_type[key] = f"block:{name}"
            self.inst_params[key] = {p: values[p][idx] for p in params}


def _signature(g: Graph) -> tuple[tuple, list[tuple[str, str, int]]]:
    """A structure key with integer literals blanked, and the literals (node id, param, value) in order."""
    index = {nid: i for i, nid in enumerate(g.nodes)}
    slots: list[tuple[str, str, int]] = []
    nodes = []
    for n in g.nodes.values():
        items = []
        for k in sorted(n.params):
            v = n.params[k]
            if isinstance(v, (int, float)) and not isinstance(v, bool):  # floats: drop rates
                slots.append((n.id, k, v))
                items.append((k, "#"))
            else:
                items.append((k, repr(v)))
        nodes.append((n.name, n.type, tuple(items)))
    edges = []
    for e in g.edges.values():
        edges.append((index[e.src], index[e.dst], e.src_port, e.dst_port, e.kind))  # projections: _resolve
    stages = tuple((s.name, s.keys, tuple(index[x] for x in s.nodes)) for s in g.stages)
    return (tuple(nodes), tuple(edges), stages), slots


def _resolve(edges: list[Edge]) -> tuple[str, str] | None:
    """One shortcut edge across instances -> (projection, name) for the shared class, or None.

    identity instances (no module, equal shapes) fit conv_bn and the zero-pads, which act only where
    shapes differ; conv_bn_always needs the module on every instance (where shapes differ it is
    what conv_bn builds there too)."""
    if edges[0].kind != "shortcut":
        return (edges[0].projection, edges[0].name)
    used = [e for e in edges if e.projection != "identity"]
    if not used:
        return ("identity", edges[0].name or "shortcut")
    kinds = {e.projection for e in used}
    names = {e.name for e in used}
    if len(names) > 1:
        return None
    if kinds in ({"conv_bn"}, {"zero_pad"}, {"zero_pad_both"}):
        return (kinds.pop(), used[0].name)
    if kinds <= {"conv_bn", "conv_bn_always"} and len(used) == len(edges):
        return ("conv_bn_always", used[0].name)
    return None


def _expression(vals: list[int], cin: list[int], values: dict[str, list[int]]) -> str | None:
    if vals == cin:
        return "in_channels"
    for name, pv in values.items():
        if pv == vals:
            return name
    for name, pv in values.items():
        for k in range(2, 9):
            if all(v == p * k for v, p in zip(vals, pv, strict=True)):
                return f"{name} * {k}"
    for k in range(2, 9):
        if all(v == c // k for v, c in zip(vals, cin, strict=True)):
            return f"in_channels // {k}"
        if all(v == c * k for v, c in zip(vals, cin, strict=True)):
            return f"in_channels * {k}"
    return None


def layout(g: Graph) -> dict[str, list[float]]:
    """A layered top-to-bottom layout: rows by longest path from the inputs."""
    # longest path by Kahn's algorithm (importing networkx for this took a fifth of a second)
    preds: dict[str, list[str]] = {nid: [] for nid in g.nodes}
    succs: dict[str, list[str]] = {nid: [] for nid in g.nodes}
    for e in g.edges.values():
        preds[e.dst].append(e.src)
        succs[e.src].append(e.dst)
    waiting = {nid: len(p) for nid, p in preds.items()}
    ready = [nid for nid in g.nodes if not waiting[nid]]
    rank: dict[str, int] = {}
    while ready:
        nid = ready.pop()
        rank[nid] = max((rank[p] + 1 for p in preds[nid]), default=0)
        for d in succs[nid]:
            waiting[d] -= 1
            if not waiting[d]:
                ready.append(d)
    rows: dict[int, list[str]] = {}
    for nid in g.nodes:
        rows.setdefault(rank[nid], []).append(nid)
    pos: dict[str, list[float]] = {}
    for r, nids in rows.items():
        for i, nid in enumerate(nids):
            pos[nid] = [float((i - (len(nids) - 1) / 2) * 220), float(r * 110)]
    return pos


def build_project(conv: Any, name: str) -> Project:
    b = _Builder(conv)
    b.lift()
    b.decide()
    b.build_blocks()
    root = b.build_graph(None)
    if b.renamed:
        (qual, node_name), n = b.renamed[0], len(b.renamed)
        conv.warnings.append(
            f'{n} layer(s) in nested containers are renamed (e.g. "{qual}" -> "{node_name}"), so the '
            "model's state_dict keys do not load by name"
        )
    project = Project(name, root, dict(b.blocks))
    project.ui["positions"] = layout(root)
    project.ui["block_positions"] = {n: layout(d.graph) for n, d in b.blocks.items()}
    return project


__all__ = ["build_project", "layout"]
