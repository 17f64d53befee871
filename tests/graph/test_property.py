"""Property: for random valid graphs, shape inference agrees with torch for every node.

Random chains of convolutions (groups, dilation, 'same'), pools (padding,
ceil_mode), norms and activations, with random residual Adds whose shortcut
takes any projection, are built into torch by a SMALL builder here (not the
project's code generator): modules are created while the tensors flow, with
in_channels read from the real tensors, so nothing is taken from inference.
Every node's real output shape must equal the inferred one, and the real
parameter count must equal the inferred count.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from graph.model import Graph, Project
from graph.shapes import analyze

torch = pytest.importorskip("torch")
nn = torch.nn


# ------------------------------------------------------------------ random graphs
class _Builder:
    def __init__(self, draw, shape):
        self.draw = draw
        self.g = Graph()
        self.c, self.h, self.w = shape
        self.last = self.g.add("Input", "input", shape=list(shape))

    def add(self, t, **params):
        node = self.g.add(t, **params)
        self.g.connect(self.last, node)
        self.last = node
        return node

    def conv(self):
        d = self.draw
        k = d(st.sampled_from([1, 3, 5]))
        dil = d(st.sampled_from([1, 1, 2]))
        eff = dil * (k - 1) + 1
        groups = d(st.sampled_from([g for g in (1, 2, 4) if self.c % g == 0]))
        out = groups * d(st.integers(1, 6))
        stride = d(st.sampled_from([1, 1, 2]))
        if stride == 1 and eff % 2 == 1 and d(st.booleans()):
            padding = "same"
        else:
            lo = max(0, (eff - min(self.h, self.w) + 1) // 2)
            padding = d(st.integers(lo, max(lo, eff // 2)))
        self.add("Conv2d", out_channels=out, kernel_size=k, stride=stride, padding=padding, dilation=dil,
                 groups=groups, bias=d(st.booleans()))
        pad = dil * (k - 1) // 2 if padding == "same" else padding
        self.c = out
        self.h = (self.h + 2 * pad - eff) // stride + 1
        self.w = (self.w + 2 * pad - eff) // stride + 1

    def pool(self):
        d = self.draw
        k = d(st.integers(1, max(1, min(3, self.h, self.w))))
        stride = d(st.sampled_from([None, 1, 2]))
        padding = d(st.integers(0, k // 2))
        ceil = d(st.booleans())
        t = d(st.sampled_from(["MaxPool2d", "AvgPool2d"]))
        self.add(t, kernel_size=k, stride=stride, padding=padding, ceil_mode=ceil)
        s = stride or k
        for attr in ("h", "w"):
            size = getattr(self, attr)
            span = size + 2 * padding - k
            out = (-(-span // s) if ceil else span // s) + 1
            if ceil and (out - 1) * s >= size + padding:
                out -= 1
            setattr(self, attr, out)

    def norm(self):
        d = self.draw
        choice = d(st.sampled_from(["BatchNorm2d", "GroupNorm", "InstanceNorm2d"]))
        if choice == "GroupNorm":
            self.add("GroupNorm", num_groups=d(st.sampled_from([g for g in (1, 2, 3, 4) if self.c % g == 0])))
        else:
            self.add(choice, affine=d(st.booleans()))

    def act(self):
        self.add(self.draw(st.sampled_from(["ReLU", "GELU", "SiLU", "Sigmoid", "Identity"])))

    def residual(self):
        d = self.draw
        start, c, h, w = self.last, self.c, self.h, self.w
        out = d(st.integers(1, 12))
        stride = d(st.sampled_from([1, 2])) if min(h, w) >= 2 else 1
        self.add("Conv2d", out_channels=out, kernel_size=3, stride=stride, padding=1)
        self.add("BatchNorm2d")
        self.add("ReLU", inplace=False)
        self.add("Conv2d", out_channels=out, kernel_size=3, padding=1)
        self.c, self.h, self.w = out, (h - 1) // stride + 1, (w - 1) // stride + 1
        same = (c, h, w) == (self.c, self.h, self.w)
        options = ["conv_bn", "conv_bn_always"] + (["zero_pad"] if out >= c else []) + (["identity"] if same else [])
        proj = d(st.sampled_from(options))
        add = self.g.add("Add")
        self.g.connect(self.last, add, 0)
        self.g.connect(start, add, 1, kind="shortcut", projection=proj, name=self.g.unique_name("downsample"))
        self.last = add
        if d(st.booleans()):
            self.add("ReLU", inplace=False)


@st.composite
def graphs(draw):
    shape = (draw(st.integers(1, 8)), draw(st.integers(6, 24)), draw(st.integers(6, 24)))
    b = _Builder(draw, shape)
    for _ in range(draw(st.integers(1, 7))):
        op = draw(st.sampled_from(["conv", "conv", "pool", "norm", "act", "residual", "residual"]))
        if op == "pool" and min(b.h, b.w) < 2:
            op = "act"
        getattr(b, op)()
    if draw(st.booleans()):
        b.add("AdaptiveAvgPool2d", output_size=draw(st.sampled_from([1, 2])))
        b.add("Flatten")
        b.add("Linear", out_features=draw(st.integers(1, 10)))
    out = b.g.add("Output", "output")
    b.g.connect(b.last, out)
    return Project("random", b.g)


# ------------------------------------------------------------------ a small torch builder
def _stride_for(size, target, ceil):
    for s in range(1, size + 1):
        if (-(-size // s) if ceil else (size - 1) // s + 1) == target:
            return s
    raise AssertionError(f"no stride from {size} to {target}")


def run_torch(project: Project):
    """Run the graph on a real batch; returns ({node_id: output shape}, parameter count)."""
    g = project.graph
    modules = nn.ModuleList()
    x_in = project.graph.nodes_of_type("Input")[0]
    out: dict[str, torch.Tensor] = {}
    pending = {nid: len(g.in_edges(nid)) for nid in g.nodes}
    ready = [x_in.id]
    while ready:
        nid = ready.pop(0)
        node = g.nodes[nid]
        p = node.params
        ins = [out[e.src] for e in g.in_edges(nid)]
        t = node.type
        if t == "Input":
            y = torch.randn(2, *p["shape"])
        elif t in ("Output", "Identity"):
            y = ins[0]
        elif t == "Add":
            edges = g.in_edges(nid)
            target = ins[0]
            terms = []
            for e, x in zip(edges, ins):
                if e.is_shortcut:
                    x = project_shortcut(e.projection, x, target, modules)
                terms.append(x)
            y = terms[0] + terms[1]
        else:
            m = make_module(t, p, ins[0])
            modules.append(m)
            y = m(ins[0])
        out[nid] = y
        for e in g.out_edges(nid):
            pending[e.dst] -= 1
            if pending[e.dst] == 0:
                ready.append(e.dst)
    return {k: tuple(v.shape[1:]) for k, v in out.items()}, sum(q.numel() for q in modules.parameters())


def project_shortcut(proj, x, target, modules):
    c, h, w = x.shape[1:]
    c2, h2, w2 = target.shape[1:]
    if proj == "identity" or (proj in ("zero_pad", "conv_bn") and (c, h, w) == (c2, h2, w2)):
        return x
    if proj == "zero_pad":
        s = _stride_for(h, h2, ceil=True)
        x = x[:, :, ::s, ::s]
        return torch.cat([x, x.new_zeros(x.shape[0], c2 - c, *x.shape[2:])], 1)
    s = _stride_for(h, h2, ceil=False)
    m = nn.Sequential(nn.Conv2d(c, c2, 1, stride=s, bias=False), nn.BatchNorm2d(c2))
    modules.append(m)
    return m(x)


def make_module(t, p, x):
    c = x.shape[1]
    if t == "Conv2d":
        return nn.Conv2d(c, p["out_channels"], p["kernel_size"], stride=p.get("stride", 1),
                         padding=p.get("padding", 1), dilation=p.get("dilation", 1), groups=p.get("groups", 1),
                         bias=p.get("bias", False))
    if t in ("MaxPool2d", "AvgPool2d"):
        cls = getattr(nn, t)
        return cls(p["kernel_size"], stride=p.get("stride") or p["kernel_size"], padding=p.get("padding", 0),
                   ceil_mode=p.get("ceil_mode", False))
    if t == "BatchNorm2d":
        return nn.BatchNorm2d(c, affine=p.get("affine", True))
    if t == "InstanceNorm2d":
        return nn.InstanceNorm2d(c, affine=p.get("affine", False))
    if t == "GroupNorm":
        return nn.GroupNorm(p["num_groups"], c)
    if t == "ReLU":
        return nn.ReLU()
    if t in ("GELU", "SiLU", "Sigmoid"):
        return getattr(nn, t)()
    if t == "AdaptiveAvgPool2d":
        return nn.AdaptiveAvgPool2d(p["output_size"])
    if t == "Flatten":
        return nn.Flatten(1)
    if t == "Linear":
        return nn.Linear(x.shape[-1], p["out_features"], bias=p.get("bias", True))
    raise AssertionError(t)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(graphs())
def test_inferred_shapes_match_torch(project):
    a = analyze(project)
    assume(a.valid)
    with torch.no_grad():
        real, params = run_torch(project)
    inferred = {nid: a.shape_of(nid) for nid in project.graph.nodes}
    assert real == inferred
    assert params == a.total_params


def test_generator_mostly_makes_valid_graphs():
    """Guard against the property test silently testing nothing."""
    valid = []

    @settings(max_examples=40, deadline=None, database=None)
    @given(graphs())
    def sample(project):
        valid.append(analyze(project).valid)

    sample()
    assert sum(valid) >= 0.7 * len(valid)
