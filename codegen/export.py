"""Exports: the generated module, a standalone training script, ONNX, TorchScript.

Every export goes through ``codegen.emitter.emit`` / ``codegen.build.build_module``,
so the file written is the model Skipwire trains. ONNX and TorchScript files are
checked after writing: ONNX with ``onnx.checker`` and, when onnxruntime imports,
by comparing its outputs with torch's; TorchScript by reloading it and comparing.

ONNX uses torch's TorchScript-based exporter (``dynamo=False``; the only one
before torch 2.5): on torch 2.13 it exports a ResNet-18 in about 3 s where the
torch.export-based default takes about 20 s on the same CPU. Weights: a fresh initialisation, or ``weights=`` a state_dict file.

Imports torch only inside functions.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from typing import Any

from graph.errors import UserError
from graph.model import Project

FORMATS = ("module", "script", "onnx", "torchscript")
ONNX_OPSET = 17
TOLERANCE = 1e-4


def write_text_atomic(path: str | os.PathLike, text: str, executable: bool = False) -> None:
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(target) + ".", suffix=".tmp")
    except OSError as exc:
        raise UserError(f"{target}: cannot write there ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, (0o777 if executable else 0o666) & ~umask)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _atomic_binary(path: str, write) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    except OSError as exc:
        raise UserError(f"{path}: cannot write there ({exc.strerror or exc})") from None
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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
    emitted = emit(project, analysis)
    script = render_script(emitted.source, emitted.class_name, script_settings(project, analysis))
    try:  # the model part is checked by the emitter; this guards the template around it
        compile(script, "<train.py>", "exec")
    except SyntaxError as exc:
        raise UserError(
            f"internal error: the training script does not compile ({exc.msg}, line {exc.lineno})", 1
        ) from None
    return script


def export_script(project: Project, path: str | os.PathLike) -> None:
    """A standalone ``train.py``: model, data, recipe; runs under python or torchrun."""
    write_text_atomic(path, render_training_script(project), executable=True)


# ------------------------------------------------------------------ live module
def _live(project: Project, weights: str | None = None):
    from codegen.build import build_module
    from graph.shapes import analyze

    analysis = analyze(project)
    model = build_module(project, analysis)
    if weights:
        from codegen.weights import load_weights

        load_weights(model, weights, strict=True)
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
    """ONNX with a dynamic batch axis; returns {"checked": bool, "max_abs_diff": float | None}."""
    path = os.fspath(path)
    model, analysis, shape = _live(project, weights)
    _onnx_precheck(analysis)
    x = _example(shape)

    def write(tmp: str) -> None:
        _onnx_export(model, (x,), tmp, opset, dynamic_batch=True)

    try:
        _atomic_binary(path, write)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise UserError(
            f"ONNX export of {project.name} failed"
            f"{_culprit_text(model, x, lambda m, a: _onnx_bytes(m, a, opset), exc)}",
            1,
        ) from None
    result: dict[str, Any] = {"checked": False, "max_abs_diff": None}
    try:
        import onnx
    except ImportError:  # the checker is optional (pip install onnx); the file is written all the same
        check = False
    if check:
        try:
            onnx.checker.check_model(onnx.load(path))
        except Exception as exc:  # noqa: BLE001
            raise UserError(f"{path} does not pass the ONNX checker: {_first_line(exc)}", 1) from None
        result["checked"] = True
        diff = _onnx_runtime_diff(path, model, x)
        result["max_abs_diff"] = diff
        if diff is not None and diff > TOLERANCE * 10:
            raise UserError(f"{path}: onnxruntime's outputs differ from torch's by {diff:.2e}", 1)
    return result


def _onnx_export(model: Any, args: tuple, f: Any, opset: int, dynamic_batch: bool = False) -> None:
    """The TorchScript-based exporter (fast here); torch < 2.5 has no ``dynamo`` argument and uses it anyway."""
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


def _onnx_runtime_diff(path: str, model: Any, x: Any) -> float | None:
    import torch

    try:
        import onnxruntime as ort
    except ImportError:
        return None
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        want = model(x)
    return float((torch.from_numpy(got) - want).abs().max())


def export_torchscript(project: Project, path: str | os.PathLike, weights: str | None = None) -> dict:
    """``torch.jit.script`` of the generated module (``torch.jit.trace`` if scripting fails), saved,
    reloaded and compared. Returns {"method": "script" | "trace", "max_abs_diff": float}."""
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
        _atomic_binary(path, lambda tmp: torch.jit.save(compiled, tmp))
        loaded = torch.jit.load(path, map_location="cpu")
    with torch.no_grad():
        diff = float((loaded(x) - model(x)).abs().max())
    if diff > TOLERANCE:
        raise UserError(f"{path}: the reloaded TorchScript module differs from the model by {diff:.2e}", 1)
    return {"method": method, "max_abs_diff": diff}


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
    "FORMATS",
    "export",
    "export_module",
    "export_onnx",
    "export_script",
    "export_torchscript",
    "render_training_script",
    "write_text_atomic",
]
