"""Sweeps: planning without torch, bad input before training, a 2-config sweep of 2 steps each,
resuming a stopped sweep, the CSV and the Pareto charts."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from train_helpers import tiny_resnet

import main
from graph.errors import UserError
from graph.model import Stage
from graph.projectfile import save_project
from graph.templates import make
from training import pareto, runs
from training.metrics import read_metrics
from training.sweep import CSV_COLUMNS, parse_vary, plan, resume_sweep, run_state, run_sweep

ROOT = Path(__file__).resolve().parents[2]
STEPS = 2  # 5,000 synthetic training images at batch 2,500


def staged_tiny():
    p = tiny_resnet((1, 12, 12), classes=4, width=4, blocks=1, name="tiny")
    g = p.graph
    g.set_stages(
        [
            Stage("layer1", "index", [g.node_by_name("b00").id]),
            Stage("layer2", "index", [g.node_by_name("b10").id]),
        ]
    )
    return p


def test_parse_vary_and_its_errors() -> None:
    axes = parse_vary(["depth=3,5", "plain=yes,no", "lr=0.1"])
    assert [(a.name, a.values) for a in axes] == [
        ("depth", ["3", "5"]),
        ("plain", ["yes", "no"]),
        ("lr", ["0.1"]),
    ]
    for bad, phrase in [
        (["colour=red"], "unknown setting"),
        (["depth=3", "depth=5"], "given twice"),
        (["depth="], "no values"),
        (["depth"], "expects NAME=V1,V2"),
        (["depth=3,3"], "listed twice"),
    ]:
        with pytest.raises(UserError, match=phrase):
            parse_vary(bad)


def test_plan_is_the_degradation_grid_with_exact_costs() -> None:
    configs = plan(make("resnet20"), parse_vary(["plain=yes,no", "depth=3,9"]))
    assert [c.label for c in configs] == [
        "plain=yes depth=3",
        "plain=yes depth=9",
        "plain=no depth=3",
        "plain=no depth=9",
    ]
    assert [c.params for c in configs] == [269_722, 853_018, 269_722, 853_018]
    from graph.shapes import analyze

    assert configs[0].macs == analyze(make("plain20")).macs < configs[2].macs  # the sums count too
    assert configs[3].macs == analyze(make("resnet56")).macs
    assert not any(e.is_shortcut for e in configs[0].project.blocks["BasicBlock"].graph.edges.values())
    assert configs[3].activation_bytes > configs[2].activation_bytes > 0
    assert configs[1].run_name(0) == "02-plain-yes-depth-9-r1"


def test_resnext_cardinality_is_an_axis() -> None:
    configs = plan(make("resnext29_8x64d"), parse_vary(["cardinality=4,8"]))
    assert [c.project.graph.node_by_name("layer2_1").params["groups"] for c in configs] == [4, 8]
    assert configs[0].params < configs[1].params


def test_plan_needs_no_torch() -> None:
    code = (
        "import sys; from graph.templates import make; from training.sweep import plan, parse_vary; "
        "cs = plan(make('resnet20'), parse_vary(['depth=3,5', 'width=1,2'])); "
        "print(len(cs), cs[-1].params); assert 'torch' not in sys.modules, 'torch imported'"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "4"


@pytest.mark.parametrize(
    ("vary", "phrase"),
    [
        (["depth=3,0"], "configuration depth=0: stage layer1: the depth must be at least 1"),
        (["width=1,0.3"], "not a whole number"),
        (["shortcut=A,Z"], "shortcut must be A"),
        (["lr=0.1,-1"], "must be a positive number"),
        (["depth=3,x"], "not a whole number"),
    ],
)
def test_cli_bad_input_exits_2_before_training(tmp_path, capsys, vary, phrase) -> None:
    src = tmp_path / "r20.json"
    save_project(make("resnet20"), src)
    args = ["sweep", str(src), "--epochs", "1", "--out", str(tmp_path / "sw")]
    for v in vary:
        args += ["--vary", v]
    assert main.main(args) == 2
    err = capsys.readouterr().err
    assert phrase in err and err.count("\n") == 1, err
    assert not (tmp_path / "sw").exists()


def test_cli_resume_refuses_new_settings(tmp_path, capsys) -> None:
    assert main.main(["sweep", "--resume", str(tmp_path), "--epochs", "3"]) == 2
    assert "--epochs cannot be given" in capsys.readouterr().err
    assert main.main(["sweep", "--resume", str(tmp_path)]) == 2
    assert "is not a sweep folder" in capsys.readouterr().err


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "sw"
    lines: list[str] = []
    result = run_sweep(
        staged_tiny(),
        parse_vary(["depth=1,2"]),
        out,
        epochs=1,
        batch_size=2500,
        dataset="synthetic",
        log=lines.append,
    )
    return result, out, lines


def test_two_config_sweep_of_two_steps_each(finished_sweep) -> None:
    result, out, lines = finished_sweep
    assert result.status == "completed"
    runs = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert runs == ["01-depth-1-r1", "02-depth-2-r1"]
    for name in runs:  # each an ordinary run folder
        run = out / name
        for f in ("project.json", "config.json", "model.py", "run.json", "last.safetensors", "best.pt"):
            assert (run / f).exists(), f
        steps = [r for r in read_metrics(run / "metrics.jsonl") if r["kind"] == "step"]
        assert len(steps) == STEPS
        assert run_state(run) == "done"
    depth2 = json.loads((out / "02-depth-2-r1" / "project.json").read_text())
    assert len(next(s for s in depth2["graph"]["stages"] if s["name"] == "layer2")["nodes"]) == 2
    with open(out / "sweep.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["config"] for r in rows] == ["depth=1", "depth=2"]
    assert [r["runs_done"] for r in rows] == ["1", "1"]
    assert int(rows[1]["params"]) > int(rows[0]["params"]) > 0
    for r in rows:
        assert 0.0 <= float(r["best_val_acc"]) <= 1.0 and float(r["images_per_s"]) > 0
        assert r["runs"] and (out / r["runs"]).is_dir()
    assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (out / "pareto.svg").read_text()
    assert "<svg" in svg and "depth=2" in svg  # points are labelled
    assert any("[2/2] depth=2" in line for line in lines)
    spec = json.loads((out / "sweep.json").read_text())
    assert [r["dir"] for r in spec["runs"]] == runs


def test_a_sweep_folder_is_not_reused(finished_sweep) -> None:
    _, out, _ = finished_sweep
    with pytest.raises(UserError, match="already holds a sweep; continue it with --resume"):
        run_sweep(staged_tiny(), parse_vary(["depth=1"]), out, epochs=1)


def test_a_stopped_sweep_resumes_where_it_stopped(tmp_path) -> None:
    out = tmp_path / "sw"
    stop = {"now": False}

    def log(line: str) -> None:
        if line.startswith("[2/2]"):
            stop["now"] = True  # "killed" as the second run starts

    result = run_sweep(
        staged_tiny(),
        parse_vary(["width=1,2"]),
        out,
        epochs=1,
        batch_size=2500,
        log=log,
        should_stop=lambda: stop["now"],
    )
    assert result.status == "stopped"
    first = out / "01-width-1-r1"
    assert run_state(first) == "done"
    assert run_state(out / "02-width-2-r1") != "done"
    before = (first / "metrics.jsonl").read_bytes()
    lines: list[str] = []
    again = resume_sweep(out, log=lines.append)
    assert again.status == "completed"
    assert (first / "metrics.jsonl").read_bytes() == before  # the finished run is not trained again
    assert lines[0] == "1 of 2 runs already finished; 1 to go"
    assert any("[1/1] width=2: resuming" in line for line in lines)  # from its checkpoint
    assert [r["runs_done"] for r in again.rows] == [1, 1]
    assert all(isinstance(r["best_val_acc"], float) for r in again.rows)

    # killed before its first checkpoint: nothing to resume from; set aside, trained again
    second = out / "02-width-2-r1"
    for f in ("last.pt", "last.safetensors", "best.pt", "best.safetensors"):
        (second / f).unlink()
    runs.update_run_meta(second, status="running")
    assert run_state(second) == "fresh"
    third = resume_sweep(out, log=lines.append)
    assert third.status == "completed" and run_state(second) == "done"
    assert (out / "02-width-2-r1.incomplete1" / "project.json").exists()
    assert (first / "metrics.jsonl").read_bytes() == before


@pytest.mark.slow
def test_parallel_two_runs_at_once_in_child_processes(tmp_path) -> None:
    lines: list[str] = []
    result = run_sweep(
        staged_tiny(),
        parse_vary(["depth=1,2"]),
        tmp_path / "sw",
        epochs=1,
        batch_size=2500,
        parallel=2,
        log=lines.append,
    )
    assert result.status == "completed"
    assert [r["runs_done"] for r in result.rows] == [1, 1]
    assert lines[0].startswith("[1/2] depth=1") and lines[1].startswith(
        "[2/2] depth=2"
    )  # both started at once
    cfg = json.loads((tmp_path / "sw" / "01-depth-1-r1" / "config.json").read_text())
    assert cfg["threads"] >= 1


def test_pareto_front() -> None:
    pts = [(10, 0.5), (20, 0.7), (15, 0.4), (30, 0.65), (20, 0.6), (5, 0.5)]
    assert pareto.front(pts) == [5, 1]  # (10, 0.5) is beaten by (5, 0.5): same accuracy, cheaper
    assert pareto.front([]) == []


def test_without_matplotlib_the_csv_is_still_written(tmp_path, monkeypatch) -> None:
    import builtins

    from training.sweep import write_outputs

    real = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.split(".")[0] == "matplotlib":
            raise ImportError("No module named 'matplotlib'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    csv_path, png, svg = write_outputs(tmp_path, [], "t")
    assert csv_path.read_text().startswith("config,depth,width,")
    assert png is None and svg is None and not (tmp_path / "pareto.png").exists()


@pytest.mark.timeout(300)
def test_ctrl_c_on_a_parallel_sweep_stops_its_children_and_resume_finishes(tmp_path) -> None:
    """Issue 19: `sweep --parallel 2`, Ctrl-C once the first child has finished while the second is still
    training: the second is held at the end of its first epoch (test hook) until Ctrl-C has been sent, so
    the race is decided, not timed. The sweep stops its running child at a step, exits, and `--resume`
    finishes it."""
    import os
    import signal

    from training.child_link import HOLD_FINAL_ENV, HOLD_KIND_ENV

    project = tmp_path / "tiny.json"
    save_project(staged_tiny(), project)
    out = tmp_path / "sw"
    hold = tmp_path / "hold-{run}"
    first, second = out / "01-batch-size-2500-r1", out / "02-batch-size-250-r1"
    Path(str(hold).replace("{run}", first.name)).write_text("go")  # the first run is never held
    second_hold = Path(str(hold).replace("{run}", second.name))
    env = {**os.environ, "OMP_NUM_THREADS": "1", HOLD_FINAL_ENV: str(hold), HOLD_KIND_ENV: "epoch"}
    cmd = [sys.executable, str(ROOT / "main.py"), "sweep", str(project), "--vary", "batch_size=2500,250"]
    cmd += ["--epochs", "2", "--dataset", "synthetic", "--parallel", "2", "--out", str(out)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    lines: list[str] = []
    try:
        for line in proc.stderr:
            lines.append(line.rstrip())
            if "batch_size=2500: done" in line:
                proc.send_signal(signal.SIGINT)
            if "stopping 1 running run at the next step" in line:
                second_hold.write_text("go")  # released once the stop was sent: it stops at its next step
                break
        out_s, err_s = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines += err_s.splitlines() + out_s.splitlines()
    assert proc.returncode in (0, 1), lines
    assert Path(str(second_hold) + ".reached").exists()  # it was held mid-run, after its first epoch
    assert any("stopped with 1 of 2 runs unfinished" in line for line in lines), "\n".join(lines)
    states = [r.get("state") for r in read_metrics(second / "metrics.jsonl") if r["kind"] == "status"]
    assert states[-1] == "stopped"  # at a step, with its checkpoint: not killed with the parent
    env.pop(HOLD_FINAL_ENV)
    again = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "sweep", "--resume", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=240,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert "1 of 2 runs already finished; 1 to go" in again.stderr
    assert run_state(second) == "done"
