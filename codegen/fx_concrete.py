"""The second tracer (issue 22): torch.fx tracing that carries real tensors of the known input shape.

torch.fx's symbolic tracing refuses everyday code whose sizes come from the input: ``F.avg_pool2d(x,
x.size(3))``, ``int(C / g)``, ``if x.size(1) != c``, and modules built inside forward (``nn.ReLU()(x)``,
"not installed as a submodule"). The input shape is known at import, so all of these are constants
there. ``trace_concrete`` traces with a tracer whose proxies each carry the real tensor their operation
gives on one seeded sample (eval mode, no grad): ``x.size()``, ``x.shape``, ``x.dim()``, ``x.numel()`` and
``len(x)`` answer with numbers, so size arithmetic and branches on shapes specialise, and a module that
is not part of the model is traced through (inlined: ``nn.ReLU()(x)`` becomes ``F.relu``). Lambdas need
nothing special: a ``LambdaLayer``'s forward is traced through like any other.

Unlike torch.export, the result is the same kind of graph the first tracer gives (``call_module`` nodes
for leaf modules, ``nn_module_stack`` from the module hierarchy), so the importer reads it unchanged and
state_dict keys and blocks are kept; every node's shape is recorded while tracing, so no second pass
runs. fx's plain tracing stays the first try (codegen/fx_import.py); this one takes over where it fails.
Imports torch only inside functions (the tracer class itself is in codegen/fx_concrete_tracer.py).
"""

from __future__ import annotations

from typing import Any

from graph.errors import UserError


def trace_concrete(model: Any, input_shape: tuple[int, ...], is_leaf: Any) -> Any:
    """A ``torch.fx.GraphModule`` of ``model`` traced on one seeded sample of ``input_shape``, with every
    tensor node's shape in ``meta["skipwire_shape"]`` (per sample) and ``meta["skipwire_full_shape"]``.
    Raises UserError with the first cause when the model cannot be traced even so."""
    import torch
    import torch.fx

    from codegen.fx_concrete_tracer import ConcreteTracer

    modes = {m: m.training for m in model.modules()}
    threads = torch.get_num_threads()
    model.eval()
    sample = torch.randn(1, *input_shape, generator=torch.Generator().manual_seed(0))
    tracer = ConcreteTracer(sample, is_leaf)
    try:
        torch.set_num_threads(1)  # one sample: threads only contend
        with torch.no_grad():
            graph = tracer.trace(model)
        gm = torch.fx.GraphModule(tracer.root, graph, type(model).__name__)
    except Exception as exc:  # noqa: BLE001 - any failure becomes one clear message
        node = getattr(exc, "skipwire_node", None)
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = f" at {node.format_node()}" if node is not None else ""
        shape = ",".join(map(str, input_shape))
        raise UserError(
            f"{type(model).__name__} cannot be traced with torch.fx, even with the input shape "
            f"{shape}{where}: {msg}"
        ) from None
    finally:
        torch.set_num_threads(threads)
        for m, training in modes.items():
            m.train(training)
    for n in gm.graph.nodes:
        n.meta.pop("skipwire_value", None)  # the tensors themselves: only their shapes are kept
    return gm


__all__ = ["trace_concrete"]
