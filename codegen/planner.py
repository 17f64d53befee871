"""The planner: a project and its analysis -> the frozen :class:`codegen.plan.ModulePlan`.

Per class, inner block classes first: (1) its plan (codegen/class_planner.py), frozen; (2) its name:
a dense group shares one (codegen/dense.py), a variant takes its base's (codegen/variants.py). The
network comes last. Names come from one namespace per kind (codegen/namespace.py), so the same
project always gives the same names.
"""

from __future__ import annotations

from types import MappingProxyType

from codegen import dense, variants
from codegen.class_draft import ClassDraft
from codegen.class_planner import plan_class
from codegen.helpers import HELPERS
from codegen.plan import (
    BlockClass,
    ClassEntry,
    ClassPlan,
    DenseClass,
    DenseGroup,
    ModulePlan,
    VariantBaseClass,
)
from codegen.plan_state import DenseDraft, PlanningState
from codegen.values import doc_text
from graph.model import Graph, Project
from graph.shapes import Analysis, GraphInfo, iter_graph_infos


def plan_module(project: Project, analysis: Analysis) -> ModulePlan:
    """Everything the writer needs, decided; raises UserError where one class cannot describe a block."""
    st = PlanningState(project, analysis)
    infos: dict[str | None, list[GraphInfo]] = {}
    seen: set[int] = set()
    for info in iter_graph_infos(analysis.root):
        if id(info) not in seen:
            seen.add(id(info))
            infos.setdefault(info.block, []).append(info)
    order = block_order(project, analysis)
    class_names: dict[str, str] = {}
    groups: dict[tuple, DenseDraft] = {}  # dense classes: group key -> the group
    pairs = variants.find_pairs(project, order)  # variant -> (base, its extra input chain)
    for name in order:
        bdef = project.blocks[name]
        st.classes[name] = plan_class(st, ClassDraft(bdef.graph, bdef, infos[name], st.classes))
        if name in pairs and pairs[name][0] not in class_names:
            continue  # named with its base (only the network uses it)
        group = _join_dense(st, st.classes[name], groups)
        if group is None:
            class_names[name] = st.class_names.create(name, key=("block", name), fallback="Block", camel=True)
        else:
            class_names[name] = group.name
        for variant, (base, chain) in pairs.items():
            if base in class_names and variant in st.classes and variant not in class_names:
                _join_variant(st, variant, base, chain, class_names)
    entries = _class_entries(st, order, class_names)
    net_name = st.class_names.create(project.name, key=("network",), fallback="Network", camel=True)
    net = plan_class(st, ClassDraft(project.graph, None, [analysis.root], st.classes))
    return ModulePlan(
        title=doc_text(project.name) or "Network",
        helpers=tuple(h for h in HELPERS if h in st.helpers),
        classes=tuple(entries),
        network=net,
        network_name=net_name,
        class_names=MappingProxyType(dict(class_names)),
        blocks=MappingProxyType(dict(st.classes)),
        init_blocks=tuple(c for name, c in st.classes.items() if name not in st.variants),
    )


def block_order(project: Project, analysis: Analysis) -> list[str]:
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
            visit(project.blocks[name].graph, ni.children)
            order.append(name)

    visit(project.graph, analysis.root)
    return order


def _class_entries(st: PlanningState, order: list[str], class_names: dict[str, str]) -> list[ClassEntry]:
    """The block classes in the module's order, each once: a dense group where its first member was,
    a base that serves a variant with its optional module."""
    entries: list[ClassEntry] = []
    written: set[int] = set()
    for name in order:
        if name in st.variants:
            continue  # written as its base's class
        if name in st.dense:
            draft = st.dense[name][1]
            if id(draft) not in written:
                written.add(id(draft))
                entries.append(DenseClass(_freeze_group(st, draft)))
            continue
        plan = st.classes[name]
        merged = next((m for m in st.variants.values() if m.base == name), None)
        if merged is not None:
            entries.append(VariantBaseClass(plan, class_names[name], merged))
        else:
            entries.append(BlockClass(plan, class_names[name]))
    return entries


def _freeze_group(st: PlanningState, draft: DenseDraft) -> DenseGroup:
    doc = dense.class_doc(draft.docs, draft.counts, st.class_names.get(("block", draft.inner)))
    return DenseGroup(
        draft.name, doc, tuple(draft.params), draft.call, draft.chain, MappingProxyType(draft.names)
    )


def _join_variant(
    st: PlanningState, variant: str, base: str, chain: tuple[str, ...], class_names: dict[str, str]
) -> None:
    """Name a variant (codegen/variants.py): its base's class if the plans agree, else its own."""
    m = None
    if base not in st.dense:
        m = variants.merge(st.classes[variant], st.classes[base], chain)
    if m is None:
        class_names[variant] = st.class_names.create(
            variant, key=("block", variant), fallback="Block", camel=True
        )
        return
    st.variants[variant] = m
    class_names[variant] = class_names[base]
    st.class_names.alias(("block", variant), class_names[base])


def _join_dense(st: PlanningState, cls: ClassPlan, groups: dict[tuple, DenseDraft]) -> DenseDraft | None:
    """A dense block definition (codegen/dense.py) joins its group's class; None for other blocks."""
    chain = dense.find_chain(cls.block)
    if chain is None:
        return None
    names = dict(cls.dense_names)
    call = dense.layer_call(cls, chain, names["i"])
    if call is None:
        return None
    key = dense.group_key(cls, chain, call)
    group = groups.get(key)
    if group is None:
        params = list(cls.init_params)
        params.insert(1, f"{names['num_layers']}: int")
        name = st.class_names.create(key[0], key=("dense", key), fallback="Block", camel=True)
        group = groups[key] = DenseDraft(name, chain.inner, params, call, chain, names, dict(cls.argnames))
    st.class_names.alias(("block", cls.block.name), group.name)
    group.docs.append(doc_text(cls.block.doc) or "")
    group.counts.append(chain.num_layers)
    st.dense[cls.block.name] = (chain, group)
    return group
