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
Imports torch only inside functions.
"""

from __future__ import annotations

from typing import Any

from graph.errors import UserError

_SIZE_METHODS = ("size", "dim", "numel", "ndimension", "nelement")
_SIZE_ATTRS = ("shape", "ndim")


def trace_concrete(model: Any, input_shape: tuple[int, ...], is_leaf: Any) -> Any:
    """A ``torch.fx.GraphModule`` of ``model`` traced on one seeded sample of ``input_shape``, with every
    tensor node's shape in ``meta["skipwire_shape"]`` (per sample) and ``meta["skipwire_full_shape"]``.
    Raises UserError with the first cause when the model cannot be traced even so."""
    import torch
    import torch.fx
    from torch.fx.node import map_aggregate

    def value(a: Any) -> Any:
        return a.node.meta["skipwire_value"] if isinstance(a, torch.fx.Proxy) else a

    def has_proxy(*items: Any) -> bool:
        found = []
        map_aggregate(items, lambda a: found.append(a) if isinstance(a, torch.fx.Proxy) else None)
        return bool(found)

    class ConcreteProxy(torch.fx.Proxy):
        def __getattr__(self, k: str) -> Any:
            node = self.__dict__.get("node")
            v = node.meta.get("skipwire_value") if node is not None else None
            if k in _SIZE_ATTRS and isinstance(v, torch.Tensor):
                return getattr(v, k)
            return super().__getattr__(k)

        def __len__(self) -> int:
            v = self.node.meta.get("skipwire_value")
            if isinstance(v, (torch.Tensor, list, tuple)):
                return len(v)
            return super().__len__()

    class Tracer(torch.fx.Tracer):
        def __init__(self) -> None:
            super().__init__()
            self.sample = torch.randn(1, *input_shape, generator=torch.Generator().manual_seed(0))
            self.first_input = True
            self.computing = 0  # > 0 while a value is computed: attributes are real, not proxies

        def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict) -> Any:
            if self.computing:
                return attr_val
            return super().getattr(attr, attr_val, parameter_proxy_cache)

        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            return is_leaf(m) or super().is_leaf_module(m, qualname)

        def proxy(self, node: Any) -> Any:
            return ConcreteProxy(node, self)

        def call_module(self, m: Any, forward: Any, args: Any, kwargs: Any) -> Any:
            if not has_proxy(args, kwargs):  # computing a value, not tracing
                return forward(*args, **kwargs)
            try:
                self.path_of_module(m)
            except NameError:  # built inside forward (nn.ReLU()(x)): traced through
                return forward(*args, **kwargs)
            return super().call_module(m, forward, args, kwargs)

        def create_proxy(self, kind: str, target: Any, args: Any, kwargs: Any, *rest: Any, **kw: Any) -> Any:
            if kind == "call_method" and target in _SIZE_METHODS:
                return getattr(value(args[0]), target)(*map_aggregate(args[1:], value), **kwargs)
            if kind == "call_function" and target is getattr and args[1] in _SIZE_ATTRS:
                return getattr(value(args[0]), args[1])
            proxy = super().create_proxy(kind, target, args, kwargs, *rest, **kw)
            if kind == "output":
                return proxy
            result = self._compute(kind, target, args, kwargs, proxy.node)
            proxy.node.meta["skipwire_value"] = result
            if isinstance(result, torch.Tensor):
                proxy.node.meta["skipwire_full_shape"] = tuple(int(d) for d in result.shape)
                if kind != "get_attr":
                    proxy.node.meta["skipwire_shape"] = tuple(int(d) for d in result.shape[1:])
            return proxy

        def _compute(self, kind: str, target: Any, args: Any, kwargs: Any, node: Any) -> Any:
            if kind == "placeholder":
                if self.first_input:
                    self.first_input = False
                    return self.sample
                return args[0] if args else None  # a default argument
            if kind == "get_attr":
                self.computing += 1
                try:
                    obj = self.root
                    for part in target.split("."):
                        obj = getattr(obj, part)
                    return obj
                finally:
                    self.computing -= 1
            vals, kw = map_aggregate(args, value), map_aggregate(kwargs, value)
            self.computing += 1
            try:
                if kind == "call_module":
                    return self.root.get_submodule(target)(*vals, **kw)
                if kind == "call_method":
                    return getattr(vals[0], target)(*vals[1:], **kw)
                return target(*vals, **kw)
            except Exception as exc:
                exc.skipwire_node = node  # type: ignore[attr-defined]
                raise
            finally:
                self.computing -= 1

    modes = {m: m.training for m in model.modules()}
    threads = torch.get_num_threads()
    model.eval()
    tracer = Tracer()
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
