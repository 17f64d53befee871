"""Look inside the network: every node's output and gradient on real samples.

``inspect(project, prepared, samples)`` runs the generated module (training/inspect_inputs.py
builds it: the code that exports and trains) once forward and, with ``backward``, once backward,
with hooks keyed by the generated attribute paths (``layer1.0.conv1``), so what is shown is what the
exported code computes. A node with a module is read at its module's output; a node written inline
in ``forward`` (``out += identity``, ``torch.flatten``) at the input of the module that consumes it,
or at its block's output. Each value is reduced to statistics when the hook sees it (later in-place
operations cannot change it); its gradient is read by a tensor hook registered at that moment.

A merge node also gets the norm of each input: the residual branch against the shortcut.
Models are put in training mode by default (BatchNorm normalises with the batch's statistics,
as in the first steps of training); ``mode="eval"`` uses the running statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from graph import registry
from graph.errors import UserError
from graph.shapes import module_path
from training.inspect_inputs import Prepared, Samples
from training.inspect_stats import SATURATING, NodeRecord, make_record, tensor_stats

Key = tuple[str, str]  # (module path, "in" | "out"): where a tensor is read; "" is the whole model


@dataclass
class _Entry:
    name: str
    type: str
    depth: int
    node_id: str
    block: str | None
    owner: str = ""  # the block instance holding it, as node names: "layer2_0" ("" at the top level)
    key: Key | None = None
    merge_inputs: list[tuple[str, Key | None]] = field(default_factory=list)
    note: str = ""


@dataclass
class Inspection:
    project: str
    weights: str
    samples: str
    count: int
    mode: str
    loss: str | None  # how the backward pass's loss was formed, None without backward
    records: list[NodeRecord]
    unobserved: dict[str, str] = field(default_factory=dict)  # name -> why it has no record
    io_nodes: dict[str, str] = field(default_factory=dict)  # Input / Output node name -> its type

    def record(self, name: str) -> NodeRecord:
        """The record of a node named by its attribute path or (top level) its node name."""
        for r in self.records:
            if r.name == name:
                return r
        if name in self.io_nodes:
            what = (
                "gives the network its samples" if self.io_nodes[name] == "Input" else "only marks the result"
            )
            raise UserError(
                f"node {name!r} is the network's {self.io_nodes[name]} node and has no output of its own "
                f"(it {what}); pick the node next to it"
            )
        if name in self.unobserved:
            raise UserError(f"node {name!r} has no output to show: {self.unobserved[name]}")
        near = ", ".join(r.name for r in self.records[:8])
        raise UserError(f"no node named {name!r} in the network; names look like: {near}, ...")


class Cancelled(Exception):
    """Raised inside the forward pass when ``should_cancel()`` says so."""


# ------------------------------------------------------------------------------------------ plan
def plan(analysis, modules: dict[str, Any]) -> list[_Entry]:
    """Every node of the network (block instances and their bodies, shortcut projections), in order,
    with the place its output tensor is read."""
    entries: list[_Entry] = []
    _plan_level(analysis.root, "", "", 0, modules, entries, "")
    return entries


def io_nodes(analysis) -> dict[str, str]:
    """The top-level Input and Output nodes by name."""
    return {
        ni.node.name: ni.node.type
        for ni in analysis.root.nodes.values()
        if ni.node.type in ("Input", "Output")
    }


def _plan_level(
    info, prefix: str, level: str, depth: int, modules, entries: list[_Entry], owner: str
) -> None:
    g = info.graph
    keys: dict[str, Key | None] = {}
    consumers: dict[str, list[str]] = {}
    for e in g.edges.values():
        consumers.setdefault(e.src, []).append(e.dst)
    paths = {nid: module_path(g, info.nodes[nid].node, prefix) for nid in info.order if nid in info.nodes}

    def key_of(nid: str) -> Key | None:
        if nid in keys:
            return keys[nid]
        node = info.nodes[nid].node
        if node.type in ("Input", "BlockInput"):
            k: Key | None = (level, "in")
        elif paths[nid] in modules:
            k = (paths[nid], "out")
        else:  # written inline in forward: read where it is consumed
            k = None
            for dst in consumers.get(nid, []):
                dnode = info.nodes.get(dst)
                if dnode is None:
                    continue
                if dnode.node.type in ("Output", "BlockOutput"):
                    k = (level, "out")
                    break
                if paths.get(dst) in modules and len(info.in_edges.get(dst, [])) == 1:
                    k = (paths[dst], "in")
                    break
        keys[nid] = k
        return k

    for nid in info.order:
        ni = info.nodes.get(nid)
        if ni is None or ni.node.type in ("Input", "Output", "BlockInput", "BlockOutput"):
            continue
        entry = _Entry(paths[nid], ni.node.type, depth, nid, info.block, owner, key_of(nid))
        if entry.key is None:
            entry.note = "it is computed inline and feeds no module this view can read"
        lt = registry.get(ni.node.type)
        if lt is not None and lt.is_merge:
            for e in info.in_edges.get(nid, []):
                if e is None:
                    continue
                src = info.nodes[e.src].node
                sc = info.shortcuts.get(e.id)
                if e.kind == "shortcut" and sc is not None and sc.applied != "identity":
                    k = (f"{prefix}{e.name or 'shortcut'}", "out")
                    k = k if k[0] in modules else None
                else:
                    k = key_of(e.src)
                label = "shortcut" if e.kind == "shortcut" else src.name
                entry.merge_inputs.append((label, k))
        entries.append(entry)
        if ni.children is not None:
            inner = f"{owner}.{ni.node.name}" if owner else ni.node.name
            _plan_level(ni.children, paths[nid] + ".", paths[nid], depth + 1, modules, entries, inner)
    for edge_id, sc in info.shortcuts.items():
        if sc.applied == "identity":
            continue
        path = f"{prefix}{g.edges[edge_id].name or 'shortcut'}"
        entries.append(
            _Entry(
                path,
                "Shortcut:" + sc.applied,
                depth,
                edge_id,
                info.block,
                owner,
                (path, "out") if path in modules else None,
            )
        )


# ------------------------------------------------------------------------------------------ run
def inspect(
    project,
    analysis,
    prepared: Prepared,
    samples: Samples,
    backward: bool = True,
    mode: str = "train",
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> Inspection:
    """One forward (and backward) pass of ``samples`` through ``prepared.model``; a record per node."""
    if mode not in ("train", "eval"):
        raise UserError(f"mode must be train or eval, got {mode!r}")
    model = prepared.model
    modules = dict(model.named_modules())
    entries = plan(analysis, modules)
    wanted: dict[Key, str] = {}  # key -> the node type deciding saturation
    for en in entries:
        if en.key is not None:
            wanted.setdefault(en.key, en.type)
        for _label, k in en.merge_inputs:
            if k is not None:
                wanted.setdefault(k, "")
    stats: dict[Key, dict[str, Any]] = {}
    grads: dict[Key, float] = {}
    total = len(wanted)
    # the same tensor seen twice in a row (a block's output is its last layer's) is reduced once; the last
    # one is held so that its memory cannot be reused by another; an in-place op bumps its version
    last: list = [None, -1, None]  # tensor, version, stats

    def seen(key: Key, tensor: Any) -> None:
        if not isinstance(tensor, torch.Tensor) or key in stats:
            return
        if should_cancel is not None and should_cancel():
            raise Cancelled
        kind = wanted[key]
        if last[0] is tensor and last[1] == tensor._version and kind not in SATURATING:
            stats[key] = last[2]
        else:
            stats[key] = tensor_stats(tensor, kind)
            last[:] = [tensor, tensor._version, stats[key]]
        if backward and tensor.requires_grad:
            tensor.register_hook(lambda g, k=key: grads.__setitem__(k, float(g.detach().float().norm())))
        if progress is not None:
            progress(len(stats), total)

    handles = []
    for path in {k[0] for k in wanted}:
        mod = modules.get(path)
        if mod is None:
            continue
        if (path, "in") in wanted:
            handles.append(mod.register_forward_pre_hook(lambda m, args, k=(path, "in"): seen(k, args[0])))
        if (path, "out") in wanted:
            handles.append(mod.register_forward_hook(lambda m, args, out, k=(path, "out"): seen(k, out)))
    model.train(mode == "train")
    x = samples.x.clone()
    loss_text = None
    try:
        if backward:
            x.requires_grad_(True)
            out = model(x)
            loss, loss_text = _loss(out, samples.y)
            loss.backward()
        else:
            with torch.no_grad():
                model(x)
    finally:
        for h in handles:
            h.remove()
        last[:] = [None, -1, None]
    records, unobserved = [], {}
    for en in entries:
        st = stats.get(en.key) if en.key is not None else None
        if st is None:
            unobserved[en.name] = en.note or "the generated forward pass does not compute it"
            continue
        rec = make_record(
            en.name,
            en.type,
            st,
            grad_norm=grads.get(en.key) if backward else None,
            depth=en.depth,
            node_id=en.node_id,
            block=en.block,
            owner=en.owner,
        )
        rec.inputs = [(label, stats[k]["norm"]) for label, k in en.merge_inputs if k in stats]
        records.append(rec)
    return Inspection(
        project.name,
        prepared.weights,
        samples.source,
        int(samples.x.shape[0]),
        mode,
        loss_text,
        records,
        unobserved,
        io_nodes(analysis),
    )


def _loss(out: Any, y: torch.Tensor | None) -> tuple[torch.Tensor, str]:
    if not isinstance(out, torch.Tensor):
        raise UserError("the network's output is not a single tensor, so no gradient can be formed")
    out = out.float()
    if out.dim() == 2 and y is not None and int(y.max()) < out.shape[1]:
        return F.cross_entropy(out, y), "cross-entropy against the samples' labels"
    if out.dim() == 2:
        return F.cross_entropy(out, out.detach().argmax(1)), "cross-entropy against the predicted class"
    return 0.5 * out.pow(2).mean(), "half the mean squared output"


def depth_profile(result: Inspection, leaves_only: bool = True) -> list[NodeRecord]:
    """The records along depth for the profile chart: leaf layers (no block instance rows)."""
    if not leaves_only:
        return list(result.records)
    blocks = {r.name for r in result.records if r.type.startswith("block:")}
    return [r for r in result.records if r.name not in blocks]


def run_inspection(
    project,
    weights=None,
    dataset: str | None = None,
    images: list[str] | None = None,
    samples: int = 16,
    backward: bool = True,
    mode: str | None = None,
    resize: bool = False,
    progress=None,
    should_cancel=None,
) -> Inspection:
    """Everything from a project: build and weight the model, take the samples, inspect.
    ``mode`` None: train for an initialisation, eval for trained weights."""
    from training.inspect_inputs import WeightsChoice, check_project, load_samples, prepare_model

    weights = weights or WeightsChoice()
    analysis = check_project(project)
    prepared = prepare_model(project, weights, analysis)
    batch = load_samples(project, analysis, dataset, images, samples, prepared.norm, resize)
    mode = mode or ("train" if weights.kind == "init" else "eval")
    return inspect(project, analysis, prepared, batch, backward, mode, progress, should_cancel)


__all__ = ["Cancelled", "Inspection", "depth_profile", "inspect", "plan", "run_inspection"]
