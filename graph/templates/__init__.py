"""Built-in templates: the whole ResNet family as projects.

Each template module registers builder functions with ``@template(...)``.
``make(name, classes=, input_shape=, shortcut=)`` builds one, applies the head
and input overrides (docs/architecture.md), validates it and returns the Project.

A builder is called as ``build()``, or ``build(shortcut=projection)`` with an
edge projection (``zero_pad``, ``conv_bn``, ``conv_bn_always``) when the
template declares ``shortcut_options`` and the user passed ``--shortcut``.
Template modules are listed in ``graph/templates/catalog.py``; the reusable
building pieces are in ``graph/templates/common.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from graph.errors import UserError
from graph.model import Project


@dataclass(frozen=True)
class TemplateInfo:
    name: str
    family: str  # "cifar" or "imagenet"
    doc: str
    build: Callable[..., Project]  # build(shortcut: str) -> Project
    shortcut_options: bool = False  # accepts --shortcut A|B|C


_TEMPLATES: dict[str, TemplateInfo] = {}
FAMILY_ORDER = {"cifar": 0, "imagenet": 1}


def template(name: str, family: str, doc: str, shortcut_options: bool = False):
    def deco(fn: Callable[..., Project]) -> Callable[..., Project]:
        if name in _TEMPLATES:
            raise ValueError(f"template {name!r} registered twice")
        _TEMPLATES[name] = TemplateInfo(name, family, doc, fn, shortcut_options)
        return fn

    return deco


def _load() -> None:
    if not _TEMPLATES:
        from graph.templates import catalog  # noqa: F401  (imports every template module)


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value: plain20 < plain110, resnet18 < resnet101."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name) if part
    )


def all_templates() -> list[TemplateInfo]:
    """Every template, CIFAR before ImageNet, each family in natural name order."""
    _load()
    return sorted(
        _TEMPLATES.values(),
        key=lambda t: (FAMILY_ORDER.get(t.family, len(FAMILY_ORDER)), t.family, natural_key(t.name)),
    )


def get_template(name: str) -> TemplateInfo:
    _load()
    if name not in _TEMPLATES:
        raise UserError(f"unknown template {name!r}; `python main.py templates` lists them")
    return _TEMPLATES[name]


MAX_CLASSES = 1_048_576  # the Linear head's out_features limit
SHORTCUTS = {"A": "zero_pad", "B": "conv_bn", "C": "conv_bn_always"}
SHORTCUT_HELP = (
    "A = zero-pad (He et al. option A), B = 1x1 conv + BN where shapes change, C = 1x1 conv + BN always"
)


def parse_input_shape(value: str | Sequence[int]) -> list[int]:
    """``"3,64,64"`` (or a sequence) -> [3, 64, 64]; a UserError (exit 2) explains a bad value."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.replace("x", ",").split(",")]
        try:
            dims = [int(p) for p in parts]
        except ValueError:
            raise UserError(f"--input must be whole numbers C,H,W such as 3,32,32; got {value!r}") from None
    else:
        dims = list(value)
        if any(isinstance(d, bool) or not isinstance(d, int) for d in dims):
            raise UserError(f"--input must be whole numbers C,H,W such as 3,32,32; got {value!r}")
    if not 1 <= len(dims) <= 3:
        raise UserError(f"--input needs 1 to 3 sizes (C,H,W for images); got {len(dims)}")
    if any(not 1 <= d <= 100_000 for d in dims):
        raise UserError(f"--input sizes must be between 1 and 100000; got {','.join(map(str, dims))}")
    return dims


def make(
    name: str,
    classes: int | None = None,
    input_shape: str | Sequence[int] | None = None,
    shortcut: str | None = None,
) -> Project:
    """Build template ``name``, apply --classes / --input / --shortcut, and validate it.

    Bad arguments raise UserError with exit code 2; a result that does not
    validate (for example an input so small that a size reaches zero) raises
    UserError with exit code 1, naming the node.
    """
    from graph.shapes import analyze
    from graph.templates.common import head_linear

    info = get_template(name)
    kwargs: dict[str, Any] = {}
    if shortcut is not None:
        if not info.shortcut_options:
            with_opts = ", ".join(t.name for t in all_templates() if t.shortcut_options)
            raise UserError(f"template {name!r} has no --shortcut option; it applies to {with_opts}")
        key = str(shortcut).strip().upper()
        if key not in SHORTCUTS:
            raise UserError(f"--shortcut must be A, B or C ({SHORTCUT_HELP}); got {shortcut!r}")
        kwargs["shortcut"] = SHORTCUTS[key]
    if classes is not None and (isinstance(classes, bool) or not isinstance(classes, int) or classes < 1):
        raise UserError(f"--classes must be a whole number of at least 1; got {classes!r}")
    if classes is not None and classes > MAX_CLASSES:
        raise UserError(f"--classes must be at most {MAX_CLASSES:,}; got {classes:,}")
    dims = parse_input_shape(input_shape) if input_shape is not None else None

    project = info.build(**kwargs)
    graph = project.graph
    if classes is not None:
        fc = head_linear(project)
        if fc is None:
            raise UserError(
                f"template {name!r} has no Linear head feeding its Output, so --classes cannot be applied"
            )
        graph.set_param(fc.id, "out_features", classes)
    if dims is not None:
        inputs = graph.nodes_of_type("Input")
        graph.set_param(inputs[0].id, "shape", dims)

    analysis = analyze(project)
    if not analysis.valid:
        shape = "x".join(str(d) for d in graph.nodes_of_type("Input")[0].params["shape"])
        raise UserError(
            f"template {name} with input {shape} is invalid: {_describe(analysis, analysis.errors[0])}",
            exit_code=1,
        )
    return project


def _describe(analysis, diag) -> str:
    """A diagnostic's message, prefixed with the block instance it happened in (if any)."""
    if diag.block is None:
        return diag.message
    from graph.shapes import iter_graph_infos, module_path

    for gi in iter_graph_infos(analysis.root):
        for nid in gi.order:
            ni = gi.nodes.get(nid)
            if ni is not None and ni.error and ni.node.block_name == diag.block:
                where = module_path(gi.graph, ni.node)
                return f'block instance "{ni.node.name}" ({where}, a {diag.block}): {diag.message}'
    return f"in block {diag.block}: {diag.message}"
