"""The project file: JSON, UTF-8, written atomically, never pickled (docs/architecture.md).

``load_project(path)`` / ``loads_project(text)`` / ``project_from_dict(d)``
read a file, migrate older versions step by step, check its structure and
build a Project; every problem becomes one ``UserError`` (exit code 2) that
names the problem and where it is (``"graph.edges[3]": dangling edge: node
"n99" does not exist``). The loader checks structure only: parameter values
(negative, absurd, wrong type) are the validator's job (graph.shapes, exit 1).
``save_project(project, path)`` writes a temporary file beside the target and
renames it over the target, so a crash never leaves half a file.

Versions
--------
1   the current format (docs/architecture.md).
0   the pre-release format: edges used ``from``/``to``/``from_port``/``to_port``
    and a boolean ``shortcut`` instead of ``src``/``dst``/``src_port``/
    ``dst_port`` and ``kind``; graphs had no ``stages``. ``_migrate_0_to_1``
    converts it.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
from collections.abc import Callable
from typing import Any

from graph import registry
from graph.errors import UserError
from graph.model import (
    BLOCK_PREFIX,
    EDGE_KINDS,
    STAGE_KEYS,
    BlockDef,
    BlockParam,
    Edge,
    Graph,
    Node,
    Project,
    Stage,
)
from graph.stage_tree import stage_tree

FORMAT = "skipwire"
VERSION = 1
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64  # nesting of JSON containers; real files stay below 10
BLOCK_PARAM_TYPES = ("int", "float", "bool")


class _Bad(Exception):
    """Internal: a structural problem at ``where``; becomes one UserError."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


def _error(source: str | None, where: str | None, message: str) -> UserError:
    parts = [p for p in (source, f'"{where}"' if where else None) if p]
    return UserError(": ".join(parts + [message]), 2)


# ------------------------------------------------------------------ reading
def load_project(path: str | os.PathLike) -> Project:
    """Read a project file; raises UserError (exit code 2) naming the problem."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise _error(
                    source,
                    None,
                    f"the file is {size / 2**20:.0f} MB; project files are limited to "
                    f"{MAX_FILE_BYTES // 2**20} MB",
                )
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise _error(source, None, "no such file") from None
    except IsADirectoryError:
        raise _error(source, None, "is a directory, not a project file") from None
    except PermissionError:
        raise _error(source, None, "permission denied") from None
    except OSError as exc:
        raise _error(source, None, f"cannot read the file ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise _error(source, None, f"the file is larger than {MAX_FILE_BYTES // 2**20} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _error(
            source,
            None,
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "a project file is JSON in UTF-8",
        ) from None
    return loads_project(text, source)


def loads_project(text: str, source: str | None = None) -> Project:
    """Parse project JSON text; ``source`` names the file in error messages."""
    if not isinstance(text, str):
        raise _error(source, None, "project text must be a string")
    if len(text) > MAX_FILE_BYTES:
        raise _error(source, None, f"the text is larger than {MAX_FILE_BYTES // 2**20} MB")
    if not text.strip():
        raise _error(source, None, "the file is empty; expected a Skipwire project (JSON)")
    try:
        d = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise _error(
            source, None, f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise _error(source, None, "the JSON is nested too deeply to be a project file") from None
    except _Bad as exc:
        raise _error(source, exc.where or None, exc.message) from None
    except ValueError as exc:  # e.g. an integer literal with thousands of digits
        raise _error(source, None, f"malformed JSON: {exc}") from None
    return project_from_dict(d, source)


def _reject_constant(name: str) -> Any:
    raise _Bad("", f"malformed JSON: {name} is not a number JSON allows")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _Bad("", f'malformed JSON: the key "{dup}" appears twice in one object')
    return d


def project_from_dict(d: Any, source: str | None = None) -> Project:
    """Check, migrate and build a Project from parsed JSON; never half-loads."""
    try:
        _check_depth(d)
        d = migrate(d)
        return _build_project(d)
    except _Bad as exc:
        raise _error(source, exc.where or None, exc.message) from None
    except RecursionError:
        raise _error(source, None, "the data is nested too deeply to be a project file") from None


def _check_depth(d: Any) -> None:
    stack = [(d, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_DEPTH:
            raise _Bad("", f"the data is nested more than {MAX_DEPTH} levels deep; not a project file")
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))


# ------------------------------------------------------------------ versions
def _version_of(d: Any) -> int:
    if not isinstance(d, dict):
        raise _Bad("", f"not a Skipwire project: expected a JSON object, found {_kind(d)}")
    fmt = d.get("format")
    if fmt != FORMAT:
        if fmt is None:
            raise _Bad("", 'not a Skipwire project: there is no "format": "skipwire" field')
        raise _Bad("format", f'not a Skipwire project: format is {_short(fmt)}, expected "skipwire"')
    v = d.get("version")
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Bad("version", f"the version must be a whole number, found {_short(v)}")
    if v > VERSION:
        raise _Bad(
            "version",
            f"the file is format version {v}, but this Skipwire reads versions up to {VERSION}; "
            "update Skipwire to open it",
        )
    if v < 0:
        raise _Bad("version", f"unknown format version {v}")
    return v


def _migrate_0_to_1(d: dict) -> dict:
    """Version 0 edges had from/to/from_port/to_port and a boolean shortcut; graphs had no stages."""
    d = copy.deepcopy(d)

    def graph(g: Any, where: str) -> None:
        if not isinstance(g, dict):
            return  # the structural check reports it with its place
        g.setdefault("stages", [])
        edges = g.get("edges")
        if not isinstance(edges, list):
            return
        for i, e in enumerate(edges):
            if not isinstance(e, dict):
                continue
            for old, new in (
                ("from", "src"),
                ("to", "dst"),
                ("from_port", "src_port"),
                ("to_port", "dst_port"),
            ):
                if old in e:
                    if new in e:
                        raise _Bad(
                            f"{where}.edges[{i}]", f'a version 0 edge cannot have both "{old}" and "{new}"'
                        )
                    e[new] = e.pop(old)
            shortcut = e.pop("shortcut", False)
            if not isinstance(shortcut, bool):
                raise _Bad(f"{where}.edges[{i}].shortcut", f"must be true or false, found {_short(shortcut)}")
            e.setdefault("src_port", 0)
            e.setdefault("dst_port", 0)
            e.setdefault("kind", "shortcut" if shortcut else "data")
            if e["kind"] == "shortcut":
                e.setdefault("name", "shortcut")
                e.setdefault("projection", "identity")

    graph(d.get("graph"), "graph")
    blocks = d.get("blocks")
    if isinstance(blocks, dict):
        for name, b in blocks.items():
            if isinstance(b, dict):
                graph(b.get("graph"), f"{_block_where(name)}.graph")
    d["version"] = 1
    return d


MIGRATIONS: dict[int, Callable[[dict], dict]] = {0: _migrate_0_to_1}


def migrate(d: Any) -> dict:
    """Bring a parsed file to the current version, one explicit step at a time."""
    v = _version_of(d)
    while v < VERSION:
        d = MIGRATIONS[v](d)
        v = d["version"]
    return d


# ------------------------------------------------------------------ building
_TOP_KEYS = {"format", "version", "name", "graph", "blocks", "training", "ui", "key_map"}
_NODE_KEYS = {"id", "type", "name", "params", "frozen"}
_EDGE_KEYS = {"id", "src", "dst", "src_port", "dst_port", "kind", "name", "projection"}
_STAGE_KEYS = {"name", "keys", "nodes"}
_GRAPH_KEYS = {"nodes", "edges", "stages"}
_BLOCK_KEYS = {"params", "graph", "doc"}


def _build_project(d: dict) -> Project:
    _no_unknown_keys(d, _TOP_KEYS, "")
    name = d.get("name", "Untitled")
    _need_type(name, str, "name", "text")
    blocks_raw = d.get("blocks", {})
    _need_type(blocks_raw, dict, "blocks", "an object")
    for bname in blocks_raw:
        if not bname.isidentifier():
            raise _Bad(
                _block_where(bname),
                f"block name {_short(bname)} must be a valid identifier "
                "(letters, digits and _; it becomes a class name in code)",
            )
    block_names = set(blocks_raw)
    if "graph" not in d:
        raise _Bad("", 'the project has no "graph"')
    graph = _build_graph(d["graph"], "graph", block_names)
    blocks = {}
    for bname, b in blocks_raw.items():
        blocks[bname] = _build_block(bname, b, block_names)
    training = d.get("training")
    if training is not None:
        _need_type(training, dict, "training", "an object")
    ui = d.get("ui", {})
    _need_type(ui, dict, "ui", "an object")
    key_map = d.get("key_map", {})
    _need_type(key_map, dict, "key_map", "an object")
    for key, value in key_map.items():
        if not (
            value is None
            or isinstance(value, str)
            or (isinstance(value, list) and value and all(isinstance(v, str) for v in value))
        ):
            raise _Bad(f"key_map.{key}", f"must be a key, a list of keys or null, not {_kind(value)}")
    return Project(
        name,
        graph,
        blocks,
        copy.deepcopy(training) if training is not None else None,
        copy.deepcopy(ui),
        dict(key_map),
    )


def _build_block(name: str, b: Any, block_names: set[str]) -> BlockDef:
    where = _block_where(name)
    _need_type(b, dict, where, "an object")
    _no_unknown_keys(b, _BLOCK_KEYS, where)
    params_raw = b.get("params", {})
    _need_type(params_raw, dict, f"{where}.params", "an object")
    params = {}
    for pname, p in params_raw.items():
        pw = f"{where}.params.{pname}"
        if not pname.isidentifier():
            raise _Bad(pw, "a block parameter name must be a valid identifier")
        if pname == "in_channels":
            raise _Bad(pw, "in_channels is inferred from the input and cannot be a block parameter")
        _need_type(p, dict, pw, "an object")
        _no_unknown_keys(p, {"type", "default"}, pw)
        ptype = p.get("type", "int")
        if ptype not in BLOCK_PARAM_TYPES:
            raise _Bad(f"{pw}.type", f"must be one of {', '.join(BLOCK_PARAM_TYPES)}, found {_short(ptype)}")
        default = p.get("default", False if ptype == "bool" else 0)
        ok = (
            isinstance(default, bool)
            if ptype == "bool"
            else not isinstance(default, bool)
            and isinstance(default, int if ptype == "int" else (int, float))
        )
        if not ok:
            kind = {"int": "a whole number", "float": "a number"}.get(ptype, "true or false")
            raise _Bad(f"{pw}.default", f"must be {kind}, found {_short(default)}")
        params[pname] = BlockParam(ptype, default)
    doc = b.get("doc", "")
    _need_type(doc, str, f"{where}.doc", "text")
    if "graph" not in b:
        raise _Bad(where, 'the block has no "graph"')
    graph = _build_graph(b["graph"], f"{where}.graph", block_names)
    return BlockDef(name, params, graph, doc)


def _build_graph(g: Any, where: str, block_names: set[str]) -> Graph:
    _need_type(g, dict, where, "an object")
    _no_unknown_keys(g, _GRAPH_KEYS, where)
    nodes_raw = g.get("nodes", [])
    edges_raw = g.get("edges", [])
    stages_raw = g.get("stages", [])
    _need_type(nodes_raw, list, f"{where}.nodes", "a list")
    _need_type(edges_raw, list, f"{where}.edges", "a list")
    _need_type(stages_raw, list, f"{where}.stages", "a list")
    graph = Graph()
    nodes: dict[str, Node] = {}
    for i, n in enumerate(nodes_raw):
        node = _build_node(n, f"{where}.nodes[{i}]", block_names)
        if node.id in nodes:
            raise _Bad(f"{where}.nodes[{i}].id", f'duplicate node id "{node.id}"')
        nodes[node.id] = node
    edges: dict[str, Edge] = {}
    for i, e in enumerate(edges_raw):
        ew = f"{where}.edges[{i}]"
        edge = _build_edge(e, ew)
        if edge.id in edges:
            raise _Bad(f"{ew}.id", f'duplicate edge id "{edge.id}"')
        for end in (edge.src, edge.dst):
            if end not in nodes:
                raise _Bad(ew, f'dangling edge: node "{end}" does not exist')
        edges[edge.id] = edge
    stages = []
    for i, s in enumerate(stages_raw):
        sw = f"{where}.stages[{i}]"
        _need_type(s, dict, sw, "an object")
        _no_unknown_keys(s, _STAGE_KEYS, sw)
        sname = s.get("name")
        if not isinstance(sname, str) or not sname.isidentifier():
            raise _Bad(f"{sw}.name", f"a stage name must be a valid identifier, found {_short(sname)}")
        keys = s.get("keys", "index")
        if keys not in STAGE_KEYS:
            raise _Bad(f"{sw}.keys", f'must be "index" or "name", found {_short(keys)}')
        members = s.get("nodes", [])
        _need_type(members, list, f"{sw}.nodes", "a list")
        for j, nid in enumerate(members):
            if not isinstance(nid, str):
                raise _Bad(f"{sw}.nodes[{j}]", f"must be a node id (text), found {_short(nid)}")
            if nid not in nodes:
                raise _Bad(
                    f"{sw}.nodes[{j}]", f'stage "{sname}" refers to node "{nid}", which does not exist'
                )
            if nid in members[:j]:
                raise _Bad(f"{sw}.nodes[{j}]", f'node "{nid}" is listed twice in stage "{sname}"')
        stages.append(Stage(sname, keys, list(members)))
    for a, b, nid in stage_tree(stages).overlaps:  # nested stages are fine; crossing ones are not
        raise _Bad(
            f"{where}.stages", f'node "{nid}" is in stages "{a}" and "{b}", and neither holds the other'
        )
    # everything checked: build without events firing half-way
    graph.nodes = nodes
    graph.edges = edges
    graph.stages = stages
    return graph


def _build_node(n: Any, where: str, block_names: set[str]) -> Node:
    _need_type(n, dict, where, "an object")
    _no_unknown_keys(n, _NODE_KEYS, where)
    nid = n.get("id")
    if not isinstance(nid, str) or not nid:
        raise _Bad(f"{where}.id", f"a node id must be non-empty text, found {_short(nid)}")
    t = n.get("type")
    if not isinstance(t, str):
        raise _Bad(f"{where}.type", f"a node type must be text, found {_short(t)}")
    if t.startswith(BLOCK_PREFIX):
        if t[len(BLOCK_PREFIX) :] not in block_names:
            raise _Bad(
                f"{where}.type",
                f'node "{nid}" is an instance of block "{t[len(BLOCK_PREFIX) :]}", '
                "which the file does not define",
            )
    elif registry.get(t) is None:
        raise _Bad(f"{where}.type", f'node "{nid}" has unknown type {_short(t)}')
    else:
        t = registry.canonical(t)  # renamed types keep aliases so old files load
    name = n.get("name", nid)
    if not isinstance(name, str):
        raise _Bad(f"{where}.name", f"a node name must be text, found {_short(name)}")
    params = n.get("params", {})
    _need_type(params, dict, f"{where}.params", "an object")
    frozen = n.get("frozen", False)
    _need_type(frozen, bool, f"{where}.frozen", "true or false")
    return Node(nid, t, name, copy.deepcopy(params), frozen)


def _build_edge(e: Any, where: str) -> Edge:
    _need_type(e, dict, where, "an object")
    _no_unknown_keys(e, _EDGE_KEYS, where)
    eid = e.get("id")
    if not isinstance(eid, str) or not eid:
        raise _Bad(f"{where}.id", f"an edge id must be non-empty text, found {_short(eid)}")
    ends = []
    for key in ("src", "dst"):
        v = e.get(key)
        if not isinstance(v, str):
            raise _Bad(f"{where}.{key}", f"must be a node id (text), found {_short(v)}")
        ends.append(v)
    ports = []
    for key in ("src_port", "dst_port"):
        v = e.get(key, 0)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise _Bad(f"{where}.{key}", f"must be a whole number 0 or more, found {_short(v)}")
        ports.append(v)
    kind = e.get("kind", "data")
    if kind not in EDGE_KINDS:
        raise _Bad(f"{where}.kind", f'must be "data" or "shortcut", found {_short(kind)}')
    name = e.get("name")
    if name is not None and not isinstance(name, str):
        raise _Bad(f"{where}.name", f"must be text, found {_short(name)}")
    if kind == "shortcut" and name is None:
        name = "shortcut"
    projection = e.get("projection", "identity")
    if not isinstance(projection, str):  # an unknown value is a validation diagnostic with a fix
        raise _Bad(f"{where}.projection", f"must be text, found {_short(projection)}")
    return Edge(eid, ends[0], ends[1], ports[0], ports[1], kind, name, projection)


# ------------------------------------------------------------------ helpers
def _need_type(value: Any, t: type, where: str, what: str) -> None:
    if not isinstance(value, t) or (t is not bool and isinstance(value, bool)):
        raise _Bad(where, f"must be {what}, found {_short(value)}")


def _no_unknown_keys(d: dict, known: set[str], where: str) -> None:
    extra = [k for k in d if k not in known]
    if extra:
        raise _Bad(
            where,
            f"unknown field {_short(extra[0])}" + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""),
        )


def _block_where(name: str) -> str:
    return f"blocks.{name}" if name.isidentifier() else f"blocks[{json.dumps(name)[:60]}]"


def _kind(v: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "text",
        bool: "true/false",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(v), type(v).__name__)


def _short(v: Any) -> str:
    if isinstance(v, (dict, list)):
        return _kind(v)
    text = (
        json.dumps(v, ensure_ascii=False) if isinstance(v, (str, int, float, bool, type(None))) else repr(v)
    )
    return text if len(text) <= 60 else text[:57] + "..."


# ------------------------------------------------------------------ writing
def dumps_project(project: Project) -> str:
    data = project.to_dict()
    try:
        return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        where = _first_unsavable(data, "")
        detail = f'"{where[0]}" is {where[1]}, which JSON cannot hold' if where else str(exc)
        m = re.match(r"(graph|blocks\.(.+?)\.graph)\.nodes\[(\d+)\]", where[0]) if where else None
        if m:
            g = project.graph if m.group(2) is None else project.blocks[m.group(2)].graph
            node = list(g.nodes.values())[int(m.group(3))]
            detail = f'node "{node.name}"' + (f" in block {m.group(2)}" if m.group(2) else "") + f": {detail}"
        raise UserError(f"cannot save the project: {detail}", 2) from None


def _first_unsavable(value: Any, path: str) -> tuple[str, str] | None:
    """The path of the first value json cannot write (NaN, infinity, a non-JSON type), for the message."""
    if isinstance(value, float) and not math.isfinite(value):
        return path, repr(value)
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return path, f"a key {k!r}"
            found = _first_unsavable(v, f"{path}.{k}" if path else k)
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = _first_unsavable(v, f"{path}[{i}]")
            if found:
                return found
    elif not isinstance(value, (str, int, float, bool, type(None))):
        return path, f"a {type(value).__name__}"
    return None


def save_project(project: Project, path: str | os.PathLike) -> None:
    """Write JSON atomically (graph.atomic: a temporary file in the same folder, then os.replace)."""
    from graph.atomic import write_text_atomic

    write_text_atomic(path, dumps_project(project))


__all__ = [
    "FORMAT",
    "MAX_FILE_BYTES",
    "VERSION",
    "dumps_project",
    "load_project",
    "loads_project",
    "migrate",
    "project_from_dict",
    "save_project",
]
