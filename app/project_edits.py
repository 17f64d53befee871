"""Project-level edits the editor makes: renaming the project, and the empty network (File ▸ New)."""

from __future__ import annotations

from dataclasses import dataclass

from graph import edits as E
from graph.model import Project


@dataclass
class RenameProject(E.Edit):
    """The project's name (the window title and the network's class name in code follow it)."""

    name: str
    _old: str = ""

    @property
    def label(self) -> str:
        return f"Rename project to {self.name}"

    def apply(self, project: Project) -> None:
        self._old = project.name
        project.name = self.name
        project.events.emit("project_renamed", self._old, self.name)

    def revert(self, project: Project) -> None:
        new = project.name
        project.name = self._old
        project.events.emit("project_renamed", new, self._old)


def class_name(name: str) -> str:
    """The network's class name in the generated code, as the emitter makes it."""
    from codegen.namespace import Namespace

    return Namespace().create(name, key=("network",), fallback="Network", camel=True)


def empty_network(input_shape=(3, 32, 32)) -> Project:
    """Input -> Output, nothing else: a blank canvas that is still a valid network."""
    project = Project("Network")
    g = project.graph
    g.chain(g.add("Input", shape=list(input_shape)), g.add("Output"))
    ids = list(g.nodes)
    project.ui["positions"] = {ids[0]: [0, 0], ids[1]: [0, 160]}
    return project
