"""Imports every template module so that their ``@template`` registrations run.

Order here is the order ``python main.py templates`` lists them in.
"""

from __future__ import annotations

import importlib

from graph.templates import cifar_resnets, imagenet_resnets  # noqa: F401

# Written alongside these; a module that does not exist yet is skipped, but an
# import error *inside* one that exists is raised, not hidden.
for _name in ("dense", "dual_path", "gated"):
    try:
        importlib.import_module(f"graph.templates.{_name}")
    except ModuleNotFoundError as exc:  # pragma: no cover
        if exc.name != f"graph.templates.{_name}":
            raise
