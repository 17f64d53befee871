"""Names for generated code, handed out by one object (as torch.fx's ``_Namespace``).

Every identifier the emitter writes that comes from project text (node names,
block names, block parameter names, shortcut edge names, the project name)
goes through a :class:`Namespace`: it becomes ASCII snake_case (or CamelCase
for classes; an attribute name that is already an identifier stays as it
is), loses every character that is not a letter, digit or underscore, avoids
Python keywords, builtins, the names the generated module itself uses
(``torch``, ``nn``, ``F``, ``Tensor``, ``self``, ``x`` ...) and the
attributes of ``nn.Module``, and gets a deterministic ``_1``, ``_2`` suffix
when it is already taken. Nothing a user typed reaches the source any other
way, so no name can inject code.
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata

MAX_NAME = 40

# Names the generated module binds or that mean something in it.
MODULE_GLOBALS = frozenset(
    {
        "torch",
        "nn",
        "F",
        "Tensor",
        "OrderedDict",
        "annotations",
        "self",
        "super",
        "cls",
    }
)

# Attributes and methods of torch.nn.Module: a submodule with one of these
# names would break the module (``self.train = ...``). Checked against torch
# in tests/codegen/test_emitter.py.
MODULE_ATTRIBUTES = frozenset(
    {
        "T_destination",
        "add_module",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "smart_apply",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
        # names used by the generated classes themselves
        "_init_weights",
    }
)

KEYWORDS = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)
# locals, parameters and classes also avoid the builtins
RESERVED = KEYWORDS | frozenset(dir(builtins)) | MODULE_GLOBALS
# ``self.<attr>`` may shadow no nn.Module attribute; builtins are harmless there
# (and renaming them would change state_dict keys)
RESERVED_ATTRIBUTES = KEYWORDS | MODULE_GLOBALS | MODULE_ATTRIBUTES


def _ascii_words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", str(text))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    # split camelCase boundaries so "convBlock" -> conv_block, keep digits with their word
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return [w for w in re.split(r"[^A-Za-z0-9]+", text) if w]


def snake_case(text: str) -> str:
    """``"Conv 1"`` -> ``conv_1``; ``"bn-2"`` -> ``bn_2``; keeps an already valid snake name as is."""
    raw = str(text)
    if re.fullmatch(r"[a-z_][a-z0-9_]*", raw):
        name = raw
    else:
        name = "_".join(w.lower() for w in _ascii_words(raw))
    name = name[:MAX_NAME].rstrip("_") if len(name) > MAX_NAME else name
    if not name:
        return ""
    if name[0].isdigit():
        name = "_" + name
    return name


def camel_case(text: str) -> str:
    """``"basic block"`` -> ``BasicBlock``; ``"ResNet-20"`` -> ``ResNet20``; keeps inner capitals."""
    words = _ascii_words(text)
    name = "".join(w[0].upper() + w[1:] for w in words)[:MAX_NAME]
    if name and name[0].isdigit():
        name = "Net" + name
    return name


class Namespace:
    """Hands out unique, safe identifiers; the same request order gives the same names."""

    def __init__(
        self, reserved: frozenset[str] | set[str] = RESERVED, keep_identifiers: bool = False
    ) -> None:
        self._reserved = frozenset(reserved)
        # keep a name that is already an ASCII identifier as it is (``Conv2d_1a_3x3``, ``Mixed_5b``)
        self._keep = keep_identifiers
        self._taken: set[str] = set()
        self._by_key: dict[object, str] = {}

    def reserve(self, *names: str) -> None:
        self._taken.update(names)

    def is_free(self, name: str) -> bool:
        return name not in self._taken and name not in self._reserved

    def take(self, name: str) -> None:
        """Mark ``name`` used as it is (a module key that need not be an identifier, such as ``block1-0``)."""
        assert self.is_free(name), name
        self._taken.add(name)

    def create(
        self, text: str, key: object | None = None, fallback: str = "node", camel: bool = False
    ) -> str:
        """A fresh identifier derived from ``text``; ``key`` remembers it for :meth:`get`."""
        if key is not None and key in self._by_key:
            return self._by_key[key]
        if (
            self._keep
            and not camel
            and str(text).isascii()
            and str(text).isidentifier()
            and len(str(text)) <= MAX_NAME
        ):
            base = str(text)
        else:
            base = (camel_case(text) if camel else snake_case(text)) or fallback
        if base.startswith("__"):  # no dunder-looking or name-mangled identifiers
            base = base.strip("_") or fallback
        if base[0].isdigit():
            base = "_" + base
        name = base
        if not self.is_free(name) or keyword.iskeyword(name):
            stem = base if not base[-1].isdigit() else base + "_"
            i = 1
            while True:
                name = f"{stem}_{i}" if not stem.endswith("_") else f"{stem}{i}"
                if self.is_free(name):
                    break
                i += 1
        assert name.isidentifier() and name.isascii() and not keyword.iskeyword(name), name
        self._taken.add(name)
        if key is not None:
            self._by_key[key] = name
        return name

    def alias(self, key: object, name: str) -> None:
        """``key`` names the identifier ``name`` handed out before (one class for several definitions)."""
        assert name in self._taken, name
        self._by_key[key] = name

    def get(self, key: object) -> str:
        return self._by_key[key]

    def named(self) -> dict[object, str]:
        """Every key handed a name, with its name (a copy)."""
        return dict(self._by_key)

    def taken(self) -> frozenset[str]:
        """The names in use (a copy)."""
        return frozenset(self._taken)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key


def attribute_namespace() -> Namespace:
    """Names for ``self.<attr>`` submodules of a generated class: a node's name is its attribute's
    (docs/architecture.md), so one that is already an identifier stays as it is, capitals included,
    as torchvision's Inception3 names ``self.Conv2d_1a_3x3`` (its state_dict keys)."""
    return Namespace(RESERVED_ATTRIBUTES, keep_identifiers=True)
