"""Dense blocks written as torchvision writes its ``_DenseBlock``: one class, a ``num_layers`` argument,
a loop.

A block definition whose body is the chain ``x = cat([x, layerN(x)])`` for N
instances of one block with equal parameters, named ``<prefix><k>``,
``<prefix><k + 1>`` ... (DenseNet's ``denselayer1`` ... ``denselayer24``), is a
dense chain (:func:`find_chain`). It is emitted as one ``nn.ModuleDict``
subclass whose constructor adds the layers in a loop under the same names, so
state_dict keys and the order the modules are built in (and so the initial
weights) stay as they were; definitions that differ only in N
(DenseBlock6, DenseBlock12, ...) share that class (:func:`group_key`).
"""

from __future__ import annotations

import re

from codegen import pyformat as pf
from codegen.plan import ClassPlan, DenseChain
from codegen.symbolic import render, simplify
from graph.model import BlockDef, Graph

_NUMBERED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*?)(\d+)")
LOOP = "@i"  # the loop index in channel expressions (no block parameter can have this name)


def find_chain(bdef: BlockDef) -> DenseChain | None:
    """The dense chain that ``bdef``'s body is, or None (then it is written node by node)."""
    graph = bdef.graph
    if graph.stages or any(n.frozen for n in graph.nodes.values()):
        return None
    if any(e.is_shortcut for e in graph.edges.values()):
        return None
    (bi,) = graph.nodes_of_type("BlockInput") or (None,)
    if bi is None:
        return None
    layers: list[str] = []
    concats: list[str] = []
    x = bi.id
    while True:
        outs = graph.out_edges(x)
        if len(outs) == 1 and graph.nodes[outs[0].dst].type == "BlockOutput":
            break
        step = _step(graph, x, outs)
        if step is None:
            return None
        layers.append(step[0])
        concats.append(step[1])
        x = step[1]
    if len(layers) < 2 or len(graph.nodes) != 2 * len(layers) + 2:
        return None
    nodes = [graph.nodes[n] for n in layers]
    if len({n.type for n in nodes}) != 1 or any(n.params != nodes[0].params for n in nodes):
        return None
    numbered = [_NUMBERED.fullmatch(n.name) for n in nodes]
    if not all(numbered) or len({m.group(1) for m in numbered}) != 1:
        return None
    start = int(numbered[0].group(2))
    if [int(m.group(2)) for m in numbered] != list(range(start, start + len(nodes))):
        return None
    if any(m.group(2) != str(int(m.group(2))) for m in numbered):  # "layer01" is not f"layer{i}"
        return None
    return DenseChain(tuple(layers), tuple(concats), nodes[0].block_name, numbered[0].group(1), start)


def _step(graph: Graph, x: str, outs: list) -> tuple[str, str] | None:
    """(layer, concat) for one ``x = cat([x, layer(x)])`` step from ``x``, or None."""
    if len(outs) != 2:
        return None
    layer = next((graph.nodes[e.dst] for e in outs if graph.nodes[e.dst].block_name is not None), None)
    cat = next((graph.nodes[e.dst] for e in outs if graph.nodes[e.dst].type == "Concat"), None)
    if layer is None or cat is None or len(graph.in_edges(layer.id)) != 1:
        return None
    cat_ins = graph.in_edges(cat.id)
    layer_outs = graph.out_edges(layer.id)
    if [(e.src, e.dst_port) for e in cat_ins] != [(x, 0), (layer.id, 1)] or len(layer_outs) != 1:
        return None
    return layer.id, cat.id


def layer_call(cls: ClassPlan, chain: DenseChain, loop_var: str) -> pf.Call | None:
    """``DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size=bn_size)``: the layer call with its
    input channels as an expression of the loop index, or None if the layers are not that regular."""
    if cls.passed:  # a layer takes a projection passed in per instance: no loop can pass it
        return None
    nodes = [cls.graph.nodes[n] for n in chain.layers]
    if any(cls.paths.get(n.id) != n.name for n in nodes):
        return None
    grow = [cls.ch[n.id].ast for n in nodes]
    first_in = cls.block_in_ch[nodes[0].id].ast
    if None in grow or first_in is None or len(set(grow)) != 1:
        return None
    calls = [cls.module_exprs[n.id] for n in nodes]
    rest = {pf.flat(pf.Call(c.func, c.args[1:], c.kwargs)) for c in calls}
    if len(rest) != 1:
        return None
    ast = simplify(("+", first_in, ("*", ("name", LOOP), grow[0])))
    expr = render(ast, lambda n: loop_var if n == LOOP else cls.name_of(n))
    return pf.Call(calls[0].func, (expr, *calls[0].args[1:]), calls[0].kwargs)


def group_key(cls: ClassPlan, chain: DenseChain, call: pf.Call) -> tuple:
    """Definitions with equal keys differ only in their number of layers: one class serves them all."""
    bdef = cls.block
    params = tuple((k, p.type, repr(p.default)) for k, p in bdef.params.items())
    return (
        class_base(bdef.name, chain.num_layers),
        chain.inner,
        chain.prefix,
        chain.start,
        params,
        pf.flat(call),
    )


def class_base(name: str, n: int) -> str:
    """``DenseBlock6`` -> ``DenseBlock`` (the count moves into ``num_layers``)."""
    return name[: -len(str(n))] if name.endswith(str(n)) and len(name) > len(str(n)) else name


def class_doc(docs: list[str], counts: list[int], inner_class: str) -> str:
    """The definitions' shared doc with the count replaced by ``num_layers``, else a plain one."""
    texts = {re.sub(rf"\b{n}\b", "num_layers", d, count=1) for d, n in zip(docs, counts, strict=True)}
    if len(texts) == 1:
        text = texts.pop()
        if "num_layers" in text:
            return text
    return f"num_layers {inner_class} layers, each concatenated onto the running features."
