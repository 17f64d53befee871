"""Every one-click fix: apply it, re-analyze (the diagnostic is gone), revert (it is back, exactly)."""

from __future__ import annotations

import pytest

from graph.fixes import FixError, apply_fix, build_fix
from graph.model import BlockDef, BlockParam, Graph, Project, Stage
from graph.shapes import analyze
from tests.graph.builders import net


def residual(out_channels=16, stride=2, shortcut=True, projection="identity", block=False):
    """x -> conv(out, stride) -> Add(0); x -> Add(1) (a shortcut or a plain edge)."""
    g = Graph()
    if block:
        i = g.add("BlockInput", "input")
    else:
        i = g.add("Input", "input", shape=[8, 16, 16])
    c = g.add("Conv2d", "conv", out_channels=out_channels, stride=stride)
    add = g.add("Add", "add")
    o = g.add("BlockOutput" if block else "Output", "output")
    g.chain(i, c)
    g.connect(c, add, 0)
    g.connect(
        i,
        add,
        1,
        kind="shortcut" if shortcut else "data",
        projection=projection,
        name="downsample" if shortcut else None,
    )
    g.chain(add, o)
    return g


def in_block(body: Graph) -> Project:
    bdef = BlockDef("B", {"w": BlockParam("int", 16)}, body)
    p, _ = net("block:B", input=(8, 16, 16), blocks={"B": bdef})
    return p


def normal(project: Project) -> dict:
    """The project as data, ignoring edge order and empty UI maps (undo may re-append a removed edge)."""
    d = project.to_dict()
    for g in [d["graph"]] + [b["graph"] for b in d["blocks"].values()]:
        g["edges"].sort(key=lambda e: e["id"])
    d["ui"] = {k: v for k, v in d["ui"].items() if v}
    return d


def key(d):
    return (d.code, d.block, d.node, d.edge)


def broken_projects():
    cases = {}
    cases.update(_structure_cases())
    cases.update(_param_cases())
    cases.update(_edge_cases())
    cases.update(_editor_cases())
    cases.update(_stage_cases())
    cases.update(_block_cases())
    return cases


def _structure_cases() -> dict[str, Project]:
    """A cycle, a duplicate name, no output."""
    cases = {}
    p, nodes = net("ReLU", "ReLU", "ReLU")
    p.graph.connect(nodes[3], nodes[1], 0)
    cases["cycle"] = p
    p, nodes = net("ReLU", "ReLU")
    p.graph.set_node_field(nodes[2].id, "name", "l0")
    cases["duplicate_name"] = p
    p, nodes = net("ReLU")
    p.graph.remove_node(nodes[-1].id)
    cases["missing_output"] = p
    return cases


def _param_cases() -> dict[str, Project]:
    """Parameters out of range or that do not fit the input."""
    cases = {}
    cases["bad_param"] = net(("Conv2d", {"out_channels": -3}))[0]
    cases["unknown_param"] = net(("ReLU", {"colour": "red"}))[0]
    cases["groups"] = net(("Conv2d", {"out_channels": 12, "groups": 4}), input=(6, 8, 8))[0]
    cases["groupnorm"] = net(("GroupNorm", {"num_groups": 3}), input=(8, 4, 4))[0]
    cases["kernel_too_large_conv"] = net(
        ("Conv2d", {"out_channels": 4, "kernel_size": 7, "padding": 0}), input=(3, 5, 5)
    )[0]
    cases["kernel_too_large_pool"] = net(("MaxPool2d", {"kernel_size": 8}), input=(3, 5, 5))[0]
    cases["same_needs_stride_1"] = net(("Conv2d", {"out_channels": 4, "padding": "same", "stride": 2}))[0]
    cases["pool_padding"] = net(("MaxPool2d", {"kernel_size": 2, "padding": 2}))[0]
    cases["expects_vector"] = net(("Linear", {"out_features": 10}), input=(4, 3, 2))[0]
    cases["bad_slice"] = net(("ChannelSlice", {"start": 2, "stop": 10}), input=(8, 4, 4))[0]
    cases["channel_conv_needs_pool"] = net(("ChannelConv1d", {}), input=(8, 4, 4))[0]
    cases["channel_conv_even_kernel"] = net(("ChannelConv1d", {"kernel_size": 4}), input=(8, 1, 1))[0]
    cases["group_sum_groups"] = net(("GroupSum", {"groups": 3}), input=(8, 4, 4))[0]
    cases["radix_softmax_groups"] = net(("RadixSoftmax", {"cardinality": 3}), input=(8, 1, 1))[0]
    return cases


def _edge_cases() -> dict[str, Project]:
    """Merges and shortcuts whose inputs do not fit (in the network and in blocks)."""
    cases = {}
    g = residual(out_channels=8, stride=1, shortcut=False)
    g.set_param(next(n.id for n in g.nodes.values() if n.type == "Add"), "weights", "fixed")
    g.set_param(next(n.id for n in g.nodes.values() if n.type == "Add"), "weight_values", [0.5])
    cases["add_weights"] = Project("t", g)
    cases["shortcut_mismatch_identity"] = Project("t", residual())
    cases["data_edge_mismatch"] = Project("t", residual(shortcut=False))
    cases["zero_pad_cannot_remove"] = Project("t", residual(out_channels=4, stride=1, projection="zero_pad"))
    cases["bad_projection"] = Project("t", residual(out_channels=8, stride=1, projection="magic"))
    p, nodes = net("ReLU")
    p.graph.connect(nodes[0], nodes[1], 3)
    cases["extra_input"] = p
    p, nodes = net("ReLU")
    p.graph.connect(nodes[0], nodes[1], 0)
    cases["duplicate_input"] = p
    cases["in_block_shortcut"] = in_block(residual(block=True))
    body = residual(block=True, out_channels=8, stride=1)
    body.set_param(next(n.id for n in body.nodes.values() if n.type == "Conv2d"), "groups", 3)
    cases["in_block_groups"] = in_block(body)
    for merge, kernel in (("Add", 3), ("Concat", 5)):  # padding 0 / too small shrinks one branch
        g = Graph()
        i = g.add("Input", "input", shape=[16, 12, 12])
        c = g.add("Conv2d", "conv", out_channels=16, kernel_size=kernel, padding=0 if kernel == 3 else 1)
        bn = g.add("BatchNorm2d", "bn")
        m = g.add(merge, "merge")
        g.chain(i, c, bn)
        g.connect(bn, m, 0)
        g.connect(i, m, 1, kind="shortcut" if merge == "Add" else "data", name="sc")
        g.chain(m, g.add("Output", "output"))
        cases[f"padding_keeps_size_{merge}"] = Project("t", g)
    return cases


def _editor_cases() -> dict[str, Project]:
    """Odd states an editor user produces."""
    cases = {}
    p, nodes = net("ReLU", "ReLU")
    p.graph.set_node_field(nodes[1].id, "name", "")
    cases["no_name"] = p
    p, nodes = net("ReLU", "ReLU")
    edge = next(e for e in p.graph.edges.values() if e.dst == nodes[2].id)
    p.graph.set_edge_field(edge.id, "kind", "shortcut")
    p.graph.set_edge_field(edge.id, "projection", "conv_bn")
    cases["shortcut_into_non_merge"] = p
    cases["merge_edge_beyond_num_inputs"] = three_way_add(num_inputs=2)
    cases["num_inputs_below_edges"] = three_way_add(num_inputs=1)
    g = three_way_add(num_inputs=4).graph
    cases["merge_last_input_unconnected"] = Project("t", g)
    return cases


def _stage_cases() -> dict[str, Project]:
    """Stages that do not hold a run of nodes, or are badly named."""
    cases = {}
    p, nodes = net("ReLU", "ReLU")
    p.graph.set_stages([Stage("layer1", "index", [nodes[1].id, "n99"])])
    cases["stage_unknown_node"] = p
    p, nodes = net("ReLU", "ReLU")
    p.graph.set_stages([Stage("layer1", "index", [nodes[1].id]), Stage("layer2", "index", [])])
    cases["empty_stage"] = p
    p, nodes = net("ReLU", "ReLU", "ReLU")  # input, l0, l1, l2, output
    p.graph.set_stages([Stage("layer1", "index", [nodes[1].id, nodes[3].id])])
    cases["stage_skips_a_node"] = p
    p, nodes = net("ReLU", "ReLU")
    p.graph.set_stages([Stage("layer1", "index", [nodes[0].id, nodes[1].id])])
    cases["stage_holds_input"] = p
    g = three_way_add(num_inputs=3).graph
    g.set_stages([Stage("layer1", "index", [g.node_by_name("r2").id, g.node_by_name("add").id])])
    cases["stage_holds_a_merge"] = Project("t", g)
    p, nodes = net("ReLU", "ReLU", "ReLU")  # crossing stages (a stage inside another is fine)
    p.graph.set_stages(
        [
            Stage("layer1", "index", [nodes[1].id, nodes[2].id]),
            Stage("layer2", "index", [nodes[2].id, nodes[3].id]),
        ]
    )
    cases["node_in_two_stages"] = p
    for case, names in (
        ("duplicate_stage_name", ("layer1", "layer1")),
        ("stage_named_like_node", ("l1", "layer2")),
        ("stage_bad_name", ("layer 1", "layer2")),
    ):
        p, nodes = net("ReLU", "ReLU")
        p.graph.set_stages([Stage(names[0], "index", [nodes[1].id]), Stage(names[1], "index", [nodes[2].id])])
        cases[case] = p
    return cases


def _block_cases() -> dict[str, Project]:
    """Block definitions: a typo in an expression. (A projection that a nested block needs in one
    instance only is no longer an error: tests/codegen/test_nested_projections.py.)"""
    cases = {}
    body = residual(block=True, out_channels=8, stride=1)
    body.set_param(next(n.id for n in body.nodes.values() if n.type == "Conv2d"), "out_channels", "widht")
    bdef = BlockDef("B", {"width": BlockParam("int", 8)}, body)
    cases["expression_typo"] = net("block:B", input=(8, 16, 16), blocks={"B": bdef})[0]
    return cases


def three_way_add(num_inputs: int) -> Project:
    """Three ReLUs into one Add whose num_inputs is ``num_inputs``."""
    g = Graph()
    i = g.add("Input", "input", shape=[4, 8, 8])
    add = g.add("Add", "add", num_inputs=num_inputs)
    for k in range(3):
        g.connect(i, g.add("ReLU", f"r{k}"))
        g.connect(g.node_by_name(f"r{k}"), add, k)
    g.chain(add, g.add("Output", "output"))
    return Project("t", g)


CASES = broken_projects()
FIX_CASES = [
    (name, i, j)
    for name, p in CASES.items()
    for i, d in enumerate(analyze(p).diagnostics)
    for j, _ in enumerate(d.fixes)
]


def test_every_case_offers_a_fix():
    with_fixes = {name for name, _, _ in FIX_CASES}
    assert with_fixes == set(CASES)


def test_every_fix_op_is_exercised():
    ops = set()
    for name, i, j in FIX_CASES:
        ops.add(analyze(CASES[name]).diagnostics[i].fixes[j].action.op)
    assert ops == {
        "set_param",
        "set_edge",
        "remove_edge",
        "rename",
        "insert_before",
        "insert_projection",
        "make_shortcut",
        "add_output",
        "stage_remove",
        "stage_truncate",
        "stage_rename",
    }


@pytest.mark.parametrize("name,i,j", FIX_CASES, ids=[f"{n}-{i}-{j}" for n, i, j in FIX_CASES])
def test_fix_applies_and_reverts(name, i, j):
    project = broken_projects()[name]
    before = normal(project)
    diag = analyze(project).diagnostics[i]
    fix = diag.fixes[j]
    edit = apply_fix(project, fix.action)
    after = analyze(project)
    assert key(diag) not in {key(d) for d in after.diagnostics}, (
        fix.label,
        [d.message for d in after.diagnostics],
    )
    # the fix addressed the problem without introducing errors elsewhere
    assert len(after.errors) < len(analyze(broken_projects()[name]).errors) or not after.errors, [
        d.message for d in after.errors
    ]
    edit.revert(project)
    assert normal(project) == before
    assert key(diag) in {key(d) for d in analyze(project).diagnostics}


def test_full_fix_of_a_downsampling_shortcut():
    p = Project("t", residual())
    d = analyze(p).errors[0]
    conv_bn = next(f for f in d.fixes if f.action.to_dict().get("value") == "conv_bn")
    apply_fix(p, conv_bn.action)
    a = analyze(p)
    assert a.valid
    (sc,) = a.root.shortcuts.values()
    assert (sc.applied, sc.stride, sc.num_params) == ("conv_bn", 2, 8 * 16 + 32)


def test_insert_projection_makes_valid_network():
    p = Project("t", residual(shortcut=False))
    d = analyze(p).errors[0]
    f = next(f for f in d.fixes if f.action.op == "insert_projection")
    apply_fix(p, f.action)
    a = analyze(p)
    assert a.valid, [x.message for x in a.diagnostics]
    assert {n.name for n in p.graph.nodes.values()} >= {"proj_conv", "proj_bn"}


def test_stale_fix_is_refused():
    p = Project("t", residual())
    d = analyze(p).errors[0]
    p.graph.remove_edge(d.edge)
    with pytest.raises(FixError, match="no longer exists"):
        build_fix(p, d.fixes[0].action)
    with pytest.raises(FixError, match="unknown fix op"):
        build_fix(p, {"op": "explode"})
    with pytest.raises(FixError, match="unknown block"):
        build_fix(p, {"op": "remove_edge", "block": "Ghost", "edge": "e1"})


def test_undo_of_removals_restores_edge_order():
    from graph import edits as E
    from graph.templates import make

    project = make("resnet20")
    before = project.to_dict()
    g = project.graph
    node_id = list(g.nodes)[3]
    edge_id = list(g.edges)[1]
    for edit in (E.RemoveNode(None, node_id), E.RemoveEdge(None, edge_id)):
        edit.apply(project)
        edit.revert(project)
        assert project.to_dict() == before


def test_fix_actions_are_typed_and_their_data_form_reads_back():
    """validate --json prints each action's data form; reading it back gives the same action, and a
    shape rule's fix lists its own fields before where it applies, as it always has."""
    from graph.fixes import ACTIONS, FixAction, action_from_dict

    assert len(ACTIONS) == 11
    for name, i, j in FIX_CASES:
        action = analyze(CASES[name]).diagnostics[i].fixes[j].action
        assert isinstance(action, FixAction) and type(action) is ACTIONS[action.op]
        data = action.to_dict()
        assert next(iter(data)) == "op" and action_from_dict(data) == action
        if action.op == "insert_before":  # declared by a shape rule, bound to its node afterwards
            assert list(data) == ["op", "type", "block", "node"]
    with pytest.raises(FixError, match="has no field 'colour'"):
        action_from_dict({"op": "rename", "node": "n1", "value": "x", "colour": "red"})
