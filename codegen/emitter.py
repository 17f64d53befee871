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
written by codegen/values.py, expressions are graph/expr.py ASTs rendered
by codegen/symbolic.py; the result is parsed and checked against an
allowlist of constructs before it is returned (codegen/safety.py).

Phases, inner classes first, as torch.fx splits its code generation: the planner
(codegen/planner.py) decides everything about every class into a frozen
:class:`codegen.plan.ModulePlan` (units, stages, symbolic values, shortcuts,
every attribute name, in-place safety, constructor expressions, module paths,
class names: a dense group shares one, codegen/dense.py; a variant takes its
base's, codegen/variants.py); the writer (codegen/writer.py) turns the plan
into text without deciding anything: ``__init__`` there, ``forward`` in
codegen/forward.py, the weight initialisation in codegen/init_rules.py, laid
out by codegen/pyformat.py as ruff would. Type-specific facts come from
codegen/layer_codegen.py. This module ties them together and adds the
state_dict paths training needs (:class:`Emitted`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codegen.forward import describe_shape
from codegen.plan import IO_TYPES, ClassPlan, ModulePlan
from codegen.planner import plan_module
from codegen.values import doc_text, literal
from codegen.writer import write_module
from graph.errors import UserError
from graph.model import Project
from graph.shapes import Analysis, GraphInfo, analyze, module_path


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
    plan = plan_module(project, analysis)
    source = write_module(plan)
    from codegen.safety import check_source

    check_source(source)
    imports = tuple(line for line in source.splitlines() if line.startswith(("import ", "from ")))
    return Emitted(
        source,
        plan.network_name,
        dict(plan.class_names),
        plan.helpers,
        tuple(frozen_paths(plan, analysis)),
        module_paths(plan, analysis),
        imports,
    )


# ---------------------------------------------------------------------------- state_dict paths
def module_paths(plan: ModulePlan, analysis: Analysis) -> dict[str, str]:
    """Analysis layer path -> module path in the generated model (they differ where a name was
    sanitised); shortcut projections included."""
    out: dict[str, str] = {}

    def walk(cls: ClassPlan, info: GraphInfo, raw_prefix: str, prefix: str) -> None:
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
                walk(plan.blocks[node.block_name], info.nodes[nid].children, raw + ".", prefix + path + ".")
        for eid, sc in info.shortcuts.items():
            if sc.applied != "identity" and eid in cls.sc_attrs:
                out[raw_prefix + (info.graph.edges[eid].name or "shortcut")] = prefix + cls.sc_attrs[eid]

    walk(plan.network, analysis.root, "", "")
    return out


def frozen_paths(plan: ModulePlan, analysis: Analysis) -> list[str]:
    """Module paths of frozen nodes, outermost only (a frozen block instance covers its body)."""
    out: list[str] = []

    def walk(cls: ClassPlan, info: GraphInfo, prefix: str) -> None:
        for nid in info.order:
            node = info.nodes[nid].node
            path = cls.paths.get(nid)
            if path is None:
                continue
            if node.frozen:
                out.append(prefix + path)
            elif node.block_name is not None:
                walk(plan.blocks[node.block_name], info.nodes[nid].children, prefix + path + ".")

    walk(plan.network, analysis.root, "")
    return out


__all__ = ["Emitted", "describe_shape", "doc_text", "emit", "literal"]
