"""Shape rules of every layer type and every diagnostic code that graph.shapes can produce."""

from __future__ import annotations

import pytest

from graph import registry
from graph.model import BlockDef, BlockParam, Graph, Project
from graph.registry import ShapeError
from graph.shapes import analyze
from tests.graph.builders import net


def shape_after(*layers, input=(3, 32, 32)):
    p, nodes = net(*layers, input=input)
    a = analyze(p)
    assert a.valid, [d.message for d in a.diagnostics]
    return a.shape_of(nodes[-2].id)


def codes(project, severity="error"):
    return {d.code for d in analyze(project).diagnostics if d.severity == severity}


def merge_net(
    merge, shapes_params, merge_params=None, shortcut_ports=(), projection="identity", input=(8, 16, 16)
):
    """Input feeds one Conv2d per merge input (params given), all into ``merge``, then Output."""
    g = Graph()
    i = g.add("Input", "input", shape=list(input))
    m = g.add(merge, "merge", **(merge_params or {}))
    for port, params in enumerate(shapes_params):
        if params is None:  # straight from the input
            src = i
        else:
            src = g.add("Conv2d", f"c{port}", **params)
            g.connect(i, src)
        if port in shortcut_ports:
            g.connect(src, m, port, kind="shortcut", projection=projection)
        else:
            g.connect(src, m, port)
    o = g.add("Output", "output")
    g.connect(m, o)
    return Project("t", g), m


# ------------------------------------------------------------------ layer shape rules
@pytest.mark.parametrize(
    "params,input,expected",
    [
        ({"out_channels": 16}, (3, 32, 32), (16, 32, 32)),
        ({"out_channels": 16, "kernel_size": 3, "stride": 2, "padding": 1}, (3, 32, 32), (16, 16, 16)),
        ({"out_channels": 64, "kernel_size": 7, "stride": 2, "padding": 3}, (3, 224, 224), (64, 112, 112)),
        ({"out_channels": 8, "kernel_size": 1, "padding": 0}, (4, 5, 7), (8, 5, 7)),
        ({"out_channels": 8, "kernel_size": 3, "padding": 0}, (4, 5, 7), (8, 3, 5)),
        ({"out_channels": 8, "kernel_size": 3, "padding": 2, "dilation": 2}, (4, 9, 9), (8, 9, 9)),
        ({"out_channels": 8, "kernel_size": 3, "padding": 0, "dilation": 3}, (4, 9, 9), (8, 3, 3)),
        ({"out_channels": 8, "kernel_size": 5, "padding": "same"}, (4, 9, 11), (8, 9, 11)),
        ({"out_channels": 8, "kernel_size": 3, "padding": "same", "dilation": 2}, (4, 9, 11), (8, 9, 11)),
        ({"out_channels": 8, "kernel_size": 3, "padding": "valid"}, (4, 9, 11), (8, 7, 9)),
        ({"out_channels": 32, "groups": 4}, (8, 8, 8), (32, 8, 8)),
        ({"out_channels": 8, "groups": 8}, (8, 8, 8), (8, 8, 8)),
        ({"out_channels": 8, "kernel_size": 3, "stride": 3, "padding": 0}, (1, 10, 10), (8, 3, 3)),
        # height x width (Inception's 1x7 and 7x1 convolutions)
        ({"out_channels": 8, "kernel_size": [1, 7], "padding": [0, 3]}, (4, 17, 17), (8, 17, 17)),
        ({"out_channels": 8, "kernel_size": [7, 1], "padding": [3, 0]}, (4, 17, 17), (8, 17, 17)),
        ({"out_channels": 8, "kernel_size": [1, 7], "padding": 0}, (4, 17, 17), (8, 17, 11)),
        ({"out_channels": 8, "kernel_size": [3, 5], "padding": "same"}, (4, 9, 11), (8, 9, 11)),
        ({"out_channels": 8, "kernel_size": 3, "stride": [1, 2], "padding": 1}, (4, 9, 11), (8, 9, 6)),
        ({"out_channels": 8, "kernel_size": 3, "padding": [2, 1], "dilation": [2, 1]}, (4, 9, 9), (8, 9, 9)),
        (
            {"out_channels": 8, "kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1]},
            (4, 9, 9),
            (8, 5, 5),
        ),
    ],
)
def test_conv2d(params, input, expected):
    assert shape_after(("Conv2d", params), input=input) == expected


def test_conv2d_param_count_and_macs():
    p, nodes = net(("Conv2d", {"out_channels": 32, "groups": 4, "bias": True}), input=(8, 8, 8))
    info = analyze(p).root.nodes[nodes[1].id]
    assert info.num_params == 32 * 2 * 9 + 32
    assert info.macs == 32 * 8 * 8 * 2 * 9


def test_conv2d_height_by_width_counts_and_summary():
    p, nodes = net(
        ("Conv2d", {"out_channels": 16, "kernel_size": [1, 7], "padding": [0, 3], "bias": True}),
        ("Conv2d", {"out_channels": 8, "kernel_size": [7, 1], "padding": [3, 0]}),
        input=(4, 17, 17),
    )
    a = analyze(p)
    assert a.valid
    one, two = a.root.nodes[nodes[1].id], a.root.nodes[nodes[2].id]
    assert one.params["kernel_size"] == (1, 7) and one.params["padding"] == (0, 3)
    assert one.num_params == 16 * 4 * 7 + 16 and two.num_params == 8 * 16 * 7
    assert one.macs == 16 * 17 * 17 * 4 * 7 and two.macs == 8 * 17 * 17 * 16 * 7
    from graph.summary import summarize

    rows = {r["name"]: r for r in summarize(a)["layers"]}
    assert rows["l0"]["params"] == 16 * 4 * 7 + 16 and rows["l1"]["macs"] == two.macs
    assert summarize(a)["total_params"] == one.num_params + two.num_params


def test_an_equal_pair_is_the_number():
    square, nodes = net(("Conv2d", {"out_channels": 8, "kernel_size": [3, 3], "padding": [1, 1]}))
    info = analyze(square).root.nodes[nodes[1].id]
    assert info.params["kernel_size"] == 3 and info.params["padding"] == 1
    plain, plain_nodes = net(("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}))
    assert info.num_params == analyze(plain).root.nodes[plain_nodes[1].id].num_params


@pytest.mark.parametrize(
    "params,message",
    [
        ({"kernel_size": [1, 7, 3]}, "pair of them such as 1x7"),
        ({"kernel_size": [1, "k"]}, "pair of them such as 1x7"),
        ({"kernel_size": [1, True]}, "pair of them such as 1x7"),
        ({"kernel_size": [1, 40]}, "kernel_size must be at most 31, got 40"),
        ({"padding": [0, -1]}, "padding must be at least 0, got -1"),
        ({"stride": [0, 2]}, "stride must be at least 1"),
        (
            {"padding": "same", "kernel_size": [3, 4]},
            "padding 'same' needs an odd kernel; kernel_size is 3x4",
        ),
    ],
)
def test_bad_height_by_width_values(params, message):
    p, _ = net(("Conv2d", {"out_channels": 8, **params}))
    errs = analyze(p).errors
    assert [d.code for d in errs] == ["bad_param"]
    assert message in errs[0].message


def test_height_by_width_fixes_keep_the_size():
    # 'same' with a stride: the fix sets the padding 'same' stands for, height x width
    p, _ = net(("Conv2d", {"out_channels": 8, "kernel_size": [1, 7], "padding": "same", "stride": 2}))
    (d,) = analyze(p).errors
    assert d.fixes[0].action.value == (0, 3) and d.fixes[0].label == "Set padding to 0x3"
    # a 7x1 kernel larger than its input: the keep-size padding is 3x0
    p, _ = net(("Conv2d", {"out_channels": 8, "kernel_size": [7, 1], "padding": 0}), input=(3, 5, 5))
    (d,) = analyze(p).errors
    assert d.code == "kernel_too_large" and "kernel 7x1 is larger than its padded input 5x5" in d.message
    assert d.fixes[0].action.value == (3, 0)
    d.fixes[0].action.build(p).apply(p)
    assert analyze(p).valid and analyze(p).root.nodes[p.graph.node_by_name("l0").id].out_shape == (8, 5, 5)


@pytest.mark.parametrize(
    "t,params,input,expected",
    [
        ("MaxPool2d", {"kernel_size": 2}, (4, 32, 32), (4, 16, 16)),
        ("MaxPool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, (64, 112, 112), (64, 56, 56)),
        ("MaxPool2d", {"kernel_size": 2}, (4, 7, 7), (4, 3, 3)),
        ("MaxPool2d", {"kernel_size": 2, "ceil_mode": True}, (4, 7, 7), (4, 4, 4)),
        ("MaxPool2d", {"kernel_size": 3, "stride": 2, "ceil_mode": True}, (4, 8, 8), (4, 4, 4)),
        ("MaxPool2d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, (4, 8, 8), (4, 5, 5)),
        ("MaxPool2d", {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}, (4, 5, 5), (4, 3, 3)),
        ("AvgPool2d", {"kernel_size": 2, "stride": 1}, (4, 5, 6), (4, 4, 5)),
        ("AvgPool2d", {"kernel_size": 8}, (64, 8, 8), (64, 1, 1)),
        ("AdaptiveAvgPool2d", {"output_size": 1}, (64, 7, 9), (64, 1, 1)),
        ("AdaptiveAvgPool2d", {"output_size": 4}, (64, 7, 9), (64, 4, 4)),
    ],
)
def test_pools(t, params, input, expected):
    assert shape_after((t, params), input=input) == expected


@pytest.mark.parametrize(
    "t",
    [
        "BatchNorm2d",
        "InstanceNorm2d",
        "LayerNorm2d",
        "LayerNorm",
        "ReLU",
        "LeakyReLU",
        "GELU",
        "SiLU",
        "Mish",
        "Sigmoid",
        "Tanh",
        "ReLU6",
        "Hardswish",
        "Hardsigmoid",
        "Dropout",
        "DropPath",
        "Identity",
    ],
)
def test_shape_preserving(t):
    assert shape_after(t, input=(6, 5, 4)) == (6, 5, 4)


def test_instance_norm_needs_more_than_one_position():
    p, _ = net("InstanceNorm2d", input=(6, 1, 1))
    (d,) = analyze(p).errors
    assert d.code == "too_small" and "6x1x1" in d.message
    assert shape_after("InstanceNorm2d", input=(6, 1, 2)) == (6, 1, 2)


def test_norm_param_counts():
    p, nodes = net(
        "BatchNorm2d", ("GroupNorm", {"num_groups": 2}), "LayerNorm", "InstanceNorm2d", input=(6, 5, 4)
    )
    a = analyze(p)
    assert [a.root.nodes[n.id].num_params for n in nodes[1:-1]] == [12, 12, 2 * 120, 0]


def test_groupnorm_divisibility():
    assert shape_after(("GroupNorm", {"num_groups": 4}), input=(8, 4, 4)) == (8, 4, 4)
    p, _nodes = net(("GroupNorm", {"num_groups": 3}), input=(8, 4, 4))
    d = next(d for d in analyze(p).errors)
    assert d.code == "groups" and "num_groups 3 does not divide the 8 input channels" in d.message
    assert d.fixes[0].action.value == 2


def test_flatten_linear():
    assert shape_after("Flatten", input=(4, 3, 2)) == (24,)
    assert shape_after("Flatten", ("Linear", {"out_features": 7}), input=(4, 3, 2)) == (7,)
    p, nodes = net("Flatten", ("Linear", {"out_features": 7}), input=(4, 3, 2))
    assert analyze(p).root.nodes[nodes[2].id].num_params == 24 * 7 + 7
    assert shape_after(("Linear", {"out_features": 3, "bias": False}), input=(5,)) == (3,)


def test_linear_on_image_needs_flatten():
    p, _ = net(("Linear", {"out_features": 10}), input=(4, 3, 2))
    (d,) = analyze(p).errors
    assert d.code == "expects_vector"
    assert d.fixes[0].action.op == "insert_before"


def test_conv_on_vector_expects_image():
    p, _ = net(("Conv2d", {"out_channels": 4}), input=(12,))
    assert codes(p) == {"expects_image"}


def test_channel_slice():
    assert shape_after(("ChannelSlice", {"start": 2, "stop": 6}), input=(8, 4, 4)) == (4, 4, 4)
    assert shape_after(("ChannelSlice", {"start": 2}), input=(8, 4, 4)) == (6, 4, 4)
    assert shape_after(("ChannelSlice", {"start": 0, "stop": -3}), input=(8, 4, 4)) == (5, 4, 4)
    p, _ = net(("ChannelSlice", {"start": 2, "stop": 10}), input=(8, 4, 4))
    assert codes(p) == {"bad_slice"}


def test_channel_shuffle_needs_channels_that_split_into_its_groups():
    assert shape_after(("ChannelShuffle", {"groups": 4}), input=(8, 3, 3)) == (8, 3, 3)
    p, _ = net(("ChannelShuffle", {"groups": 3}), input=(8, 3, 3))
    (d,) = analyze(p).errors
    assert d.code == "bad_param" and "8 channels do not split into 3 groups" in d.message
    assert d.fixes[0].action.value == 2
    p, _ = net(("ChannelShuffle", {"groups": 2}), input=(8,))
    assert codes(p) == {"expects_image"}


# ------------------------------------------------------------------ merges
def test_add_equal_shapes_and_mismatch():
    p, m = merge_net("Add", [{"out_channels": 8}, None])
    assert analyze(p).shape_of(m.id) == (8, 16, 16)
    p, m = merge_net("Add", [{"out_channels": 8}, {"out_channels": 4}])
    (d,) = analyze(p).errors
    assert d.code == "shape_mismatch" and '"c1"' in d.message and "4x16x16" in d.message
    assert {f.action.op for f in d.fixes} == {"make_shortcut", "insert_projection"}


def test_add_three_inputs_and_weights():
    p, m = merge_net(
        "Add", [None, None, None], {"num_inputs": 3, "weights": "learnable", "weight_values": [1.0, 1.0, 1.0]}
    )
    a = analyze(p)
    assert a.valid and a.root.nodes[m.id].num_params == 3
    p, m = merge_net("Add", [None, None], {"weights": "fixed", "weight_values": [1.0]})
    (d,) = analyze(p).errors
    assert d.code == "bad_param" and d.fixes[0].action.value == [1.0, 1.0]


def test_concat():
    p, m = merge_net("Concat", [{"out_channels": 8}, {"out_channels": 4}, None], {"num_inputs": 3})
    assert analyze(p).shape_of(m.id) == (20, 16, 16)
    p, m = merge_net("Concat", [{"out_channels": 8, "stride": 2}, None])
    (d,) = analyze(p).errors
    assert d.code == "concat_mismatch" and "all but the channel size must match" in d.message
    assert d.edge is not None


@pytest.mark.parametrize(
    "a,b,expected",
    [
        ((8, 4, 4), (8, 1, 1), (8, 4, 4)),
        ((8, 1, 1), (8, 4, 4), (8, 4, 4)),
        ((8, 4, 4), (1, 4, 4), (8, 4, 4)),
        ((8, 4, 4), (4, 4), None),  # different ranks: with the batch in front, torch would misalign them
        ((8, 4, 4), (8,), None),
        ((8, 4, 4), (8, 3, 4), None),
    ],
)
def test_multiply_broadcasting(a, b, expected):
    from graph.layers import _broadcast
    from graph.registry import ShapeError

    if expected is None:
        with pytest.raises(ShapeError):
            _broadcast([a, b])
    else:
        assert _broadcast([a, b]) == expected


def test_multiply_squeeze_excitation():
    g = Graph()
    i = g.add("Input", "input", shape=[8, 6, 6])
    pool = g.add("AdaptiveAvgPool2d", "pool")
    fc = g.add("Conv2d", "fc", out_channels=8, kernel_size=1, padding=0)
    sig = g.add("Sigmoid", "sig")
    mul = g.add("Multiply", "mul")
    o = g.add("Output", "output")
    g.chain(i, pool, fc, sig)
    g.connect(i, mul, 0)
    g.connect(sig, mul, 1)
    g.chain(mul, o)
    a = analyze(Project("se", g))
    assert a.valid and a.shape_of(mul.id) == (8, 6, 6)
    g.set_param(fc.id, "out_channels", 3)
    assert codes(Project("se", g)) == {"shape_mismatch"}


def test_gate():
    p, m = merge_net("Gate", [{"out_channels": 8}, {"out_channels": 8}, None])
    assert analyze(p).shape_of(m.id) == (8, 16, 16)
    p, m = merge_net(
        "Gate", [{"out_channels": 8}, {"out_channels": 8, "kernel_size": 16, "padding": 0}, None]
    )
    assert analyze(p).valid  # t of 8x1x1 broadcasts
    p, m = merge_net("Gate", [{"out_channels": 4}, {"out_channels": 4}, None])
    (d,) = analyze(p).errors
    assert d.code == "shape_mismatch" and "input 3" in d.message
    p, m = merge_net("Gate", [{"out_channels": 8}, {"out_channels": 3}, None])
    (d,) = analyze(p).errors
    assert d.code == "shape_mismatch" and "input 2" in d.message and "3x16x16" in d.message


# ------------------------------------------------------------------ shortcuts
@pytest.mark.parametrize(
    "projection,valid,applied,params",
    [
        ("identity", False, None, 0),
        ("zero_pad", True, "zero_pad", 0),
        ("conv_bn", True, "conv_bn", 8 * 16 + 2 * 16),
        ("conv_bn_always", True, "conv_bn", 8 * 16 + 2 * 16),
    ],
)
def test_shortcut_projection(projection, valid, applied, params):
    p, _m = merge_net(
        "Add", [{"out_channels": 16, "stride": 2}, None], shortcut_ports=(1,), projection=projection
    )
    a = analyze(p)
    assert a.valid == valid
    if valid:
        (sc,) = a.root.shortcuts.values()
        assert (sc.applied, sc.num_params, sc.out_shape) == (applied, params, (16, 8, 8))
        assert sc.stride == 2
    else:
        (d,) = a.errors
        assert d.code == "shape_mismatch" and "shortcut" in d.message
        assert {f.action.value for f in d.fixes} == {"conv_bn", "zero_pad"}


def test_conv_bn_always_projects_equal_shapes():
    p, _m = merge_net("Add", [{"out_channels": 8}, None], shortcut_ports=(1,), projection="conv_bn_always")
    (sc,) = analyze(p).root.shortcuts.values()
    assert sc.applied == "conv_bn" and sc.num_params == 8 * 8 + 16


def test_zero_pad_cannot_remove_channels():
    p, _m = merge_net("Add", [{"out_channels": 4}, None], shortcut_ports=(1,), projection="zero_pad")
    (d,) = analyze(p).errors
    assert d.code == "shortcut_mismatch" and "only add channels" in d.message
    assert [f.action.value for f in d.fixes] == ["conv_bn"]


def test_shortcut_that_cannot_meet():
    # 16x16 -> 5x5: no stride of a 1x1 conv gives it
    p, _m = merge_net(
        "Add",
        [{"out_channels": 8, "kernel_size": 4, "stride": 3, "padding": 0}, None],
        shortcut_ports=(1,),
        projection="conv_bn",
    )
    (d,) = analyze(p).errors
    assert d.code == "shortcut_mismatch" and "no 1x1 convolution stride" in d.message


def test_bad_projection_value():
    p, _m = merge_net("Add", [{"out_channels": 8}, None], shortcut_ports=(1,), projection="magic")
    (d,) = analyze(p).errors
    assert d.code == "bad_projection" and d.fixes[0].action.value == "identity"


# ------------------------------------------------------------------ structural diagnostics
def test_cycle():
    p, nodes = net("ReLU", "ReLU", "ReLU")
    p.graph.connect(nodes[3], nodes[1], 0)
    a = analyze(p)
    d = next(d for d in a.errors if d.code == "cycle")
    assert d.fixes and d.fixes[0].action.op == "remove_edge"


def test_unconnected_input():
    p, nodes = net("ReLU")
    p.graph.remove_edge(p.graph.in_edges(nodes[1].id)[0].id)
    assert "unconnected_input" in codes(p)
    p, m = merge_net("Add", [None, None])
    p.graph.remove_edge(p.graph.in_edges(m.id)[1].id)
    d = next(d for d in analyze(p).errors if d.code == "unconnected_input")
    assert "input 2 is not connected" in d.message


def test_missing_input_and_output():
    g = Graph()
    r = g.add("ReLU", "relu")
    assert {"missing_input", "missing_output"} <= codes(Project("t", g))
    d = next(d for d in analyze(Project("t", g)).errors if d.code == "missing_output")
    assert d.fixes[0].action.to_dict() == {"op": "add_output", "block": None, "node": r.id}


def test_multiple_input_output():
    p, _nodes = net("ReLU")
    p.graph.add("Input", "input2", shape=[3, 32, 32])
    p.graph.add("Output", "output2")
    assert {"multiple_input", "multiple_output"} <= codes(p)


def test_misplaced_nodes():
    p, _nodes = net("ReLU")
    p.graph.add("BlockInput", "bi")
    assert "misplaced_node" in codes(p)


def test_wrong_arity_extra_and_duplicate_input():
    p, nodes = net("ReLU")
    p.graph.connect(nodes[0], nodes[1], 1)
    assert "extra_input" in codes(p)
    p, nodes = net("ReLU")
    p.graph.connect(nodes[0], nodes[1], 0)
    assert "duplicate_input" in codes(p)


def test_kernel_larger_than_input():
    p, _ = net(("Conv2d", {"out_channels": 4, "kernel_size": 7, "padding": 0}), input=(3, 5, 5))
    (d,) = analyze(p).errors
    assert d.code == "kernel_too_large" and d.fixes[0].action.value == 3
    p, _ = net(("MaxPool2d", {"kernel_size": 8}), input=(3, 5, 5))
    assert codes(p) == {"kernel_too_large"}


def test_zero_size():
    """A size that would reach zero is reported at the node that shrinks it, naming the sizes.

    The shape rules catch it first as kernel_too_large (the window does not fit); the
    generic zero_size check after every rule is a safety net no built-in layer reaches.
    """
    p, nodes = net(
        ("Conv2d", {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}),
        ("MaxPool2d", {"kernel_size": 2}),
        ("MaxPool2d", {"kernel_size": 2}),
        input=(3, 4, 4),
    )
    (d,) = analyze(p).errors
    assert d.code == "kernel_too_large" and d.node == nodes[3].id and "larger than its input 1x1" in d.message


def test_groups_not_dividing_channels():
    p, _ = net(("Conv2d", {"out_channels": 12, "groups": 4}), input=(6, 8, 8))
    (d,) = analyze(p).errors
    assert d.code == "groups" and "in_channels 6" in d.message and d.fixes[0].action.value == 3


@pytest.mark.parametrize(
    "params,message",
    [
        ({"out_channels": -4}, "out_channels must be at least 1"),
        ({"out_channels": 10**9}, "out_channels must be at most"),
        ({"out_channels": "sixteen"}, "only allowed inside a block"),
        ({"out_channels": 3.5}, "whole number"),
        ({"bias": "yes"}, "bias must be true or false"),
        ({"init": "xavier"}, "init must be one of"),
        ({"padding": "full"}, "padding"),
        ({"kernel_size": 0}, "kernel_size must be at least 1"),
        ({"bias_init": float("inf")}, "finite"),
        ({"padding": "same", "stride": 2}, "padding 'same' needs stride 1"),
        ({"padding": "same", "kernel_size": 4}, "odd kernel"),
    ],
)
def test_bad_param_values(params, message):
    p, _ = net(("Conv2d", {"out_channels": 8, **params}))
    errs = analyze(p).errors
    assert [d.code for d in errs] == ["bad_param"]
    assert message in errs[0].message


def test_bad_input_shape_param():
    for shape in ([3, 0, 32], [3, 32, 32, 32], "3x32x32", [3, 32.5, 32]):
        p, _ = net("ReLU", input=(3, 32, 32))
        p.graph.set_param(p.graph.nodes_of_type("Input")[0].id, "shape", shape)
        assert "bad_param" in codes(p), shape


def test_unknown_param_is_warning_with_fix():
    p, _nodes = net(("ReLU", {"colour": 1}))
    (d,) = analyze(p).diagnostics
    assert (d.severity, d.code) == ("warning", "unknown_param") and d.fixes[0].action.value is None


def test_unknown_type_and_block():
    p, _ = net("Conv9d")
    assert codes(p) == {"unknown_type"}
    p, _ = net("block:Nope")
    assert codes(p) == {"unknown_block"}


def test_duplicate_and_empty_names():
    p, nodes = net("ReLU", "ReLU")
    p.graph.set_node_field(nodes[2].id, "name", "l0")
    d = next(d for d in analyze(p).errors if d.code == "duplicate_name")
    assert d.fixes[0].action.op == "rename"
    p.graph.set_node_field(nodes[2].id, "name", "")
    assert "bad_name" in codes(p)


def test_bad_stage():
    p, nodes = net("ReLU")
    from graph.model import Stage

    p.graph.stages = [Stage("layer1", "index", [nodes[1].id, "ghost"])]
    assert "bad_stage" in codes(p)


def test_unused_node_warning():
    p, nodes = net("ReLU")
    extra = p.graph.add("ReLU", "dangling")
    p.graph.connect(nodes[0], extra)
    assert "unused_node" in codes(p, "warning")


# ------------------------------------------------------------------ blocks
def block(name="B", params=None, inner=None, out_channels_expr="out_channels * 2"):
    body = Graph()
    bi = body.add("BlockInput", "input")
    c = body.add(inner or "Conv2d", "conv", **({"out_channels": out_channels_expr} if inner is None else {}))
    bo = body.add("BlockOutput", "output")
    body.chain(bi, c, bo)
    return BlockDef(name, params if params is not None else {"out_channels": BlockParam("int", 4)}, body)


def test_block_instance_expressions():
    p, nodes = net(("block:B", {"out_channels": 5}), input=(3, 8, 8), blocks={"B": block()})
    a = analyze(p)
    assert a.valid and a.shape_of(nodes[1].id) == (10, 8, 8)
    assert [layer.path for layer in a.layers()] == ["l0", "l0.conv"]


def test_in_channels_expression():
    p, nodes = net("block:B", input=(6, 8, 8), blocks={"B": block(out_channels_expr="in_channels // 2")})
    assert analyze(p).shape_of(nodes[1].id) == (3, 8, 8)


def test_expression_naming_unknown_block_param():
    p, _nodes = net("block:B", input=(6, 8, 8), blocks={"B": block(out_channels_expr="width * 2")})
    errs = analyze(p).errors
    assert "bad_param" in {d.code for d in errs}
    d = next(d for d in errs if d.code == "bad_param")
    assert "unknown name 'width'" in d.message and d.block == "B"


def test_recursive_block():
    b = block(inner="block:B")
    p, _nodes = net("block:B", blocks={"B": b})
    assert "recursive_block" in codes(p)


def test_mutually_recursive_blocks():
    p, _nodes = net(
        "block:A", blocks={"A": block("A", {}, inner="block:B"), "B": block("B", {}, inner="block:A")}
    )
    d = next(d for d in analyze(p).errors if d.code == "recursive_block")
    assert "A -> B -> A" in d.message


def test_block_body_structure():
    b = block()
    b.graph.add("BlockInput", "input2")
    p, _ = net("block:B", blocks={"B": b})
    assert "block_blockinput" in codes(p)
    b = block()
    b.graph.remove_node(b.graph.nodes_of_type("BlockOutput")[0].id)
    p, _ = net("block:B", blocks={"B": b})
    assert {"block_blockoutput"} <= codes(p)
    b = block()
    b.graph.add("Input", "inp", shape=[3, 3, 3])
    p, _ = net("block:B", blocks={"B": b})
    assert "misplaced_node" in codes(p)


def test_block_failed_without_output():
    b = block()
    bo = b.graph.nodes_of_type("BlockOutput")[0]
    b.graph.remove_edge(b.graph.in_edges(bo.id)[0].id)
    p, _ = net("block:B", blocks={"B": b})
    assert "unconnected_input" in codes(p)


def test_unused_block_definition_is_still_checked():
    b = block()
    b.graph.add("BlockInput", "input2")
    p, _ = net("ReLU", blocks={"B": b})
    assert "block_blockinput" in codes(p)


def test_every_layer_type_has_a_shape_test():
    tested = {
        "Input",
        "Output",
        "BlockInput",
        "BlockOutput",
        "Conv2d",
        "BatchNorm2d",
        "GroupNorm",
        "LayerNorm",
        "LayerNorm2d",
        "InstanceNorm2d",
        "ReLU",
        "LeakyReLU",
        "GELU",
        "SiLU",
        "Mish",
        "Sigmoid",
        "Tanh",
        "ReLU6",
        "Hardswish",
        "Hardsigmoid",
        "DropPath",
        "ChannelShuffle",
        "MaxPool2d",
        "AvgPool2d",
        "AdaptiveAvgPool2d",
        "Flatten",
        "Linear",
        "Dropout",
        "Identity",
        "Add",
        "Concat",
        "Multiply",
        "Gate",
        "ChannelSlice",
        "Permute",
        "LayerScale",
        "ChannelConv1d",
        "GroupSum",
        "RadixSoftmax",
        "Dropout1d",
        "Dropout2d",
        "Dropout3d",
        "AlphaDropout",
        "ChannelPad",
        "Unflatten",
    }
    missing = {t.name for t in registry.all_types()} - tested
    assert not missing, f"layer types without a shape test: {missing}"


def test_dropout_family_channel_pad_and_unflatten_shapes():
    """Issue 22's types: channel dropouts keep their input and need its number of axes; ChannelPad
    subsamples and adds channels on both sides; Unflatten makes a vector a Cx1x1 image."""
    for name, good, bad in (
        ("Dropout1d", (4, 9), (4, 6, 6)),
        ("Dropout2d", (4, 6, 6), (4, 6)),
        ("Dropout3d", (4, 3, 6, 6), (4, 6, 6)),
        ("Unflatten", (4,), (4, 6, 6)),
    ):
        lt = registry.get(name)
        out = tuple(lt.shape(lt.defaults(), [good]))
        assert out == ((4, 1, 1) if name == "Unflatten" else good)
        with pytest.raises(ShapeError):
            lt.shape(lt.defaults(), [bad])
    assert tuple(registry.get("AlphaDropout").shape({"p": 0.1}, [(7,)])) == (7,)
    pad = registry.get("ChannelPad")
    assert tuple(pad.shape({"stride": 2, "before": 4, "after": 4}, [(16, 7, 8)])) == (24, 4, 4)
    assert tuple(pad.shape({"stride": 1, "before": 0, "after": 2}, [(3, 5, 5)])) == (5, 5, 5)
    with pytest.raises(ShapeError):
        pad.shape({"stride": 2, "before": 1, "after": 1}, [(16,)])


def test_merge_mismatch_offers_height_by_width_padding():
    # Inception's 1x7 branch with padding 0 beside a 1x1 branch: the fix pads it back to the size
    p, _ = merge_net(
        "Concat",
        [
            {"out_channels": 8, "kernel_size": 1, "padding": 0},
            {"out_channels": 8, "kernel_size": [1, 7], "padding": 0},
        ],
        input=(8, 17, 17),
    )
    (d,) = analyze(p).errors
    assert d.fixes[0].label == 'Set padding of "c1" to 0x3 (keeps the size)'
    assert d.fixes[0].action.value == (0, 3)
    d.fixes[0].action.build(p).apply(p)
    assert analyze(p).valid


# ------------------------------------------------------------------ channels last (ConvNeXt)
def test_a_convnext_block_s_channels_last_chain_comes_back_to_channels_first():
    shape = shape_after(
        ("Conv2d", {"out_channels": 96, "kernel_size": 7, "padding": 3, "groups": 96, "bias": True}),
        ("Permute", {"dims": "0,2,3,1"}),
        ("LayerNorm", {"last_dims": 1}),
        ("Linear", {"out_features": 384, "last_axis": True}),
        "GELU",
        ("Linear", {"out_features": 96, "last_axis": True}),
        ("Permute", {"dims": "0,3,1,2"}),
        "LayerScale",
        input=(96, 14, 12),
    )
    assert shape == (96, 14, 12)


def test_channels_last_counts_parameters_and_macs_of_the_last_axis():
    p, nodes = net(
        ("Permute", {"dims": "0,2,3,1"}),
        ("LayerNorm", {"last_dims": 1}),
        ("Linear", {"out_features": 32, "last_axis": True}),
        ("Permute", {"dims": "0,3,1,2"}),
        "LayerScale",
        input=(8, 5, 4),
    )
    a = analyze(p)
    assert a.valid
    assert a.shape_of(nodes[1].id) == (5, 4, 8)
    assert a.total_params == 2 * 8 + (8 * 32 + 32) + 32  # LayerNorm(8), Linear(8, 32), the scale (32, 1, 1)
    assert a.root.nodes[nodes[3].id].macs == 5 * 4 * 8 * 32


def test_a_linear_on_an_image_without_last_axis_still_asks_for_flatten():
    p, _ = net(("Linear", {"out_features": 4}), input=(8, 5, 4))
    assert "expects_vector" in codes(p)


def test_layer_norm_over_more_axes_than_the_input_has_is_an_error_with_a_fix():
    p, _ = net(("Flatten", {}), ("LayerNorm", {"last_dims": 2}), input=(8, 5, 4))
    diags = [d for d in analyze(p).diagnostics if d.severity == "error"]
    assert [d.code for d in diags] == ["bad_param"]
    assert "last 2 axes" in diags[0].message and diags[0].fixes


def test_permute_and_layer_scale_need_an_image():
    assert "expects_image" in codes(net("Flatten", "Permute", input=(8, 5, 4))[0])
    assert "expects_image" in codes(net("Flatten", "LayerScale", input=(8, 5, 4))[0])


def test_channel_conv1d_keeps_a_pooled_shape_and_counts_its_kernel():
    assert shape_after("AdaptiveAvgPool2d", ("ChannelConv1d", {"kernel_size": 5}), input=(64, 7, 7)) == (
        64,
        1,
        1,
    )
    p, nodes = net(("ChannelConv1d", {"kernel_size": 5}), ("ChannelConv1d", {"bias": True}), input=(64, 1, 1))
    a = analyze(p)
    k5, k3 = a.root.nodes[nodes[1].id], a.root.nodes[nodes[2].id]
    assert (k5.num_params, k5.macs) == (5, 64 * 5)
    assert (k3.num_params, k3.macs) == (3 + 1, 64 * 3)


def test_channel_conv1d_needs_a_pooled_input_and_an_odd_kernel():
    p, _ = net(("ChannelConv1d", {}), input=(8, 4, 4))
    (d,) = analyze(p).errors
    assert d.code == "expects_pooled" and "8x4x4" in d.message
    assert d.fixes[0].action.op == "insert_before" and d.fixes[0].action.type == "AdaptiveAvgPool2d"
    p, _ = net(("ChannelConv1d", {"kernel_size": 4}), input=(8, 1, 1))
    (d,) = analyze(p).errors
    assert d.code == "bad_param" and "kernel_size 4 is even" in d.message
    assert d.fixes[0].action.value == 5
    p, _ = net(("ChannelConv1d", {}), input=(8,))
    assert codes(p) == {"expects_image"}


def test_group_sum_adds_equal_channel_groups():
    assert shape_after(("GroupSum", {"groups": 2}), input=(8, 5, 4)) == (4, 5, 4)
    assert shape_after(("GroupSum", {"groups": 4}), input=(8, 5, 4)) == (2, 5, 4)
    p, nodes = net(("GroupSum", {"groups": 3}), input=(12, 2, 2))
    assert analyze(p).root.nodes[nodes[1].id].macs == 4 * 2 * 2 * 2
    p, _ = net(("GroupSum", {"groups": 3}), input=(8, 4, 4))
    (d,) = analyze(p).errors
    assert d.code == "groups" and "8 channels do not split into 3 equal groups" in d.message
    assert d.fixes[0].action.value == 2


def test_radix_softmax_keeps_the_shape_and_needs_whole_groups():
    assert shape_after(("RadixSoftmax", {"radix": 2, "cardinality": 2}), input=(8, 1, 1)) == (8, 1, 1)
    assert shape_after(("RadixSoftmax", {"radix": 4}), input=(8, 3, 3)) == (8, 3, 3)
    p, _ = net(("RadixSoftmax", {"radix": 2, "cardinality": 3}), input=(8, 1, 1))
    (d,) = analyze(p).errors
    assert d.code == "groups" and "cardinality 3 x radix 2" in d.message
    assert d.fixes[0].action.param == "cardinality" and d.fixes[0].action.value == 1
