"""Block definitions that differ only by a module on their input: one class with an optional argument.

DPN's entry block is its body block with a projection (1x1 conv + BN, a stage
named ``shortcut``) applied to the input the block carries; torchvision writes
such a difference as an optional constructor argument (``downsample=None``).
When definition A is definition B plus a chain S that takes over some of the
block input's consumers (:func:`find_pairs`, on the graphs), and their plans
agree everywhere else (:func:`merge`, on the frozen plans and the text B's
forward would have), the emitter writes B's class with an argument
``shortcut: nn.Module | None = None``: ``self.shortcut = shortcut`` where A
built S, and ``if self.shortcut is not None: x = self.shortcut(x)`` where A's
forward applied it. A's instances pass S as a module built with their own
numbers. Module names, their order and so state_dict keys stay as they were.

Kept simple where the general case would need more: A's instances are all in
the network (the projection is built with numbers), and S holds only layers
whose initialisation the network's loop gives them anyway (convolutions that
share one rule with every other convolution in the project, no bias;
BatchNorms without zero_init; layers without weights).
"""

from __future__ import annotations

import re

from codegen import forward, layer_codegen
from codegen import pyformat as pf
from codegen.plan import ClassPlan, Merge
from codegen.values import literal, same_value
from graph import registry
from graph.model import BlockDef, Project

_MODULE_CLASS = re.compile(r"nn\.[A-Z][A-Za-z0-9]*")


def find_pairs(project: Project, order: list[str]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """variant -> (base, S's node ids) for definitions that are another plus an input chain S."""
    used_in_blocks = {
        n.block_name for b in project.blocks.values() for n in b.graph.nodes.values() if n.block_name
    }
    conv_rules = {
        (n.params.get("init", "kaiming_fan_out"), float(n.params.get("bias_init", 0.0)))
        for g in [project.graph, *(b.graph for b in project.blocks.values())]
        for n in g.nodes.values()
        if n.type == "Conv2d"
    }
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for a in order:
        if a in used_in_blocks:
            continue
        for b in order:
            if b == a or b in out:
                continue
            extra = _extra_chain(project.blocks[a], project.blocks[b], len(conv_rules) <= 1)
            if extra is not None:
                out[a] = (b, extra)
                break
    return out


def _extra_chain(a: BlockDef, b: BlockDef, one_conv_rule: bool) -> tuple[str, ...] | None:
    """S's node ids if ``a`` is ``b`` plus a chain S from its input, else None."""
    ga, gb = a.graph, b.graph
    if [(k, p.type, repr(p.default)) for k, p in a.params.items()] != [
        (k, p.type, repr(p.default)) for k, p in b.params.items()
    ]:
        return None
    if gb.stages or any(n.frozen for g in (ga, gb) for n in g.nodes.values()):
        return None
    by_name_b = {n.name: n for n in gb.nodes.values()}
    extra = [n for n in ga.nodes.values() if n.name not in by_name_b]
    if not extra or len(ga.nodes) - len(extra) != len(gb.nodes):
        return None
    (bi,) = ga.nodes_of_type("BlockInput") or (None,)
    if bi is None:
        return None
    # S is a chain from the block input: each node's one input is the previous one (the input first)
    ids = {n.id for n in extra}
    chain = []
    prev = bi.id
    for _ in extra:
        nxt = [e.dst for e in ga.out_edges(prev) if e.dst in ids]
        if len(nxt) != 1 or len(ga.in_edges(nxt[0])) != 1:
            return None
        chain.append(nxt[0])
        prev = nxt[0]
    for nid in chain[:-1]:
        if len(ga.out_edges(nid)) != 1:
            return None
    if ga.stages and ([s.nodes for s in ga.stages] != [chain] or ga.stages[0].keys != "index"):
        return None
    if not ga.stages and len(chain) != 1:
        return None
    for nid in chain:
        node = ga.nodes[nid]
        lt = registry.get(node.type)
        if node.block_name is not None or lt is None or lt.module is None:
            return None
        if node.type == "Conv2d":
            if not one_conv_rule or node.params.get("bias", True):
                return None
        elif node.type == "BatchNorm2d":
            if node.params.get("zero_init", False):
                return None
        elif lt.init != "none":
            return None
    # everything else is the same, with S's output read as the block input
    last = chain[-1]
    name = {nid: ga.nodes[nid].name for nid in ga.nodes}
    name[last] = bi.name
    for n in ga.nodes.values():
        if n.id in ids:
            continue
        m = by_name_b.get(n.name)
        if m is None or m.type != n.type or m.params != n.params:
            return None

    def edges(g, names, skip) -> list[tuple]:
        return sorted(
            (names[e.src], names[e.dst], e.src_port, e.dst_port, e.kind, e.projection, e.name or "")
            for e in g.edges.values()
            if e.dst not in skip
        )

    names_b = {nid: gb.nodes[nid].name for nid in gb.nodes}
    if edges(ga, name, set(chain)) != edges(gb, names_b, set()):
        return None
    return tuple(chain)


def merge(a: ClassPlan, b: ClassPlan, chain: tuple[str, ...]) -> Merge | None:
    """The merge of variant ``a`` into base ``b`` if their frozen plans agree outside S, else None."""
    first = a.graph.nodes[chain[0]]
    stage = a.staged.get(first.id)
    attr = a.stage_attrs[stage.name] if stage is not None else a.node_attrs[first.id]
    targets_a = [(t, pf.flat(x)) for t, x in a.assignments]
    where = [i for i, (t, _) in enumerate(targets_a) if t == f"self.{attr}"]
    if len(where) != 1:
        return None
    init_at = where[0]
    if targets_a[:init_at] + targets_a[init_at + 1 :] != [(t, pf.flat(x)) for t, x in b.assignments]:
        return None
    if any(t == f"self.{attr}" for t, _ in b.assignments) or not b.local_is_free(attr):
        return None
    if a.hoisted_lines != b.hoisted_lines or a.init_params != b.init_params:
        return None
    fa, fb = forward.write_forward(a), forward.write_forward(b)
    hits = [i for i, line in enumerate(fa) if re.fullmatch(rf" {{8}}(\w+) = self\.{attr}\(\1\)", line)]
    if len(hits) != 1 or fa[: hits[0]] + fa[hits[0] + 1 :] != fb:
        return None
    var = fa[hits[0]].split("=")[0].strip()
    return Merge(a.block.name, b.block.name, chain, stage is not None, attr, init_at, hits[0], var, tuple(fb))


def instance_module(a: ClassPlan, m: Merge, children) -> pf.Expr:
    """S for one instance of the variant, built with that instance's numbers."""
    members = []
    for nid in m.nodes:
        node = a.graph.nodes[nid]
        ni = children.nodes[nid]
        lt = registry.get(node.type)
        spec = lt.module(ni.params, ni.in_shapes)
        if not _MODULE_CLASS.fullmatch(spec.cls):
            raise AssertionError(f"{spec.cls} in a variant's input chain")
        defaults = layer_codegen.get(node.type).torch_defaults
        kwargs = dict(spec.kwargs)
        if kwargs.get("inplace") is True and nid in a.unsafe_inplace:
            kwargs["inplace"] = False
        kw = tuple(
            (k, literal(v)) for k, v in kwargs.items() if not (k in defaults and same_value(v, defaults[k]))
        )
        members.append(pf.Call(spec.cls, tuple(literal(v) for v in spec.args), kw))
    if not m.staged:
        return members[0]
    return pf.Call("nn.Sequential", tuple(members))
