"""The tracer behind codegen/fx_concrete.py: torch.fx proxies that carry real tensors.

Imported only when the second tracer runs (it imports torch at its top).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.fx
from torch.fx.node import map_aggregate

SIZE_METHODS = ("size", "dim", "numel", "ndimension", "nelement")
SIZE_ATTRS = ("shape", "ndim")


def value(a: Any) -> Any:
    """A proxy's real value (what its operation gave on the sample); anything else as it is."""
    return a.node.meta["skipwire_value"] if isinstance(a, torch.fx.Proxy) else a


def has_proxy(*items: Any) -> bool:
    found: list[Any] = []
    map_aggregate(items, lambda a: found.append(a) if isinstance(a, torch.fx.Proxy) else None)
    return bool(found)


class ConcreteProxy(torch.fx.Proxy):
    """``x.shape``, ``x.ndim`` and ``len(x)`` answer with the real tensor's numbers."""

    def __getattr__(self, k: str) -> Any:
        node = self.__dict__.get("node")
        v = node.meta.get("skipwire_value") if node is not None else None
        if k in SIZE_ATTRS and isinstance(v, torch.Tensor):
            return getattr(v, k)
        return super().__getattr__(k)

    def __len__(self) -> int:
        v = self.node.meta.get("skipwire_value")
        if isinstance(v, (torch.Tensor, list, tuple)):
            return len(v)
        return super().__len__()


class ConcreteTracer(torch.fx.Tracer):
    """Every node gets ``meta["skipwire_value"]`` (its real result on ``sample``) and its shapes;
    ``x.size()``/``x.dim()``/``x.numel()`` return numbers; a module that is not part of the root (made
    in forward) is traced through; while a value is computed, attributes are the real tensors."""

    def __init__(self, sample: Any, is_leaf: Any) -> None:
        super().__init__()
        self.sample = sample
        self.first_input = True
        self.computing = 0  # > 0 while a value is computed: attributes are real, not proxies
        self._is_leaf = is_leaf

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict) -> Any:
        if self.computing:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def is_leaf_module(self, m: Any, qualname: str) -> bool:
        return self._is_leaf(m) or super().is_leaf_module(m, qualname)

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
        if kind == "call_method" and target in SIZE_METHODS:
            return getattr(value(args[0]), target)(*map_aggregate(args[1:], value), **kwargs)
        if kind == "call_function" and target is getattr and args[1] in SIZE_ATTRS:
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
        self.computing += 1
        try:
            if kind == "get_attr":
                obj = self.root
                for part in target.split("."):
                    obj = getattr(obj, part)
                return obj
            vals, kw = map_aggregate(args, value), map_aggregate(kwargs, value)
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


__all__ = ["ConcreteProxy", "ConcreteTracer"]
