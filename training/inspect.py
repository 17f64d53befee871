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
    paths = {
        nid: module_path(info.graph, info.nodes[nid].node, prefix) for nid in info.order if nid in info.nodes
    }
    key_of = _key_finder(info, paths, level, modules)
    for nid in info.order:
        ni = info.nodes.get(nid)
        if ni is None or ni.node.type in ("Input", "Output", "BlockInput", "BlockOutput"):
            continue
        entry = _Entry(paths[nid], ni.node.type, depth, nid, info.block, owner, key_of(nid))
        if entry.key is None:
            entry.note = "it is computed inline and feeds no module this view can read"
        lt = registry.get(ni.node.type)
        if lt is not None and lt.is_merge:
            entry.merge_inputs.extend(_merge_inputs(info, nid, prefix, modules, key_of))
        entries.append(entry)
        if ni.children is not None:
            inner = f"{owner}.{ni.node.name}" if owner else ni.node.name
            _plan_level(ni.children, paths[nid] + ".", paths[nid], depth + 1, modules, entries, inner)
    entries.extend(_shortcut_entries(info, prefix, depth, modules, owner))


def _key_finder(info, paths: dict[str, str], level: str, modules) -> Callable[[str], Key | None]:
    """``key_of(node id)``: where a node's output tensor is read (memoised): the level's input for an
    input node, its module's output, else (written inline in forward) the input of the one-input
    module that consumes it or the level's output; None where none of these is there."""
    keys: dict[str, Key | None] = {}
    consumers: dict[str, list[str]] = {}
    for e in info.graph.edges.values():
        consumers.setdefault(e.src, []).append(e.dst)

    def inline_key(nid: str) -> Key | None:
        for dst in consumers.get(nid, []):
            dnode = info.nodes.get(dst)
            if dnode is None:
                continue
            if dnode.node.type in ("Output", "BlockOutput"):
                return (level, "out")
            if paths.get(dst) in modules and len(info.in_edges.get(dst, [])) == 1:
                return (paths[dst], "in")
        return None

    def key_of(nid: str) -> Key | None:
        if nid in keys:
            return keys[nid]
        node = info.nodes[nid].node
        if node.type in ("Input", "BlockInput"):
            k: Key | None = (level, "in")
        elif paths[nid] in modules:
            k = (paths[nid], "out")
        else:
            k = inline_key(nid)
        keys[nid] = k
        return k

    return key_of


def _merge_inputs(
    info, nid: str, prefix: str, modules, key_of: Callable[[str], Key | None]
) -> list[tuple[str, Key | None]]:
    """A merge node's inputs as (label, key): a projecting shortcut is read at its module's output."""
    out: list[tuple[str, Key | None]] = []
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
        out.append((label, k))
    return out


def _shortcut_entries(info, prefix: str, depth: int, modules, owner: str) -> list[_Entry]:
    """An entry per shortcut projection (not identity) of this level."""
    out = []
    for edge_id, sc in info.shortcuts.items():
        if sc.applied == "identity":
            continue
        path = f"{prefix}{info.graph.edges[edge_id].name or 'shortcut'}"
        out.append(
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
    return out


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
    rec = _Recorder(_wanted(entries), backward, progress, should_cancel)
    handles = rec.hook(modules)
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
        rec.last[:] = [None, -1, None]
    records, unobserved = _records(entries, rec.stats, rec.grads if backward else None)
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


def _wanted(entries: list[_Entry]) -> dict[Key, str]:
    """The keys to read: key -> the node type deciding saturation ("" for a merge's input)."""
    wanted: dict[Key, str] = {}
    for en in entries:
        if en.key is not None:
            wanted.setdefault(en.key, en.type)
        for _label, k in en.merge_inputs:
            if k is not None:
                wanted.setdefault(k, "")
    return wanted


class _Recorder:
    """Reduces each wanted tensor to statistics when a module hook sees it, and registers a hook for
    its gradient's norm (with ``backward``)."""

    def __init__(
        self,
        wanted: dict[Key, str],
        backward: bool,
        progress: Callable[[int, int], None] | None,
        should_cancel: Callable[[], bool] | None,
    ) -> None:
        self.wanted = wanted
        self.backward = backward
        self.progress = progress
        self.should_cancel = should_cancel
        self.stats: dict[Key, dict[str, Any]] = {}
        self.grads: dict[Key, float] = {}
        # the same tensor seen twice in a row (a block's output is its last layer's) is reduced once; the
        # last one is held so that its memory cannot be reused by another; an in-place op bumps its version
        self.last: list = [None, -1, None]  # tensor, version, stats

    def seen(self, key: Key, tensor: Any) -> None:
        if not isinstance(tensor, torch.Tensor) or key in self.stats:
            return
        if self.should_cancel is not None and self.should_cancel():
            raise Cancelled
        kind = self.wanted[key]
        last = self.last
        if last[0] is tensor and last[1] == tensor._version and kind not in SATURATING:
            self.stats[key] = last[2]
        else:
            self.stats[key] = tensor_stats(tensor, kind)
            last[:] = [tensor, tensor._version, self.stats[key]]
        if self.backward and tensor.requires_grad:
            grads = self.grads
            tensor.register_hook(lambda g, k=key: grads.__setitem__(k, float(g.detach().float().norm())))
        if self.progress is not None:
            self.progress(len(self.stats), len(self.wanted))

    def hook(self, modules: dict[str, Any]) -> list:
        """Forward (pre-)hooks on the modules holding wanted keys; returns their handles."""
        handles = []
        for path in {k[0] for k in self.wanted}:
            mod = modules.get(path)
            if mod is None:
                continue
            if (path, "in") in self.wanted:
                handles.append(
                    mod.register_forward_pre_hook(lambda m, args, k=(path, "in"): self.seen(k, args[0]))
                )
            if (path, "out") in self.wanted:
                handles.append(
                    mod.register_forward_hook(lambda m, args, out, k=(path, "out"): self.seen(k, out))
                )
        return handles


def _records(
    entries: list[_Entry], stats: dict[Key, dict[str, Any]], grads: dict[Key, float] | None
) -> tuple[list[NodeRecord], dict[str, str]]:
    """A record per entry whose tensor was seen (gradient norms where ``grads`` is given), and why the
    others have none."""
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
            grad_norm=grads.get(en.key) if grads is not None else None,
            depth=en.depth,
            node_id=en.node_id,
            block=en.block,
            owner=en.owner,
        )
        rec.inputs = [(label, stats[k]["norm"]) for label, k in en.merge_inputs if k in stats]
        records.append(rec)
    return records, unobserved


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
