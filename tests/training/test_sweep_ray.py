"""Sweeps on Ray (training/sweep_ray.py): a local Ray instance of 2 CPUs runs a 2-configuration sweep to
the same sweep.csv as the local pool; a trial that raises is reported and the others finish; a stopped
sweep resumes; a lost worker's trial runs again, then is marked failed. Ray's install size and start-up
time are printed with the results. Without Ray these tests skip, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import csv
import importlib.metadata
import importlib.util
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_sweep import staged_tiny
from test_tensorboard_log import hparams_of

import main
from training import runs
from training.sweep import CSV_COLUMNS, _train_config, parse_vary, plan, resume_sweep, run_state, run_sweep

ROOT = Path(__file__).resolve().parents[2]
# a Ray cluster starts a dozen processes that each import torch: under a CPU hog beside the suite one
# sweep took minutes here; a hang still fails, with every thread's stack
pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.xdist_group("ray"),
]  # one worker holds the local Ray cluster


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def ray_local(request):
    try:
        import ray
    except ImportError:
        if _in_ci():
            pytest.fail("Ray is not installed; CI installs it with the test extra (pip install -e '.[test]')")
        pytest.skip("Ray is not installed (pip install 'skipwire[ray]')")
    from training.sweep_ray import runtime_env

    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # its servers on 127.0.0.1 only
    size = sum((f.size or 0) for f in importlib.metadata.files("ray") or [])
    t0 = time.perf_counter()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
        runtime_env=runtime_env(),
    )
    started = time.perf_counter() - t0
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # shown in the suite's output, not captured
            reporter.write_line(
                f"\n[ray] ray {ray.__version__}: the package installs {size / 2**20:.0f} MiB of files; "
                f"ray.init(num_cpus=2) took {started:.1f} s here"
            )
    yield ray
    ray.shutdown()


RAY = {"address": None, "trial_cpus": 1}
SERIAL = {"address": None, "trial_cpus": 2}  # one trial at a time on 2 CPUs: a deterministic order


def _rows(out: Path) -> list[dict]:
    with open(out / "sweep.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_two_configs_on_ray_give_the_local_pools_csv(ray_local, tmp_path) -> None:
    lines: list[str] = []
    kw = {"epochs": 1, "batch_size": 2500, "dataset": "synthetic"}
    result = run_sweep(
        staged_tiny(), parse_vary(["depth=1,2"]), tmp_path / "ray", ray=RAY, log=lines.append, **kw
    )
    assert result.status == "completed", lines
    local = run_sweep(staged_tiny(), parse_vary(["depth=1,2"]), tmp_path / "local", **kw)
    got, want = _rows(tmp_path / "ray"), _rows(tmp_path / "local")
    assert tuple(got[0]) == CSV_COLUMNS
    assert [r["runs_done"] for r in got] == ["1", "1"]
    same = ("config", "depth", "params", "macs", "activation_mb", "runs", "status")
    assert [{k: r[k] for k in same} for r in got] == [{k: r[k] for k in same} for r in want]
    # the same engine, seed and one thread: the same accuracy as the local run, to the digit
    assert [r["best_val_acc"] for r in got] == [r["best_val_acc"] for r in want]
    assert [r["best_val_acc"] for r in result.rows] == [r["best_val_acc"] for r in local.rows]
    for name in ("01-depth-1-r1", "02-depth-2-r1"):  # ordinary run folders, copied back
        run = tmp_path / "ray" / name
        for f in ("project.json", "config.json", "model.py", "run.json", "metrics.jsonl", "last.safetensors"):
            assert (run / f).exists(), f
        assert run_state(run) == "done" and runs.load_run(run).status == "completed"
        assert hparams_of(run).hparams["depth"].string_value == name.split("-")[2]  # the event files came too
    assert sorted(p.name for p in (tmp_path / "ray").iterdir() if p.is_dir()) == [
        "01-depth-1-r1",
        "02-depth-2-r1",
    ]
    assert (tmp_path / "ray" / "pareto.svg").exists() and (tmp_path / "ray" / "pareto.png").exists()
    assert any("on Ray (1 CPU)" in line for line in lines)
    assert "ray" not in [r.name for r in runs.list_runs(tmp_path / "ray")]


def test_a_trial_that_raises_is_reported_and_the_other_finishes(ray_local, tmp_path) -> None:
    out = tmp_path / "sw"
    base, axes = staged_tiny(), parse_vary(["width=1,2"])
    stopped = run_sweep(base, axes, out, epochs=1, batch_size=2500, ray=RAY, should_stop=lambda: True)
    assert stopped.status == "stopped" and stopped.rows[0]["status"] == "pending"
    # the first run looks resumable, but its checkpoint is not one: engine.resume raises on the worker
    config = plan(base, axes, 2500)[0]
    run = out / "01-width-1-r1"
    runs.create_run(
        run, config.project.to_dict(), _train_config(config, {"batch_size": 2500}, 0).to_dict(), "", {}
    )
    (run / "last.safetensors").write_bytes(b"not a safetensors file")
    (run / "last.pt").write_bytes(b"not a checkpoint")
    assert run_state(run) == "resumable"
    lines: list[str] = []
    result = resume_sweep(out, ray=RAY, log=lines.append)
    assert result.status == "failed"
    assert [r["status"] for r in result.rows] == ["failed", "completed"]
    assert [r["runs_done"] for r in result.rows] == [0, 1]
    info = runs.load_run(run)
    assert info.status == "failed" and info.message, info
    assert any(line.startswith("  width=1: failed: ") for line in lines), lines
    assert any("width=2: done" in line for line in lines)


def test_a_stopped_sweep_resumes_on_ray(ray_local, tmp_path, capsys) -> None:
    """Trials one at a time; the stop comes as the first trial starts (its first record), so that
    trial stops at its first step (a checkpoint comes back) and the second never starts. The
    command line resumes it."""
    out = tmp_path / "sw"
    stop = {"now": False}

    def log(line: str) -> None:
        if line.startswith("  width=1: started"):
            stop["now"] = True

    result = run_sweep(
        staged_tiny(),
        parse_vary(["width=1,2"]),
        out,
        epochs=2,
        batch_size=2500,
        ray=SERIAL,
        log=log,
        should_stop=lambda: stop["now"],
    )
    assert result.status == "stopped"
    first, second = out / "01-width-1-r1", out / "02-width-2-r1"
    assert run_state(first) == "resumable" and runs.load_run(first).status == "stopped"
    assert not second.exists()
    assert not (out / ".incoming").exists()
    capsys.readouterr()
    assert main.main(["sweep", "--resume", str(out), "--backend", "ray"]) == 0
    err = capsys.readouterr().err
    assert "width=1: resuming" in err and re.search(r"width=2: [\d,]+ parameters -> ", err), err
    assert [r["runs_done"] for r in _rows(out)] == ["1", "1"]
    epochs = [r["epoch"] for r in runs.load_run(first).metrics() if r["kind"] == "epoch"]
    assert epochs == [1, 2]


def test_with_repeats_every_line_names_its_trial(ray_local, tmp_path) -> None:
    """The Sweep tab follows each trial by its name in the log: with --repeats the repeat is in it."""
    lines: list[str] = []
    result = run_sweep(
        staged_tiny(),
        parse_vary(["depth=1"]),
        tmp_path / "sw",
        epochs=1,
        batch_size=2500,
        repeats=2,
        ray=RAY,
        log=lines.append,
    )
    assert result.status == "completed", lines
    for r in (1, 2):
        name = f"depth=1 (repeat {r})"
        assert any(
            re.fullmatch(rf"\[\d/2\] {re.escape(name)}: [\d,]+ parameters -> .*-r{r} on Ray \(1 CPU\)", ln)
            for ln in lines
        ), lines
        assert f"  {name}: epoch 1 val acc" in "\n".join(lines)
        assert any(ln.startswith(f"  {name}: started") for ln in lines)
        assert any(ln.startswith(f"  {name}: done, best val acc ") for ln in lines)


def _kill_trial(ray, run_name: str) -> bool:
    for entry in ray.util.list_named_actors(all_namespaces=False):
        name = entry if isinstance(entry, str) else entry.get("name", "")
        if run_name in name:
            ray.kill(ray.get_actor(name))
            return True
    return False


def test_a_lost_worker_reruns_then_fails_with_the_reason(ray_local, tmp_path) -> None:
    """The trial's actor is killed as it starts (as a lost node would lose it): it runs again;
    killed a second time it is marked failed, with the reason in its run.json and the CSV."""
    ray = ray_local
    out = tmp_path / "sw"
    kills: list[str] = []

    def log(line: str) -> None:
        if line.startswith("  depth=1: started") and len(kills) < 2:
            kills.append(line)
            assert _kill_trial(ray, "01-depth-1-r1")

    lines: list[str] = []

    def both(line: str) -> None:
        lines.append(line)
        log(line)

    result = run_sweep(
        staged_tiny(), parse_vary(["depth=1"]), out, epochs=2, batch_size=2500, ray=SERIAL, log=both
    )
    assert len(kills) == 2
    assert any("Ray worker was lost" in line and "running it again" in line for line in lines), lines
    assert result.status == "failed"
    info = runs.load_run(out / "01-depth-1-r1")
    assert info.status == "failed" and "Ray worker was lost" in info.message and "2 times" in info.message
    assert _rows(out)[0]["status"] == "failed"


def test_without_ray_the_backend_exits_2_naming_the_extra(tmp_path, monkeypatch, capsys) -> None:
    from graph.projectfile import save_project

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: `import ray` raises ImportError
    save_project(staged_tiny(), tmp_path / "p.json")
    argv = ["sweep", str(tmp_path / "p.json"), "--vary", "depth=1", "--out", str(tmp_path / "sw")]
    assert main.main([*argv, "--backend", "ray"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'skipwire[ray]'" in err and "Traceback" not in err
    assert not (tmp_path / "sw").exists()  # refused before anything was written
    assert main.main([*argv, "--address", "auto"]) == 2
    assert "--address and --trial-cpus go with --backend ray" in capsys.readouterr().err
    monkeypatch.undo()  # Ray as it was (a re-import beside its cached submodules would break)
    if (
        importlib.util.find_spec("ray") is not None
    ):  # with Ray: a bad --trial-cpus, before anything is written
        assert main.main([*argv, "--backend", "ray", "--trial-cpus", "0"]) == 2
        assert "--trial-cpus must be a whole number of at least 1" in capsys.readouterr().err
        assert not (tmp_path / "sw").exists()


def test_ray_is_imported_only_for_the_ray_backend() -> None:
    code = (
        "import sys, main, training.sweep, training.sweep_cli, training.metrics;print('ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
