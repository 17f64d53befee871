"""Built-in templates: the whole ResNet family as projects.

Each template module registers builder functions with ``@template(...)``.
``make(name, classes=, input=, shortcut=)`` builds one, applies the head and
input overrides (DESIGN.md) and returns the Project.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from graph.errors import UserError
from graph.model import Project


@dataclass(frozen=True)
class TemplateInfo:
    name: str
    family: str  # "cifar" or "imagenet"
    doc: str
    build: Callable[..., Project]  # build(shortcut: str) -> Project
    shortcut_options: bool = False  # accepts --shortcut A|B|C


_TEMPLATES: dict[str, TemplateInfo] = {}


def template(name: str, family: str, doc: str, shortcut_options: bool = False):
    def deco(fn: Callable[..., Project]) -> Callable[..., Project]:
        if name in _TEMPLATES:
            raise ValueError(f"template {name!r} registered twice")
        _TEMPLATES[name] = TemplateInfo(name, family, doc, fn, shortcut_options)
        return fn
    return deco


def _load() -> None:
    if not _TEMPLATES:
        from graph.templates import catalog  # noqa: F401  (imports every template module)


def all_templates() -> list[TemplateInfo]:
    _load()
    return list(_TEMPLATES.values())


def get_template(name: str) -> TemplateInfo:
    _load()
    if name not in _TEMPLATES:
        raise UserError(f"unknown template {name!r}; `python main.py templates` lists them")
    return _TEMPLATES[name]
