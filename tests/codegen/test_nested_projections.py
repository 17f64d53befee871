"""Issue 22: a shortcut projection that only some instances of a nested block need is a constructor
argument of the enclosing block, passed on to the nested instance (or built there, from the enclosing
block's own arguments, where all its instances need the same one), up to the network.

Each project is checked the way tests/codegen/test_verify.py checks templates against shape inference
(parameter counts, every module's output shape, MACs), and against the same network flattened, with
the enclosing blocks' contents written into the network so that the nested blocks' projections are
passed from the network as before: same state_dict (keys up to the flattened names), same outputs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from codegen.build import build_module
from codegen.emitter import emit
from graph.model import BlockDef, BlockParam, Graph, Project
from graph.shapes import analyze
from tests.codegen.test_verify import _check_against_torchinfo

ROOT = Path(__file__).resolve().parents[2]
RUFF = Path(sys.executable).parent / "ruff"
# the stacks after the first pair: (name, planes, stride). "passed": the first stack needs its first
# block's projection, the second does not (it is passed from the network through Stack and Pair);
# "built": every stack needs it (Stack builds it from its own arguments)
STACKS = {"passed": [("sa", 32, 2), ("sb", 32, 1)], "built": [("sa", 32, 2), ("sb", 64, 2)]}


def _basic(projection: str) -> BlockDef:
    """conv-bn-relu-conv-bn (3x3, no bias) + shortcut ``downsample`` (projected where shapes differ), relu."""
    g = Graph()
    x = g.add("BlockInput", "input")
    body = g.chain(
        x,
        g.add("Conv2d", "conv1", out_channels="planes", stride="stride"),
        g.add("BatchNorm2d", "bn1"),
        g.add("ReLU", "relu1"),
        g.add("Conv2d", "conv2", out_channels="planes"),
        g.add("BatchNorm2d", "bn2"),
    )
    add = g.add("Add", "add")
    g.connect(body, add, 0)
    g.connect(x, add, 1, kind="shortcut", projection=projection, name="downsample")
    g.chain(add, g.add("ReLU", "relu2"), g.add("BlockOutput", "output"))
    return BlockDef("Basic", _params(), g)


def _params() -> dict[str, BlockParam]:
    return {"planes": BlockParam("int", 16), "stride": BlockParam("int", 1)}


def _two(block: str, first: str, second: str) -> BlockDef:
    """``first`` (planes, stride) then ``second`` (planes, stride 1), both instances of ``block``."""
    g = Graph()
    g.chain(
        g.add("BlockInput", "input"),
        g.add(f"block:{block}", first, planes="planes", stride="stride"),
        g.add(f"block:{block}", second, planes="planes"),
        g.add("BlockOutput", "output"),
    )
    name = {"Basic": "Pair", "Pair": "Stack"}[block]
    return BlockDef(name, _params(), g)


def _network(projection: str, stacks: list[tuple[str, int, int]], flat: bool) -> Project:
    """stem -> Pair "pa" (16, stride 1) -> one Stack per entry of ``stacks`` -> head. ``flat``: the Pairs'
    and Stacks' Basic blocks written into the network (``sa_p1_b1``), the only blocks left."""
    p = Project("nested" if not flat else "flat")
    p.add_block(_basic(projection))
    if not flat:
        p.add_block(_two("Basic", "b1", "b2"))
        p.add_block(_two("Pair", "p1", "p2"))
    g = p.graph
    x = g.chain(g.add("Input", "input", shape=[3, 16, 16]), g.add("Conv2d", "stem", out_channels=16))
    for name, kind, planes, stride in [("pa", "Pair", 16, 1)] + [(n, "Stack", c, s) for n, c, s in stacks]:
        if not flat:
            x = g.chain(x, g.add(f"block:{kind}", name, planes=planes, stride=stride))
            continue
        pairs = [(name, stride)] if kind == "Pair" else [(f"{name}_p1", stride), (f"{name}_p2", 1)]
        for pair, s in pairs:
            x = g.chain(x, g.add("block:Basic", f"{pair}_b1", planes=planes, stride=s))
            x = g.chain(x, g.add("block:Basic", f"{pair}_b2", planes=planes))
    g.chain(
        x,
        g.add("AdaptiveAvgPool2d", "pool", output_size=1),
        g.add("Flatten", "flatten"),
        g.add("Linear", "fc", out_features=10),
        g.add("Output", "output"),
    )
    return p


def _flat_key(key: str) -> str:
    return key.replace("_", ".")


@pytest.mark.parametrize("projection", ["conv_bn", "zero_pad"])
@pytest.mark.parametrize("case", sorted(STACKS))
def test_a_nested_per_instance_projection_is_passed_through_its_enclosing_blocks(case, projection, tmp_path):
    project = _network(projection, STACKS[case], flat=False)
    analysis = analyze(project)
    assert analysis.valid, [d.message for d in analysis.diagnostics]
    emitted = emit(project, analysis)
    src = emitted.source
    # Pair takes its first block's projection per instance, as a top-level block does
    assert "b1_downsample: nn.Module | None = None" in src and "downsample=b1_downsample" in src
    if case == "passed":  # Stack takes it too, and the network passes it for "sa" only
        assert "p1_b1_downsample: nn.Module | None = None" in src
        assert "b1_downsample=p1_b1_downsample" in src
        assert src.count("p1_b1_downsample=") == 1
    else:  # every Stack needs it: Stack builds it from its own arguments
        assert "p1_b1_downsample" not in src
        want = (
            "ZeroPadShortcut(in_channels, planes, stride=stride)"
            if projection == "zero_pad"
            else "nn.Conv2d(in_channels, planes, kernel_size=1, stride=stride, bias=False)"
        )
        assert want in src
    _check_against_torchinfo(f"nested-{case}-{projection}", project)
    # ruff-clean, as every generated module
    (tmp_path / "nested.py").write_text(src, encoding="utf-8")
    config = ["--config", str(ROOT / "pyproject.toml"), "--no-cache"]
    for cmd in (["check"], ["format", "--check", "--diff"]):
        args = [str(RUFF), *cmd, *config, str(tmp_path)]
        run = subprocess.run(args, check=False, capture_output=True, text=True)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-1000:]

    # the same network with the nesting written out: the same keys (state_dict paths kept: the
    # projection is assigned inside the nested block), the same outputs
    torch.manual_seed(0)
    model = build_module(project, analysis, emitted).eval()
    flat_project = _network(projection, STACKS[case], flat=True)
    flat = build_module(flat_project).eval()
    state = model.state_dict()
    if projection == "conv_bn":
        assert "sa.p1.b1.downsample.0.weight" in state and "sa.p1.b1.downsample.1.running_var" in state
        assert not any(".b2.downsample" in k or ".p2.b1.downsample" in k for k in state)
        assert ("sb.p1.b1.downsample.0.weight" in state) == (case == "built")
    by_flat = {_flat_key(k): k for k in flat.state_dict()}
    assert sorted(by_flat) == sorted(_flat_key(k) for k in state)
    flat.load_state_dict({by_flat[_flat_key(k)]: v for k, v in state.items()}, strict=True)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x), flat(x))
    assert analysis.total_params == analyze(flat_project).total_params


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_the_nested_projection_code_scripts():
    project = _network("conv_bn", STACKS["passed"], flat=False)
    model = build_module(project).eval()
    scripted = torch.jit.script(model)
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(scripted(x), model(x))


@pytest.mark.parametrize(
    ("stride", "want"),
    [
        ("s", "nn.Conv2d(in_channels, 16, kernel_size=1, stride=2, bias=False)"),
        # the shortcut's stride follows from no parameter of B: Outer writes the numbers its instance has
        ("s + 1", "nn.Conv2d(8, 16, kernel_size=1, stride=2, bias=False)"),
    ],
    ids=["expressions", "numbers"],
)
def test_an_enclosing_block_whose_instances_agree_builds_the_projection_itself(stride, want):
    """Block Outer holds two instances of B; B's conv_bn shortcut is needed in the first only (this was
    the analysis's nested_projection error). Outer's one instance needs it: Outer builds it."""
    body = Graph()
    x = body.add("BlockInput", "input")
    conv = body.add("Conv2d", "conv", out_channels="w", stride=stride)
    add = body.add("Add", "add")
    body.chain(x, conv)
    body.connect(conv, add, 0)
    body.connect(x, add, 1, kind="shortcut", projection="conv_bn", name="downsample")
    body.chain(add, body.add("BlockOutput", "output"))
    s = {"s": (2, 1), "s + 1": (1, 0)}[stride]
    outer = Graph()
    outer.chain(
        outer.add("BlockInput", "input"),
        outer.add("block:B", "b1", w=16, s=s[0]),
        outer.add("block:B", "b2", w=16, s=s[1]),
        outer.add("BlockOutput", "output"),
    )
    p = Project("t")
    p.add_block(BlockDef("B", {"w": BlockParam("int", 16), "s": BlockParam("int", 1)}, body))
    p.add_block(BlockDef("Outer", {}, outer))
    g = p.graph
    g.chain(g.add("Input", "input", shape=[8, 16, 16]), g.add("block:Outer", "outer"), g.add("Output", "out"))
    analysis = analyze(p)
    assert analysis.valid, [d.message for d in analysis.diagnostics]
    src = emit(p, analysis).source
    assert want in src and src.count("nn.Module | None") == 1  # B takes one, Outer none
    model = build_module(p, analysis)
    assert sum(t.numel() for t in model.parameters()) == analysis.total_params
    assert "outer.b1.downsample.0.weight" in model.state_dict()
    assert not any(k.startswith("outer.b2.downsample") for k in model.state_dict())
    assert tuple(model(torch.randn(1, 8, 16, 16)).shape[1:]) == analysis.output_shape


def _keys(project: Project) -> set[str]:
    with torch.device("meta"):
        return set(build_module(project).state_dict())


def test_a_dla_with_trees_in_trees_imports_and_its_export_imports_back_the_same():
    """The corpus's three-level binary DLA: a tree passes its first unit's projection on for two levels
    (BinaryTree2 takes ``first_first_shortcut``). The import checks itself (outputs, strict load); the
    exported code, with the arguments passed through, imports back to the same project."""
    from codegen.fx_import import import_module
    from tests.codegen.corpus.trees import binary_tree_net_deeper
    from tests.codegen.zoo import canonical

    torch.manual_seed(0)
    result = import_module(binary_tree_net_deeper().eval(), (3, 32, 32))
    assert result.check.max_diff <= result.check.tolerance and result.project.key_map == {}
    src = emit(result.project).source
    assert "first_first_shortcut: nn.Module | None = None" in src
    assert "trees.2.first.first.first.shortcut.0.weight" in _keys(result.project)
    rebuilt = build_module(result.project).eval()
    again = import_module(rebuilt, (3, 32, 32))
    assert canonical(again.project) == canonical(result.project)
