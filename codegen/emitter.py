"""Graph -> PyTorch source, in the style of torchvision's resnet.py.

``emit(project)`` returns an :class:`Emitted`: the source of one Python module
that needs only torch, holding

- a small helper class for each layer torch lacks that the network uses
  (``ZeroPadShortcut``, ``LayerNorm2d``, ``WeightedAdd``);
- one ``nn.Module`` class per block definition, whose constructor takes
  ``in_channels`` first, then the block's parameters (typed, with defaults),
  then, for each shortcut whose projection only some instances need, an
  optional module (torchvision's ``downsample=None``);
- one class for the network, whose constructor arguments all have defaults
  (``num_classes``, ``in_channels`` where they apply), builds the modules with
  explicit keyword arguments (omitting PyTorch's defaults), and ends by
  initialising the weights (codegen/init_rules.py).

``forward`` is one line per node in topological order (the analysis' order:
insertion order breaks ties), reusing ``x``/``out`` along chains, with shape
comments at the network level. A graph stage is one ``nn.Sequential``.

Nothing a project holds reaches the source as text: names pass through
codegen/namespace.py, numbers are type-checked by graph/params.py and
written by codegen/classinfo.py, expressions are graph/expr.py ASTs rendered
by codegen/symbolic.py; the result is parsed and checked against an
allowlist of constructs before it is returned (codegen/safety.py).

Phases, inner classes first: (1) :meth:`Emitter.plan_class` decides everything
about a class (units, stages, symbolic values, shortcuts, every attribute name,
in-place safety, constructor expressions, module paths) into a
:class:`codegen.classinfo.ClassInfo` and freezes it; (2) the class is named
(a dense group shares one name: codegen/dense.py); (3) :meth:`Emitter.write_class`
writes its text from the frozen plan only: ``__init__`` here, ``forward`` in
codegen/forward.py, the weight initialisation in codegen/init_rules.py, laid
out by codegen/pyformat.py as ruff would. Type-specific facts come from
codegen/layer_codegen.py.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from codegen import dense, forward, init_rules, layer_codegen, variants
from codegen import pyformat as pf
from codegen.classinfo import ClassInfo, Unit, literal, numeric, same_value
from codegen.forward import describe_shape
from codegen.helpers import HELPERS
from codegen.namespace import RESERVED, Namespace, attribute_namespace
from codegen.symbolic import Sym, evaluate, render
from graph import registry
from graph.errors import UserError
from graph.model import Edge, Graph, Node, Project, Stage
from graph.params import ParamSpec
from graph.shapes import Analysis, GraphInfo, analyze, iter_graph_infos
from graph.stage_tree import stage_tree

IO_TYPES = ("Input", "Output", "BlockInput", "BlockOutput")

_MODULE_CLASS = re.compile(r"nn\.[A-Z][A-Za-z0-9]*")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Emitted:
    """The generated module: its source and the names in it."""

    source: str
    class_name: str  # the network class
    block_classes: dict[str, str] = field(default_factory=dict)  # block name -> class name
    helpers: tuple[str, ...] = ()  # helper classes emitted
    frozen: tuple[str, ...] = ()  # module paths (state_dict prefixes) of frozen nodes, blocks' included
    module_paths: dict[str, str] = field(default_factory=dict)  # analysis layer path -> module path
    imports: tuple[str, ...] = ()  # the import lines at the top of ``source``


def emit(project: Project, analysis: Analysis | None = None) -> Emitted:
    """The PyTorch source of ``project``; raises UserError (exit code 1) if it is invalid."""
    analysis = analysis if analysis is not None else analyze(project)
    if analysis.errors:
        lines = "\n".join(f"  - {d.message}" for d in analysis.errors[:20])
        more = f"\n  (and {len(analysis.errors) - 20} more)" if len(analysis.errors) > 20 else ""
        raise UserError(
            f"the project has {len(analysis.errors)} error(s); fix them before generating code:\n"
            f"{lines}{more}",
            exit_code=1,
        )
    return Emitter(project, analysis).run()


# ---------------------------------------------------------------------------- the emitter
class Emitter:
    """Writes the whole module in three phases: each class's plan (:meth:`plan_class`, a frozen
    :class:`ClassInfo`), its name (:meth:`name_class`), then the text (:meth:`write_class`)."""

    def __init__(self, project: Project, analysis: Analysis) -> None:
        self.project = project
        self.analysis = analysis
        self.class_names = Namespace(RESERVED | set(HELPERS) | {"Module"})
        self.classes: dict[str, ClassInfo] = {}  # block name -> class
        self.helpers: set[str] = set()
        self.dense: dict[str, tuple[dense.DenseChain, dict[str, Any]]] = {}  # block name -> its dense class
        self.variants: dict[str, variants.Merge] = {}  # block name -> how its base's class writes it

    # ---- top level --------------------------------------------------------------
    def run(self) -> Emitted:
        infos: dict[str | None, list[GraphInfo]] = {}
        seen: set[int] = set()
        for info in iter_graph_infos(self.analysis.root):
            if id(info) not in seen:
                seen.add(id(info))
                infos.setdefault(info.block, []).append(info)
        order = self._block_order()
        class_names: dict[str, str] = {}
        groups: dict[tuple, dict[str, Any]] = {}  # dense classes: group key -> what writes the class
        pairs = variants.find_pairs(self.project, order)  # variant -> (base, its extra input chain)
        for name in order:
            bdef = self.project.blocks[name]
            cls = self.plan_class(ClassInfo(self, bdef.graph, bdef, infos[name]))  # phase 1: the plan
            self.classes[name] = cls
            if name in pairs and pairs[name][0] not in class_names:
                continue  # named with its base (only the network uses it)
            dense_class = self.plan_dense(cls, groups)  # phase 2: the name (shared by a dense group)
            if dense_class is None:
                class_names[name] = self.class_names.create(
                    name, key=("block", name), fallback="Block", camel=True
                )
            else:
                class_names[name] = dense_class["name"]
            for variant, (base, chain) in pairs.items():
                if base in class_names and variant in self.classes and variant not in class_names:
                    self.join_variant(variant, base, chain, class_names)
        # phase 3: the text, each class once, in order
        texts: list[list[str]] = []
        for name in order:
            cls = self.classes[name]
            if name in self.variants:
                continue  # written as its base's class
            if name in self.dense:
                group = self.dense[name][1]
                if group["text"] is None:
                    group["text"] = []
                    texts.append(group["text"])
                continue
            merged = next((m for m in self.variants.values() if m.base == name), None)
            if merged is not None:
                doc = _doc_text(cls.block.doc) or _doc_text(f"{name} block.") or "A block."
                texts.append(variants.class_lines(self, cls, merged, class_names[name], doc))
            else:
                texts.append(self.write_class(cls, class_names[name]))
        for group in groups.values():
            group["text"][:] = dense.class_lines(
                group["name"],
                dense.class_doc(
                    group["docs"], group["counts"], self.class_names.get(("block", group["inner"]))
                ),
                group["params"],
                group["call"],
                group["chain"],
                group["names"],
            )
        net_name = self.class_names.create(
            self.project.name, key=("network",), fallback="Network", camel=True
        )
        net = self.plan_class(ClassInfo(self, self.project.graph, None, [self.analysis.root]))
        texts.append(self.write_class(net, net_name))
        helper_texts = [HELPERS[h].rstrip("\n").split("\n") for h in HELPERS if h in self.helpers]
        body = "\n\n\n".join("\n".join(lines) for lines in helper_texts + texts)
        source = self.header() + body + "\n"
        source = self.add_imports(source)
        from codegen.safety import check_source

        check_source(source)
        imports = tuple(line for line in source.splitlines() if line.startswith(("import ", "from ")))
        return Emitted(
            source,
            net_name,
            class_names,
            tuple(h for h in HELPERS if h in self.helpers),
            tuple(self.frozen_paths(net)),
            self.module_paths(net),
            imports,
        )

    def header(self) -> str:
        title = _doc_text(self.project.name) or "Network"
        return f'"""{title}: PyTorch code generated by Skipwire."""\n\n@IMPORTS@\n\n\n'

    @staticmethod
    def add_imports(source: str) -> str:
        import ast

        body = source.split("@IMPORTS@", 1)[1]
        tree = ast.parse(body)
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        lines = []
        if "OrderedDict" in used:
            lines += ["from collections import OrderedDict", ""]
        if "torch" in used:
            lines.append("import torch")
        if "F" in used:
            lines.append("import torch.nn.functional as F")
        names = [n for n in ("Tensor", "nn") if n in used]
        if names:
            lines.append(f"from torch import {', '.join(names)}")
        return source.replace("@IMPORTS@", "\n".join(lines), 1)

    def join_variant(
        self, variant: str, base: str, chain: tuple[str, ...], class_names: dict[str, str]
    ) -> None:
        """Name a variant (codegen/variants.py): its base's class if the plans agree, else its own."""
        m = None
        if base not in self.dense:
            m = variants.merge(self, self.classes[variant], self.classes[base], chain)
        if m is None:
            class_names[variant] = self.class_names.create(
                variant, key=("block", variant), fallback="Block", camel=True
            )
            return
        self.variants[variant] = m
        class_names[variant] = class_names[base]
        self.class_names.alias(("block", variant), class_names[base])

    def plan_dense(self, cls: ClassInfo, groups: dict[tuple, dict[str, Any]]) -> dict[str, Any] | None:
        """A dense block definition (codegen/dense.py) joins its group's class; None for other blocks."""
        chain = dense.find_chain(cls.block)
        if chain is None:
            return None
        names = dict(cls.dense_names)
        call = dense.layer_call(self, cls, chain, names["i"])
        if call is None:
            return None
        key = dense.group_key(cls, chain, call)
        group = groups.get(key)
        if group is None:
            params = self.init_params(cls)
            params.insert(1, f"{names['num_layers']}: int")
            name = self.class_names.create(key[0], key=("dense", key), fallback="Block", camel=True)
            group = groups[key] = {
                "name": name,
                "text": None,
                "docs": [],
                "counts": [],
                "inner": chain.inner,
                "params": params,
                "call": call,
                "chain": chain,
                "names": names,
                "argnames": dict(cls.argnames),
            }
        self.class_names.alias(("block", cls.block.name), group["name"])
        group["docs"].append(_doc_text(cls.block.doc) or "")
        group["counts"].append(chain.num_layers)
        self.dense[cls.block.name] = (chain, group)
        return group

    def _block_order(self) -> list[str]:
        """Block definitions in use, inner ones first, in order of first use."""
        order: list[str] = []
        visiting: set[str] = set()

        def visit(graph: Graph, info: GraphInfo) -> None:
            for nid in info.order:
                ni = info.nodes[nid]
                name = ni.node.block_name
                if name is None or name in order or name in visiting:
                    continue
                visiting.add(name)
                visit(self.project.blocks[name].graph, ni.children)
                order.append(name)

        visit(self.project.graph, self.analysis.root)
        return order

    def module_paths(self, net: ClassInfo) -> dict[str, str]:
        out: dict[str, str] = {}

        def walk(cls: ClassInfo, info: GraphInfo, raw_prefix: str, prefix: str) -> None:
            from graph.shapes import module_path

            for nid in info.order:
                node = info.nodes[nid].node
                if node.type in IO_TYPES:
                    continue
                path = cls.paths.get(nid)
                if path is None:
                    continue
                raw = module_path(info.graph, node, raw_prefix)
                out[raw] = prefix + path
                if node.block_name is not None:
                    walk(
                        self.classes[node.block_name],
                        info.nodes[nid].children,
                        raw + ".",
                        prefix + path + ".",
                    )
            for eid, sc in info.shortcuts.items():
                if sc.applied != "identity" and eid in cls.sc_attrs:
                    out[raw_prefix + (info.graph.edges[eid].name or "shortcut")] = prefix + cls.sc_attrs[eid]

        walk(net, self.analysis.root, "", "")
        return out

    def frozen_paths(self, net: ClassInfo) -> list[str]:
        """Module paths of frozen nodes, outermost only (a frozen block instance covers its body)."""
        out: list[str] = []

        def walk(cls: ClassInfo, info: GraphInfo, prefix: str) -> None:
            for nid in info.order:
                node = info.nodes[nid].node
                path = cls.paths.get(nid)
                if path is None:
                    continue
                if node.frozen:
                    out.append(prefix + path)
                elif node.block_name is not None:
                    walk(self.classes[node.block_name], info.nodes[nid].children, prefix + path + ".")

        walk(net, self.analysis.root, "")
        return out

    # ---- one class --------------------------------------------------------------
    def plan_class(self, cls: ClassInfo) -> ClassInfo:
        """Everything about one class that its text needs, decided before any text; returned frozen."""
        self.plan_units(cls)  # units, stages, reach; attribute names of nodes and stages
        self.compute_channels(cls)  # parameters and channel counts as expressions
        self.plan_shortcuts(cls)  # projections built inside the class or passed in
        for kind, key in forward.forward_names(cls):  # attributes forward reads, in its order
            if kind == "shortcut":
                self.sc_attr(cls, cls.graph.edges[key])
            elif key not in cls.forward_params:
                cls.forward_params[key] = cls.attrs.create(key, key=("param", key), fallback="param")
        forward.plan_inplace(cls, self.classes)  # where in-place operations are safe
        self.plan_modules(cls)  # constructor expressions, hoisted locals, module paths
        if cls.block is not None and dense.find_chain(cls.block) is not None:
            cls.dense_names = {k: cls.locals.create(k) for k in ("i", "layer", "num_layers")}
        return cls.freeze()

    def write_class(self, cls: ClassInfo, class_name: str) -> list[str]:
        """The class's text, from its frozen plan."""
        init = self.write_init(cls)
        if cls.block is not None:
            doc = _doc_text(cls.block.doc) or _doc_text(f"{cls.block.name} block.") or "A block."
        else:
            doc = self.network_doc()
        lines = [f"class {class_name}(nn.Module):", f'    """{doc}"""', ""]
        lines += init
        lines += self.train_method(cls)
        lines += [""] + forward.write_forward(cls)
        return lines

    def train_method(self, cls: ClassInfo) -> list[str]:
        """Frozen layers with BatchNorm statistics stay in eval mode, so that training changes nothing
        in them: ``requires_grad_(False)`` stops their weights, ``eval()`` their running statistics."""
        targets = [
            attr for attr, nids in self.freeze_targets(cls) if any(self.has_batchnorm(cls, n) for n in nids)
        ]
        if not targets:
            return []
        return (
            [
                "",
                "    def train(self, mode: bool = True) -> nn.Module:",
                '        """Frozen layers keep eval mode: their BatchNorm statistics do not change."""',
                "        super().train(mode)",
            ]
            + [f"        self.{attr}.eval()" for attr in targets]
            + ["        return self"]
        )

    def has_batchnorm(self, cls: ClassInfo, nid: str) -> bool:
        node = cls.graph.nodes[nid]
        if node.type == "BatchNorm2d":
            return True
        seen: set[str] = set()
        todo = [node.block_name] if node.block_name is not None else []
        while todo:
            name = todo.pop()
            if name in seen or name not in self.project.blocks:
                continue
            seen.add(name)
            for inner in self.project.blocks[name].graph.nodes.values():
                if inner.type == "BatchNorm2d":
                    return True
                if inner.block_name is not None:
                    todo.append(inner.block_name)
        return False

    def network_doc(self) -> str:
        """``ResNet-20: 3x32x32 input, 10 outputs, 269,722 parameters.``"""
        a = self.analysis
        inputs = a.project.graph.nodes_of_type("Input")
        shape = a.root.nodes[inputs[0].id].out_shape
        out = a.output_shape
        outputs = f"{out[0]} outputs" if len(out) == 1 else "output " + "x".join(map(str, out))
        facts = f"{'x'.join(map(str, shape))} input, {outputs}, {a.total_params:,} parameters."
        title = _doc_text(self.project.name, limit=90 - len(facts))
        return f"{title}: {facts}" if title else facts[0].upper() + facts[1:]

    # units and stages
    def plan_units(self, cls: ClassInfo) -> None:
        graph, rep = cls.graph, cls.rep
        reach = _reachable(graph, cls.output_id)
        cls.reach = reach
        for stage in graph.stages:
            self.check_stage(cls, stage)
        cls.stage_tree = stage_tree(graph.stages)
        staged: dict[str, Stage] = dict(cls.stage_tree.outermost)  # node id -> its outermost stage
        cls.staged = staged
        units: list[Unit] = []
        for nid in rep.order:
            if nid not in reach:
                continue
            stage = staged.get(nid)
            if stage is None:
                units.append(Unit([nid]))
            elif nid == stage.nodes[-1]:
                units.append(Unit(list(stage.nodes), stage))
        cls.units = units
        # attribute names first, in graph order, so shortcut modules never take a node's name
        cls.containers, cls.container_of = _containers(graph, staged, lambda n: self.is_module(n, rep))
        for nid in rep.order:
            node = graph.nodes[nid]
            if nid in staged:
                self.stage_attr(cls, staged[nid])
            elif nid in cls.container_of:
                top = cls.container_of[nid]
                cls.attrs.create(top, key=("container", top), fallback="layer")
            elif self.has_module(node, rep):
                self.node_attr(cls, node)
        # lint: every edge into a unit comes from an earlier unit (fx's Graph.lint)
        pos = {u.last: i for i, u in enumerate(units)}
        for i, u in enumerate(units):
            for e in graph.in_edges(u.first):
                if pos.get(e.src, len(units)) >= i:
                    raise AssertionError(
                        f'{cls.where}: statements out of topological order at "{graph.nodes[u.first].name}"'
                    )

    def check_stage(self, cls: ClassInfo, stage: Stage) -> None:
        graph = cls.graph
        where = f'{cls.where}: stage "{stage.name}"'
        if not stage.nodes:
            raise UserError(f"{where} is empty", exit_code=1)
        for i, nid in enumerate(stage.nodes):
            node = graph.nodes[nid]
            if node.type in IO_TYPES:
                raise UserError(f'{where} cannot hold {node.type} "{node.name}"', exit_code=1)
            ins = graph.in_edges(nid)
            if len(ins) != 1:
                raise UserError(
                    f'{where}: "{node.name}" has {len(ins)} inputs; a stage is a chain of one-input nodes',
                    exit_code=1,
                )
            if i > 0 and ins[0].src != stage.nodes[i - 1]:
                raise UserError(
                    f'{where}: "{node.name}" does not follow "{graph.nodes[stage.nodes[i - 1]].name}"; '
                    "a stage lists consecutive nodes of a chain",
                    exit_code=1,
                )
            if i < len(stage.nodes) - 1 and len(graph.out_edges(nid)) != 1:
                raise UserError(
                    f'{where}: "{node.name}" feeds {len(graph.out_edges(nid))} nodes; only the '
                    "last node of a stage may feed others",
                    exit_code=1,
                )
            lt = registry.get(node.type)
            if node.block_name is None and lt is not None and lt.module is None and node.type != "Flatten":
                raise UserError(
                    f'{where}: {node.type} "{node.name}" has no module form and cannot be in a stage',
                    exit_code=1,
                )

    # channels
    def compute_channels(self, cls: ClassInfo) -> None:
        graph = cls.graph
        head, stem = self.network_arguments(cls) if cls.block is None else (None, None)
        for nid in cls.rep.order:
            node = graph.nodes[nid]
            cls.params[nid] = cls.sym_params(node, self.specs(node))
            if nid == head:
                cls.params[nid]["out_features"] = Sym(("name", "num_classes"), cls.net_args["num_classes"])
            ins = cls.in_shapes(node) if node.type not in ("Input", "BlockInput") else []
            if nid == stem:
                cls.ch[nid] = Sym(("name", "in_channels"), cls.net_args["in_channels"])
            else:
                cls.ch[nid] = cls.channel_rule(node, cls.params[nid], ins)
        # fail loudly if a channel expression disagrees with shape inference in any instance
        for info, env in zip(cls.infos, cls.envs()):
            for nid, sym in cls.ch.items():
                shape = info.nodes[nid].out_shape
                if sym.ast is not None and evaluate(sym.ast, env) != shape[cls.axis.get(nid, 0)]:
                    raise AssertionError(
                        f"{cls.where}: channel expression for "
                        f'"{graph.nodes[nid].name}" disagrees with shape inference'
                    )

    def network_arguments(self, cls: ClassInfo) -> tuple[str | None, str | None]:
        """torchvision's constructor arguments for the network: ``num_classes`` where a Linear head makes
        the (vector) output, reached back from Output through layers that keep the channels;
        ``in_channels`` where every consumer of the input is a plain convolution (the stem). Returns the
        head's and the input's node ids (None where the argument does not apply)."""
        graph, rep = cls.graph, cls.rep
        head = None
        out = self.analysis.output_shape
        nid = cls.output_id
        while out is not None and len(out) == 1:
            ins = graph.in_edges(nid)
            if len(ins) != 1:
                break
            nid = ins[0].src
            node = graph.nodes[nid]
            if node.block_name is not None:
                break
            if node.type == "Linear":
                if rep.nodes[nid].out_shape == tuple(out):
                    head = nid
                break
            if layer_codegen.get(node.type).channels is not None or len(graph.in_edges(nid)) != 1:
                break
        if head is not None:
            cls.net_args["num_classes"] = int(out[0])
        stem = None
        inputs = graph.nodes_of_type("Input")
        if len(inputs) == 1:
            outs = graph.out_edges(inputs[0].id)
            if outs and all(
                not e.is_shortcut
                and graph.nodes[e.dst].type == "Conv2d"
                and len(rep.nodes[e.dst].in_shapes) == 1
                for e in outs
            ):
                stem = inputs[0].id
                cls.net_args["in_channels"] = int(rep.nodes[stem].out_shape[0])
        for name in cls.net_args:
            cls.locals.reserve(name)
            cls.argnames[name] = name
        return head, stem

    def specs(self, node: Node) -> tuple[ParamSpec, ...]:
        if node.block_name is not None:
            bdef = self.project.blocks[node.block_name]
            return tuple(
                ParamSpec(k, p.type if p.type in ("int", "float", "bool") else "int", p.default)
                for k, p in bdef.params.items()
            )
        return registry.get(node.type).params

    # shortcuts
    def plan_shortcuts(self, cls: ClassInfo) -> None:
        for e in cls.graph.edges.values():
            if not e.is_shortcut or e.dst not in cls.reach:
                continue
            applied = {
                info.shortcuts[e.id].applied if e.id in info.shortcuts else "identity" for info in cls.infos
            }
            if applied == {"identity"}:
                continue
            if len(applied) == 1 and self.static_projection(cls, e) is not None:
                cls.static[e.id] = applied.pop()
            else:
                if cls.block is None:
                    raise AssertionError("the network has one instance")
                cls.dynamic[e.id] = cls.locals.create(
                    e.name or "shortcut", key=("shortcut", e.id), fallback="shortcut"
                )

    def shortcut_stride(self, cls: ClassInfo, e: Edge) -> Sym | None:
        strides = [info.shortcuts[e.id].stride for info in cls.infos]
        if len(set(strides)) == 1:
            return Sym.const(strides[0])
        for pname in cls.block.params if cls.block else {}:
            envs = cls.envs()
            if all(env.get(pname) == s for env, s in zip(envs, strides)):
                return Sym(("name", pname), strides[0])
        return None

    def static_projection(self, cls: ClassInfo, e: Edge) -> pf.Expr | None:
        stride = self.shortcut_stride(cls, e)
        if stride is None:
            return None
        main = next(m for m in cls.graph.in_edges(e.dst) if not m.is_shortcut)
        kind = cls.rep.shortcuts[e.id].applied
        return self.projection_expr(kind, cls.lit(cls.ch[e.src]), cls.lit(cls.ch[main.src]), stride, cls)

    def projection_expr(
        self, kind: str, cin: pf.Expr, cout: pf.Expr, stride: Sym | int, cls: ClassInfo | None
    ) -> pf.Expr:
        stride_kw = () if same_value(stride, 1) else (("stride", cls.lit(stride) if cls else str(stride)),)
        if kind == "zero_pad":
            self.helpers.add("ZeroPadShortcut")
            return pf.Call("ZeroPadShortcut", (cin, cout), stride_kw)
        conv = pf.Call("nn.Conv2d", (cin, cout), (("kernel_size", "1"),) + stride_kw + (("bias", "False"),))
        return pf.Call("nn.Sequential", (conv, pf.Call("nn.BatchNorm2d", (cout,))))

    # ---- __init__ -------------------------------------------------------------------
    @staticmethod
    def has_module(node: Node, info: GraphInfo) -> bool:
        if node.block_name is not None:
            return True
        lt = registry.get(node.type)
        if node.type == "Add":
            return info.nodes[node.id].params.get("weights") == "learnable"
        return lt is not None and (lt.module is not None or lt.parameter is not None)

    def is_module(self, node: Node, rep: GraphInfo) -> bool:
        """An ``nn.Module`` attribute (a container may hold it), not a bare ``nn.Parameter``."""
        lt = registry.get(node.type)
        return self.has_module(node, rep) and (
            node.block_name is not None or lt is None or lt.parameter is None
        )

    def sc_attr(self, cls: ClassInfo, e: Edge) -> str:
        if e.id not in cls.sc_attrs:
            cls.sc_attrs[e.id] = cls.attrs.create(
                e.name or "shortcut", key=("shortcut", e.id), fallback="shortcut"
            )
        return cls.sc_attrs[e.id]

    def node_attr(self, cls: ClassInfo, node: Node) -> str:
        return cls.attrs.create(node.name, key=node.id, fallback="layer")

    def container_expr(self, cls: ClassInfo, tree: dict, members: dict, path: str, code: str) -> pf.Expr:
        """``nn.ModuleList([...])`` for keys 0, 1, ..., else ``nn.ModuleDict([("key", ...), ...])``, of
        the nodes whose names are module paths (timm's Res2Net ``convs.0``); nested ones in place."""
        keys = list(tree)
        as_list = keys == [str(i) for i in range(len(keys))]
        items: list[pf.Expr] = []
        for i, key in enumerate(keys):
            sub_path = f"{path}.{key}"
            sub_code = (
                f"{code}[{i}]" if as_list else (f"{code}.{key}" if _is_word(key) else f'{code}["{key}"]')
            )
            value = tree[key]
            if isinstance(value, dict):
                expr = self.container_expr(cls, value, members, sub_path, sub_code)
            else:
                expr = members[value]
                cls.paths[value] = sub_path
                cls.code_paths[value] = sub_code
            items.append(expr if as_list else pf.Seq("(", (f'"{key}"', expr)))
        return pf.Call("nn.ModuleList" if as_list else "nn.ModuleDict", (pf.Seq("[", tuple(items)),))

    def stage_attr(self, cls: ClassInfo, stage: Stage) -> str:
        return cls.attrs.create(stage.name, key=("stage", stage.name), fallback="stage")

    def module_expr(self, cls: ClassInfo, node: Node, in_stage: bool = False) -> pf.Expr | None:
        if node.block_name is not None:
            return self.block_call(cls, node)
        lt = registry.get(node.type)
        ni = cls.rep.nodes[node.id]
        if node.type == "Add" and ni.params["weights"] == "learnable":
            self.helpers.add("WeightedAdd")
            n = len(ni.in_shapes)
            ws = list(ni.params["weight_values"][:n]) + [1.0] * max(0, n - len(ni.params["weight_values"]))
            return pf.Call("WeightedAdd", (literal([float(w) for w in ws]),))
        if lt.module is None:
            if node.type == "Flatten" and in_stage:
                return pf.Call("nn.Flatten")
            return None
        params = cls.params[node.id]
        ins = cls.in_shapes(node)
        spec = lt.module(params, ins)
        # the same constructor must hold in every instance
        for info, env in zip(cls.infos, cls.envs()):
            other = info.nodes[node.id]
            want = lt.module(other.params, other.in_shapes)
            got = (numeric(list(spec.args), env), {k: numeric(v, env) for k, v in spec.kwargs.items()})
            if got != (list(want.args), dict(want.kwargs)):
                raise UserError(
                    f'{cls.where}: node "{node.name}" needs different constructor arguments in '
                    "different instances that no block parameter explains; make them block "
                    "parameters",
                    exit_code=1,
                )
        if spec.cls in HELPERS:
            self.helpers.add(spec.cls)
        elif not _MODULE_CLASS.fullmatch(spec.cls):
            raise UserError(f"unknown module class {spec.cls!r} for {node.type}", exit_code=1)
        defaults = layer_codegen.get(node.type).torch_defaults
        kwargs = dict(spec.kwargs)
        if kwargs.get("inplace") is True and node.id in cls.unsafe_inplace:
            kwargs["inplace"] = False  # its input is still needed elsewhere: never overwrite it
        spec_args = list(spec.args)
        if spec.cls == "nn.LayerNorm" and isinstance(spec_args[0], list) and len(spec_args[0]) == 1:
            spec_args[0] = spec_args[0][0]  # nn.LayerNorm(128), as people write it, not nn.LayerNorm([128])
        args = tuple(cls.lit(a, node, "an argument") for a in spec_args)
        kw = tuple(
            (k, cls.lit(v, node, k))
            for k, v in kwargs.items()
            if not (k in defaults and same_value(v, defaults[k]))
        )
        for k, _ in kw:
            if not _WORD.fullmatch(k):
                raise UserError(f"bad keyword {k!r} for {node.type}", exit_code=1)
        return pf.Call(spec.cls, args, kw)

    def parameter_expr(self, cls: ClassInfo, node: Node) -> pf.Expr | None:
        """``nn.Parameter(torch.full((in_channels, 1, 1), 1e-06))`` for a layer that holds its own tensor
        (registry ``parameter``: ConvNeXt's layer scale); None for other layers."""
        lt = registry.get(node.type)
        if node.block_name is not None or lt is None or lt.parameter is None:
            return None
        spec = lt.parameter(cls.params[node.id], cls.in_shapes(node))
        for info, env in zip(cls.infos, cls.envs()):  # one constructor for every instance
            other = info.nodes[node.id]
            want = lt.parameter(other.params, other.in_shapes)
            if (numeric(list(spec.shape), env), spec.fill) != (list(want.shape), want.fill):
                raise UserError(
                    f'{cls.where}: node "{node.name}" needs a parameter of a different shape in different '
                    "instances that no block parameter explains; make it a block parameter",
                    exit_code=1,
                )
        dims = pf.Seq("(", tuple(cls.lit(d, node, "a size") for d in spec.shape))
        return pf.Call("nn.Parameter", (pf.Call("torch.full", (dims, literal(float(spec.fill)))),))

    def block_call(self, cls: ClassInfo, node: Node) -> pf.Expr:
        inner = self.classes[node.block_name]
        bdef = self.project.blocks[node.block_name]
        params = cls.params[node.id]
        ins = cls.in_shapes(node)
        args: list[pf.Expr] = [cls.lit(ins[0][0], node, "the input channel count")]
        kwargs: list[tuple[str, pf.Expr]] = []
        if node.block_name in self.dense:  # DenseBlock(64, num_layers=6, growth_rate=12): all by keyword
            chain, group = self.dense[node.block_name]
            kwargs.append((group["names"]["num_layers"], str(chain.num_layers)))
            for pname, bp in bdef.params.items():
                if not same_value(params[pname], bp.default):
                    kwargs.append((group["argnames"][pname], cls.lit(params[pname], node, pname)))
            return pf.Call(group["name"], tuple(args), tuple(kwargs))
        for j, (pname, bp) in enumerate(bdef.params.items()):
            value = params[pname]
            if j == 0:
                args.append(cls.lit(value, node, pname))
            elif not same_value(value, bp.default):
                kwargs.append((inner.argnames[pname], cls.lit(value, node, pname)))
        children = cls.rep.nodes[node.id].children
        if node.block_name in self.variants:  # its extra input chain, built with this instance's numbers
            m = self.variants[node.block_name]
            kwargs.append((m.attr, variants.instance_module(inner, m, children)))
        for eid, argname in inner.dynamic.items():
            sc = children.shortcuts.get(eid)
            if sc is None or sc.applied == "identity":
                continue
            if cls.block is not None:
                raise UserError(
                    f'{cls.where}: instance "{node.name}" of block "{bdef.name}" needs its shortcut '
                    "projection in some places only; inside another block that is not supported: "
                    "use the projection conv_bn_always or identity there",
                    exit_code=1,
                )
            kwargs.append(
                (
                    argname,
                    self.projection_expr(
                        sc.applied, str(sc.in_shape[0]), str(sc.out_shape[0]), sc.stride, None
                    ),
                )
            )
        return pf.Call(self.class_names.get(("block", bdef.name)), tuple(args), tuple(kwargs))

    def init_params(self, cls: ClassInfo) -> list[str]:
        """The constructor's parameters after ``self``."""
        params: list[str] = []
        if cls.block is not None:
            params.append("in_channels: int")
            for pname, bp in cls.block.params.items():
                t = bp.type if bp.type in ("int", "float", "bool") else "int"
                default = bp.default
                if t == "float" and isinstance(default, int) and not isinstance(default, bool):
                    default = float(default)
                ok = (
                    isinstance(default, bool)
                    if t == "bool"
                    else isinstance(default, (int, float)) and not isinstance(default, bool)
                )
                if not ok:
                    raise UserError(
                        f'block "{cls.block.name}": parameter "{pname}" has default {default!r}, '
                        f"which is not a {t}",
                        exit_code=1,
                    )
                params.append(f"{cls.argnames[pname]}: {t} = {literal(default)}")
            for argname in cls.dynamic.values():
                params.append(f"{argname}: nn.Module | None = None")
        else:
            params += [f"{name}: int = {value}" for name, value in cls.net_args.items()]
        return params

    def plan_modules(self, cls: ClassInfo) -> None:
        """The constructor's statements (``self.conv1 = nn.Conv2d(...)``, in order) and module paths."""
        graph = cls.graph
        if cls.block is not None:
            cls.hoisted_lines = self.hoist(cls)
        assignments: list[tuple[str, pf.Expr]] = []
        done_stages: set[str] = set()
        containers: dict[str, int] = {}  # container attribute -> its assignment's index
        members: dict[str, pf.Expr] = {}  # node id -> its module, for the containers
        for nid in cls.rep.order:
            node = graph.nodes[nid]
            stage = cls.staged.get(nid)
            if stage is not None:
                if stage.name not in done_stages:
                    done_stages.add(stage.name)
                    assignments.append((f"self.{self.stage_attr(cls, stage)}", self.stage_expr(cls, stage)))
                continue
            if node.type in IO_TYPES:
                continue
            mexpr = self.module_expr(cls, node)
            if mexpr is None:
                mexpr = self.parameter_expr(cls, node)
            if mexpr is None:
                continue
            if nid in cls.container_of:  # convs.0: a member of a container written whole below
                top = cls.container_of[nid]
                if top not in containers:
                    containers[top] = len(assignments)
                    assignments.append(("", ""))
                members[nid] = mexpr
                continue
            attr = self.node_attr(cls, node)
            cls.paths[nid] = attr
            cls.code_paths[nid] = attr
            assignments.append((f"self.{attr}", mexpr))
        for top, at in containers.items():
            attr = cls.attrs.get(("container", top))
            assignments[at] = (
                f"self.{attr}",
                self.container_expr(cls, cls.containers[top], members, attr, attr),
            )
        for e in graph.edges.values():
            if e.id in cls.static:
                assignments.append((f"self.{self.sc_attr(cls, e)}", self.static_projection(cls, e)))
        for eid, argname in cls.dynamic.items():
            assignments.append((f"self.{self.sc_attr(cls, graph.edges[eid])}", argname))
        for raw, attr in cls.forward_params.items():
            assignments.append((f"self.{attr}", cls.argnames[raw]))
        cls.assignments = assignments

    def write_init(self, cls: ClassInfo) -> list[str]:
        lines = pf.signature("__init__", ["self", *self.init_params(cls)], "None", 1)
        lines.append("        super().__init__()")
        lines += [f"        {name} = {text}" for name, text in cls.hoisted_lines]
        for target, expr in cls.assignments:
            lines += pf.layout(expr, 2, f"{target} = ")
        if cls.block is None:  # weights initialised in the constructor, as torchvision's ResNet does
            blocks = [c for name, c in self.classes.items() if name not in self.variants]
            lines += init_rules.init_lines(blocks, cls, lambda name: self.class_names.get(("block", name)))
        lines += self.freeze_lines(cls)
        return lines

    def freeze_lines(self, cls: ClassInfo) -> list[str]:
        """``self.layer1.requires_grad_(False)``, one line per target of :meth:`freeze_targets`."""
        return [f"        self.{attr}.requires_grad_(False)" for attr, _nids in self.freeze_targets(cls)]

    def freeze_targets(self, cls: ClassInfo) -> list[tuple[str, list[str]]]:
        """Frozen nodes that hold parameters, as (attribute, node ids): one per stage whose members
        are all frozen (or hold none), else one per node."""
        graph = cls.graph

        def weighted(nid: str) -> bool:
            return cls.rep.nodes[nid].num_params > 0

        out: list[tuple[str, list[str]]] = []
        done: set[str] = set()
        for nid in cls.rep.order:
            if not graph.nodes[nid].frozen or nid not in cls.code_paths or not weighted(nid):
                continue
            stage = cls.staged.get(nid)
            if stage is not None and all(graph.nodes[m].frozen or not weighted(m) for m in stage.nodes):
                if stage.name not in done:
                    done.add(stage.name)
                    out.append((self.stage_attr(cls, stage), [m for m in stage.nodes if weighted(m)]))
                continue
            out.append((cls.code_paths[nid], [nid]))
        return out

    def hoist(self, cls: ClassInfo) -> list[tuple[str, str]]:
        """``width = planes * base_width // 64 * groups``: a compound expression that several
        constructor arguments share gets a local name, as torchvision's Bottleneck does."""
        counts: dict[tuple, int] = {}

        def visit(value: Any) -> None:
            if isinstance(value, Sym):
                if value.ast is not None and _operators(value.ast) >= 2:
                    counts[value.ast] = counts.get(value.ast, 0) + 1
            elif isinstance(value, (list, tuple)):
                for v in value:
                    visit(v)

        for nid in cls.rep.order:
            node = cls.graph.nodes[nid]
            if node.type in IO_TYPES or not self.has_module(node, cls.rep):
                continue
            if node.block_name is not None:
                visit(cls.in_shapes(node)[0][0])
                visit(list(cls.params[nid].values()))
                continue
            lt = registry.get(node.type)
            if lt.module is not None:
                spec = lt.module(cls.params[nid], cls.in_shapes(node))
                visit(list(spec.args))
                visit(list(spec.kwargs.values()))
        lines: list[tuple[str, str]] = []
        for ast_, n in counts.items():
            if n >= 2:
                name = cls.locals.create("width", fallback="width")
                lines.append((name, render(ast_, cls.name_of)))
                cls.hoisted[ast_] = name
        return lines

    def stage_expr(self, cls: ClassInfo, stage: Stage, path: str | None = None, code: str = "") -> pf.Expr:
        """``nn.Sequential(...)`` of the stage's members; a stage nested in it is one member, written
        in place. ``path``/``code`` reach the stage (its attribute when None)."""
        if path is None:
            path = code = self.stage_attr(cls, stage)
        members: list[pf.Expr] = []
        names = attribute_namespace() if stage.keys == "name" else None
        for i, member in enumerate(cls.stage_tree.members(stage)):
            if names is not None:
                text = member.name if isinstance(member, Stage) else cls.graph.nodes[member].name
                child = _module_key(text, names)
                sub_path = f"{path}.{child}"
                sub_code = f"{code}.{child}" if _is_word(child) else f"{code}[{i}]"  # block1-0: by index
            else:
                child, sub_path, sub_code = "", f"{path}.{i}", f"{code}[{i}]"
            if isinstance(member, Stage):
                mexpr = self.stage_expr(cls, member, sub_path, sub_code)
            else:
                mexpr = self.module_expr(cls, cls.graph.nodes[member], in_stage=True)
                cls.paths[member] = sub_path
                cls.code_paths[member] = sub_code
            members.append(pf.Seq("(", (f'"{child}"', mexpr)) if names is not None else mexpr)
        if names is not None:
            value: pf.Expr = pf.Call(
                "nn.Sequential", (pf.Call("OrderedDict", (pf.Seq("[", tuple(members)),)),)
            )
        else:
            value = pf.Call("nn.Sequential", _repeats(members))
        return value


_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+")  # convs.0, tree1.tree1.conv1


def _containers(graph: Graph, staged: dict, has_module) -> tuple[dict[str, dict], dict[str, str]]:
    """Nodes named by a module path (``convs.0``, outside any stage) grouped into containers: a tree of
    keys per top-level name, leaves node ids; and node id -> top-level name. A name that is also a
    whole node's, or a path that runs through a leaf, keeps its node out (it is named as usual)."""
    whole = {n.name for n in graph.nodes.values() if not _PATH.fullmatch(n.name)}
    trees: dict[str, dict] = {}
    top_of: dict[str, str] = {}
    for nid, node in graph.nodes.items():
        if nid in staged or not _PATH.fullmatch(node.name) or not has_module(node):
            continue
        top, *rest = node.name.split(".")
        if top in whole or keyword.iskeyword(top):
            continue
        tree = trees.setdefault(top, {})
        for key in rest[:-1]:
            tree = tree.setdefault(key, {})
            if not isinstance(tree, dict):
                break
        else:
            if rest[-1] not in tree:
                tree[rest[-1]] = nid
                top_of[nid] = top
    for tree in _walk(trees):  # ModuleList keys in order
        if all(k.isdigit() for k in tree):
            items = sorted(tree.items(), key=lambda kv: int(kv[0]))
            tree.clear()
            tree.update(items)
    return trees, top_of


def _walk(trees: dict):
    for value in trees.values():
        if isinstance(value, dict):
            yield value
            yield from _walk(value)


def _module_key(text: str, names: Namespace) -> str:
    """A member's key in a name-keyed ``nn.Sequential``: the name itself where it is a safe module key
    (torchvision's RegNet has ``block1-0``), else an identifier made from it."""
    if _KEY.fullmatch(text) and not text.isdigit() and names.is_free(text):
        names.take(text)
        return text
    return names.create(text, fallback="layer")


def _is_word(key: str) -> bool:
    return key.isidentifier() and not keyword.iskeyword(key)


def _repeats(members: list[pf.Expr]) -> tuple[pf.Expr, ...]:
    """A stage's members with a run of identical ones at the end written once, torchvision-style:
    ``BasicBlock(16, 32, stride=2, ...), *[BasicBlock(32, 32) for _ in range(17)]``. The modules are
    built in the same order, so initial weights and state_dict keys are unchanged."""
    texts = [pf.flat(m) for m in members]
    start = len(texts) - 1
    while start > 0 and texts[start - 1] == texts[-1]:
        start -= 1
    if len(texts) - start < 2:
        return tuple(members)
    return (*members[:start], pf.Repeat(members[-1], len(texts) - start))


def _operators(ast: tuple) -> int:
    if ast[0] in ("int", "name"):
        return 0
    return 1 + sum(_operators(a) for a in ast[1:])


def _reachable(graph: Graph, output_id: str) -> set[str]:
    reach = {output_id}
    frontier = [output_id]
    while frontier:
        nid = frontier.pop()
        for e in graph.in_edges(nid):
            if e.src not in reach:
                reach.add(e.src)
                frontier.append(e.src)
    return reach


def _doc_text(text: Any, limit: int = 100) -> str:
    """User text made safe for a one-line docstring: printable, no quotes or backslashes."""
    if not isinstance(text, str):
        return ""
    text = "".join(c if c.isprintable() else " " for c in text)
    text = text.replace("\\", "/").replace('"', "'")
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    return text.rstrip("'").strip()


doc_text = _doc_text

__all__ = ["Emitted", "describe_shape", "doc_text", "emit", "literal"]
