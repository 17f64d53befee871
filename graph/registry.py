"""The layer registry: every layer type is declared exactly once (docs/style.md).

A declaration holds the category, a one-line doc, the parameter schema, the
input arity, a pure-Python shape rule, parameter and MAC counts, the weight
initialisation rule, and how code is emitted for it (a module constructor or
a functional forward expression), what it keeps for the backward pass, and
the facts shape inference needs about it (may it stand in a stage, which
input a shortcut into it meets, whether padding can keep its size). The code
emitter, the inspector, the file loader and the validator all read these
declarations. This is the data-only part of a layer type: codegen/ and app/
register their own parts beside it, keyed by the type's name
(docs/add_layer_type.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graph.params import ParamSpec

Shape = tuple[int, ...]

CATEGORIES = {
    "io": "Input / Output",
    "convolution": "Convolution",
    "normalization": "Normalization",
    "activation": "Activation",
    "pooling": "Pooling",
    "merge": "Merge",
    "linear": "Linear / Head",
    "shape": "Reshape",
    "regularization": "Regularization",
    "block": "Blocks",
}


class ShapeError(Exception):
    """Raised by a shape rule. ``fixes`` are ``Fix``es whose actions (graph/fixes.py: SetParamFix,
    InsertBeforeFix) name no node yet; the analysis binds them to the node it checks."""

    def __init__(self, code: str, message: str, fixes: list | None = None, port: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fixes = fixes or []
        self.port = port


def _zero(p: dict, ins: list[Shape], out: Shape) -> int:
    return 0


@dataclass(frozen=True)
class ModuleSpec:
    """How to construct the torch module: ``cls(*args, **kwargs)``."""

    cls: str  # e.g. "nn.Conv2d"
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ParameterSpec:
    """A learnable tensor a layer holds itself, not in a submodule (ConvNeXt's layer scale): the code is
    ``self.<node name> = nn.Parameter(torch.full(shape, fill))``, so its state_dict key is the node's name,
    and ``forward`` gets ``self.<node name>`` as its last argument."""

    shape: tuple  # its shape, from the node's parameters and input shapes
    fill: float  # every element's initial value


@dataclass(frozen=True)
class LayerType:
    name: str
    category: str
    doc: str
    params: tuple[ParamSpec, ...]
    shape: Callable[[dict, list[Shape]], Shape]
    inputs: int | str = 1  # a fixed count, or the name of the parameter that holds it
    count_params: Callable[[dict, list[Shape], Shape], int] = _zero
    macs: Callable[[dict, list[Shape], Shape], int] = _zero
    module: Callable[[dict, list[Shape]], ModuleSpec] | None = None
    forward: Callable[[list[str], dict], str] | None = None
    # a tensor the layer holds itself (ParameterSpec); its forward reads it as the last argument
    parameter: Callable[[dict, list[Shape]], ParameterSpec] | None = None
    # how its weights start (codegen/init_rules.py dispatches on it; INIT_RULES): conv, norm, linear,
    # weight_values, torch (torch's own initialisation, left as torch makes it), none (no weights)
    init: str = "none"
    aliases: tuple[str, ...] = ()
    key_params: tuple[str, ...] = ()  # shown on the node card
    input_names: tuple[str, ...] = ()  # port labels for multi-input nodes
    # float32-sized elements per sample autograd keeps for this layer's backward pass (memory estimates);
    # every type declares it (register() refuses one that does not)
    saves: Callable[[dict, list[Shape], Shape], float] | None = None
    # may stand in a stage (an nn.Sequential); None: when it has a module form
    in_stage: bool | None = None
    # a merge: the input port whose shape a shortcut must meet (None: the first data input)
    shortcut_meets: int | None = None
    mismatch_note: str = ""  # a merge: said after "input 2 is .. but input 1 is .."
    # a window layer (kernel_size, stride, padding): the padding that keeps its size is a fix to offer
    pads_to_keep_size: bool = False
    # (low, high): an output at or beyond either counts as saturated (training/inspect_stats.py)
    saturates: tuple[float, float] | None = None
    # the output is its input's storage for these params (a view, Dropout(p=0)): graph/memory.py counts
    # a tensor kept before and after it once
    returns_input: Callable[[dict], bool] | None = None
    # the base of the name of a node of this type that a fix inserts (graph/fixes.py); "": the type's
    # name in lower case
    fix_name: str = ""

    def spec(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def num_inputs(self, params: dict) -> int:
        if isinstance(self.inputs, int):
            return self.inputs
        value = params.get(self.inputs, self.spec(self.inputs).default)
        return value if isinstance(value, int) and not isinstance(value, bool) else 2

    @property
    def is_merge(self) -> bool:
        return self.category == "merge"

    @property
    def stageable(self) -> bool:
        """Whether a node of this type may be one of a stage's (an nn.Sequential's) members."""
        return self.module is not None if self.in_stage is None else self.in_stage

    def saved_elements(self, params: dict, ins: list[Shape], out: Shape) -> float:
        """Elements per sample (float32-sized) kept for the backward pass."""
        return float(self.saves(params, ins, out))


# LayerType.init's rules (codegen/init_rules.py says what each writes)
INIT_RULES = ("none", "torch", "conv", "norm", "linear", "weight_values")

_REGISTRY: dict[str, LayerType] = {}
_ALIASES: dict[str, str] = {}


def register(layer: LayerType) -> LayerType:
    if layer.name in _REGISTRY or layer.name in _ALIASES:
        raise ValueError(f"layer type {layer.name!r} is registered twice")
    if layer.category not in CATEGORIES:
        raise ValueError(f"unknown category {layer.category!r} for {layer.name!r}")
    if layer.saves is None:
        raise ValueError(f"layer type {layer.name!r} does not declare what it saves for backward (saves=)")
    if layer.init not in INIT_RULES:
        raise ValueError(
            f"unknown init rule {layer.init!r} for {layer.name!r}; one of {', '.join(INIT_RULES)}"
        )
    _REGISTRY[layer.name] = layer
    for alias in layer.aliases:
        if alias in _REGISTRY or alias in _ALIASES:
            raise ValueError(f"alias {alias!r} is registered twice")
        _ALIASES[alias] = layer.name
    return layer


def get(type_name: str) -> LayerType | None:
    _ensure_loaded()
    return _REGISTRY.get(type_name) or _REGISTRY.get(_ALIASES.get(type_name, ""))


def category_of(type_name: str) -> str:
    """A node type's category: "block" for a block instance (``block:Name``), the registered type's, or
    "shape" for a type nobody registered (drawn plainly)."""
    if type_name.startswith("block:"):
        return "block"
    lt = get(type_name)
    return lt.category if lt is not None else "shape"


def canonical(type_name: str) -> str:
    _ensure_loaded()
    return _ALIASES.get(type_name, type_name)


def all_types() -> list[LayerType]:
    _ensure_loaded()
    return list(_REGISTRY.values())


def _ensure_loaded() -> None:
    if not _REGISTRY:
        import graph.layers  # noqa: F401  (declarations register themselves)
