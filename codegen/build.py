"""The one function that turns a project into a live torch module.

Training, export, summary and the tests all call :func:`build_module`: it
emits the source (codegen/emitter.py), executes it in a fresh module
namespace and instantiates the network class. So the code a user reads is
exactly the model that trains.
"""

from __future__ import annotations

import collections
import itertools
import linecache
import sys
import types

from codegen.emitter import Emitted, emit
from graph.model import Project
from graph.shapes import Analysis


def load_source(source: str, class_name: str, module_name: str = "skipwire_model") -> type:
    """Execute generated ``source`` in a fresh module and return the class ``class_name``.

    The source must pass codegen/safety.py's allowlist (UserError otherwise).

    The module is registered in ``sys.modules`` under a private unique name and
    its text in ``linecache``, so that tracebacks show the generated lines and
    ``inspect.getsource`` (TorchScript) works; the newest ``MAX_REGISTERED``
    stay registered.
    """
    import torch  # noqa: F401  (the source imports it; fail here with a clear traceback if missing)

    from codegen.safety import check_source

    check_source(source)  # a run's model.py may have been edited by hand: run only what we would write
    suffix = next(_COUNTER)
    name = f"skipwire_generated_{_safe(module_name)}_{suffix}"
    module = types.ModuleType(name)
    module.__file__ = f"<skipwire:{module_name}>" if suffix == 0 else f"<skipwire:{module_name}:{suffix}>"
    code = compile(source, module.__file__, "exec")
    # inspect.getsource (TorchScript, tracebacks) finds the text through linecache
    linecache.cache[module.__file__] = (len(source), None, source.splitlines(True), module.__file__)
    sys.modules[name] = module
    _LOADED.append((name, module.__file__))
    while len(_LOADED) > MAX_REGISTERED:  # an editor rebuilds often: keep the registry bounded
        old_name, old_file = _LOADED.popleft()
        sys.modules.pop(old_name, None)
        linecache.cache.pop(old_file, None)
    exec(code, module.__dict__)  # noqa: S102 - our own emitted, allowlist-checked source
    return getattr(module, class_name)


def build_module(project: Project, analysis: Analysis | None = None, emitted: Emitted | None = None):
    """A new ``torch.nn.Module`` for ``project`` (freshly initialised).

    Raises ``graph.errors.UserError`` (exit code 1) listing the errors if the
    project does not validate.
    """
    emitted = emitted if emitted is not None else emit(project, analysis)
    cls = load_source(emitted.source, emitted.class_name, emitted.class_name)
    return cls()


_COUNTER = itertools.count()
# Models keep working after their module leaves sys.modules (their functions hold their globals);
# only inspect.getsource-based tools (TorchScript) need the newest ones registered.
MAX_REGISTERED = 256
_LOADED: collections.deque[tuple[str, str]] = collections.deque()


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in text) or "model"


__all__ = ["build_module", "load_source"]
