"""The project file: exact round trip, atomic save, migration, and one clear error per bad file."""

from __future__ import annotations

import copy
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph import projectfile as pf
from graph.errors import UserError
from graph.model import BlockDef, BlockParam, Graph, Project, Stage
from graph.projectfile import load_project, loads_project, project_from_dict, save_project
from graph.shapes import analyze


def sample_project() -> Project:
    """A small ResNet-like network with a block, stages, a frozen node and UI state."""
    body = Graph()
    bi = body.add("BlockInput", "input")
    c1 = body.add("Conv2d", "conv1", out_channels="out_channels", stride="stride", padding=1)
    b1 = body.add("BatchNorm2d", "bn1")
    r1 = body.add("ReLU", "relu")
    c2 = body.add("Conv2d", "conv2", out_channels="out_channels")
    b2 = body.add("BatchNorm2d", "bn2", zero_init=True)
    add = body.add("Add", "add")
    r2 = body.add("ReLU", "relu2")
    bo = body.add("BlockOutput", "output")
    body.chain(bi, c1, b1, r1, c2, b2)
    body.connect(b2, add, 0)
    body.connect(bi, add, 1, kind="shortcut", name="downsample", projection="conv_bn")
    body.chain(add, r2, bo)
    block = BlockDef(
        "BasicBlock",
        {"out_channels": BlockParam("int", 64), "stride": BlockParam("int", 1)},
        body,
        "Two 3x3 convs and a shortcut.",
    )
    g = Graph()
    i = g.add("Input", "input", shape=[3, 32, 32])
    c = g.add("Conv2d", "conv1", out_channels=16, frozen=True)
    bn = g.add("BatchNorm2d", "bn1")
    r = g.add("ReLU", "relu")
    l1 = g.add("block:BasicBlock", "b0", out_channels=16, stride=1)
    l2 = g.add("block:BasicBlock", "b1", out_channels=32, stride=2)
    pool = g.add("AdaptiveAvgPool2d", "avgpool")
    fl = g.add("Flatten", "flatten")
    fc = g.add("Linear", "fc", out_features=10)
    out = g.add("Output", "output")
    g.chain(i, c, bn, r, l1, l2, pool, fl, fc, out)
    g.stages = [Stage("layer1", "index", [l1.id, l2.id])]
    p = Project("Tiny ResNet — ü", g, {"BasicBlock": block})
    p.ui = {"positions": {i.id: [0, 0], c.id: [0, 110.5]}, "zoom": 1.25}
    return p


def sample_dict() -> dict:
    return sample_project().to_dict()


def load_error(d_or_text, source: str | None = None) -> UserError:
    with pytest.raises(UserError) as info:
        if isinstance(d_or_text, str):
            loads_project(d_or_text, source)
        else:
            project_from_dict(d_or_text, source)
    assert info.value.exit_code == 2
    assert "\n" not in info.value.message
    return info.value


# ------------------------------------------------------------------ round trip
def test_sample_is_valid():
    a = analyze(sample_project())
    assert a.valid, [d.message for d in a.diagnostics]


def test_exact_round_trip_dict():
    d = sample_dict()
    assert project_from_dict(copy.deepcopy(d)).to_dict() == d


def test_exact_round_trip_file(tmp_path):
    d = sample_dict()
    path = tmp_path / "p.json"
    save_project(sample_project(), path)
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == d
    assert "ü" in text  # UTF-8, not escaped
    assert load_project(path).to_dict() == d
    save_project(load_project(path), path)
    assert path.read_text(encoding="utf-8") == text


def test_loaded_project_is_usable():
    p = project_from_dict(sample_dict())
    assert p.graph.nodes["n2"].frozen
    e = next(e for e in p.blocks["BasicBlock"].graph.edges.values() if e.is_shortcut)
    assert (e.name, e.projection) == ("downsample", "conv_bn")
    n = p.graph.add("ReLU")  # fresh ids do not collide with loaded ones
    assert n.id not in {"n1", "n2", "n3"} and len(p.graph.nodes) == 11


def test_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(sample_dict()).encode())
    assert load_project(path).to_dict() == sample_dict()


def test_alias_type_is_canonicalised():
    d = sample_dict()
    d["graph"]["nodes"][2]["type"] = "BatchNorm"
    assert project_from_dict(d).graph.nodes["n3"].type == "BatchNorm2d"


# ------------------------------------------------------------------ atomic save
def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "p.json"
    save_project(sample_project(), path)
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pf.os, "replace", boom)
    p = sample_project()
    p.name = "changed"
    with pytest.raises(UserError, match="No space left"):
        save_project(p, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["p.json"]


def test_save_keeps_permissions(tmp_path):
    path = tmp_path / "p.json"
    path.write_text("{}")
    os.chmod(path, 0o640)
    save_project(sample_project(), path)
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_save_through_symlink_keeps_the_link(tmp_path):
    real = tmp_path / "real.json"
    link = tmp_path / "link.json"
    real.write_text("{}")
    link.symlink_to(real)
    save_project(sample_project(), link)
    assert link.is_symlink() and load_project(real).to_dict() == sample_dict()


def test_save_refuses_nan():
    p = sample_project()
    p.training["lr_extra"] = float("nan")
    with pytest.raises(UserError, match='cannot save the project: "training.lr_extra" is nan'):
        pf.dumps_project(p)


def test_save_refusal_names_the_node():
    from graph.templates import make

    p = make("resnet20")
    body = p.blocks["BasicBlock"].graph
    body.set_param(body.node_by_name("conv1").id, "bias_init", float("inf"))
    with pytest.raises(UserError, match='node "conv1" in block BasicBlock: .*bias_init" is inf'):
        pf.dumps_project(p)


def test_save_into_missing_folder(tmp_path):
    with pytest.raises(UserError, match="cannot write"):
        save_project(sample_project(), tmp_path / "nope" / "p.json")


# ------------------------------------------------------------------ versions
def as_version_0(d: dict) -> dict:
    d = copy.deepcopy(d)
    d["version"] = 0

    def graph(g):
        g.pop("stages")
        for e in g["edges"]:
            e["from"], e["to"] = e.pop("src"), e.pop("dst")
            e["from_port"], e["to_port"] = e.pop("src_port"), e.pop("dst_port")
            e["shortcut"] = e.pop("kind") == "shortcut"

    graph(d["graph"])
    for b in d["blocks"].values():
        graph(b["graph"])
    return d


def test_version_0_is_migrated():
    d = sample_dict()
    d["graph"]["stages"] = []
    v0 = as_version_0(d)
    migrated = pf.migrate(copy.deepcopy(v0))
    assert migrated == d
    assert project_from_dict(v0).to_dict() == d
    assert v0["version"] == 0  # the input is not modified


def test_version_0_migration_step_is_explicit():
    assert set(pf.MIGRATIONS) == set(range(pf.VERSION))


def test_version_0_conflicting_keys():
    v0 = as_version_0(sample_dict())
    v0["graph"]["edges"][0]["src"] = "n1"
    assert '"graph.edges[0]"' in load_error(v0).message


def test_newer_version_is_refused():
    d = sample_dict()
    d["version"] = 2
    err = load_error(d, "x.json")
    assert (
        "version 2" in err.message and "update Skipwire" in err.message and err.message.startswith("x.json")
    )


@pytest.mark.parametrize("version", ["1", 1.0, None, True, -1])
def test_bad_version(version):
    d = sample_dict()
    d["version"] = version
    assert "version" in load_error(d).message


# ------------------------------------------------------------------ bad files
def mutate(fn) -> dict:
    d = sample_dict()
    fn(d)
    return d


BAD = {
    "not_object": ([1, 2], "expected a JSON object"),
    "no_format": ({"version": 1}, '"format"'),
    "wrong_format": ({"format": "keras", "version": 1}, 'format is "keras"'),
    "unknown_type": (
        mutate(lambda d: d["graph"]["nodes"][1].update(type="Conv9d")),
        '"graph.nodes[1].type": node "n2" has unknown type "Conv9d"',
    ),
    "unknown_block": (mutate(lambda d: d["graph"]["nodes"][4].update(type="block:Nope")), 'block "Nope"'),
    "dangling_edge": (
        mutate(lambda d: d["graph"]["edges"][3].update(dst="n99")),
        '"graph.edges[3]": dangling edge: node "n99" does not exist',
    ),
    "dangling_in_block": (
        mutate(lambda d: d["blocks"]["BasicBlock"]["graph"]["edges"][0].update(src="zz")),
        '"blocks.BasicBlock.graph.edges[0]": dangling edge: node "zz"',
    ),
    "duplicate_node": (
        mutate(lambda d: d["graph"]["nodes"][3].update(id="n1")),
        '"graph.nodes[3].id": duplicate node id "n1"',
    ),
    "duplicate_edge": (
        mutate(lambda d: d["graph"]["edges"][2].update(id=d["graph"]["edges"][0]["id"])),
        '"graph.edges[2].id": duplicate edge id',
    ),
    "node_not_object": (
        mutate(lambda d: d["graph"]["nodes"].append("n5")),
        '"graph.nodes[10]": must be an object',
    ),
    "name_not_text": (mutate(lambda d: d["graph"]["nodes"][1].update(name=5)), '"graph.nodes[1].name"'),
    "params_not_object": (
        mutate(lambda d: d["graph"]["nodes"][1].update(params=[16])),
        '"graph.nodes[1].params": must be an object, found a list',
    ),
    "id_not_text": (mutate(lambda d: d["graph"]["nodes"][1].update(id=2)), '"graph.nodes[1].id"'),
    "frozen_not_bool": (
        mutate(lambda d: d["graph"]["nodes"][1].update(frozen="yes")),
        '"graph.nodes[1].frozen"',
    ),
    "negative_port": (
        mutate(lambda d: d["graph"]["edges"][0].update(dst_port=-1)),
        '"graph.edges[0].dst_port"',
    ),
    "bad_kind": (mutate(lambda d: d["graph"]["edges"][0].update(kind="skip")), '"graph.edges[0].kind"'),
    "edges_not_list": (mutate(lambda d: d["graph"].update(edges={})), '"graph.edges": must be a list'),
    "no_graph": (mutate(lambda d: d.pop("graph")), 'no "graph"'),
    "stage_unknown_node": (
        mutate(lambda d: d["graph"]["stages"][0]["nodes"].append("n77")),
        '"graph.stages[0].nodes[2]": stage "layer1" refers to node "n77"',
    ),
    "stage_twice": (
        mutate(
            lambda d: d["graph"]["stages"].append({"name": "layer2", "keys": "index", "nodes": ["n6", "n7"]})
        ),
        'node "n6" is in stages "layer1" and "layer2", and neither holds the other',
    ),
    "stage_lists_a_node_twice": (
        mutate(lambda d: d["graph"]["stages"][0]["nodes"].append("n5")),
        'node "n5" is listed twice in stage "layer1"',
    ),
    "stage_keys": (
        mutate(lambda d: d["graph"]["stages"][0].update(keys="letters")),
        '"graph.stages[0].keys"',
    ),
    "unknown_field": (
        mutate(lambda d: d["graph"]["nodes"][0].update(colour="red")),
        'unknown field "colour"',
    ),
    "unknown_top_field": (mutate(lambda d: d.update(extra=1)), 'unknown field "extra"'),
    "block_param_type": (
        mutate(lambda d: d["blocks"]["BasicBlock"]["params"]["stride"].update(type="str")),
        '"blocks.BasicBlock.params.stride.type"',
    ),
    "block_param_default": (
        mutate(lambda d: d["blocks"]["BasicBlock"]["params"]["stride"].update(default="2")),
        '"blocks.BasicBlock.params.stride.default"',
    ),
    "block_bad_name": (
        mutate(lambda d: d["blocks"].update({"my block": d["blocks"]["BasicBlock"]})),
        "valid identifier",
    ),
    "training_not_object": (mutate(lambda d: d.update(training=[])), '"training"'),
    "ui_not_object": (mutate(lambda d: d.update(ui="x")), '"ui"'),
    "name_not_text_top": (mutate(lambda d: d.update(name=None)), '"name"'),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_structure(case):
    d, expected = BAD[case]
    assert expected in load_error(d).message


TEXTS = {
    "malformed": ('{"format": "skipwire",\n  "version": 1,,}', "malformed JSON at line 2, column 16"),
    "empty": ("   \n", "empty"),
    "truncated": (json.dumps(sample_dict())[:500], "malformed JSON"),
    "nan": ('{"format": "skipwire", "version": NaN}', "NaN"),
    "duplicate_key": ('{"format": "skipwire", "format": "skipwire"}', 'the key "format" appears twice'),
    "deep_lists": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "deep_objects": ('{"a":' * 5000 + "1" + "}" * 5000, "nested"),
    "huge_int": ('{"format": "skipwire", "version": ' + "9" * 100_000 + "}", "malformed JSON"),
}


@pytest.mark.parametrize("case", sorted(TEXTS))
def test_bad_text(case):
    text, expected = TEXTS[case]
    assert expected in load_error(text, "f.json").message


def test_moderately_deep_params_are_refused_by_depth_limit():
    d = sample_dict()
    v: list = []
    d["graph"]["nodes"][1]["params"]["junk"] = v
    for _ in range(100):
        v.append([])
        v = v[0]
    assert "nested more than" in load_error(d).message


def test_non_utf8(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(json.dumps({"format": "skipwire", "name": "café"}, ensure_ascii=False).encode("latin-1"))
    err = pytest.raises(UserError, load_project, path).value
    assert "not UTF-8" in err.message and "offset" in err.message and str(path) in err.message


def test_junk_10mb(tmp_path):
    path = tmp_path / "junk.json"
    path.write_bytes(bytes(range(256)) * (10 * 4096))
    err = pytest.raises(UserError, load_project, path).value
    assert err.exit_code == 2


def test_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(pf, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.json"
    path.write_text(json.dumps(sample_dict()))
    assert "limited to" in pytest.raises(UserError, load_project, path).value.message


def test_missing_file_and_directory(tmp_path):
    assert "no such file" in pytest.raises(UserError, load_project, tmp_path / "nope.json").value.message
    assert "directory" in pytest.raises(UserError, load_project, tmp_path).value.message


def test_bad_values_are_left_to_validation():
    """Negative or absurd numbers and wrong param types load; the validator reports them (exit 1)."""
    d = mutate(lambda d: d["graph"]["nodes"][1]["params"].update(out_channels=-4, kernel_size="big"))
    a = analyze(project_from_dict(d))
    assert not a.valid
    assert {x.code for x in a.errors} == {"bad_param"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(data):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    try:
        loads_project(text)
    except UserError as exc:
        assert exc.exit_code == 2


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_mutations_load_cleanly_or_fail_with_user_error(data):
    """Replace one value anywhere in a valid file: it loads (and analyze never crashes) or gives a
    UserError."""
    d = sample_dict()
    paths = []

    def walk(v, path):
        paths.append(path)
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, path + (k,))
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, path + (i,))

    walk(d, ())
    path = data.draw(st.sampled_from(paths[1:]))
    target = d
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = data.draw(json_values)
    try:
        p = project_from_dict(d)
    except UserError as exc:
        assert exc.exit_code == 2
        return
    analyze(p)  # must not raise


def test_every_template_round_trips_exactly():
    from graph.templates import all_templates, make

    for t in all_templates():
        p = make(t.name)
        d = p.to_dict()
        q = loads_project(pf.dumps_project(p))
        assert q.to_dict() == d, t.name
        a, b = analyze(p), analyze(q)
        assert (a.total_params, a.output_shape, a.macs) == (b.total_params, b.output_shape, b.macs), t.name
