"""The model we train is the code we generate.

``checked_analysis(project, purpose)`` is the one check that a project can be
trained or inspected; ``project_io(project)`` gives (input_shape, num_classes)
after it; ``model_source(project)`` is ``codegen.emitter.emit(project)``'s
source and network class name (saved as the run's ``model.py`` and, in
``run.json``, ``model_class``); ``module_from_source(source, class_name)``
executes that source through ``codegen.build.load_source`` (the one way a
live module is made) and instantiates the network. A new run builds its
module from the source it saves; a resumed run from its own ``model.py``, so a
later edit of the graph or of the emitter cannot change it. The source is
checked against codegen's allowlist first (a run folder is a file on disk).
"""

from __future__ import annotations

import ast
from typing import Any

from graph.errors import UserError


def as_project(project: Any):
    """A Project from a Project or a project dict (the file format)."""
    from graph.model import Project

    if isinstance(project, Project):
        return project
    from graph.projectfile import project_from_dict

    return project_from_dict(project, "project")


def checked_analysis(project, purpose: str = "trained"):
    """The project's Analysis; UserError (exit 1) if it does not validate or has not exactly one Input.
    ``purpose`` ends the messages: "cannot be trained", "cannot be inspected"."""
    from graph.shapes import analyze

    a = analyze(project)
    if not a.valid:
        msgs = "; ".join(d.message for d in a.errors[:3])
        raise UserError(f"the project is not valid, so it cannot be {purpose}: {msgs}", 1)
    if len(project.graph.nodes_of_type("Input")) != 1:
        raise UserError(f"the project needs exactly one Input node to be {purpose}", 1)
    return a


def input_shape(project) -> tuple[int, ...]:
    """The per-sample input shape its one Input node declares."""
    return tuple(int(v) for v in project.graph.nodes_of_type("Input")[0].params.get("shape", (3, 32, 32)))


def project_io(project) -> tuple[tuple[int, ...], int]:
    """The per-sample input shape and the number of classes; UserError (exit 1) if the graph is invalid."""
    a = checked_analysis(project, "trained")
    out = a.output_shape
    if out is None or len(out) != 1:
        raise UserError(
            f"training needs a network that outputs class logits (a vector) but the output is "
            f"{'x'.join(map(str, out or ()))}; end the network with Flatten and Linear",
            1,
        )
    return input_shape(project), int(out[0])


def model_source(project) -> tuple[str, str]:
    """(source, network class name) of the project's generated PyTorch code."""
    from codegen.emitter import emit

    e = emit(project)
    return e.source, e.class_name


def network_class_name(source: str) -> str:
    """For a model.py without a recorded class name: the last top-level class (the network
    comes after its blocks and helpers in generated code)."""
    classes = [n.name for n in ast.parse(source).body if isinstance(n, ast.ClassDef)]
    if not classes:
        raise UserError("model.py defines no class", 1)
    return classes[-1]


def module_from_source(source: str, class_name: str | None = None):
    """Execute generated source (a run's model.py) and instantiate its network class."""
    from codegen.build import load_source
    from codegen.safety import check_source

    try:
        check_source(source)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"model.py does not look like generated code and was not run: {exc}", 1) from None
    name = class_name or network_class_name(source)
    return load_source(source, name, name)()
