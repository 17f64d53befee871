"""Exports: the generated module, a standalone training script, ONNX, TorchScript.

Every export goes through ``codegen.emitter.emit`` / ``codegen.build.build_module``,
so the file written is the model Skipwire trains. Every file is written to a
temporary file beside the target (graph.atomic) and renamed into place only after
every check passed: a failed or interrupted export leaves the previous file, if
any, untouched and no new file. ONNX files are checked with ``onnx.checker`` and,
when onnxruntime imports, by comparing its outputs with torch's; TorchScript by
reloading it and comparing. Both compare on seeded N(0, 1) inputs, batch 2, eval
mode, with a tolerance relative to the output's scale (``within_tolerance``).

ONNX uses torch's TorchScript-based exporter (``dynamo=False``; the only one
before torch 2.5): on torch 2.13 it exports a ResNet-18 in about 3 s where the
torch.export-based default takes about 20 s on the same CPU. Weights: a fresh
initialisation, or ``weights=`` a state_dict file.

Imports torch only inside functions.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from graph.atomic import atomic_write, write_text_atomic
from graph.errors import UserError
from graph.model import Project

FORMATS = ("module", "script", "onnx", "torchscript")
ONNX_OPSET = 17
# an exported output b' matches torch's b when max|b' - b| <= ATOL + RTOL * max|b|: float32 keeps about
# 7 digits, and a fresh network's outputs may reach 1e7 (densenet121 with fan-out init), where an
# absolute 1e-4 would call rounding a mismatch
ATOL = 1e-4
RTOL = 1e-4


# ------------------------------------------------------------------ module and script
def export_module(project: Project, path: str | os.PathLike):
    """Write the emitted PyTorch source; returns the ``Emitted``."""
    from codegen.emitter import emit

    emitted = emit(project)
    write_text_atomic(path, emitted.source)
    return emitted


def script_settings(project: Project, analysis: Any) -> dict:
    inputs = project.graph.nodes_of_type("Input")
    shape = list(analysis.root.nodes[inputs[0].id].out_shape)
    out = analysis.output_shape
    if out is None or len(out) != 1:
        raise UserError(
            f"a training script needs a network that outputs class logits (a vector); "
            f"this one outputs {'x'.join(map(str, out or ()))}",
            1,
        )
    return {
        "name": project.name,
        "input_shape": shape,
        "num_classes": int(out[0]),
        "training": project.training,
    }


def render_training_script(project: Project) -> str:
    from codegen.emitter import emit
    from codegen.script_template import render_script
    from graph.shapes import analyze

    analysis = analyze(project)
    emit(project, analysis)  # refuses a project the engine could not build, before anything is written
    script_settings(project, analysis)  # refuses a network that does not output class logits
    script = render_script(project.to_dict(), project.name)
    try:  # the model part is checked by the emitter; this guards the template around it
        compile(script, "<train.py>", "exec")
    except SyntaxError as exc:
        raise UserError(
            f"internal error: the training script does not compile ({exc.msg}, line {exc.lineno})", 1
        ) from None
    return script


def export_script(project: Project, path: str | os.PathLike) -> None:
    """``train.py``: the project and a call into Skipwire's training engine (training/bundle.py);
    runs under python or torchrun."""
    write_text_atomic(path, render_training_script(project), executable=True)


# ------------------------------------------------------------------ live module
def _live(project: Project, weights: str | None = None):
    from codegen.build import build_module
    from graph.shapes import analyze

    analysis = analyze(project)
    model = build_module(project, analysis)
    if weights:
        from codegen.weights import load_state, read_state_dict, to_project_keys

        state = to_project_keys(read_state_dict(weights), project.key_map)  # an imported model's own keys
        load_state(model, state, strict=True, source=str(weights))
    model.eval()
    shape = analysis.root.nodes[project.graph.nodes_of_type("Input")[0].id].out_shape
    return model, analysis, tuple(shape)


def _example(shape: tuple, batch: int = 2, seed: int = 0):
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, *shape, generator=g)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _onnx_precheck(analysis: Any) -> None:
    """Layers the ONNX exporter refuses, named before trying."""
    from graph.shapes import iter_graph_infos

    for info in iter_graph_infos(analysis.root):
        for ni in info.nodes.values():
            if ni.node.type == "AdaptiveAvgPool2d" and ni.in_shapes and ni.in_shapes[0]:
                o = ni.params.get("output_size", 1)
                _, h, w = ni.in_shapes[0]
                if o != 1 and (h % o or w % o):
                    where = f' in block "{info.block}"' if info.block else ""
                    raise UserError(
                        f'ONNX cannot express AdaptiveAvgPool2d "{ni.node.name}"{where}: output size {o} '
                        f"does not divide its {h}x{w} input; use output_size 1 or an input size "
                        f"divisible by {o}",
                        1,
                    )


def export_onnx(
    project: Project,
    path: str | os.PathLike,
    weights: str | None = None,
    opset: int = ONNX_OPSET,
    check: bool = True,
) -> dict:
    """ONNX with a dynamic batch axis, renamed into place only once checked. Returns
    {"checked": bool, "max_abs_diff": float | None, "allowed": float | None, "output": str | None}:
    ``checked`` when onnx.checker ran, the rest when onnxruntime compared (the output with the
    largest difference relative to what is allowed)."""
    path = os.fspath(path)
    model, analysis, shape = _live(project, weights)
    _onnx_precheck(analysis)
    x = _example(shape)
    result: dict[str, Any] = {"checked": False, "max_abs_diff": None, "allowed": None, "output": None}
    try:
        import onnx
    except ImportError:  # the checker is optional (pip install onnx); the file is written all the same
        onnx = None

    def write(tmp: str) -> None:
        try:
            _onnx_export(model, (x,), tmp, opset, dynamic_batch=True)
        except Exception as exc:  # noqa: BLE001
            raise UserError(
                f"ONNX export of {project.name} failed"
                f"{_culprit_text(model, x, lambda m, a: _onnx_bytes(m, a, opset), exc)}",
                1,
            ) from None

    def verify(tmp: str) -> None:
        try:
            onnx.checker.check_model(onnx.load(tmp))
        except Exception as exc:  # noqa: BLE001
            raise UserError(f"{path} does not pass the ONNX checker: {_first_line(exc)}", 1) from None
        result["checked"] = True
        compared = _onnx_runtime_compare(tmp, model, x)
        if compared is not None:
            _require_close(compared, f"{path}: onnxruntime's output", "torch's")
            worst = compared[0]
            result.update(max_abs_diff=worst.diff, allowed=worst.allowed, output=worst.name)

    atomic_write(path, write, verify if check and onnx is not None else None)
    return result


class Compared:
    """One output of an exported network against torch's: its name, max|a - b|, the scale max|b|
    and what is allowed (ATOL + RTOL * scale); ``problem`` when they cannot be compared by numbers."""

    def __init__(self, name: str, diff: float, scale: float, problem: str = "") -> None:
        self.name = name
        self.diff = diff
        self.scale = scale
        self.allowed = ATOL + RTOL * scale
        self.problem = problem

    @property
    def ok(self) -> bool:
        return not self.problem and self.diff <= self.allowed


def compare_outputs(names: list[str], got: list, want: list) -> list[Compared]:
    """Exported outputs ``got`` against torch's ``want`` (tensors or arrays), worst first:
    max|a - b| <= ATOL + RTOL * max|b| over the finite values; NaN or infinity must sit at the same
    places with the same values; the shapes must agree."""
    import torch

    out: list[Compared] = []
    if len(got) != len(want):
        return [Compared("outputs", 0.0, 0.0, f"{len(got)} outputs where torch gives {len(want)}")]
    for name, a, b in zip(names, got, want, strict=True):
        a = torch.as_tensor(a).detach().to("cpu", torch.float64)
        b = torch.as_tensor(b).detach().to("cpu", torch.float64)
        if a.shape != b.shape:
            shape_a, shape_b = "x".join(map(str, a.shape)), "x".join(map(str, b.shape))
            out.append(Compared(name, 0.0, 0.0, f"has shape {shape_a} where torch's has {shape_b}"))
            continue
        finite_a, finite_b = torch.isfinite(a), torch.isfinite(b)
        same_special = (~finite_b) & ((a == b) | (torch.isnan(a) & torch.isnan(b)))
        odd = (~finite_a | ~finite_b) & ~same_special
        both = finite_a & finite_b
        diff = float((a[both] - b[both]).abs().max()) if both.any() else 0.0
        scale = float(b[finite_b].abs().max()) if finite_b.any() else 0.0
        problem = ""
        if odd.any():
            problem = f"has NaN or infinity at {int(odd.sum())} value(s) where torch's does not agree"
        out.append(Compared(name, diff, scale, problem))
    return sorted(out, key=lambda c: (not c.problem, -(c.diff / c.allowed)))


def _require_close(compared: list[Compared], what: str, reference: str) -> None:
    """UserError (exit 1) naming the first output that differs beyond the tolerance, with the numbers."""
    for c in compared:
        if c.problem:
            raise UserError(f'{what} "{c.name}" {c.problem}', 1)
        if not c.ok:
            raise UserError(
                f'{what} "{c.name}" differs from {reference}: max|diff| {c.diff:.2e} > allowed '
                f"{c.allowed:.2e} ({ATOL:g} + {RTOL:g} x the output's scale {c.scale:.2e}), "
                f"on N(0,1) inputs, batch 2",
                1,
            )


def _onnx_export(model: Any, args: tuple, f: Any, opset: int, dynamic_batch: bool = False) -> None:
    """The TorchScript-based exporter (fast here); torch < 2.5 has no ``dynamo`` argument and uses it
    anyway."""
    import torch

    kwargs: dict[str, Any] = {"opset_version": opset}
    if dynamic_batch:
        kwargs.update(
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(model, args, f, dynamo=False, **kwargs)
        except TypeError as exc:
            if "dynamo" not in str(exc):
                raise
            torch.onnx.export(model, args, f, **kwargs)


def _onnx_bytes(module: Any, args: tuple, opset: int) -> None:
    import io

    _onnx_export(module, args, io.BytesIO(), opset)


def _script_or_trace(module: Any, args: tuple) -> None:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.jit.script(module)
        except Exception:  # noqa: BLE001
            torch.jit.trace(module, args)


def _culprit_text(model: Any, x: Any, attempt, exc: BaseException) -> str:
    """': at "layer1.0.conv1" (Conv2d): why' for the first layer that fails alone, else ': why'."""
    import torch

    inputs: dict[str, tuple] = {}
    hooks = []

    def keep(name: str):
        def hook(
            module: Any, args: tuple, output: Any
        ) -> None:  # must return None: a value replaces the output
            inputs.setdefault(name, args)

        return hook

    for name, mod in model.named_modules():
        if name and not any(True for _ in mod.children()):
            hooks.append(mod.register_forward_hook(keep(name)))
    try:
        with torch.no_grad():
            model(x)
    except Exception:  # noqa: BLE001 - the overall message is still useful
        return f": {_first_line(exc)}"
    finally:
        for h in hooks:
            h.remove()
    for name, args in inputs.items():
        mod = model.get_submodule(name)
        try:
            attempt(mod, args)
        except Exception as inner:  # noqa: BLE001
            return f' at layer "{name}" ({type(mod).__name__}): {_first_line(inner)}'
    return f": {_first_line(exc)}"


def _outputs(value: Any) -> list:
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _outputs(v)]
    return [value]


def _onnx_runtime_compare(path: str, model: Any, x: Any) -> list[Compared] | None:
    import torch

    try:
        import onnxruntime as ort
    except ImportError:
        return None
    try:
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"onnxruntime cannot run the exported network: {_first_line(exc)}", 1) from None
    with torch.no_grad():
        want = _outputs(model(x))
    names = [o.name for o in sess.get_outputs()]
    return compare_outputs(names, got, want)


def export_torchscript(project: Project, path: str | os.PathLike, weights: str | None = None) -> dict:
    """``torch.jit.script`` of the generated module (``torch.jit.trace`` if scripting fails), saved,
    reloaded, compared, and only then renamed into place. Returns {"method": "script" | "trace",
    "max_abs_diff": float, "allowed": float, "output": str}."""
    import torch

    path = os.fspath(path)
    model, _analysis, shape = _live(project, weights)
    x = _example(shape)
    method = "script"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compiled = torch.jit.script(model)
        except Exception as script_exc:  # noqa: BLE001
            method = "trace"
            try:
                compiled = torch.jit.trace(model, (x,))
            except Exception as exc:  # noqa: BLE001
                where = _culprit_text(model, x, _script_or_trace, exc)
                raise UserError(
                    f"TorchScript export of {project.name} failed{where} (scripting said "
                    f"{_first_line(script_exc)})",
                    1,
                ) from None
    result: dict[str, Any] = {"method": method}

    def verify(tmp: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = torch.jit.load(tmp, map_location="cpu")
        with torch.no_grad():
            got, want = _outputs(loaded(x)), _outputs(model(x))
        names = ["output"] if len(want) == 1 else [f"output {i}" for i in range(len(want))]
        compared = compare_outputs(names, got, want)
        _require_close(compared, f"{path}: the reloaded TorchScript module's", "the model's")
        result.update(max_abs_diff=compared[0].diff, allowed=compared[0].allowed, output=compared[0].name)

    def write(tmp: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch 2.13: "torch.jit.save is deprecated"
            torch.jit.save(compiled, tmp)

    atomic_write(path, write, verify)
    return result


def export(project: Project, path: str | os.PathLike, fmt: str = "module", weights: str | None = None) -> Any:
    if weights and fmt in ("module", "script"):
        raise UserError(
            f"--weights bakes weights into onnx and torchscript exports; a {fmt} export is code "
            f"only (load the weights into it with codegen.weights.load_weights, or train --weights)"
        )
    if fmt == "module":
        return export_module(project, path)
    if fmt == "script":
        return export_script(project, path)
    if fmt == "onnx":
        return export_onnx(project, path, weights)
    if fmt == "torchscript":
        return export_torchscript(project, path, weights)
    raise UserError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")


__all__ = [
    "ATOL",
    "FORMATS",
    "RTOL",
    "Compared",
    "compare_outputs",
    "export",
    "export_module",
    "export_onnx",
    "export_script",
    "export_torchscript",
    "render_training_script",
    "write_text_atomic",
]
