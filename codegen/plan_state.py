"""What the planner knows about the module while it plans it, class by class (inner classes first).

Passed to the functions of codegen/class_planner.py and codegen/constructors.py; the writer never
sees it. Everything it decides ends up in the frozen :class:`codegen.plan.ModulePlan`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codegen import pyformat as pf
from codegen.helpers import HELPERS
from codegen.namespace import RESERVED, Namespace
from codegen.plan import ClassPlan, DenseChain, Merge
from graph.model import Project
from graph.shapes import Analysis


@dataclass
class DenseDraft:
    """A dense group while its member definitions join it (codegen/dense.py)."""

    name: str
    inner: str  # the layers' block definition
    params: list[str]  # the constructor's parameters after ``self``
    call: pf.Call
    chain: DenseChain  # the first member's chain
    names: dict[str, str]  # the loop's local names: i, layer, num_layers
    argnames: dict[str, str]  # block parameter -> constructor argument
    docs: list[str] = field(default_factory=list)  # each member's doc
    counts: list[int] = field(default_factory=list)  # each member's number of layers
    first_member: str = ""  # the member whose place in the module the class takes


@dataclass
class PlanningState:
    project: Project
    analysis: Analysis
    class_names: Namespace = field(default_factory=lambda: Namespace(RESERVED | set(HELPERS) | {"Module"}))
    classes: dict[str, ClassPlan] = field(default_factory=dict)  # block name -> its frozen plan
    helpers: set[str] = field(default_factory=set)  # helper classes used
    dense: dict[str, tuple[DenseChain, DenseDraft]] = field(default_factory=dict)  # member -> its group
    variants: dict[str, Merge] = field(default_factory=dict)  # variant -> how its base's class writes it
