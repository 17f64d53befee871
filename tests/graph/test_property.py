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

from graph.expr import parse
from graph.model import BlockDef, BlockParam, Graph, Project
from graph.shapes import analyze

torch = pytest.importorskip("torch")
nn = torch.nn


# ------------------------------------------------------------------ random graphs
class _Builder:
    def __init__(self, draw, shape):
        self.draw = draw
        self.g = Graph()
        self.blocks: dict[str, BlockDef] = {}
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
        self.add(
            "Conv2d",
            out_channels=out,
            kernel_size=k,
            stride=stride,
            padding=padding,
            dilation=dil,
            groups=groups,
            bias=d(st.booleans()),
        )
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
        options = (
            ["conv_bn", "conv_bn_always"]
            + (["zero_pad"] if out >= c else [])
            + (["identity"] if same else [])
        )
        proj = d(st.sampled_from(options))
        add = self.g.add("Add")
        self.g.connect(self.last, add, 0)
        self.g.connect(start, add, 1, kind="shortcut", projection=proj, name=self.g.unique_name("downsample"))
        self.last = add
        if d(st.booleans()):
            self.add("ReLU", inplace=False)

    def unit(self):
        """An instance of block "Unit(out, stride)", whose body uses expressions over out, stride and
        in_channels."""
        d = self.draw
        if "Unit" not in self.blocks:
            body = Graph()
            bi = body.add("BlockInput", "input")
            c1 = body.add("Conv2d", "conv1", out_channels="in_channels + out", stride="stride", padding=1)
            b1 = body.add("BatchNorm2d", "bn1")
            r1 = body.add("ReLU", "relu", inplace=False)
            c2 = body.add("Conv2d", "conv2", out_channels="out * 2 // 2", padding="stride // stride")
            b2 = body.add("BatchNorm2d", "bn2")
            add = body.add("Add", "add")
            bo = body.add("BlockOutput", "output")
            body.chain(bi, c1, b1, r1, c2, b2)
            body.connect(b2, add, 0)
            body.connect(
                bi,
                add,
                1,
                kind="shortcut",
                name="downsample",
                projection=d(st.sampled_from(["conv_bn", "conv_bn_always"])),
            )
            body.chain(add, bo)
            self.blocks["Unit"] = BlockDef(
                "Unit", {"out": BlockParam("int", 8), "stride": BlockParam("int", 1)}, body
            )
        out = d(st.integers(1, 10))
        stride = d(st.sampled_from([1, 2])) if min(self.h, self.w) >= 2 else 1
        params = {"out": out} if d(st.booleans()) else {"out": out, "stride": stride}
        self.add("block:Unit", **params)
        stride = params.get("stride", 1)
        self.c, self.h, self.w = out, (self.h - 1) // stride + 1, (self.w - 1) // stride + 1


@st.composite
def graphs(draw):
    shape = (draw(st.integers(1, 8)), draw(st.integers(6, 24)), draw(st.integers(6, 24)))
    b = _Builder(draw, shape)
    for _ in range(draw(st.integers(1, 7))):
        op = draw(st.sampled_from(["conv", "conv", "pool", "norm", "act", "residual", "residual", "unit"]))
        if op == "pool" and min(b.h, b.w) < 2:
            op = "act"
        getattr(b, op)()
    if draw(st.booleans()):
        b.add("AdaptiveAvgPool2d", output_size=draw(st.sampled_from([1, 2])))
        b.add("Flatten")
        b.add("Linear", out_features=draw(st.integers(1, 10)))
    out = b.g.add("Output", "output")
    b.g.connect(b.last, out)
    return Project("random", b.g, b.blocks)


# ------------------------------------------------------------------ a small torch builder
def _stride_for(size, target, ceil):
    for s in range(1, size + 1):
        if (-(-size // s) if ceil else (size - 1) // s + 1) == target:
            return s
    raise AssertionError(f"no stride from {size} to {target}")


def run_torch(project: Project):
    """Run the graph on a real batch; returns ({node path: output shape}, parameter count).

    A node path is a tuple of node ids: (instance id, inner id) inside a block instance.
    """
    modules = nn.ModuleList()
    shapes: dict[tuple, tuple] = {}
    run_graph(project, project.graph, None, None, modules, (), shapes)
    return shapes, sum(q.numel() for q in modules.parameters())


def _resolve(params: dict, env: dict | None) -> dict:
    return {
        k: parse(v).evaluate(env) if isinstance(v, str) and v not in ("same", "valid") else v
        for k, v in params.items()
    }


def run_graph(project, g, x, env, modules, prefix, shapes):
    out: dict[str, torch.Tensor] = {}
    pending = {nid: len(g.in_edges(nid)) for nid in g.nodes}
    ready = [n.id for n in g.nodes.values() if n.type in ("Input", "BlockInput")]
    result = None
    while ready:
        nid = ready.pop(0)
        node = g.nodes[nid]
        p = _resolve(node.params, env)
        ins = [out[e.src] for e in g.in_edges(nid)]
        t = node.type
        if t == "Input":
            y = torch.randn(2, *p["shape"])
        elif t == "BlockInput":
            y = x
        elif t in ("Output", "BlockOutput", "Identity"):
            y = result = ins[0]
        elif node.block_name is not None:
            bdef = project.blocks[node.block_name]
            inner_env = {**bdef.defaults(), **p, "in_channels": ins[0].shape[1]}
            y = run_graph(project, bdef.graph, ins[0], inner_env, modules, prefix + (nid,), shapes)
        elif t == "Add":
            edges = g.in_edges(nid)
            target = ins[0]
            terms = []
            for e, x_ in zip(edges, ins, strict=True):
                if e.is_shortcut:
                    x_ = project_shortcut(e.projection, x_, target, modules)
                terms.append(x_)
            y = terms[0] + terms[1]
        else:
            m = make_module(t, p, ins[0])
            modules.append(m)
            y = m(ins[0])
        out[nid] = y
        shapes[prefix + (nid,)] = tuple(y.shape[1:])
        for e in g.out_edges(nid):
            pending[e.dst] -= 1
            if pending[e.dst] == 0:
                ready.append(e.dst)
    return result


def inferred_shapes(info, prefix=()) -> dict[tuple, tuple]:
    shapes = {}
    for nid, ni in info.nodes.items():
        shapes[prefix + (nid,)] = ni.out_shape
        if ni.children is not None:
            shapes.update(inferred_shapes(ni.children, prefix + (nid,)))
    return shapes


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
        return nn.Conv2d(
            c,
            p["out_channels"],
            p.get("kernel_size", 3),
            stride=p.get("stride", 1),
            padding=p.get("padding", 1),
            dilation=p.get("dilation", 1),
            groups=p.get("groups", 1),
            bias=p.get("bias", False),
        )
    if t in ("MaxPool2d", "AvgPool2d"):
        cls = getattr(nn, t)
        return cls(
            p["kernel_size"],
            stride=p.get("stride") or p["kernel_size"],
            padding=p.get("padding", 0),
            ceil_mode=p.get("ceil_mode", False),
        )
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


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(graphs())
def test_inferred_shapes_match_torch(project):
    a = analyze(project)
    assume(a.valid)
    with torch.no_grad():
        real, params = run_torch(project)
    assert real == inferred_shapes(a.root)
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
