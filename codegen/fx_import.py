"""Import a PyTorch ``nn.Module`` into a Skipwire project through torch.fx.

``import_module(model, input_shape)`` traces the model with a ``torch.fx.Tracer``
(Skipwire's own helper classes kept as leaves), gets every tensor's shape from one
sample, maps every call to a registry layer (``codegen.fx_ops``), turns residual
additions into shortcut edges (``codegen.fx_patterns``), keeps the module hierarchy
as blocks and stages and lays the graphs out (``codegen.fx_structure``).
Unsupported operations are gathered into one ``UserError``. See docs/import_export.md.

Imports torch only inside functions.
"""

from __future__ import annotations

import operator
import sys
from dataclasses import dataclass, field
from math import prod
from typing import Any

from codegen.layer_codegen import Unsupported
from graph.errors import UserError
from graph.model import Project

SMALL_INPUT = 3 * 256 * 256  # inputs up to this size get their shapes by running the model for real


@dataclass
class ImportResult:
    project: Project
    warnings: list[str] = field(default_factory=list)
    check: Any = None  # codegen.import_check.CheckResult: the self-check's verdict
    tracer: str = "torch.fx"  # or "concrete shapes ..." (codegen/fx_concrete.py) where fx alone fails


@dataclass
class _Op:
    key: str
    type: str
    params: dict
    inputs: list[str]
    scope: list[str]  # module-stack keys of the enclosing (non-leaf) modules, outermost first
    shape: tuple
    attr: str | None = None  # qualified name of the leaf module
    shortcut: dict[int, tuple[str, str]] = field(default_factory=dict)  # port -> (projection, edge name)


@dataclass
class _Scope:
    key: str
    qualname: str
    cls: type
    depth: int
    kind: str = "inline"  # block | stage | inline
    ext: list[str] = field(default_factory=list)
    out: str | None = None


def _where(node: Any) -> str:
    """`` in "layer1.0"``: the module the call sits in (nothing for a module call, which names itself)."""
    stack = node.meta.get("nn_module_stack") or {}
    path = list(stack.values())[-1][0] if stack else ""
    if not path or (node.op == "call_module" and path == node.target):
        return ""
    return f' in "{path}"'


def _describe(node: Any) -> str:
    """The call as a user wrote it: ``self.up``, ``torch.softmax``, ``F.interpolate``, ``.permute()``."""
    tgt = node.target
    if node.op == "call_module":  # layer1.0.conv1 -> self.layer1[0].conv1
        return "self" + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in str(tgt).split("."))
    if node.op == "call_method":
        return f".{tgt}()"
    if isinstance(tgt, str):
        return tgt
    name = getattr(tgt, "__name__", None) or repr(tgt)
    qual = getattr(tgt, "__qualname__", name) or name
    module = getattr(tgt, "__module__", None) or ""
    if qual.startswith("_VariableFunctionsClass.") or module == "torch":
        return f"torch.{name}"
    if module in ("torch.nn.functional", "torch._C._nn"):
        return f"F.{name}"
    if module in ("_operator", "operator"):
        return f"operator.{name}"
    return f"{module}.{qual}" if module else qual


MAX_LINES = 10  # lines of an unsupported-model message (after its summary line)


def _class_label(cls: Any) -> str:
    """``nn.Conv1d``, ``timm BatchNormAct2d``, ``torchvision InvertedResidual``, else the class name."""
    if isinstance(cls, str):  # some torch versions keep the class's qualified name
        module, _, name = cls.rpartition(".")
    else:
        module, name = getattr(cls, "__module__", "") or "", getattr(cls, "__qualname__", str(cls))
    if module.startswith("torch.nn.modules") or module == "torch.nn":
        return f"nn.{name}"
    top = module.split(".")[0]
    if top in ("torchvision", "timm"):
        return f"{top} {name}"
    return name


def _fmt(shape: tuple) -> str:
    return "x".join(map(str, shape)) if shape else "one number"  # a per-sample shape of () is a scalar


def _full_shape(node: Any) -> tuple:
    """A tensor's whole shape, batch axis included (a parameter's shape for a get_attr node)."""
    if "skipwire_full_shape" in node.meta:
        return node.meta["skipwire_full_shape"]
    val = node.meta.get("val")
    return tuple(int(d) for d in val.shape) if val is not None and hasattr(val, "shape") else ()


# ---------------------------------------------------------------- tracing
def _guess_input(gm: Any) -> tuple[int, ...]:
    """Without --input: the first layer's input size (Conv2d in_channels at 224x224, Linear in_features)."""

    ph = next((n for n in gm.graph.nodes if n.op == "placeholder"), None)
    todo, seen = list(ph.users) if ph is not None else [], set()
    while todo:
        node = todo.pop(0)
        if node in seen:
            continue
        seen.add(node)
        shape = _input_of(gm.get_submodule(node.target)) if node.op == "call_module" else None
        if shape is not None:
            return shape
        todo.extend(node.users)
    return (3, 224, 224)


def _trace(model: Any, input_shape: tuple[int, ...] | None):
    import torch
    import torch.fx

    from codegen.fx_ops import is_leaf

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            return is_leaf(m) or super().is_leaf_module(m, qualname)

    try:
        tracer = Tracer()
        graph = tracer.trace(model)
        gm = torch.fx.GraphModule(tracer.root, graph, type(model).__name__)
    except Exception as exc:  # noqa: BLE001 - any tracing failure becomes one clear message
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{type(model).__name__} cannot be traced with torch.fx: {msg}") from None
    input_shape = tuple(input_shape) if input_shape else _guess_input(gm)
    was_training = model.training
    threads = torch.get_num_threads()
    gm.eval()
    try:
        torch.set_num_threads(1)  # one sample: threads only contend (30x slower on a busy 2-core machine)
        with torch.no_grad():
            if prod(input_shape) <= SMALL_INPUT:
                _shape_prop(gm, input_shape)
            else:  # big inputs: shapes without computing (fake tensors); much faster on CPU
                _fake_prop(gm, input_shape)
    except Exception as exc:  # noqa: BLE001
        cause = (
            exc.__cause__ or exc
        )  # ShapeProp wraps the model's own error in "ShapeProp error for: node=..."
        msg = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        failed = getattr(exc, "skipwire_node", None)
        where = ""
        if failed is not None:
            where = f" at {_describe(failed)}{_where(failed)}"
            if failed.op == "call_module":
                where += f" ({type(gm.get_submodule(failed.target)).__name__})"
        shape = ",".join(map(str, input_shape))
        raise UserError(
            f"{type(model).__name__} does not run on an input of shape {shape}{where}: {msg}; "
            "give the right one with --input C,H,W"
        ) from None
    finally:
        torch.set_num_threads(threads)
        gm.train(was_training)
    return gm, input_shape


def _shape_prop(gm: Any, input_shape: tuple) -> None:
    """torch.fx's ShapeProp without the traceback it prints on a failure; the error raised carries
    the failing fx node as ``skipwire_node`` so that the message can name it."""
    import contextlib
    import io

    import torch
    import torch.fx

    # torch.fx.Interpreter, not ShapeProp: ShapeProp imports sympy (symbolic shapes), a second or more
    # of an import's time; only the shapes are kept, in meta["skipwire_shape"]
    class _Prop(torch.fx.Interpreter):
        def run_node(self, n: Any) -> Any:
            try:
                with contextlib.redirect_stderr(io.StringIO()):
                    result = super().run_node(n)
            except Exception as exc:
                exc.skipwire_node = n  # type: ignore[attr-defined]
                raise
            if isinstance(result, torch.Tensor):
                n.meta["skipwire_full_shape"] = tuple(int(d) for d in result.shape)
                if n.op != "get_attr":  # a parameter or buffer has no batch axis
                    n.meta["skipwire_shape"] = tuple(int(d) for d in result.shape[1:])
            return result

    _Prop(gm).run(torch.zeros(1, *input_shape))


def _fake_prop(gm: Any, input_shape: tuple) -> None:
    import torch

    try:
        from torch._subclasses.fake_tensor import FakeTensorMode
        from torch.fx.passes.fake_tensor_prop import FakeTensorProp

        FakeTensorProp(gm, FakeTensorMode(allow_non_fake_inputs=True)).propagate(torch.zeros(1, *input_shape))
    except Exception:  # noqa: BLE001 - fake tensors cannot run everything: compute for real
        for n in gm.graph.nodes:
            n.meta.pop("val", None)
            n.meta.pop("skipwire_shape", None)
        _shape_prop(gm, input_shape)


def _shapes(gm: Any) -> dict:
    import torch

    shapes = {}
    for n in gm.graph.nodes:
        meta, typ, val = n.meta.get("tensor_meta"), n.meta.get("type"), n.meta.get("val")
        if n.op == "get_attr":
            continue  # a parameter or buffer, not a per-sample tensor (_Converter.param_use)
        if "skipwire_shape" in n.meta:
            shapes[n] = n.meta["skipwire_shape"]
        elif isinstance(val, torch.Tensor):
            shapes[n] = tuple(int(d) for d in val.shape[1:])
        elif (
            meta is not None
            and isinstance(typ, type)
            and issubclass(typ, torch.Tensor)
            and hasattr(meta, "shape")
        ):
            shapes[n] = tuple(int(d) for d in meta.shape[1:])
    return shapes


# ---------------------------------------------------------------- fx nodes -> ops
class _Converter:
    def __init__(self, model: Any, gm: Any, input_shape: tuple) -> None:
        self.model = model  # the original: the GraphModule's containers are plain Modules
        self.gm = gm
        self.shapes = _shapes(gm)
        self.input_shape = input_shape
        self.ops: dict[str, _Op] = {}
        self.alias: dict[Any, str] = {}  # fx node -> op key
        self.errors: list[str] = []
        self.problems: dict[str, dict[str, set[str]]] = {}  # module class -> cause -> module paths
        self.tails: set[str] = set()  # ops a norm+act leaf adds after its norm (named "<norm>_act")
        self.splits: dict[Any, tuple[Any, list]] = {}  # split/chunk node -> (its input, channel bounds)
        self.pending: dict[
            Any, tuple[str, Any, int]
        ] = {}  # a channel shuffle's steps: (state, input, groups)
        self.warnings: list[str] = []
        self.scopes: dict[str, _Scope] = {}
        self.output: str | None = None
        self._cats: list[tuple[list[str], str]] = []  # (input keys, op key) of converted torch.cat calls
        self._calls: dict[str, list[str]] = {}
        self.failed: set = set()  # fx nodes that could not be converted (their users fail silently)
        # a parameter used in forward (get_attr), or a view of one: fx node -> (its name, its shape, view)
        self.param_refs: dict[Any, tuple[str, tuple, tuple]] = {}

    def fail(self, node: Any, what: str) -> None:
        """Record one unsupported operation under the module class it belongs to (grouped later)."""
        self.failed.add(node)
        if node.op == "call_module":
            mod = self.gm.get_submodule(node.target)
            owner, path = _class_label(type(mod)), str(node.target)
            cause = what if what and what != _class_label(type(mod)) else "has no Skipwire layer type"
        else:
            stack = list((node.meta.get("nn_module_stack") or {}).values())
            if stack:
                path, cls = stack[-1][0], stack[-1][1]
                owner = _class_label(cls)
            else:
                path, owner = "", _class_label(type(self.model))
            if node.op == "get_attr":
                cause = (
                    "uses its own parameters or buffers directly in forward (Skipwire imports one only as "
                    "a layer scale: a per-channel parameter times a tensor)"
                )
            else:
                cause = f"calls {_describe(node)}" + (f" ({what})" if what else "")
        self.problems.setdefault(owner, {}).setdefault(cause, set()).add(path)
        self.errors.append(f"{owner}: {cause}")

    def report(self) -> str:
        """The unsupported operations grouped by module class, then cause: a few lines, not one per use."""
        lines = []
        for owner, causes in self.problems.items():
            places = sorted(set().union(*causes.values()), key=lambda p: (p.count("."), p))
            where = f'"{places[0]}"' if places[0] else "the top level"
            n = len(places)
            head = f"{owner} ({n} place{'s' if n != 1 else ''}, e.g. {where})"
            texts = list(causes)
            more = f"; and {len(texts) - 4} more" if len(texts) > 4 else ""
            lines.append(f"{head}: {'; '.join(texts[:4])}{more}")
        lines += [e for e in self.errors if not any(e.startswith(o + ": ") for o in self.problems)]
        shown = lines[:MAX_LINES]
        if len(lines) > MAX_LINES:
            shown.append(f"... and {len(lines) - MAX_LINES} more")
        return "\n  ".join(shown)

    def scope_of(self, node: Any, leaf: bool) -> list[str]:
        stack = list((node.meta.get("nn_module_stack") or {}).items())
        if leaf and stack and stack[-1][1][0] == node.target:
            stack = stack[:-1]
        keys = []
        for depth, (key, (qualname, cls)) in enumerate(stack):
            if key not in self.scopes:
                self.scopes[key] = _Scope(key, qualname, cls, depth)
            keys.append(key)
        return keys

    def add(
        self,
        node: Any,
        type_name: str,
        params: dict,
        inputs: list,
        scope: list[str],
        attr: str | None = None,
        key: str | None = None,
    ) -> _Op | None:
        keys = []
        for x in inputs:
            if x not in self.alias:
                if x in self.failed:
                    self.failed.add(node)
                else:
                    self.fail(node, f"its input {x.name} is not a tensor Skipwire can follow")
                return None
            keys.append(self.alias[x])
        op = _Op(key or node.name, type_name, params, keys, scope, self.shapes.get(node, ()), attr)
        self.ops[op.key] = op
        if key is None:
            self.alias[node] = op.key
        return op

    def run(self) -> None:
        from codegen.fx_ops import Unsupported

        placeholders = 0
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                placeholders += 1
            try:
                self._visit(node, placeholders)
            except Unsupported as exc:
                self.fail(node, str(exc))

    def _visit(self, node: Any, placeholders: int) -> None:
        """One traced node -> ops (raises fx_ops.Unsupported); ``placeholders``: inputs seen so far."""
        from codegen.fx_ops import convert_call

        if node.op == "placeholder":
            self._visit_placeholder(node, placeholders)
        elif node.op == "get_attr":
            self.param_refs[node] = (str(node.target), _full_shape(node), _full_shape(node))
        elif any(a in self.param_refs for a in node.all_input_nodes):
            self.param_use(node)
        elif node.op == "call_module":
            self._visit_call_module(node)
        elif node.op == "call_function" and node.target is operator.getitem and node.args[0] in self.splits:
            self._visit_split_piece(node)
        elif node.op in ("call_function", "call_method"):
            if not self.on_groups(node):
                self.call(node, convert_call(node, self.shapes))
        elif node.op == "output":
            self._visit_output(node)

    def _visit_placeholder(self, node: Any, placeholders: int) -> None:
        from codegen.fx_ops import Unsupported

        if placeholders > 1 and not node.users:
            return  # an optional argument the network does not use
        if placeholders > 1:
            raise Unsupported("a second input; Skipwire networks take one tensor")
        self.add(node, "Input", {"shape": list(self.input_shape)}, [], [])

    def _visit_call_module(self, node: Any) -> None:
        from codegen.fx_ops import NORM_ACT_LEAVES, Unsupported, convert_module, convert_norm_act

        mod = self.gm.get_submodule(node.target)
        src = node.args[0] if node.args else None
        if type(mod).__name__ == "WeightedAdd" and not node.kwargs:
            self._visit_weighted_add(node, mod)
            return
        if len(node.args) != 1 or node.kwargs:
            raise Unsupported("a module called with more than one argument")
        if type(mod).__name__ in NORM_ACT_LEAVES:
            self.norm_act(node, convert_norm_act(mod, self.shapes.get(src)), src)
            return
        type_name, params = convert_module(mod, self.shapes.get(src))
        self._calls.setdefault(node.target, []).append(node.name)
        if len(self._calls[node.target]) == 2 and any(True for _ in mod.parameters()):
            self.warnings.append(
                f'module "{node.target}" is called more than once and shares its weights; '
                "the imported graph gives each call its own copy"
            )
        op = self.add(node, type_name, params, [src], self.scope_of(node, True), attr=node.target)
        if op is not None and type_name == "RadixSoftmax" and src in self.shapes:
            op.shape = self.shapes[src]  # timm's flattens to (B, C); Skipwire's keeps the shape

    def _visit_weighted_add(self, node: Any, mod: Any) -> None:
        """WeightedAdd([a, b]) (a list, as TorchScript wants) or WeightedAdd(a, b)."""
        from codegen.fx_ops import convert_helper

        args = (
            list(node.args[0])
            if len(node.args) == 1 and isinstance(node.args[0], (list, tuple))
            else list(node.args)
        )
        type_name, params = convert_helper(mod, [self.shapes.get(a) for a in args])
        self._calls.setdefault(node.target, []).append(node.name)
        self.add(node, type_name, params, args, self.scope_of(node, True), attr=node.target)

    def _visit_split_piece(self, node: Any) -> None:
        """``pieces[i]`` of a recorded channel split -> a ChannelSlice."""
        from codegen.fx_ops import Unsupported

        src, bounds = self.splits[node.args[0]]
        if not isinstance(node.args[1], int) or not -len(bounds) <= node.args[1] < len(bounds):
            raise Unsupported(f"a piece {node.args[1]!r} of a split")
        start, stop = bounds[node.args[1]]
        self.add(node, "ChannelSlice", {"start": start, "stop": stop}, [src], self.scope_of(node, False))

    def _visit_output(self, node: Any) -> None:
        from codegen.fx_ops import Unsupported

        res = node.args[0]
        if not isinstance(res, type(node)):
            raise Unsupported("the network must return one tensor, not a tuple, list or dict")
        if res in self.failed:
            return
        if res not in self.alias:
            raise Unsupported("the network must return one tensor")
        self.output = self.alias[res]

    def param_use(self, node: Any) -> None:
        """A parameter in forward: a view of it (``gamma.reshape(1, -1, 1, 1)``), or a layer scale, the
        parameter times a tensor (torchvision's ``layer_scale * x``, timm's ``x.mul(gamma.reshape(...))``);
        any other use is refused, naming the parameter's module."""
        import torch

        refs = [a for a in node.all_input_nodes if a in self.param_refs]
        method = node.op == "call_method"
        tgt = node.target
        reshape = (method and tgt in ("reshape", "view")) or (not method and tgt is torch.reshape)
        if reshape and node.args[0] in self.param_refs and len(node.all_input_nodes) == 1:
            name, shape, _view = self.param_refs[node.args[0]]
            self.param_refs[node] = (name, shape, _full_shape(node))
            return
        muls = (operator.mul, operator.imul, torch.mul)
        if len(refs) == 1 and ((not method and tgt in muls) or (method and tgt in ("mul", "mul_"))):
            others = [a for a in node.args[:2] if a is not refs[0]]
            if len(others) == 1 and len(node.args) == 2 and not node.kwargs and others[0] in self.alias:
                self.layer_scale(node, refs[0], others[0])
                return
        for ref in refs:
            if ref not in self.failed:
                self.fail(self._param_node(ref), "")
        self.failed.add(node)

    def _param_node(self, ref: Any) -> Any:
        """The get_attr node behind a parameter reference (through its views)."""
        while ref.op != "get_attr":
            ref = ref.args[0]
        return ref

    def layer_scale(self, node: Any, ref: Any, x: Any) -> None:
        name, shape, view = self.param_refs[ref]
        x_shape = self.shapes.get(x, ())
        stack = list((node.meta.get("nn_module_stack") or {}).values())
        if name.rpartition(".")[0] != (stack[-1][0] if stack else ""):  # its own: the node takes its name
            raise Unsupported(f'a parameter "{name}" of another module than the one that uses it')
        if len(x_shape) != 3 or shape[:1] != x_shape[:1]:
            raise Unsupported(f"a parameter of shape {_fmt(shape)} times a tensor of shape {_fmt(x_shape)}")
        c = x_shape[0]
        if shape == (c, 1, 1) and view == shape:
            weight_shape = "C,1,1"  # torchvision's layer_scale
        elif shape == (c,) and view == (1, c, 1, 1):
            weight_shape = "C"  # timm's gamma, reshaped in forward
        else:
            raise Unsupported(
                f'a parameter "{name.rpartition(".")[2]}" of shape {_fmt(shape)} seen as {_fmt(view)}, '
                "times a tensor (a layer scale is C,1,1, or C reshaped to 1,C,1,1)"
            )
        try:
            value = self.model.get_parameter(name)
        except AttributeError:
            raise Unsupported(f'a buffer "{name}" used as a scale (only a learnable parameter)') from None
        if any(op.type == "LayerScale" and op.attr == name for op in self.ops.values()):
            raise Unsupported(f'a parameter "{name}" used as a scale twice (the graph would hold two)')
        flat = value.detach().flatten()
        # float32's 1e-6 written as 1e-06; trained values (not all equal): the usual start
        init = float(f"{float(flat[0]):.7g}") if bool((flat == flat[0]).all()) else 1e-6
        params = {"init_value": init, "weight_shape": weight_shape}
        self.add(node, "LayerScale", params, [x], self.scope_of(node, False), attr=name)

    def on_groups(self, node: Any) -> bool:
        """ResNeSt's split attention works on a (B, R, C, H, W) view of R channel groups (a "grouped"
        pending view, as the first step of a channel shuffle): ``.sum(dim=1)`` over the groups is a
        GroupSum, the product of two such views (the same R and C) a Multiply that stays grouped, and
        SKNet's softmax across the groups (dim=1) a RadixSoftmax of cardinality 1. False: not such a
        call (the caller converts it as usual)."""
        import torch
        import torch.nn.functional as F

        views = [a for a in node.args[:2] if isinstance(a, torch.fx.Node) and a in self.pending]
        if not views or any(self.pending[v][0] != "grouped" for v in views):
            return False
        method, tgt = node.op == "call_method", node.target
        scope = self.scope_of(node, False)
        if (method and tgt == "sum") or (not method and tgt is torch.sum):
            dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
            if dim not in (1, -4) or node.kwargs.get("keepdim", False) or len(node.args) > 2:
                raise Unsupported("a sum of a grouped view other than .sum(dim=1) over its groups")
            _, src, groups = self.pending[views[0]]
            self.add(node, "GroupSum", {"groups": groups}, [src], scope)
            return True
        softmax = (method and tgt == "softmax") or (not method and tgt in (torch.softmax, F.softmax))
        if softmax and len(views) == 1:
            dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
            if dim not in (1, -4) or node.kwargs.get("dtype") is not None:
                raise Unsupported("a softmax of a grouped view other than across its groups (dim=1)")
            _, src, groups = self.pending[views[0]]
            if self.add(node, "RadixSoftmax", {"radix": groups, "cardinality": 1}, [src], scope) is not None:
                self.pending[node] = ("grouped", node, groups)
            return True
        product = (method and tgt in ("mul", "mul_")) or (
            not method and tgt in (operator.mul, operator.imul, torch.mul)
        )
        if product and len(views) == 2 and len(node.args) == 2:
            (_, a, ga), (_, b, gb) = self.pending[views[0]], self.pending[views[1]]
            if ga != gb or self.shapes[views[0]][:2] != self.shapes[views[1]][:2]:
                raise Unsupported("a product of grouped views that differ in their groups")
            if self.add(node, "Multiply", {}, [a, b], scope) is not None:
                self.pending[node] = ("grouped", node, ga)
            return True
        shaping = ("view", "reshape", "transpose", "permute", "contiguous", "unflatten", "size", "dim")
        if (method and tgt in shaping) or (
            not method and tgt in (getattr, torch.reshape, torch.transpose, torch.permute, torch.unflatten)
        ):
            return False  # a channel shuffle's steps, sizes (fx_import.reshape, fx_ops)
        raise Unsupported(
            "an operation on a view of the channels as groups (only .sum(dim=1) over them, a softmax "
            "across them, a product of two such views and a channel shuffle are supported)"
        )

    def norm_act(self, node: Any, parts: list[tuple[str, dict, str]], src: Any) -> None:
        """One leaf -> a chain of ops, each named after its module (``bn1``, ``bn1.act``)."""
        scope = self.scope_of(node, True)
        prev = src
        for i, (type_name, params, suffix) in enumerate(parts):
            last = i == len(parts) - 1
            op = self.add(
                node,
                type_name,
                params,
                [prev],
                scope,
                attr=node.target + suffix,
                key=None if last else f"{node.name}{suffix.replace('.', '_') or '_norm'}",
            )
            if op is None:
                return
            op.shape = self.shapes.get(node, ())
            if i:
                self.tails.add(op.key)
            if not last:
                self.alias[("part", op.key)] = op.key
                prev = ("part", op.key)

    def call(self, node: Any, spec: Any) -> None:
        scope = self.scope_of(node, False)
        if spec.kind == "drop":
            return
        if spec.kind == "split":
            self.splits[node] = (spec.inputs[0], spec.params["bounds"])
            return
        if spec.kind in ("reshape", "transpose"):
            self.reshape(node, spec, scope)
            return
        if spec.kind == "alias" and spec.inputs[0] in self.pending:
            self.pending[node] = self.pending[spec.inputs[0]]
            return
        if spec.kind == "alias":
            if spec.inputs[0] in self.alias:
                self.alias[node] = self.alias[spec.inputs[0]]
            elif spec.inputs[0] in self.failed:
                self.failed.add(node)
            else:
                self.fail(node, "its input is not a tensor Skipwire can follow")
            return
        if spec.kind == "cat":
            self.cat(node, spec.inputs, scope)
            return
        if spec.kind == "stack":  # (B, K, C, H, W): the K tensors' channels one after another, grouped
            self.cat(node, spec.inputs, scope)
            if node in self.alias:
                self.pending[node] = ("grouped", node, len(spec.inputs))
            return
        if spec.type == "GlobalMeanFlat":
            pool = self.add(
                node, "AdaptiveAvgPool2d", {"output_size": 1}, spec.inputs, scope, key=node.name + "_pool"
            )
            if pool is not None:
                pool.shape = self.shapes[spec.inputs[0]][:1] + (1, 1)
                self.ops[node.name] = _Op(
                    node.name, "Flatten", {}, [pool.key], scope, self.shapes.get(node, ())
                )
                self.alias[node] = node.name
            return
        self.add(node, spec.type, spec.params, spec.inputs, scope)

    def reshape(self, node: Any, spec: Any, scope: list[str]) -> None:
        """view/reshape/transpose, read from the shapes: a flatten to a vector, a no-op, or a channel
        shuffle (view as groups x channels/groups, transpose those two, view back)."""
        src = spec.inputs[0]
        out, ins = self.shapes.get(node), self.shapes.get(src)
        state = self.pending.get(src)
        if spec.kind == "transpose":
            if state is not None and state[0] == "grouped" and spec.params["dims"] == (1, 2):
                self.pending[node] = ("transposed", state[1], state[2])
                return
            raise Unsupported("a transpose (only inside a channel shuffle)")
        if state is not None:
            if state[0] == "transposed" and out == self.shapes.get(state[1]):
                self.add(node, "ChannelShuffle", {"groups": state[2]}, [state[1]], scope)
                return
            raise Unsupported("a reshape of a grouped view (only a channel shuffle is supported)")
        if out is None or ins is None:
            raise Unsupported("a reshape of something that is not a tensor")
        if not ins:
            raise Unsupported(
                f"a reshape of one number per sample to {_fmt(out)} (only flatten and channel shuffle)"
            )
        if len(out) == 1:
            self.add(node, "Flatten", {}, [src], scope)
        elif out == ins and src in self.alias:
            self.alias[node] = self.alias[src]
        elif src in self.alias and tuple(self.ops[self.alias[src]].shape) == out:
            self.alias[node] = self.alias[src]  # back to the shape the graph keeps (after a RadixSoftmax)
        elif len(ins) == 3 and len(out) == 4 and out[2:] == ins[1:] and out[0] * out[1] == ins[0]:
            self.pending[node] = ("grouped", src, out[0])
        elif len(ins) == 1 and out == (1, ins[0]):  # ECA: pooled channels as one sequence for a Conv1d
            self.add(node, "_ToRow", {}, [src], scope)
        elif len(ins) == 2 and ins[0] == 1 and out == (ins[1], 1, 1):  # and back (fx_patterns folds both)
            self.add(node, "_FromRow", {}, [src], scope)
        elif len(ins) == 1 and out == (
            ins[0],
            1,
            1,
        ):  # an SE gate's weights for the product: y.view(b, c, 1, 1)
            self.add(node, "Unflatten", {}, [src], scope)
        else:
            raise Unsupported(
                f"a reshape of {_fmt(ins)} to {_fmt(out)} (only flatten, to Cx1x1 and channel shuffle)"
            )

    def cat(self, node: Any, inputs: list, scope: list[str]) -> None:
        """torch.cat over a list; a list that grows by one each call becomes chained 2-input Concats."""
        if any(x not in self.alias for x in inputs):
            if any(x in self.failed for x in inputs):
                self.failed.add(node)
            else:
                self.fail(node, "an input of torch.cat is not a tensor Skipwire can follow")
            return
        keys = [self.alias[x] for x in inputs]
        if len(keys) == 1:
            self.alias[node] = keys[0]
            return
        best: tuple[int, str] | None = None
        for prev, key in self._cats:
            if len(prev) < len(keys) and keys[: len(prev)] == prev and (best is None or len(prev) > best[0]):
                best = (len(prev), key)
        if best is None and len(keys) > 2:
            op = _Op(node.name, "Concat", {"num_inputs": len(keys)}, keys, scope, self.shapes.get(node, ()))
            self.ops[op.key] = op
        else:
            start, acc = best if best is not None else (1, keys[0])
            for i in range(start, len(keys)):
                key = node.name if i == len(keys) - 1 else f"{node.name}_part{i}"
                shape = self.ops[acc].shape
                shape = (shape[0] + self.ops[keys[i]].shape[0],) + tuple(shape[1:])
                self.ops[key] = _Op(key, "Concat", {"num_inputs": 2}, [acc, keys[i]], scope, shape)
                self._cats.append((keys[: i + 1], key))
                acc = key
        self._cats.append((keys, node.name))
        self.alias[node] = node.name


# ---------------------------------------------------------------- entry points
def parse_target(spec: str) -> tuple[str, str]:
    if ":" not in spec:
        raise UserError(f"expected MODULE:CALLABLE, got {spec!r} (for example models:resnet18)")
    mod, _, attr = spec.rpartition(":")
    if not mod or not attr:
        raise UserError(f"expected MODULE:CALLABLE, got {spec!r}")
    return mod, attr


def import_target(
    spec: str, input_shape: tuple[int, ...] | None = None, cwd: str | None = None, init: str = "torch_default"
) -> ImportResult:
    """``MODULE:CALLABLE`` (or ``path/to/file.py:CALLABLE``) -> project.

    MODULE is imported from ``cwd`` (default: the current directory), then sys.path. A class or
    factory is called without arguments; an nn.Module instance is used as is."""
    import importlib.util
    import os

    mod_name, attr = parse_target(spec)
    base = cwd or os.getcwd()
    try:
        if mod_name.endswith(".py"):
            file = os.path.join(base, mod_name)
            if not os.path.isfile(file):
                raise UserError(f"{file} does not exist")
            folder = os.path.dirname(os.path.abspath(file))
            if folder not in sys.path:
                sys.path.insert(0, folder)  # so that the file's own imports resolve
            name = "skipwire_import_" + "".join(
                c if c.isalnum() else "_" for c in os.path.basename(file)[:-3]
            )
            loader_spec = importlib.util.spec_from_file_location(name, file)
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[name] = module
            loader_spec.loader.exec_module(module)
        else:
            if base not in sys.path:
                sys.path.insert(0, base)
            module = importlib.import_module(mod_name)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"cannot import module {mod_name!r}: {type(exc).__name__}: {exc}") from None
    from torch import nn

    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UserError(f"module {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, nn.Module):
        if not callable(obj):
            raise UserError(f"{spec} is neither an nn.Module nor a callable that returns one")
        try:
            obj = obj()
        except Exception as exc:  # noqa: BLE001
            raise UserError(f"calling {spec}() failed: {type(exc).__name__}: {exc}") from None
        if not isinstance(obj, nn.Module):
            raise UserError(f"{spec}() returned {type(obj).__name__}, not an nn.Module")
    result = import_module(obj, input_shape, init)
    result.project.name = attr.rpartition(".")[2]
    return result


def import_module(
    model: Any, input_shape: tuple[int, ...] | None = None, init: str = "torch_default", check: bool = True
) -> ImportResult:
    """Trace ``model`` and build a project; raises UserError listing every unsupported operation.

    ``input_shape`` is one sample's shape; without it, the first layer's input size at 224x224
    (its ``in_channels``), else 3x224x224. The structure is imported, not the weights: every Conv2d
    gets the weight rule ``init`` (torch's default unless asked; codegen/init_rules.py). ``check``: the
    self-check (codegen/import_check.py) builds the export, loads the model's state_dict strictly and
    compares outputs; a mismatch raises UserError (exit 1)."""
    from codegen.fx_structure import build_project
    from codegen.init_rules import set_conv_init

    try:
        gm, shape = _trace(model, input_shape)
        conv = _convert(model, gm, shape)
        tracer = "torch.fx"
    except UserError as fx_error:  # the second tracer: sizes, shape branches, modules built in forward
        from codegen.fx_concrete import trace_concrete
        from codegen.fx_ops import is_leaf

        shape = tuple(input_shape) if input_shape else _guess_from_modules(model)
        try:
            conv = _convert(model, trace_concrete(model, shape, is_leaf), shape)
        except UserError as exc:
            # both fail: fx's refusal where fx traced (its grouping is the stable one), else this one's
            raise (exc if _UNTRACEABLE in fx_error.message.splitlines()[0] else fx_error) from None
        tracer = f"concrete shapes {_fmt(shape)} (torch.fx alone: {_first_line(fx_error)})"
    _drop_dead(conv, model)
    project = build_project(conv, type(model).__name__)
    set_conv_init(project, init)
    _verify(project, model, conv, shape)
    verdict = None
    if check:  # the exported module must be the model: same keys, same outputs (UserError, exit 1)
        from codegen.import_check import self_check

        verdict = self_check(project, model, shape, derive=True)
        project.key_map = verdict.key_map
        renamed = sum(1 for v in verdict.key_map.values() if v is not None)
        if verdict.key_map:  # what the structure builder warned about is now mapped: the weights load
            conv.warnings = [w for w in conv.warnings if "do not load by name" not in w]
        if renamed:
            conv.warnings.append(
                f"{renamed} state_dict key(s) of the model differ in the project (names that are no "
                "identifiers, collisions, weights shared between calls); the project keeps the mapping "
                "and applies it whenever it loads the model's weights"
            )
        dropped = sorted({k.rpartition(".")[0] for k, v in verdict.key_map.items() if v is None})
        if dropped:
            conv.warnings.append(
                f"{len(dropped)} module(s) the model holds but never uses are left out of the project; "
                "their keys are listed in its key map and skipped when weights load: "
                + ", ".join(dropped[:6])
            )
    return ImportResult(project, conv.warnings, verdict, tracer)


_UNTRACEABLE = "cannot be traced with torch.fx"


def _first_line(exc: UserError) -> str:
    """The first cause of a refusal, short: 'calls F.avg_pool2d (kernel_size getitem_2)'."""
    lines = [ln.strip() for ln in exc.message.strip().splitlines()]
    text = lines[1] if len(lines) > 1 else lines[0].split(": ", 1)[-1]
    return text if len(text) <= 160 else text[:157] + "..."


def _convert(model: Any, gm: Any, shape: tuple) -> _Converter:
    """fx graph -> ops with shortcuts found; UserError listing every unsupported operation."""
    from codegen.fx_patterns import find_shortcuts, fix_inplace

    conv = _Converter(model, gm, shape)
    conv.run()
    if conv.output is None and not conv.errors:
        conv.errors.append("output: the network returns nothing Skipwire can follow")
    if conv.errors:
        raise UserError(
            f"{type(model).__name__} uses {len(conv.errors)} operation(s) Skipwire cannot import:\n  "
            + conv.report()
        )
    fix_inplace(conv.ops)
    find_shortcuts(conv)  # the option A lambda's pads too; other pads with channels before: ChannelPad
    if conv.errors:
        raise UserError(
            f"{type(model).__name__} uses operation(s) Skipwire cannot import:\n  " + conv.report()
        )
    return conv


def _guess_from_modules(model: Any) -> tuple[int, ...]:
    """Without --input and without an fx graph: the first Conv2d/Linear/BatchNorm2d registered."""

    for mod in model.modules():
        shape = _input_of(mod)
        if shape is not None:
            return shape
    return (3, 224, 224)


def _input_of(mod) -> tuple | None:
    """The input a first Conv2d/BatchNorm2d (at 224x224) or Linear would take; None for other modules."""
    from torch import nn

    if isinstance(mod, nn.Conv2d):
        return (mod.in_channels, 224, 224)
    if isinstance(mod, nn.Linear):
        return (mod.in_features,)
    if isinstance(mod, nn.BatchNorm2d):
        return (mod.num_features, 224, 224)
    return None


def _drop_dead(conv: _Converter, model: Any) -> None:
    """Ops whose result never reaches the output and that hold no state go (timm's Res2Net takes
    ``spx[0]`` before its loop and never uses it); the code would not compute them either."""
    keep = [
        k
        for k, op in conv.ops.items()
        if k == conv.output or op.type == "Input" or (op.attr and _holds_state(model, op.attr))
    ]  # and what feeds them
    live: set[str] = set()
    while keep:
        key = keep.pop()
        if key not in live:
            live.add(key)
            keep += conv.ops[key].inputs
    for key in [k for k in conv.ops if k not in live]:
        del conv.ops[key]
        conv.tails.discard(key)


def _holds_state(model: Any, attr: str) -> bool:
    try:
        return bool(model.get_submodule(attr).state_dict())
    except AttributeError:  # a parameter itself (a layer scale)
        return True


def _verify(project: Project, model: Any, conv: _Converter, shape: tuple) -> None:
    from graph.shapes import analyze

    analysis = analyze(project)
    if not analysis.valid:
        msgs = "; ".join(d.message for d in analysis.errors[:5])
        raise UserError(f"the imported graph of {type(model).__name__} is not valid: {msgs}", 1)
    expected = conv.ops[conv.output].shape
    if tuple(analysis.output_shape or ()) != tuple(expected):
        raise UserError(
            f"the imported graph of {type(model).__name__} gives output shape "
            f"{analysis.output_shape}, but the model gives {expected}",
            1,
        )
    total = sum(p.numel() for p in model.parameters())
    if analysis.total_params != total:
        conv.warnings.append(
            f"the imported graph has {analysis.total_params:,} parameters; the model has {total:,}"
        )


__all__ = ["ImportResult", "import_module", "import_target", "parse_target"]
