"""Every registered layer type is declared completely in each of its three places (docs/add_layer_type.md):

- graph/layers.py: the data (parameters, shape rule, counts, module or forward, what it saves for backward);
- codegen/layer_codegen.py: ``CODEGEN_TYPES[name]`` (torch defaults, channel rule, in-place safety, import);
- app/canvas/layer_views.py: ``APP_TYPES[name]`` (the card's text, a new node's name).

And what a type declares it saves for the backward pass is what torch keeps (memory estimates).
"""

from __future__ import annotations

import pytest

from app.canvas import layer_views
from codegen import layer_codegen
from graph import registry
from graph.params import ParamSpec

INIT_RULES = set(registry.INIT_RULES)  # LayerType.init, dispatched by codegen/init_rules.py


def test_every_init_rule_has_a_meaning_in_the_code_generator():
    from codegen.init_rules import RULES

    assert set(RULES) == INIT_RULES


def _sample_params(lt: registry.LayerType) -> dict:
    p = lt.defaults()
    p.update({k: v for k, v in {"out_channels": 8, "num_groups": 2, "out_features": 5}.items() if k in p})
    return p


def _sample_inputs(lt: registry.LayerType, params: dict) -> list[tuple[int, ...]]:
    if lt.name == "Input" or lt.inputs == 0:
        return []
    if lt.name == "Linear":
        return [(24,)]
    if lt.name == "Unflatten":
        return [(4,)]  # a vector (an SE gate's weights)
    if lt.name == "Dropout1d":
        return [(4, 6)]  # a sequence, CxL
    if lt.name == "Dropout3d":
        return [(4, 3, 6, 6)]  # a volume, CxDxHxW
    if lt.name == "ChannelConv1d":
        return [(4, 1, 1)]  # a pooled image: it slides over the channels
    return [(4, 6, 6)] * lt.num_inputs(params)


def _declaration_problems(lt) -> list[str]:
    """graph/layers.py: the data-only declaration."""
    checks = (
        (not lt.doc.strip(), "graph/layers.py gives no doc"),
        (lt.category not in registry.CATEGORIES, f"graph/layers.py: unknown category {lt.category!r}"),
        (not all(isinstance(s, ParamSpec) for s in lt.params), "graph/layers.py: params must be ParamSpecs"),
        (not callable(lt.shape) or not callable(lt.saves), "graph/layers.py needs a shape rule and saves="),
        (
            lt.category != "io" and lt.module is None and lt.forward is None,
            "graph/layers.py gives neither module= nor forward=",
        ),
        (
            lt.parameter is not None and (lt.forward is None or lt.module is not None),
            "graph/layers.py: a layer holding a parameter= needs forward= (no module=)",
        ),
        (lt.init not in INIT_RULES, f"graph/layers.py: unknown init rule {lt.init!r}"),
    )
    out = [text for bad, text in checks if bad]
    unknown_keys = set(lt.key_params) - {s.name for s in lt.params}
    if unknown_keys:
        out.append(f"graph/layers.py: key_params {sorted(unknown_keys)} are not parameters")
    if lt.input_names and isinstance(lt.inputs, int) and len(lt.input_names) != lt.inputs:
        out.append(f"graph/layers.py: {len(lt.input_names)} input_names for {lt.inputs} inputs")
    return out


def _default_problems(lt, params: dict) -> list[str]:
    """A declaration that cannot take its own defaults is incomplete."""
    ins = _sample_inputs(lt, params)
    if lt.inputs == 0 and lt.name != "Input":
        ins = [(4, 6, 6)]  # BlockInput: the analysis gives it the block's input
    try:
        shape = tuple(lt.shape(params, ins))
        saved = lt.saved_elements(params, ins, shape)
    except (registry.ShapeError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
        return [f"graph/layers.py: its defaults fail: {type(exc).__name__}: {exc}"]
    return [f"graph/layers.py: saves {saved} elements"] if saved < 0 else []


def _codegen_problems(lt) -> list[str]:
    entry = layer_codegen.CODEGEN_TYPES.get(lt.name)
    if entry is None:
        return ["no entry in codegen/layer_codegen.py CODEGEN_TYPES"]
    if entry.type != lt.name:
        return [f"codegen/layer_codegen.py's entry says {entry.type!r}"]
    return []


def _view_problems(lt, params: dict) -> list[str]:
    view = layer_views.APP_TYPES.get(lt.name)
    if view is None:
        return ["no entry in app/canvas/layer_views.py APP_TYPES"]
    if view.type != lt.name:
        return [f"app/canvas/layer_views.py's entry says {view.type!r}"]
    out = []
    text = view.card(lt.name, params)
    if not isinstance(text, str) or not text.strip():
        out.append("app/canvas/layer_views.py's card text is empty")
    if not view.base_name.isidentifier():
        out.append(f"app/canvas/layer_views.py's name_base {view.base_name!r} is no name")
    return out


def problems() -> list[str]:
    """What is missing or incomplete, one line each, for every registered type and every stale entry."""
    out: list[str] = []
    names = {t.name for t in registry.all_types()}
    for lt in registry.all_types():
        where = f"{lt.name}:"
        params = _sample_params(lt)
        out += [f"{where} {p}" for p in _declaration_problems(lt)]
        out += [f"{where} {p}" for p in _default_problems(lt, params)]
        out += [f"{where} {p}" for p in _codegen_problems(lt)]
        out += [f"{where} {p}" for p in _view_problems(lt, params)]
    for table, path in (
        (layer_codegen.CODEGEN_TYPES, "codegen/layer_codegen.py"),
        (layer_views.APP_TYPES, "app/canvas/layer_views.py"),
    ):
        out += [f"{n}: {path} has an entry for a type nobody registered" for n in table if n not in names]
    return out


def test_every_layer_type_is_declared_in_graph_codegen_and_app():
    assert problems() == []


def test_a_missing_part_is_named(monkeypatch):
    """The walk above can fail: drop one part of each kind and it says which, for which type."""
    monkeypatch.setattr(
        layer_codegen, "CODEGEN_TYPES", {k: v for k, v in layer_codegen.CODEGEN_TYPES.items() if k != "Gate"}
    )
    views = dict(layer_views.APP_TYPES)
    views.pop("Concat")
    views["Bogus"] = layer_views.LayerView("Bogus", layer_views.key_text)
    monkeypatch.setattr(layer_views, "APP_TYPES", views)
    flatten = registry.get("Flatten")
    monkeypatch.setitem(
        registry._REGISTRY, "Flatten", registry.LayerType(**{**vars(flatten), "forward": None})
    )
    assert sorted(problems()) == [
        "Bogus: app/canvas/layer_views.py has an entry for a type nobody registered",
        "Concat: no entry in app/canvas/layer_views.py APP_TYPES",
        "Flatten: graph/layers.py gives neither module= nor forward=",
        "Gate: no entry in codegen/layer_codegen.py CODEGEN_TYPES",
    ]


def test_register_refuses_a_type_that_does_not_say_what_it_saves():
    lt = registry.LayerType("Nameless", "shape", "doc", (), shape=lambda p, ins: ins[0])
    with pytest.raises(ValueError, match="saves for backward"):
        registry.register(lt)
    assert registry.get("Nameless") is None


# ---------------------------------------------------------------- saves= against torch
def _torch_module(lt: registry.LayerType, params: dict, ins: list):
    from torch import nn

    from codegen import helpers
    from codegen.build import load_source

    spec = lt.module(params, ins)
    if spec.cls.startswith("nn."):
        cls = getattr(nn, spec.cls[3:])
    else:
        head = "import torch\nimport torch.nn.functional as F\nfrom torch import Tensor, nn\n\n\n"
        cls = load_source(head + helpers.HELPERS[spec.cls], spec.cls, "helper")
    return cls(*spec.args, **spec.kwargs).train()


def _saved_per_sample(lt: registry.LayerType, params: dict, ins: list, batch: int = 2) -> float:
    """Float32-sized elements per sample that autograd keeps for this layer (its parameters not counted)."""
    import torch

    xs = [torch.randn(batch, *s, requires_grad=True) * 1 for s in ins]  # not leaves: in-place is allowed
    mod = _torch_module(lt, params, ins) if lt.module is not None else None
    weights = {p.data_ptr() for p in mod.parameters()} if mod is not None else set()
    names = [f"x{i}" for i in range(len(xs))]
    env = {"torch": torch, "F": torch.nn.functional, **dict(zip(names, xs, strict=True))}
    if lt.parameter is not None:  # the tensor the layer holds: forward's last argument, a weight
        spec = lt.parameter(params, ins)
        env["w"] = torch.full(spec.shape, spec.fill, requires_grad=True)
        weights.add(env["w"].data_ptr())
        names.append("w")
    kept: dict[tuple, float] = {}

    def pack(t):
        if t.dim() > 0 and t.data_ptr() not in weights:
            kept[(t.data_ptr(), tuple(t.shape), t.dtype)] = t.numel() * t.element_size() / 4
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        if mod is not None:
            mod(*xs)
        else:
            eval(lt.forward(names, params), env)
    return sum(kept.values()) / batch


_WITH_CODE = [t.name for t in registry.all_types() if t.category != "io"]
_VARIANTS = {
    "AdaptiveAvgPool2d": [{"output_size": 1}, {"output_size": 2}],
    "ReLU": [{"inplace": True}, {"inplace": False}],
    "MaxPool2d": [{"kernel_size": 2}, {"kernel_size": 3, "stride": 1, "padding": 1}],
    "Gate": [{}],
}


@pytest.mark.parametrize("name", _WITH_CODE)
def test_saves_is_what_torch_keeps_for_backward(name):
    pytest.importorskip("torch")
    lt = registry.get(name)
    for extra in _VARIANTS.get(name, [{}]):
        params = {**_sample_params(lt), **extra}
        ins = _sample_inputs(lt, params)
        if name == "Gate":
            ins = [(4, 6, 6), (4, 1, 1), (4, 6, 6)]  # a squeeze-style gate broadcasts
        out = tuple(lt.shape(params, ins))
        declared = lt.saved_elements(params, ins, out)
        measured = _saved_per_sample(lt, params, ins)
        # per-channel or per-sample statistics (a norm's mean and variance) are not declared
        assert declared <= measured <= declared * 1.1 + 16, (name, extra, declared, measured)
