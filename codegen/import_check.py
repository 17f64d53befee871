"""The self-check of every import (issue 22): the exported module must be the model.

``self_check(project, model, input_shape)`` builds the module the project's code defines, loads the
model's own state_dict into it strictly (through ``key_map``, original key -> project key, where the
project's keys cannot equal the model's), runs both on one seeded input in eval mode and compares the
outputs with a tolerance relative to their scale. On a mismatch it raises ``UserError`` (exit 1) naming
the first module, in the model's own order, whose output differs: per-module outputs are compared with
forward hooks on the modules both networks hold under one name. The caller writes nothing then.

The module is built on the meta device and the weights assigned (no initialisation of weights that are
overwritten anyway): about half of the check's time on a ResNet-50. Imports torch only inside functions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from graph.errors import UserError
from graph.model import Project

RTOL = 1e-4  # of the output's largest magnitude; a faithful import of the zoo differs by under 1e-6 of it
SEED = 0


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one self-check: outputs' largest difference, their scale, the tolerance, seconds."""

    max_diff: float
    scale: float
    tolerance: float
    seconds: float
    key_map: dict[str, str | None] = field(default_factory=dict)

    def text(self) -> str:
        return (
            f"self-check passed: the exported module loads the model's state_dict strictly and its outputs "
            f"match (max |diff| {self.max_diff:.1e} <= {self.tolerance:.1e}, {RTOL:g} of the outputs' scale "
            f"{self.scale:.2g}; {self.seconds:.2f} s)"
        )


def map_state(state: dict, key_map: dict[str, str | None] | None) -> dict:
    """The model's tensors under the project's keys (codegen.weights.to_project_keys)."""
    from codegen.weights import to_project_keys

    return dict(to_project_keys(state, key_map))


def pair_keys(theirs: dict, ours: dict) -> dict[str, Any]:
    """Original key -> project key for the keys the two state_dicts do not share: a key pairs with the
        project's key of the same last part and shape, the one spelled alike (``generalized layers0`` and
        ``generalized_layers0``) first, else the next in order. Original keys left over map to None (a module
        the model holds but the project leaves out); a project key left over that names a copy of a model's
    module (``conv_1`` for ``conv``, called twice) makes that key a list. The self-check's outputs prove the
    pairing."""
    import re

    def spelled(k: str) -> str:
        return re.sub(r"\W", "_", k)

    def tokens(k: str) -> list[str]:
        return [t for t in re.split(r"[\W_]+", k) if t]

    def overlap(a: str, b: str) -> int:
        rest = tokens(b)
        n = 0
        for t in tokens(a):
            if t in rest:
                rest.remove(t)
                n += 1
        return n

    only_ours = [k for k in ours if k not in theirs]
    only_theirs = [k for k in theirs if k not in ours]
    rank = {k: i for i, k in enumerate(only_ours)}
    pairs = sorted(
        (
            (-(1000 if spelled(o) == spelled(k) else overlap(k, o)), i, rank[o], k, o)
            for i, k in enumerate(only_theirs)
            for o in only_ours
            if o.rpartition(".")[2] == k.rpartition(".")[2] and tuple(ours[o].shape) == tuple(theirs[k].shape)
        )
    )
    out: dict[str, Any] = {}
    taken: set[str] = set()
    for _score, _i, _j, key, o in pairs:  # the best-named pairs first, then in order
        if key not in out and o not in taken:
            out[key] = o
            taken.add(o)
    for key in only_theirs:
        out.setdefault(key, None)
    pool = [o for o in only_ours if o not in taken]
    for extra in pool:  # a module called twice shares its weights: the project holds a copy per call
        leaf, shape = extra.rpartition(".")[2], tuple(ours[extra].shape)
        owner = next(
            (
                k
                for k in theirs
                if k.rpartition(".")[2] == leaf
                and tuple(theirs[k].shape) == shape
                and spelled(extra).startswith(spelled(k.rpartition(".")[0]))
            ),
            None,
        )
        if owner is not None:
            first = out.get(owner, owner)
            out[owner] = [*(first if isinstance(first, list) else [first]), extra]
    return out


def _key_error(own: dict, state: dict) -> UserError | None:
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if not (missing or unexpected or shapes):
        return None
    parts = []
    if missing:
        parts.append(f"{len(missing)} key(s) the model lacks (e.g. {', '.join(missing[:3])})")
    if unexpected:
        parts.append(f"{len(unexpected)} key(s) the export lacks (e.g. {', '.join(unexpected[:3])})")
    if shapes:
        k = shapes[0]
        parts.append(
            f"{len(shapes)} tensor(s) of another shape (e.g. {k}: "
            f"{tuple(state[k].shape)} in the model, {tuple(own[k].shape)} in the export)"
        )
    return UserError(
        "self-check failed: the model's state_dict does not load strictly into the exported module: "
        + "; ".join(parts),
        1,
    )


def build_loaded(
    project: Project, state: dict, key_map: dict[str, str | None] | None = None, derive: bool = False
) -> tuple[Any, dict[str, str | None]]:
    """The project's module with the model's ``state`` loaded strictly through ``key_map`` (derived by
    :func:`pair_keys` when ``derive`` and the keys differ); UserError (exit 1) naming keys that differ.
    Returns (module in eval mode, the key map used)."""
    import torch

    from codegen.build import load_source
    from codegen.emitter import emit

    emitted = emit(project)
    cls = load_source(emitted.source, emitted.class_name, emitted.class_name)
    with torch.device("meta"):
        module = cls()
    own = module.state_dict()
    key_map = dict(key_map or {})
    if derive and not key_map and set(own) != set(state):
        key_map = pair_keys(state, own)
    mapped = map_state(state, key_map)
    error = _key_error(own, mapped)
    if error is not None:
        raise error
    module.load_state_dict(mapped, strict=True, assign=True)
    leftover = [n for n, t in (*module.named_parameters(), *module.named_buffers()) if t.is_meta]
    if leftover:  # a buffer outside the state_dict (persistent=False): build it for real instead
        module = cls()
        module.load_state_dict(mapped, strict=True)
    return module.eval(), key_map


def self_check(
    project: Project,
    model: Any,
    input_shape: tuple,
    key_map: dict[str, str | None] | None = None,
    derive: bool = False,
) -> CheckResult:
    """Build, load strictly (through ``key_map``, or one derived by :func:`pair_keys` when ``derive``),
    compare on seeded input in eval mode; UserError (exit 1) on any mismatch. The result carries the key
    map that the outputs proved."""
    import torch

    t0 = time.perf_counter()
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            rebuilt, key_map = build_loaded(project, model.state_dict(), key_map, derive)
            x = torch.randn(1, *input_shape, generator=torch.Generator().manual_seed(SEED))
            want = _tensor(model(x))
            got = _tensor(rebuilt(x))
            if want is None or got is None or want.shape != got.shape:
                raise UserError(
                    "self-check failed: the exported module's output "
                    f"{None if got is None else tuple(got.shape)} is not the model's "
                    f"{None if want is None else tuple(want.shape)}",
                    1,
                )
            scale = float(want.abs().max()) if want.numel() else 0.0
            tol = RTOL * max(scale, 1e-6)
            diff = float((want - got).abs().max()) if want.numel() else 0.0
            if not diff <= tol:  # NaN fails too
                where = first_difference(model, rebuilt, x, key_map)
                raise UserError(
                    f"self-check failed: the exported module's outputs differ from the model's by {diff:.2g} "
                    f"(outputs of scale {scale:.2g}; allowed {tol:.1g}); {where}. Nothing was written",
                    1,
                )
    finally:
        for m, training in modes.items():
            m.train(training)
    return CheckResult(diff, scale, tol, time.perf_counter() - t0, key_map)


def _tensor(out: Any) -> Any:
    import torch

    if isinstance(out, torch.Tensor):
        return out.float()
    return None


def first_difference(model: Any, rebuilt: Any, x: Any, key_map: dict[str, str | None] | None) -> str:
    """Where activations part: the first module (in the order the model runs them) held under one name by
    both networks whose output differs, relative to that output's scale."""
    import torch

    renamed = {}
    for key, new in (key_map or {}).items():
        if new is not None:
            mod, _, _ = key.rpartition(".")
            renamed[mod] = new.rpartition(".")[0]
    theirs: list[tuple[str, Any]] = []
    ours: dict[str, Any] = {}

    def keep(store: Any, name: str) -> Any:
        def hook(_m: Any, _inp: Any, out: Any) -> None:
            if isinstance(out, torch.Tensor):
                if isinstance(store, list):
                    store.append((name, out.detach().clone()))
                else:
                    store.setdefault(name, out.detach().clone())

        return hook

    handles = [m.register_forward_hook(keep(theirs, n)) for n, m in model.named_modules() if n]
    handles += [m.register_forward_hook(keep(ours, n)) for n, m in rebuilt.named_modules() if n]
    try:
        with torch.no_grad():
            model(x)
            rebuilt(x)
    finally:
        for h in handles:
            h.remove()
    seen = set()
    for name, want in theirs:
        if name in seen:
            continue
        seen.add(name)
        got = ours.get(renamed.get(name, name))
        if got is None or got.shape != want.shape:
            continue
        scale = float(want.abs().max()) if want.numel() else 0.0
        diff = float((want.float() - got.float()).abs().max()) if want.numel() else 0.0
        if not diff <= RTOL * max(scale, 1e-6):
            return (
                f'activations first part at "{name}" ({type(model.get_submodule(name)).__name__}): '
                f"max |diff| {diff:.2g} on outputs of scale {scale:.2g}"
            )
    return "every module held under the same name by both gives the same output: they part after the last"


__all__ = [
    "RTOL",
    "CheckResult",
    "build_loaded",
    "first_difference",
    "map_state",
    "pair_keys",
    "self_check",
]
