"""Snapshot of everything the code generator and the graph's namers produce, to diff before/after a refactor.

``python bench/codegen_snapshot.py OUT`` writes into the folder OUT:

- ``template-<name>.py``: the emitted module of every built-in template (``emit``), and for the
  templates with a shortcut option, each option (``template-<name>-B.py``);
- ``script-<name>.py``: the exported training script (``render_training_script``) of every template;
- ``emitted-<name>.json``: the rest of ``Emitted`` (class names, helpers, frozen paths, module paths);
- ``random-<k>.json``: seeded random editor-style edits of templates (the fuzz test's kinds of edit):
  ``validate --json``'s payload, the emitted code where valid, and the project after each offered fix
  (ids and names that fixes create included);
- ``zoo-<name>.py`` for each project file in ``--zoo DIR`` (imported zoo models saved as projects by
  ``--save-zoo DIR``, which needs torchvision and timm).

``python bench/codegen_snapshot.py --compare A B`` lists the files that differ (exit 1 if any).
The refactor of issue 23 must leave every file byte-identical.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

VALUES = [
    None,
    -1,
    0,
    1,
    2,
    3,
    7,
    1000,
    0.5,
    1.5,
    "same",
    "valid",
    "x",
    "in_channels",
    "planes * 2",
    "",
    [1],
    True,
]
NAMES = ["", "x", "class", "a b", "conv1", "downsample", "layer1", "relu", "shortcut"]
TYPES = ["Add", "Concat", "Multiply", "Gate", "Linear", "Flatten", "ReLU", "Conv2d", "BatchNorm2d", "Bogus"]
FUZZ_TEMPLATES = ("resnet20", "se_resnet20", "highway20", "weighted_resnet20", "dpn26", "preact_resnet110")


def _write(out: Path, name: str, text: str) -> None:
    (out / name).write_text(text, encoding="utf-8")


def _emitted_json(emitted) -> str:
    return json.dumps(
        {
            "class_name": emitted.class_name,
            "block_classes": emitted.block_classes,
            "helpers": list(emitted.helpers),
            "frozen": list(emitted.frozen),
            "module_paths": emitted.module_paths,
            "imports": list(emitted.imports),
        },
        indent=1,
        sort_keys=True,
    )


def dump_templates(out: Path) -> None:
    from codegen.emitter import emit
    from codegen.export import render_training_script
    from graph.templates import all_templates, make

    for t in all_templates():
        project = make(t.name)
        emitted = emit(project)
        _write(out, f"template-{t.name}.py", emitted.source)
        _write(out, f"emitted-{t.name}.json", _emitted_json(emitted))
        _write(out, f"script-{t.name}.py", render_training_script(project))
        if t.shortcut_options:
            for option in ("A", "B", "C"):
                _write(out, f"template-{t.name}-{option}.py", emit(make(t.name, shortcut=option)).source)


def _random_edit(rng: random.Random, project) -> None:
    from graph import registry
    from graph.model import Edge, Stage

    graphs = [(None, project.graph)] + [(n, b.graph) for n, b in project.blocks.items()]
    block, g = rng.choice(graphs)
    nodes, edges = list(g.nodes), list(g.edges)
    op = rng.choice(
        ["remove_node", "remove_edge", "param", "param", "edge", "add_edge", "name", "type", "stage"]
    )
    if op == "remove_node" and nodes:
        g.remove_node(rng.choice(nodes))
    elif op == "remove_edge" and edges:
        g.remove_edge(rng.choice(edges))
    elif op == "param" and nodes:
        node = g.nodes[rng.choice(nodes)]
        lt = registry.get(node.type)
        keys = [s.name for s in lt.params] if lt else list(node.params)
        g.set_param(node.id, rng.choice(keys or ["junk"]), rng.choice(VALUES))
    elif op == "edge" and edges:
        field, choices = rng.choice(
            [
                ("kind", ["data", "shortcut"]),
                ("projection", ["identity", "zero_pad", "conv_bn", "conv_bn_always"]),
                ("dst_port", [0, 1, 2]),
                ("name", NAMES),
            ]
        )
        g.set_edge_field(rng.choice(edges), field, rng.choice(choices))
    elif op == "add_edge" and nodes:
        src, dst = rng.choice(nodes), rng.choice(nodes)
        kind = rng.choice(["data", "shortcut"])
        g.add_edge(
            Edge(
                g.new_id("e"),
                src,
                dst,
                0,
                rng.choice([0, 1, 2]),
                kind,
                "sc",
                rng.choice(["identity", "conv_bn"]),
            )
        )
    elif op == "name" and nodes:
        g.set_node_field(rng.choice(nodes), "name", rng.choice(NAMES))
    elif op == "type" and nodes:
        g.set_node_field(rng.choice(nodes), "type", rng.choice(TYPES + [f"block:{block or 'BasicBlock'}"]))
    elif op == "stage" and nodes:
        picked = rng.sample(nodes, min(len(nodes), rng.randint(1, 3)))
        g.set_stages(list(g.stages) + [Stage(rng.choice(["layer1", "extra"]), "index", picked)])


def dump_random(out: Path, count: int, seed: int) -> None:
    from codegen.emitter import emit
    from graph.cli import _with_instances
    from graph.errors import UserError
    from graph.fixes import FixError, apply_fix
    from graph.shapes import analyze
    from graph.templates import make

    rng = random.Random(seed)
    bases = {name: make(name) for name in FUZZ_TEMPLATES}
    for k in range(count):
        project = copy.deepcopy(bases[rng.choice(FUZZ_TEMPLATES)])
        for _ in range(rng.randint(1, 3)):
            _random_edit(rng, project)
        analysis = analyze(project)
        record: dict = {
            "valid": analysis.valid,
            "diagnostics": [_with_instances(analysis, d) for d in analysis.diagnostics],
            "output_shape": list(analysis.output_shape) if analysis.output_shape else None,
            "total_params": analysis.total_params,
        }
        if analysis.valid:
            try:
                record["code"] = emit(project, analysis).source
            except UserError as exc:
                record["code_error"] = str(exc)
        fixed = []
        for d in analysis.diagnostics[:4]:
            for fix in d.fixes:
                trial = copy.deepcopy(project)
                try:
                    apply_fix(trial, fix.action)
                except FixError as exc:
                    fixed.append({"label": fix.label, "error": str(exc)})
                    continue
                fixed.append({"label": fix.label, "project": trial.to_dict()})
        record["fixes"] = fixed
        _write(out, f"random-{k:03d}.json", json.dumps(record, indent=1, sort_keys=True, default=repr))


def save_zoo(folder: Path, names: list[str]) -> None:
    """Import zoo models (tests/codegen/zoo.py) and save each as a project file."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "codegen"))
    import zoo

    from codegen.fx_import import import_module

    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        result = import_module(zoo.make(name), zoo.input_shape(name))
        path = folder / (name.replace(":", "-") + ".json")
        path.write_text(json.dumps(result.project.to_dict(), indent=1, sort_keys=True), encoding="utf-8")
        print(f"saved {path}", flush=True)


def dump_zoo(out: Path, folder: Path) -> None:
    from codegen.emitter import emit
    from graph.projectfile import load_project

    for path in sorted(folder.glob("*.json")):
        _write(out, f"zoo-{path.stem}.py", emit(load_project(path)).source)


def compare(a: Path, b: Path) -> int:
    names = sorted({p.name for p in a.iterdir()} | {p.name for p in b.iterdir()})
    bad = [
        n
        for n in names
        if not (a / n).exists() or not (b / n).exists() or (a / n).read_bytes() != (b / n).read_bytes()
    ]
    for n in bad:
        print(f"differs: {n}")
    print(f"{len(names) - len(bad)} of {len(names)} files identical")
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", type=Path)
    parser.add_argument("--random", type=int, default=200, help="how many random projects")
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--zoo", type=Path, help="a folder of project files made by --save-zoo")
    parser.add_argument("--save-zoo", type=Path, help="import the zoo models into this folder and stop")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    if args.save_zoo:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "codegen"))
        import zoo

        save_zoo(args.save_zoo, zoo.ZOO)
        return 0
    if args.out is None:
        parser.error("give an output folder, --compare A B or --save-zoo DIR")
    args.out.mkdir(parents=True, exist_ok=True)
    dump_templates(args.out)
    dump_random(args.out, args.random, args.seed)
    if args.zoo:
        dump_zoo(args.out, args.zoo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
