"""The headless subcommands (templates, new, validate, summary) and the bad-file corpus.

Every file in tests/graph/bad_files/ gets exit code 1 (a project that loads but
is invalid) or 2 (not a readable project) with one line on stderr, never a
traceback, never a hang. Most runs are in-process through main.main (fast);
a few are real subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import main

ROOT = Path(__file__).resolve().parents[2]
BAD = Path(__file__).resolve().parent / "bad_files"

# file -> (exit code, a phrase the one-line message must contain)
EXPECTED = {
    "valid.json": (0, ""),
    "malformed.json": (2, "malformed JSON at line 23, column 5"),
    "truncated.json": (2, "malformed JSON"),
    "empty.json": (2, "empty"),
    "not_an_object.json": (2, "expected a JSON object"),
    "wrong_format.json": (2, 'format is "keras-h5"'),
    "newer_version.json": (2, "version 7"),
    "unknown_type.json": (2, '"graph.nodes[1].type": node "n2" has unknown type "Conv3d"'),
    "unknown_block.json": (2, 'block "Bottleneck"'),
    "dangling_edge.json": (2, '"graph.edges[3]": dangling edge: node "n99" does not exist'),
    "duplicate_node_ids.json": (2, 'duplicate node id "n2"'),
    "duplicate_edge_ids.json": (2, "duplicate edge id"),
    "stage_unknown_node.json": (2, 'refers to node "n42"'),
    "wrong_types_params.json": (2, '"graph.nodes[1].params": must be an object'),
    "wrong_types_name.json": (2, '"graph.nodes[1].name"'),
    "wrong_types_edges.json": (2, '"graph.edges": must be a list'),
    "nan.json": (2, "NaN"),
    "deep_nesting.json": (2, "nested too deeply"),
    "deep_params.json": (2, "nested more than"),
    "non_utf8.json": (2, "not UTF-8"),
    "binary_junk.json": (2, "not UTF-8"),
    "cycle.json": (1, "cycle"),
    "negative_numbers.json": (1, "out_channels must be at least 1, got -8"),
    "absurd_numbers.json": (1, "out_channels must be at most 1048576"),
    "huge_input.json": (1, "shape entries must be between 1 and 100000"),
    "wrong_param_types.json": (1, "out_channels"),
    "shape_mismatch.json": (1, 'Add "add"'),
    "missing_output.json": (1, "no Output node"),
    "kernel_too_large.json": (1, "larger than its padded input"),
}


def run_main(capsys, *argv) -> tuple[int, str, str]:
    rc = main.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_corpus_is_complete():
    assert {p.name for p in BAD.iterdir()} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("command", ["validate", "summary"])
def test_corpus_in_process(capsys, name, command):
    code, phrase = EXPECTED[name]
    rc, out, err = run_main(capsys, command, str(BAD / name))
    assert rc == code, err
    assert "Traceback" not in out + err
    if code:
        last = err.strip().splitlines()[-1]
        assert last.startswith("skipwire: ") and phrase in last, last
        if code == 2:
            assert err.count("\n") == 1 and out == ""


@pytest.mark.parametrize("name", ["cycle.json", "dangling_edge.json", "negative_numbers.json"])
def test_corpus_validate_json(capsys, name):
    code, _ = EXPECTED[name]
    rc, out, _err = run_main(capsys, "validate", "--json", str(BAD / name))
    assert rc == code
    if code == 1:
        payload = json.loads(out)
        assert payload["valid"] is False and payload["diagnostics"]
        assert {"severity", "code", "message", "node", "edge", "fixes"} <= set(payload["diagnostics"][0])
    else:
        assert out == ""


def test_ten_megabytes_of_junk(capsys, tmp_path):
    path = tmp_path / "junk.json"
    path.write_bytes(b'{"format": "skipwire", "graph": ' + b"x" * (10 * 2**20))
    rc, _out, err = run_main(capsys, "validate", str(path))
    assert rc == 2 and "malformed JSON" in err and err.count("\n") == 1


def test_ten_megabytes_of_valid_but_pointless_json(capsys, tmp_path):
    d = json.loads((BAD / "valid.json").read_text())
    d["ui"]["junk"] = ["x" * 100] * 110_000
    path = tmp_path / "big.json"
    path.write_text(json.dumps(d))
    assert path.stat().st_size > 10 * 2**20
    rc, _out, err = run_main(capsys, "validate", str(path))
    assert rc == 0, err


def subprocess_run(*argv, timeout=60):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


@pytest.mark.parametrize("name", ["deep_nesting.json", "dangling_edge.json", "cycle.json"])
def test_corpus_subprocess(name):
    code, phrase = EXPECTED[name]
    r = subprocess_run("validate", str(BAD / name))
    assert r.returncode == code
    assert "Traceback" not in r.stderr and phrase in r.stderr


def test_validate_and_summary_do_not_import_torch():
    script = (
        "import sys, main\n"
        f"assert main.main(['validate', {str(BAD / 'valid.json')!r}]) == 0\n"
        f"assert main.main(['summary', '--json', {str(BAD / 'valid.json')!r}]) == 0\n"
        f"assert main.main(['summary', '--batch', '8', {str(BAD / 'valid.json')!r}]) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert not any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert r.returncode == 0, r.stderr


# ------------------------------------------------------------------ validate / summary output
def test_validate_valid(capsys):
    rc, out, err = run_main(capsys, "validate", str(BAD / "valid.json"))
    assert rc == 0 and "valid" in out and err == ""
    rc, out, err = run_main(capsys, "validate", "--json", str(BAD / "valid.json"))
    payload = json.loads(out)
    assert rc == 0 and payload["valid"] is True and payload["diagnostics"] == []


def test_validate_lists_fixes(capsys):
    rc, out, _err = run_main(capsys, "validate", str(BAD / "shape_mismatch.json"))
    assert rc == 1
    assert "error: [shape_mismatch]" in out and "fix: Set the shortcut's projection to 1x1 conv + BN" in out


def test_summary_json(capsys):
    rc, out, _err = run_main(capsys, "summary", "--json", "--batch", "4", str(BAD / "valid.json"))
    s = json.loads(out)
    assert rc == 0
    assert s["total_params"] == 3 * 8 * 9 + 16 + 8 * 8 * 9 + 8 * 10 + 10 == 898
    assert s["trainable_params"] == s["total_params"] and s["frozen_params"] == 0
    assert s["output_shape"] == [10]
    names = [r["name"] for r in s["layers"]]
    assert names == ["conv1", "bn1", "relu", "conv2", "add", "avgpool", "flatten", "fc"]
    conv1 = s["layers"][0]
    assert conv1 == {
        "name": "conv1",
        "type": "Conv2d",
        "output_shape": [8, 16, 16],
        "params": 216,
        "trainable_params": 216,
        "frozen_params": 0,
        "trainable": True,
        "macs": 216 * 256,
        "depth": 0,
        "block": False,
        "activation_bytes": 8 * 16 * 16 * 4 * 4,
    }
    assert s["activation_bytes"] == sum(r["activation_bytes"] for r in s["layers"])
    assert s["macs"] == sum(r["macs"] for r in s["layers"])


def test_summary_table(capsys):
    rc, out, _err = run_main(capsys, "summary", "--batch", "2", str(BAD / "valid.json"))
    assert rc == 0
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("Layer"))
    assert header.split() == ["Layer", "Type", "Output", "shape", "Params", "MACs", "Activations"]
    assert "Total params" in out and "898" in out and "MACs per sample" in out
    rows = [line for line in lines if line.startswith("conv")]
    assert len({len(r) for r in rows}) == 1  # right-aligned numbers: rows end at the same column


@pytest.mark.parametrize("batch", ["0", "-3"])
def test_summary_bad_batch(capsys, batch):
    rc, _out, err = run_main(capsys, "summary", "--batch", batch, str(BAD / "valid.json"))
    assert rc == 2 and "--batch" in err


def test_missing_file(capsys, tmp_path):
    rc, _out, err = run_main(capsys, "validate", str(tmp_path / "nope.json"))
    assert rc == 2 and "no such file" in err


# ------------------------------------------------------------------ templates / new
def test_templates_lists_names(capsys):
    rc, out, _err = run_main(capsys, "templates")
    assert rc == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert {"resnet20", "resnet18", "resnet50"} <= set(names)
    assert all(len(line.split()) >= 3 for line in out.splitlines())
    # CIFAR then ImageNet, numbers in natural order: plain20 ... plain110, resnet18 ... resnet152
    assert names.index("plain20") < names.index("plain56") < names.index("plain110")
    assert names.index("resnet20") < names.index("resnet110") < names.index("resnet18")
    imagenet = [
        n
        for n in names
        if n.startswith("resnet") and n not in ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110")
    ]
    assert imagenet == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


def test_new_classes_too_large_is_bad_input(capsys, tmp_path):
    rc, _out, err = run_main(
        capsys, "new", "resnet20", "-o", str(tmp_path / "x.json"), "--classes", "99999999999"
    )
    assert rc == 2 and "--classes must be at most" in err


def test_new_validate_summary_round_trip(capsys, tmp_path):
    path = tmp_path / "r20.json"
    rc, out, err = run_main(
        capsys, "new", "resnet20", "-o", str(path), "--classes", "7", "--input", "3,24,24", "--shortcut", "B"
    )
    assert rc == 0, err
    assert "272,474" not in out  # 7 classes, not 10
    rc, out, err = run_main(capsys, "validate", str(path))
    assert rc == 0
    rc, out, err = run_main(capsys, "summary", "--json", str(path))
    s = json.loads(out)
    assert s["output_shape"] == [7] and s["layers"][0]["output_shape"] == [16, 24, 24]


@pytest.mark.parametrize(
    "argv,code,phrase",
    [
        (["new", "resnet999", "-o", "X"], 2, "unknown template"),
        (["new", "resnet20", "-o", "X", "--input", "3,a,32"], 2, "--input"),
        (["new", "resnet20", "-o", "X", "--input", "3,32,32,32"], 2, "--input"),
        (["new", "resnet20", "-o", "X", "--input", "0,32,32"], 2, "--input"),
        (["new", "resnet20", "-o", "X", "--classes", "0"], 2, "--classes"),
        (["new", "resnet20", "-o", "X", "--shortcut", "D"], 2, "invalid choice"),
        (["new", "densenet121", "-o", "X", "--input", "3,2,2"], 1, 'AvgPool2d "pool": window 2x2 is larger'),
    ],
)
def test_new_bad_arguments(capsys, tmp_path, argv, code, phrase):
    argv = [a if a != "X" else str(tmp_path / "x.json") for a in argv]
    try:
        rc = main.main(argv)
    except SystemExit as exc:  # argparse errors exit through _Parser.error
        rc = exc.code
    _out, err = capsys.readouterr()
    assert rc == code, err
    assert phrase in err and "Traceback" not in err
    assert not (tmp_path / "x.json").exists()


def test_new_subprocess(tmp_path):
    r = subprocess_run("new", "resnet20", "-o", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "r.json").read_text())["format"] == "skipwire"


# ------------------------------------------------------------------ summary data
def _frozen_block_project():
    from graph.model import BlockDef, BlockParam, Graph, Project

    body = Graph()
    bi = body.add("BlockInput", "input")
    c = body.add("Conv2d", "conv", out_channels="width")
    bn = body.add("BatchNorm2d", "bn")
    add = body.add("Add", "add")
    bo = body.add("BlockOutput", "output")
    body.chain(bi, c, bn)
    body.connect(bn, add, 0)
    body.connect(bi, add, 1, kind="shortcut", name="downsample", projection="conv_bn")
    body.chain(add, bo)
    g = Graph()
    i = g.add("Input", "input", shape=[4, 8, 8])
    b0 = g.add("block:B", "b0", frozen=True, width=4)
    b1 = g.add("block:B", "b1", width=8)
    pool = g.add("AdaptiveAvgPool2d", "pool")
    fl = g.add("Flatten", "flatten")
    fc = g.add("Linear", "fc", out_features=3)
    o = g.add("Output", "output")
    g.chain(i, b0, b1, pool, fl, fc, o)
    return Project("frozen", g, {"B": BlockDef("B", {"width": BlockParam("int", 4)}, body)})


def test_summarize_blocks_frozen_and_memory():
    from graph.shapes import analyze
    from graph.summary import render_table, summarize

    s = summarize(analyze(_frozen_block_project()), batch=3)
    rows = {r["name"]: r for r in s["layers"]}
    assert list(rows) == [
        "b0",
        "b0.conv",
        "b0.bn",
        "b0.add",
        "b1",
        "b1.conv",
        "b1.bn",
        "b1.add",
        "b1.downsample",
        "pool",
        "flatten",
        "fc",
    ]
    b0 = 4 * 4 * 9 + 8
    b1 = 8 * 4 * 9 + 16 + (4 * 8 + 16)
    assert rows["b0"]["params"] == b0 and rows["b1"]["params"] == b1
    assert s["total_params"] == b0 + b1 + 8 * 3 + 3
    assert s["frozen_params"] == b0 and s["trainable_params"] == s["total_params"] - b0
    assert rows["b0.conv"]["trainable"] is False and rows["b1.conv"]["trainable"] is True
    assert (rows["b0"]["frozen_params"], rows["b0"]["trainable_params"]) == (b0, 0)
    assert (rows["b1"]["frozen_params"], rows["b1"]["trainable_params"]) == (0, b1)
    assert sum(r["frozen_params"] for r in s["layers"] if not r["block"]) == s["frozen_params"]
    assert rows["b1"]["activation_bytes"] == 4 * 8 * 8 * 8 * 3 * 4  # conv, bn, add, downsample
    assert rows["b1"]["depth"] == 0 and rows["b1.conv"]["depth"] == 1
    assert s["activation_bytes"] == sum(r["activation_bytes"] for r in s["layers"] if not r["block"])
    table = render_table(s)
    assert "Trainable" in table.splitlines()[0] and "frozen" in table
    assert f"Frozen params     {b0:,}" in table or f"{b0:,}" in table


def test_summarize_rejects_bad_batch():
    from graph.shapes import analyze
    from graph.summary import summarize

    with pytest.raises(ValueError):
        summarize(analyze(_frozen_block_project()), batch=0)


def test_summary_rows_split_a_partly_frozen_block():
    from graph.shapes import analyze
    from graph.summary import render_table, summarize

    project = _frozen_block_project()
    project.graph.set_node_field(project.graph.node_by_name("b0").id, "frozen", False)
    body = project.blocks["B"].graph
    body.set_node_field(body.node_by_name("conv").id, "frozen", True)
    s = summarize(analyze(project))
    rows = {r["name"]: r for r in s["layers"]}
    assert rows["b0"]["frozen_params"] == 4 * 4 * 9 and rows["b0"]["trainable_params"] == 8
    assert rows["b1"]["frozen_params"] == 8 * 4 * 9
    assert s["frozen_params"] == 4 * 4 * 9 + 8 * 4 * 9
    assert f"{4 * 4 * 9:,} frozen" in render_table(s)


def test_validate_names_the_failing_block_instances(capsys, tmp_path):
    from graph.projectfile import save_project
    from graph.templates import make

    p = make("resnet20")
    body = p.blocks["BasicBlock"].graph
    shortcut = next(e for e in body.edges.values() if e.is_shortcut)
    body.set_edge_field(shortcut.id, "projection", "identity")
    path = tmp_path / "r20.json"
    save_project(p, path)
    rc, out, _err = run_main(capsys, "validate", str(path))
    assert rc == 1
    assert '(block BasicBlock, node n12, edge e14; in layer2.0) Add "add"' in out
    rc, out, _err = run_main(capsys, "validate", "--json", str(path))
    (d,) = json.loads(out)["diagnostics"]
    assert d["instances"] == ["layer2.0"]
