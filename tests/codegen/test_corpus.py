"""Issue 22: a corpus of models written the way people write them (tests/codegen/corpus) imports exactly.

Each model is imported with its own input shape; the import's self-check proves it exact (the
exported module loads the model's state_dict strictly, through the project's key map where names
cannot be kept, and gives the same outputs on seeded input). At least 95 % must import; the rest are
listed in REFUSED with the start of their message, and each refusal must be one clean grouped message
(UserError, exit 2, the module class first, a few lines, no traceback). Small widths keep it fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus.models import MODELS

from codegen.fx_import import import_module
from graph.errors import UserError
from graph.projectfile import dumps_project, loads_project

# what Skipwire has no layer for yet: the start of the refusal's first cause
REFUSED = {
    # a module's own parameter used in forward as a bias (only a per-channel layer scale is a layer)
    "parameter_as_bias": "ParamBias (1 place, e.g. the top level): uses its own parameters",
}
BY_NAME = {name: (make, shape) for name, make, shape in MODELS}


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_corpus_is_at_least_forty_models_and_95_percent_import():
    assert len(MODELS) >= 40 and len(BY_NAME) == len(MODELS)
    assert set(REFUSED) <= set(BY_NAME)
    assert (len(MODELS) - len(REFUSED)) / len(MODELS) >= 0.95


def _make(name):
    import torch

    make, shape = BY_NAME[name]
    torch.manual_seed(0)
    return make().eval(), shape


@pytest.mark.parametrize("name", [n for n, _, _ in MODELS if n not in REFUSED])
def test_model_imports_exactly(name):
    model, shape = _make(name)
    result = import_module(model, shape)
    check = result.check
    assert check is not None and check.max_diff <= check.tolerance
    again = loads_project(dumps_project(result.project))  # the key map survives the file
    assert again.key_map == result.project.key_map
    mapped = {k for k, v in result.project.key_map.items() if v is not None}
    assert not any("do not load by name" in w for w in result.warnings)
    assert all(k in model.state_dict() for k in mapped)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_model_is_refused_in_one_clean_grouped_message(name):
    model, shape = _make(name)
    with pytest.raises(UserError) as err:
        import_module(model, shape)
    text = str(err.value)
    assert err.value.exit_code == 2
    assert REFUSED[name] in text
    assert text.count("\n") <= 12 and "Traceback" not in text


def test_the_second_tracer_takes_over_only_where_fx_fails():
    """Sizes from x.size(), a branch on a shape, a module built in forward, the option A lambda: fx alone
    refuses each; a plain network keeps fx."""
    for name in ("resnet20_option_a_lambda", "shape_branch", "resnet_relu_built_in_forward", "sized_head"):
        model, shape = _make(name)
        assert import_module(model, shape, check=False).tracer.startswith("concrete shapes"), name
    model, shape = _make("resnet18_shortcut_sequential")
    assert import_module(model, shape, check=False).tracer == "torch.fx"


def test_option_a_lambda_becomes_the_graphs_zero_pad_shortcut_and_its_weights_load():
    """The option A lambda (x[:, :, ::2, ::2] padded with planes // 4 zero channels on each side) is the
    graph's zero-pad shortcut (both sides), not a layer: one block class for the whole network, the
    model's keys unchanged, and its trained weights load strictly into the export with the same outputs."""
    import torch

    from codegen.build import build_module
    from codegen.emitter import emit

    model, shape = _make("resnet20_option_a_lambda")
    result = import_module(model, shape)
    project = result.project
    assert project.key_map == {}  # the project's keys are the model's
    assert len(project.blocks) == 1
    (block,) = project.blocks.values()
    assert not any(n.type == "ChannelPad" for n in block.graph.nodes.values())
    (shortcut,) = [e for e in block.graph.edges.values() if e.is_shortcut]
    assert shortcut.projection == "zero_pad_both"
    exported = build_module(project).eval()
    exported.load_state_dict(model.state_dict(), strict=True)  # "published" weights: the model's own
    x = torch.randn(4, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(exported(x), model(x), rtol=0, atol=1e-5)
    source = emit(project).source
    assert "class ZeroPadBothSidesShortcut(nn.Module):" in source and "ChannelPad" not in source


def test_unused_modules_are_mapped_and_listed_and_the_checkpoint_still_loads():
    model, shape = _make("mobilenet_v2_skipped_expand")
    result = import_module(model, shape)
    key_map = result.project.key_map
    assert key_map["layers.0.conv1.weight"] is None and key_map["layers.0.bn1.running_var"] is None
    assert any("never uses" in w and "layers.0.conv1" in w for w in result.warnings)


def test_colliding_container_names_are_mapped_both_ways_exactly():
    model, shape = _make("densenet_add_module")
    key_map = import_module(model, shape).project.key_map
    key = "features.dense_block2.bottle_neck_layer_0.conv1.weight"
    assert key_map[key] != key and key_map[key].endswith(".conv1.weight")
    assert len(set(key_map.values())) == len(key_map)  # one project key per original key


def test_hand_written_hard_swish_and_vector_to_image_become_layers():
    model, shape = _make("hand_written_hardswish")
    types = {n.type for n in import_module(model, shape).project.graph.nodes.values()}
    assert "Hardswish" in types and not {"Multiply", "ReLU6"} & types
    model, shape = _make("se_layer_expand_as")
    result = import_module(model, shape)
    inner = {n.type for b in result.project.blocks.values() for n in b.graph.nodes.values()}
    assert "Unflatten" in inner | {n.type for n in result.project.graph.nodes.values()}
