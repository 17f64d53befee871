"""The training script written by ``export --format script``: a bundle of the project and a launcher.

``render_script(project_dict, name)`` returns codegen/train_script.py's text with the project (graph
and training settings) as JSON in ``PROJECT`` and the project's name in the title. The script runs
``training.bundle.run`` of the installed Skipwire, the engine ``main.py train`` and the editor use,
so its recipe is the app's by construction (issue 20: no second copy that can drift). It runs as
``python train.py`` and unchanged under ``torchrun --nproc_per_node N train.py``.
"""

from __future__ import annotations

import json
from typing import Any

_TEMPLATE = "train_script.py"  # in this package; read as text (it imports training, codegen does not)
_NOTE = "# Skipwire template: "
_PROJECT = 'PROJECT: dict = json.loads("{}")\n'
_TITLE = '"""Train the model - exported by Skipwire.\n'


def template_source() -> str:
    """codegen/train_script.py's text."""
    from importlib.resources import files

    return files("codegen").joinpath(_TEMPLATE).read_text(encoding="utf-8")


def render_script(project_dict: dict[str, Any], name: str | None) -> str:
    """The script for ``project_dict`` (a project file's content); ``name`` goes into its title."""
    from codegen.emitter import doc_text

    blob = json.dumps(project_dict, indent=1, ensure_ascii=True)
    if '"""' in blob:  # ensure_ascii leaves no quote unescaped inside a JSON string: cannot happen
        raise ValueError("project text cannot contain triple quotes")
    text = "".join(ln for ln in template_source().splitlines(keepends=True) if not ln.startswith(_NOTE))
    for marker in (_TITLE, _PROJECT):
        if text.count(marker) != 1:
            raise AssertionError(f"codegen/{_TEMPLATE} lost its marker {marker!r}")
    title = doc_text(name, limit=80) or "the model"
    text = text.replace(_TITLE, f'"""Train {title} - exported by Skipwire.\n')
    text = text.replace(_PROJECT, f'PROJECT: dict = json.loads(\n    r"""\n{blob}\n"""\n)\n')
    return "#!/usr/bin/env python3\n" + text


__all__ = ["render_script", "template_source"]
